/*
 * postreceive.c — the post-receive hook: deploys what was pushed to a branch
 * that an environment with auto_deploy tracks, and shows the deployment to
 * the pusher as it happens (SPEC §10). git runs it once the refs have moved;
 * `git push` returns when it exits.
 *
 * With no daemon, the hook runs `berth apply` itself. Deployments of one
 * environment never overlap: apply takes the environment's lock, and a hook
 * that finds it held waits for it (this push is queued behind the running
 * deployment), then deploys its commit, unless a newer push moved the branch
 * meanwhile: that push's own hook deploys the newer head, and this one steps
 * aside. Two quick pushes therefore give two deployments one after the other,
 * the second of the newest commit; a burst of pushes gives the first and the
 * last.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hooks.h"

/* How often a waiting hook tells the pusher it still waits. */
#define WAIT_NOTE_MS 30000

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The branch's head in the hook's repository now: 0, BERTH_ENOTFOUND when
 * the branch is gone, -1. */
static int branch_head(char sha[41], const char *branch, struct berr *err)
{
	struct git_mirror *gm = NULL;
	char *ref = xasprintf("refs/heads/%s", branch);
	int rc;

	rc = git_mirror_open_env(&gm, err);
	if (rc == 0)
		rc = git_mirror_resolve(gm, ref, sha, err);
	git_mirror_close(gm);
	free(ref);
	return rc;
}

/* The first line of sha's message, or NULL. */
static char *subject(const char *sha)
{
	struct git_mirror *gm = NULL;
	struct berr err;
	char *s = NULL;

	if (git_mirror_open_env(&gm, &err) == 0 &&
	    git_mirror_commit_subject(&s, gm, sha, &err) != 0)
		s = NULL;
	git_mirror_close(gm);
	return s;
}

/* Warns when the config does not deploy from this repository: the commit
 * just pushed may then not be where berth fetches from. */
static void check_repo_url(const struct config *cfg)
{
	const char *git_dir = getenv("GIT_DIR");
	const char *url = cfg->repo.url;
	char here[PATH_MAX], there[PATH_MAX];

	if (git_dir == NULL || url == NULL || realpath(git_dir, here) == NULL)
		return;
	if (strncmp(url, "file://", 7) == 0)
		url += 7;
	if (url[0] == '/' && realpath(url, there) != NULL &&
	    strcmp(here, there) == 0)
		return;
	pusher_say("warning: repo.url of %s is not this repository (%s): "
	           "berth deploys what it fetches from there (docs/hooks.md)",
	           cfg->path, here);
}

/* Waits until env's lock is free. Returns 0, or -1 when o->wait_s ran out
 * (the pusher was told). */
static int wait_for_lock(const struct hook_opts *o, const char *lock_path,
                         const char *env)
{
	int64_t t0 = strnum_mono_ms(), last_note = t0;
	int wait_s = o->wait_s > 0 ? o->wait_s : HOOK_WAIT_S;
	int poll_ms = o->poll_ms > 0 ? o->poll_ms : 200;
	bool told = false;

	for (;;) {
		struct lock_holder holder;
		struct berr err;
		bool locked = false;
		int64_t now = strnum_mono_ms();

		if (lock_peek(&locked, &holder, lock_path, &err) != 0) {
			pusher_say("cannot look at the lock of %s: %s", env,
			           err.msg);
			return -1;
		}
		if (!locked)
			return 0;
		if (!told) {
			char who[320];

			lock_describe(who, sizeof(who), &holder);
			pusher_say("%s is busy: another deployment is running "
			           "(%s); this push is queued and deploys "
			           "when it ends",
			           env, who);
			told = true;
		} else if (now - last_note >= WAIT_NOTE_MS) {
			pusher_say("still waiting for %s's running deployment "
			           "(%lld s)",
			           env, (long long)((now - t0) / 1000));
			last_note = now;
		}
		if (now - t0 >= (int64_t)wait_s * 1000) {
			pusher_say("gave up waiting after %d s: nothing was "
			           "deployed; run 'berth apply %s' on the "
			           "server when it is free",
			           wait_s, env);
			return -1;
		}
		sleep_ms(poll_ms);
	}
}

