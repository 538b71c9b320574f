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

/* Tells the pusher, once per reason, why the push waits in the daemon's
 * queue. Returns false when it will not be deployed any time soon. */
static bool say_waiting(char **told, const char *waiting, const char *env)
{
	if (*told != NULL && strcmp(*told, waiting) == 0)
		return true;
	free(*told);
	*told = xstrdup(waiting);
	if (strcmp(waiting, "frozen") == 0) {
		pusher_say("%s is frozen: berth serve deploys this push after "
		           "'berth resume %s'",
		           env, env);
		return false;
	}
	if (strcmp(waiting, "locked") == 0)
		pusher_say("%s is busy: another process holds its lock; this "
		           "push is queued and deploys when it is free",
		           env);
	else if (waiting[0] != '\0')
		pusher_say("%s is busy: a deployment is running; this push is "
		           "queued and deploys when it ends",
		           env);
	return true;
}

/* Deploys sha to e through the daemon and follows it. Returns 0 when it
 * succeeded, 1 when it did not, -1 when the daemon did not take it. */
static int deploy_daemon(const struct hook_opts *o, struct daemonapi *api,
                         const struct env_config *e, const char *sha)
{
	struct daemonapi_progress p;
	struct berr err;
	int64_t offset = 0, t0 = strnum_mono_ms();
	int wait_s = o->wait_s > 0 ? o->wait_s : HOOK_WAIT_S;
	int poll_ms = o->poll_ms > 0 ? o->poll_ms : 200;
	char *told = NULL;
	uint64_t seq;
	int failures = 0, status = 1;
	size_t i;

	if (daemonapi_deploy(&seq, api, e->name, sha, &err) != 0) {
		pusher_say("berth serve did not take the push (%s): deploying "
		           "from the hook",
		           err.msg);
		return -1;
	}
	pusher_say("berth serve queued it (request %llu)",
	           (unsigned long long)seq);
	memset(&p, 0, sizeof(p));
	for (;;) {
		daemonapi_progress_release(&p);
		if (daemonapi_follow(&p, api, e->name, seq, offset, &err) !=
		    0) {
			if (++failures < 10) {
				sleep_ms(1000);
				continue;
			}
			pusher_say("lost touch with berth serve (%s); the "
			           "deployment goes on without you: see "
			           "'berth status %s'",
			           err.msg, e->name);
			goto out;
		}
		failures = 0;
		for (i = 0; i < p.lines.n; i++)
			pusher_line(p.lines.v[i], strlen(p.lines.v[i]));
		offset = p.offset;
		if (strcmp(p.state, "done") == 0) {
			report(e->name, p.deployment, p.status, p.commit,
			       p.current);
			status = strcmp(p.status, "succeeded") == 0 ? 0 : 1;
			goto out;
		}
		if (strcmp(p.state, "unknown") == 0) {
			pusher_say("berth serve no longer knows request %llu "
			           "(did it restart?): see 'berth status %s'",
			           (unsigned long long)seq, e->name);
			goto out;
		}
		if (strcmp(p.state, "queued") == 0 &&
		    !say_waiting(&told, p.waiting, e->name))
			goto out;
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
	daemonapi_progress_release(&p);
	free(told);
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
	struct merrs errs = {0};
	struct daemon_probe daemon;
	struct berr err;
	bool loaded = false, checked = false;
	size_t i;
	int status = 1;

	memset(&refs, 0, sizeof(refs));
	memset(&daemon, 0, sizeof(daemon));
	if (refs_parse(&refs, o->input, o->input_len, &err) != 0) {
		pusher_say("cannot read the push: %s", err.msg);
		goto out;
	}
	if (config_load(&cfg, o->config_path, &errs) != 0) {
		pusher_say("nothing deployed: the berth config cannot be "
		           "loaded:");
		for (i = 0; i < errs.n; i++)
			printf("  %s\n", errs.items[i]);
		fflush(stdout);
		goto out;
	}
	loaded = true;
	status = 0;
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
out:
	if (daemon.asked)
		daemonapi_close(&daemon.api);
	if (loaded)
		config_release(&cfg);
	merrs_release(&errs);
	refs_release(&refs);
	return status;
}