/* The record of the deployment apply process pid ran, into d. */
static int find_record(struct deployment *d, struct state *st, int pid)
{
	struct deployment *all = NULL;
	struct berr err;
	size_t n = 0, i;
	int rc = BERTH_ENOTFOUND;

	deployment_init(d);
	if (state_history(st, &all, &n, NULL, 20, &err) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (all[i].pid == pid) {
			*d = all[i];
			deployment_init(&all[i]);
			rc = 0;
			break;
		}
	}
	state_history_free(all, n);
	return rc;
}

/* The last line the pusher reads: what happened and what runs now. status
 * is a record's status name, or how the process ended. */
static void report(const char *env, int64_t id, const char *status,
                   const char *commit, const char *current)
{
	if (id <= 0) {
		pusher_say("%s: the deployment ended (%s) before it wrote a "
		           "record: nothing was deployed",
		           env, status);
	} else if (strcmp(status, "succeeded") == 0) {
		pusher_say("%s: deployment %lld succeeded: %.7s runs now", env,
		           (long long)id, commit);
	} else if (strcmp(status, "rollback_failed") == 0) {
		pusher_say("%s: deployment %lld of %.7s failed and so did the "
		           "rollback: %s is frozen until 'berth resume %s'",
		           env, (long long)id, commit, env, env);
	} else if (current != NULL && current[0] != '\0') {
		pusher_say(
		    "%s: deployment %lld of %.7s %s: %.7s runs now%s", env,
		    (long long)id, commit,
		    strcmp(status, "rolled_back") == 0 ? "was rolled back"
		                                       : status,
		    current, strcmp(current, commit) != 0 ? ", as before" : "");
	} else {
		pusher_say("%s: deployment %lld of %.7s %s: nothing runs", env,
		           (long long)id, commit,
		           strcmp(status, "rolled_back") == 0
		               ? "was rolled back"
		               : status);
	}
}

/* report() from the record d of env's state. */
static void report_record(struct state *st, const char *env,
                          const struct deployment *d)
{
	struct berr err;
	char current[41] = "";
	int64_t cur_id = 0;

	if (state_get_current(st, current, &cur_id, &err) != 0)
		current[0] = '\0';
	report(env, d->id, deploy_status_name(d->status), d->commit, current);
}

/* Deploys sha to environment e by running apply here. Returns 0 when it
 * succeeded or a newer push takes over, 1 otherwise. */
static int deploy_here(const struct hook_opts *o, const struct config *cfg,
                       const struct env_config *e, const char *branch,
                       const char *sha)
{
	struct deployment d;
	struct state st;
	struct berr err;
	char head[41], *lock_path = NULL;
	int status = 1, exit_code, pid, rc;

	deployment_init(&d);
	memset(&st, 0, sizeof(st));
	if (state_open(&st, cfg->state_dir, e->name, &err) != 0) {
		pusher_say("cannot deploy to %s: %s", e->name, err.msg);
		goto out;
	}
	lock_path = state_path(&st, "lock");
	for (;;) {
		if (wait_for_lock(o, lock_path, e->name) != 0)
			goto out;
		rc = branch_head(head, branch, &err);
		if (rc == BERTH_ENOTFOUND) {
			pusher_say("branch '%s' was deleted meanwhile: nothing "
			           "deployed to %s",
			           branch, e->name);
			status = 0;
			goto out;
		}
		if (rc != 0) {
			pusher_say("cannot read branch '%s': %s", branch,
			           err.msg);
			goto out;
		}
		if (strcmp(head, sha) != 0) {
			pusher_say("branch '%s' moved on to %.7s since this "
			           "push: the newer push deploys it to %s",
			           branch, head, e->name);
			status = 0;
			goto out;
		}
		if (follow_apply(&exit_code, &pid, &st, cfg->path, e->name, sha,
		                 o->poll_ms, &err) != 0) {
			pusher_say("cannot deploy to %s: %s", e->name, err.msg);
			goto out;
		}
		if (exit_code != EXIT_LOCKED)
			break;
	}
	rc = find_record(&d, &st, pid);
	if (rc != 0) {
		pusher_say("%s: berth apply %s before it started a deployment: "
		           "nothing was deployed",
		           e->name, exit_code < 0 ? "was killed" : "exited");
		goto out;
	}
	report_record(&st, e->name, &d);
	status = d.status == DEPLOY_SUCCEEDED ? 0 : 1;
out:
	deployment_release(&d);
	free(lock_path);
	state_close(&st);
	return status;
}

/* Whether the daemon runs and can take pushes, asked once per hook run. */
struct daemon_probe {
	bool asked;
	bool usable;
	struct daemonapi api;
};

static bool daemon_usable(struct daemon_probe *p, const struct config *cfg)
{
	struct berr err;
	int rc;

	if (p->asked)
		return p->usable;
	p->asked = true;
	rc = daemonapi_open(&p->api, cfg, &err);
	if (rc == BERTH_ENOTFOUND)
		return false;
	if (rc != 0)
		pusher_say("no berth serve at %s (%s): deploying from the hook",
		           cfg->listen, err.msg);
	else if (!p->api.have_token)
		pusher_say("berth serve runs at %s, but %s: deploying from the "
		           "hook (the environment's lock keeps the two apart)",
		           cfg->listen, err.msg);
	else
		p->usable = true;
	return p->usable;
}

/* How often a push waiting in the daemon's queue with no deployment running
 * asks the daemon whether the environment is frozen or locked. */
#define DAEMON_STATE_MS 5000
/* How long a deployment that ended may stay unconfirmed (its request
 * neither done nor followed by another deployment) before it is taken as
 * the push's. */
#define DAEMON_SETTLE_MS 30000
/* Failed calls in a row after which the hook stops following. */
#define DAEMON_MAX_FAILURES 10

/*
 * Following a request in the daemon. The daemon runs one deployment of an
 * environment at a time; a request arriving meanwhile waits (coalesced with
 * any other waiting one) and is covered by the next deployment it starts.
 * Its inbox record says "queued" until the deployment that covers it has
 * finished, then "done" — and the daemon marks it done before it starts
 * the next deployment. So the deployment that covers the push is the first
 * record that began after the request was sent (records that were there
 * before, or began before it, belong to requests ahead of it), confirmed
 * when it ends: if the request is done then, it was this push's; if the
 * daemon starts another deployment while the request is still queued, it
 * was the one ahead, and the push is followed into the next.
 */
struct daemon_follow {
	struct daemonapi *api;
	const struct env_config *e;
	const char *sha;
	char key[128];     /* the request's Idempotency-Key */
	int64_t before_id; /* newest record before the request */
	int64_t sent_ms;   /* wall clock just before the request */
	int64_t *ahead;    /* owned; records that were not this push's */
	size_t nahead;
	struct watch w;    /* the record followed, once found */
	int64_t ended_ms;  /* monotonic time it was first seen ended */
	bool told_queued;
	bool told_locked;
};

static bool is_ahead(const struct daemon_follow *f, int64_t id)
{
	size_t i;

	if (id <= f->before_id)
		return true;
	for (i = 0; i < f->nahead; i++)
		if (f->ahead[i] == id)
			return true;
	return false;
}

static void add_ahead(struct daemon_follow *f, int64_t id)
{
	f->ahead = xrealloc(f->ahead, (f->nahead + 1) * sizeof(*f->ahead));
	f->ahead[f->nahead++] = id;
}

/* Whether d began before the request was sent (-1), after it (1), or
 * cannot tell yet (0): its first step's start has milliseconds, the
 * record's own start only seconds. */
static int began(const struct deployment *d, int64_t sent_ms)
{
	if (d->nsteps > 0 && d->steps[0].started_ms > 0)
		return d->steps[0].started_ms < sent_ms ? -1 : 1;
	return (d->started_at + 1) * 1000 <= sent_ms ? -1 : 0;
}

static const struct deployment *find_id(const struct deployment *all,
                                        size_t n, int64_t id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (all[i].id == id)
			return &all[i];
	return NULL;
}

static void say_queued(struct daemon_follow *f, const struct deployment *d)
{
	if (f->told_queued)
		return;
	f->told_queued = true;
	pusher_say("%s is busy: deployment %lld (trigger %s) is running; "
	           "this push is queued and deploys when it ends",
	           f->e->name, (long long)d->id,
	           d->trigger != NULL ? d->trigger : "-");
}

/* The final line for the record d that covered the push. */
static int report_daemon(const struct daemon_follow *f,
                         const struct deployment *d)
{
	const char *current = d->status == DEPLOY_SUCCEEDED
	                          ? d->commit
	                          : d->previous_commit;

	if (d->commit[0] != '\0' && strcmp(d->commit, f->sha) != 0)
		pusher_say("%s: a newer push was queued with this one: "
		           "deployment %lld deploys the newest, %.7s",
		           f->e->name, (long long)d->id, d->commit);
	report(f->e->name, d->id, deploy_status_name(d->status), d->commit,
	       current);
	return d->status == DEPLOY_SUCCEEDED ? 0 : 1;
}

/* What daemon_look returns when the push's deployment has not ended. */
#define LOOK_AGAIN 2

/* One look at the daemon. Returns LOOK_AGAIN, or the hook's status for this
 * environment (0 or 1) once it is known; -2 when a call failed (err). */
static int daemon_look(struct daemon_follow *f, struct berr *err)
{
	struct deployment *all = NULL;
	const struct deployment *d, *newest;
	char status[16];
	uint64_t seq;
	size_t n = 0, i;
	int rc;

	/* Records first, then the request: a request seen done is never
	 * ahead of a record seen finished. */
	if (daemonapi_deployments(&all, &n, f->api, f->e->name, 10, err) != 0)
		return -2;
	rc = daemonapi_request(status, &seq, f->api, f->key, err);
	if (rc == BERTH_ENOTFOUND) {
		pusher_say("berth serve no longer lists this push's request "
		           "(was it restarted with another state directory?): "
		           "see 'berth status %s'",
		           f->e->name);
		rc = 1;
		goto out;
	}
	if (rc != 0) {
		rc = -2;
		goto out;
	}
	newest = n > 0 ? &all[0] : NULL;
	if (f->w.id != 0) {
		d = find_id(all, n, f->w.id);
		if (d == NULL) {
			rc = LOOK_AGAIN;
			goto out;
		}
		watch_update(&f->w, d);
		if (d->status != DEPLOY_RUNNING && f->ended_ms == 0)
			f->ended_ms = strnum_mono_ms();
		if (d->status == DEPLOY_RUNNING) {
			rc = LOOK_AGAIN;
		} else if (strcmp(status, "done") == 0) {
			rc = report_daemon(f, d);
		} else if (newest != NULL && newest->id > d->id) {
			/* The daemon went on while the push still waits:
			 * that deployment covered the requests before it. */
			add_ahead(f, d->id);
			watch_release(&f->w);
			f->ended_ms = 0;
			pusher_say("%s: deployment %lld was the one ahead of "
			           "this push, which is queued and deploys next",
			           f->e->name, (long long)d->id);
			f->told_queued = true;
			rc = LOOK_AGAIN;
		} else if (f->ended_ms != 0 &&
		           strnum_mono_ms() - f->ended_ms >= DAEMON_SETTLE_MS) {
			/* The daemon neither marked the request done nor
			 * started another deployment: take this one. */
			rc = report_daemon(f, d);
		} else {
			rc = LOOK_AGAIN;
		}
		goto out;
	}
	if (strcmp(status, "done") == 0) {
		/* Covered by a deployment that came and went between two
		 * looks: the newest finished record that is not ahead. */
		for (i = 0; i < n; i++)
			if (!is_ahead(f, all[i].id) &&
			    all[i].status != DEPLOY_RUNNING &&
			    began(&all[i], f->sent_ms) >= 0)
				break;
		if (i == n) {
			pusher_say("%s: berth serve's deployment ended before "
			           "it wrote a record: nothing was deployed "
			           "(see the daemon's log)",
			           f->e->name);
			rc = 1;
			goto out;
		}
		watch_update(&f->w, &all[i]);
		rc = report_daemon(f, &all[i]);
		goto out;
	}
	/* Still queued: the running deployments that began before the
	 * request are ahead of it; one that began after it covers it. */
	for (i = n; i-- > 0;) {
		int when;

		d = &all[i];
		if (d->status != DEPLOY_RUNNING)
			continue;
		when = began(d, f->sent_ms);
		if (is_ahead(f, d->id) || when < 0) {
			if (!is_ahead(f, d->id))
				add_ahead(f, d->id);
			say_queued(f, d);
		} else if (when > 0) {
			watch_update(&f->w, d);
			break;
		}
	}
	rc = LOOK_AGAIN;
out:
	state_history_free(all, n);
	return rc;
}

/* Says why a push waits when no deployment it can see runs. Returns false
 * when it will not be deployed any time soon. */
static bool daemon_waiting(struct daemon_follow *f)
{
	struct berr err;
	bool frozen, locked, running;

	if (daemonapi_env_state(&frozen, &locked, &running, f->api,
	                        f->e->name, &err) != 0)
		return true;
	if (frozen) {
		pusher_say("%s is frozen: berth serve deploys this push after "
		           "'berth resume %s'",
		           f->e->name, f->e->name);
		return false;
	}
	/* A lock the daemon's own deployment holds is that deployment
	 * starting: its record shows it soon. */
	if (locked && !running && !f->told_locked) {
		pusher_say("%s is busy: another process holds its lock; this "
		           "push is queued and deploys when it is free",
		           f->e->name);
		f->told_locked = true;
	}
	return true;
}

/* Deploys sha to e through the daemon and follows it. Returns 0 when it
 * succeeded, 1 when it did not, -1 when the daemon did not take it. */
static int deploy_daemon(const struct hook_opts *o, struct daemonapi *api,
                         const struct env_config *e, const char *sha)
{
	struct daemon_follow f;
	struct deployment *last = NULL;
	struct berr err;
	int64_t t0 = strnum_mono_ms(), idle_since = 0, asked = 0;
	int wait_s = o->wait_s > 0 ? o->wait_s : HOOK_WAIT_S;
	int poll_ms = o->poll_ms > 0 ? o->poll_ms : 200;
	int failures = 0, status = 1, rc;
	size_t n = 0;

	memset(&f, 0, sizeof(f));
	f.api = api;
	f.e = e;
	f.sha = sha;
	watch_init(&f.w);
	if (daemonapi_deployments(&last, &n, api, e->name, 1, &err) != 0) {
		pusher_say("berth serve cannot be asked about %s (%s): "
		           "deploying from the hook",
		           e->name, err.msg);
		return -1;
	}
	f.before_id = n > 0 ? last[0].id : 0;
	state_history_free(last, n);
	f.sent_ms = strnum_now_ms();
	snprintf(f.key, sizeof(f.key), "post-receive-%.12s-%ld-%lld", sha,
	         (long)getpid(), (long long)f.sent_ms);
	if (daemonapi_deploy(api, e->name, sha, f.key, &err) != 0) {
		pusher_say("berth serve did not take the push (%s): deploying "
		           "from the hook",
		           err.msg);
		return -1;
	}
	pusher_say("berth serve queued the deployment (request %s)", f.key);
	for (;;) {
		rc = daemon_look(&f, &err);
		if (rc == -2) {
			if (++failures >= DAEMON_MAX_FAILURES) {
				pusher_say("lost touch with berth serve (%s); "
				           "the deployment goes on without "
				           "you: see 'berth status %s'",
				           err.msg, e->name);
				goto out;
			}
		} else if (rc != LOOK_AGAIN) {
			status = rc;
			goto out;
		} else {
			failures = 0;
		}
		if (f.w.id != 0 || f.told_queued) {
			idle_since = 0;
		} else if (idle_since == 0) {
			idle_since = strnum_mono_ms();
		} else if (strnum_mono_ms() - idle_since >= 2000 &&
		           strnum_mono_ms() - asked >= DAEMON_STATE_MS) {
			asked = strnum_mono_ms();
			if (!daemon_waiting(&f))
				goto out;
		}
		if (strnum_mono_ms() - t0 >= (int64_t)wait_s * 1000) {
			pusher_say(
			    "stopped watching after %d s; the deployment "
			    "goes on: see 'berth status %s'",
			    wait_s, e->name);
			goto out;
		}
		sleep_ms(poll_ms);
	}
out:
	watch_release(&f.w);
	free(f.ahead);
	return status;
}

/* Deploys one pushed ref to every environment that deploys its branch. */
static int deploy_ref(const struct hook_opts *o, const struct config *cfg,
                      struct daemon_probe *daemon, const struct hook_ref *r)
{
	const char *branch = refs_branch(r);
	const struct env_config *e;
	bool tracked = false;
	int status = 0, rc;

	if (branch == NULL || refs_is_delete(r))
		return 0;
	for (e = config_env_for_branch(cfg, branch, NULL); e != NULL;
	     e = config_env_for_branch(cfg, branch, e)) {
		char *subj;

		if (o->only_env != NULL && strcmp(e->name, o->only_env) != 0)
			continue;
		tracked = true;
		if (!e->auto_deploy) {
			pusher_say("%s tracks branch '%s' but does not deploy "
			           "on push (auto_deploy is off): deploy it "
			           "with 'berth apply %s --commit %.12s'",
			           e->name, branch, e->name, r->new_sha);
			continue;
		}
		subj = subject(r->new_sha);
		pusher_say("deploying %.7s%s%s%s to %s", r->new_sha,
		           subj ? " \"" : "", subj ? subj : "",
		           subj ? "\"" : "", e->name);
		free(subj);
		rc = -1;
		if (daemon_usable(daemon, cfg))
			rc = deploy_daemon(o, &daemon->api, e, r->new_sha);
		if (rc < 0)
			rc = deploy_here(o, cfg, e, branch, r->new_sha);
		if (rc != 0)
			status = 1;
	}
	if (!tracked)
		pusher_say("no environment deploys branch '%s': nothing to "
		           "deploy",
		           branch);
	return status;
}

int postreceive_run(const struct hook_opts *o)
{
	struct hook_refs refs;
	struct config cfg;
	struct daemon_probe daemon;
	bool checked = false;
	size_t i;
	int status = 0;

	memset(&daemon, 0, sizeof(daemon));
	if (input_load(&refs, &cfg, o, "nothing deployed") != 0)
		return 1;
	for (i = 0; i < refs.n; i++) {
		const char *branch = refs_branch(&refs.items[i]);

		if (!checked && branch != NULL &&
		    config_env_for_branch(&cfg, branch, NULL) != NULL) {
			check_repo_url(&cfg);
			checked = true;
		}
		if (deploy_ref(o, &cfg, &daemon, &refs.items[i]) != 0)
			status = 1;
	}
	if (daemon.asked)
		daemonapi_close(&daemon.api);
	config_release(&cfg);
	refs_release(&refs);
	return status;
}
