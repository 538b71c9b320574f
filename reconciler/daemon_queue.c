/*
 * daemon_queue.c — the deployment queue of `berth serve`: per environment,
 * one deployment runs and at most one waits behind it. Every request that
 * arrives meanwhile (pushes, polls, API calls) replaces the waiting one, so
 * a burst of pushes during a deployment gives exactly one follow-up, which
 * deploys the branch head it finds when it starts (SPEC §7). Deployments
 * are child processes of the berth binary, supervised through a pipe and
 * SIGCHLD; a deployment refused because another process holds the lock
 * (exit 75) waits for the lock and runs again.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "berth.h"
#include "webhooks.h"


#define RETRY_LOCK_MS 2000
#define RETRY_FROZEN_MS 10000
#define FLUSH_DELAY_MS 100
#define CHILD_LINE_MAX 4096

/* ---- child processes ---- */

/* True when "NAME=value" names a variable the daemon keeps to itself: the
 * webhook secrets and the API token. A deployment needs the repository's
 * credentials and the notifiers', never these. */
static bool daemon_only(const struct daemon *d, const char *entry)
{
	const struct secret_ref *refs[2 * PROVIDER_COUNT + 1];
	size_t i, n = 0, len = strcspn(entry, "=");

	for (i = 0; i < PROVIDER_COUNT; i++) {
		refs[n++] = &d->cfg.webhooks[i].secret;
		refs[n++] = &d->cfg.webhooks[i].token;
	}
	refs[n++] = &d->cfg.api_token;
	for (i = 0; i < n; i++) {
		const char *name = refs[i]->env;

		if (name != NULL && strlen(name) == len &&
		    strncmp(name, entry, len) == 0)
			return true;
	}
	return false;
}

static void child_environ(struct strv *out, const struct daemon *d)
{
	char **e;

	for (e = environ; *e != NULL; e++)
		if (!daemon_only(d, *e))
			strv_push(out, *e);
}

int daemon_child_start(struct daemon_child **out, struct daemon *d,
		       const char *program, char *const *argv, int flags,
		       void (*on_output)(int, short, void *), void *arg,
		       struct berr *err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	struct strv envp = {0};
	struct daemon_child *c;
	sigset_t none, deflt;
	int pipefd[2], rc;
	pid_t pid;

	*out = NULL;
	if (pipe2(pipefd, O_CLOEXEC) != 0)
		return berr_errno(err, errno, "cannot create a pipe");
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
	if (flags & DAEMON_CHILD_STDOUT_ONLY)
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	else
		posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&deflt);
	sigdelset(&deflt, SIGPIPE);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &deflt);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_SETPGROUP);
	child_environ(&envp, d);
	rc = posix_spawn(&pid, program ? program : "/proc/self/exe", &fa, &attr,
			 argv, envp.v ? envp.v : (char *[]){NULL});
	strv_release(&envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	close(pipefd[1]);
	if (rc != 0) {
		close(pipefd[0]);
		return berr_errno(err, rc, "cannot run '%s'",
				  program ? program : "berth");
	}
	fcntl(pipefd[0], F_SETFL, fcntl(pipefd[0], F_GETFL) | O_NONBLOCK);
	c = xcalloc(1, sizeof(*c));
	c->pid = pid;
	c->fd = pipefd[0];
	buf_init(&c->line, CHILD_LINE_MAX + 1);
	buf_init(&c->out, (size_t)1 << 20);
	c->job = ++d->next_job;
	c->started_ms = strnum_mono_ms();
	c->started_at = strnum_now_ms() / 1000;
	c->ev = event_new(d->base, c->fd, EV_READ | EV_PERSIST, on_output, arg);
	if (c->ev == NULL || event_add(c->ev, NULL) != 0)
		fatal("cannot watch a child's output");
	*out = c;
	return 0;
}

static void child_close(struct daemon_child *c)
{
	if (c->ev != NULL) {
		event_free(c->ev);
		c->ev = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

bool daemon_child_read(struct daemon_child *c,
		       void (*line)(const char *l, void *arg), void *arg)
{
	char chunk[4096];

	while (c->fd >= 0) {
		ssize_t n = read(c->fd, chunk, sizeof(chunk));
		ssize_t i;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			if (chunk[i] == '\n' || c->line.len >= CHILD_LINE_MAX) {
				line(buf_str(&c->line), arg);
				buf_reset(&c->line);
				if (chunk[i] == '\n')
					continue;
			}
			buf_putc(&c->line, chunk[i]);
		}
	}
	if (c->line.len > 0) {
		line(buf_str(&c->line), arg);
		buf_reset(&c->line);
	}
	child_close(c);
	return false;
}

void daemon_child_free(struct daemon_child *c)
{
	if (c == NULL)
		return;
	child_close(c);
	buf_release(&c->line);
	buf_release(&c->out);
	free(c);
}

/* ---- the queue ---- */

static void env_log_line(const char *l, void *arg)
{
	struct daemon_env *e = arg;
	struct buf kv;

	buf_init(&kv, 8192);
	log_kv(&kv, "env", e->name);
	log_kv(&kv, "trigger", e->running.trigger ? e->running.trigger : "-");
	log_kv(&kv, "line", l);
	log_info("msg=\"deployment output\" job=%llu%s",
		 (unsigned long long)e->run->job, buf_str(&kv));
	buf_release(&kv);
}

static void on_deploy_output(int fd, short what, void *arg)
{
	struct daemon_env *e = arg;

	(void)fd;
	(void)what;
	if (e->run != NULL)
		daemon_child_read(e->run, env_log_line, e);
}

static void set_queue_metrics(struct daemon *d, struct daemon_env *e)
{
	const char *labels[] = {"env", e->name, NULL};

	metrics_set(d->m, "berth_queue_depth", labels, e->has_pending ? 1 : 0);
	metrics_set(d->m, "berth_deployments_running", labels,
		    e->run != NULL ? 1 : 0);
}

static void on_flush(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	daemon_queue_flush(arg);
}

void daemon_queue_flush(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->nenvs; i++) {
		struct daemon_env *e = d->envs[i];
		struct berr err;
		int rc;

		if (!e->queue_dirty || e->ctx == NULL)
			continue;
		e->queue_dirty = false;
		rc = e->has_pending ? queued_write(&e->ctx->st, &e->pending, &err)
				    : queued_clear(&e->ctx->st, &err);
		if (rc != 0)
			log_error("msg=\"cannot record the queue\" env=%s error=\"%s\"",
				  e->name, err.msg);
	}
}

static void mark_dirty(struct daemon *d, struct daemon_env *e)
{
	struct timeval tv = {0, FLUSH_DELAY_MS * 1000};

	e->queue_dirty = true;
	if (!event_pending(d->flush, EV_TIMEOUT, NULL))
		event_add(d->flush, &tv);
}

void daemon_queue_add(struct daemon *d, struct daemon_env *e,
		      const struct queued *job)
{
	if (e->has_pending) {
		int64_t since = e->pending.since, requests = e->pending.requests;
		uint64_t seq = e->pending.seq;

		queued_release(&e->pending);
		queued_copy(&e->pending, job);
		e->pending.since = since;
		e->pending.requests = requests + (job->requests ? job->requests : 1);
		if (seq > e->pending.seq)
			e->pending.seq = seq;
	} else {
		queued_copy(&e->pending, job);
		if (e->pending.since == 0)
			e->pending.since = strnum_now_ms() / 1000;
		if (e->pending.requests == 0)
			e->pending.requests = 1;
		e->has_pending = true;
	}
	if (job->hint[0])
		memcpy(e->last_seen, job->hint, 41);
	mark_dirty(d, e);
	set_queue_metrics(d, e);
	daemon_queue_kick(d, e);
}

void daemon_queue_job(const struct server_job *job, void *arg)
{
	struct daemon *d = arg;
	struct daemon_env *e = daemon_env_find(d, job->env);
	struct queued q;

	if (e == NULL || !e->configured) {
		log_warn("msg=\"deployment for an unknown environment dropped\" "
			 "env=%s", job->env);
		return;
	}
	queued_init(&q);
	q.kind = job->kind;
	q.trigger = (char *)job->trigger;
	q.rev = job->rev[0] ? (char *)job->rev : NULL;
	memcpy(q.hint, job->hint, 41);
	q.seq = job->seq;
	q.requests = 1;
	daemon_queue_add(d, e, &q);
}

static void on_retry(int fd, short what, void *arg)
{
	struct daemon_env *e = arg;

	(void)fd;
	(void)what;
	e->waiting = false;
	daemon_queue_kick(e->d, e);
}

static void wait_and_retry(struct daemon_env *e, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	e->waiting = true;
	event_add(e->retry, &tv);
}

/* The argv of e's pending deployment (argv[0] is a placeholder). */
static void deploy_argv(struct strv *av, const struct daemon *d,
			const struct queued *q, const char *env)
{
	strv_push(av, "berth");
	strv_push(av, "--config");
	strv_push(av, d->config_path);
	if (q->kind == QUEUED_ROLLBACK) {
		strv_push(av, "rollback");
		strv_push(av, env);
		if (q->rev != NULL) {
			strv_push(av, "--to");
			strv_push(av, q->rev);
		}
		strv_push(av, "--yes");
		return;
	}
	strv_push(av, "apply");
	strv_push(av, env);
	if (q->rev != NULL) {
		strv_push(av, "--commit");
		strv_push(av, q->rev);
	}
	strv_push(av, "--trigger");
	strv_push(av, q->trigger ? q->trigger : "api");
}

void daemon_queue_kick(struct daemon *d, struct daemon_env *e)
{
	struct lock_holder holder;
	struct strv av = {0};
	char *lock_path, *reason = NULL;
	struct berr err;
	bool locked = false;
	int rc;

	if (e->run != NULL || !e->has_pending || d->stopping || d->starting ||
	    e->waiting || daemon_sched_busy(e) ||
	    !e->configured || e->ctx == NULL)
		return;
	lock_path = state_path(&e->ctx->st, "lock");
	rc = lock_peek(&locked, &holder, lock_path, &err);
	free(lock_path);
	if (rc != 0) {
		log_error("msg=\"cannot check the lock\" env=%s error=\"%s\"",
			  e->name, err.msg);
		wait_and_retry(e, RETRY_LOCK_MS);
		return;
	}
	if (locked) {
		char who[256];

		lock_describe(who, sizeof(who), &holder);
		log_info("msg=\"environment locked: deployment waits\" env=%s "
			 "holder=\"%s\"", e->name, who);
		metrics_add(d->m, "berth_lock_waits_total",
			    (const char *[]){"env", e->name, NULL}, 1);
		wait_and_retry(e, RETRY_LOCK_MS);
		return;
	}
	if (state_frozen(&e->ctx->st, &reason) == 1) {
		log_warn("msg=\"environment frozen: deployment waits for berth "
			 "resume\" env=%s reason=\"%s\"", e->name,
			 reason ? reason : "");
		free(reason);
		wait_and_retry(e, RETRY_FROZEN_MS);
		return;
	}
	deploy_argv(&av, d, &e->pending, e->name);
	rc = daemon_child_start(&e->run, d, d->deploy_program, av.v, 0,
				on_deploy_output, e, &err);
	strv_release(&av);
	if (rc != 0) {
		log_error("msg=\"cannot start the deployment\" env=%s error=\"%s\"",
			  e->name, err.msg);
		wait_and_retry(e, RETRY_FROZEN_MS);
		return;
	}
	queued_release(&e->running);
	e->running = e->pending;
	queued_init(&e->pending);
	e->has_pending = false;
	mark_dirty(d, e);
	set_queue_metrics(d, e);
	log_info("msg=\"deployment started\" env=%s job=%llu pid=%d kind=%s "
		 "trigger=%s", e->name, (unsigned long long)e->run->job,
		 e->run->pid, queued_kind_name(e->running.kind),
		 e->running.trigger ? e->running.trigger : "-");
}

/* The deployment's status, from its record when it wrote one, else from
 * the exit status. */
static const char *finished_status(struct daemon_env *e, int wstatus,
				   int64_t *finished_at, double *seconds)
{
	struct deployment rec;
	struct berr err;
	const char *status = "error";

	*finished_at = strnum_now_ms() / 1000;
	*seconds = (double)(strnum_mono_ms() - e->run->started_ms) / 1000.0;
	if (WIFEXITED(wstatus)) {
		switch (WEXITSTATUS(wstatus)) {
		case EXIT_OK:
			status = "succeeded";
			break;
		case EXIT_FAILED:
			status = "failed";
			break;
		case EXIT_ROLLBACK_FAILED:
			status = "rollback_failed";
			break;
		case EXIT_USAGE:
			status = "usage_error";
			break;
		}
	} else {
		status = "killed";
	}
	if (e->ctx != NULL && state_latest(&e->ctx->st, &rec, &err) == 0) {
		if (rec.started_at >= e->run->started_at - 1 &&
		    rec.finished_at != 0) {
			status = deploy_status_name(rec.status);
			*finished_at = rec.finished_at;
			*seconds = (double)(rec.finished_at - rec.started_at);
			if (rec.commit[0] && rec.status == DEPLOY_SUCCEEDED &&
			    e->last_seen[0] == '\0')
				memcpy(e->last_seen, rec.commit, 41);
		}
		deployment_release(&rec);
	}
	return status;
}

bool daemon_queue_reaped(struct daemon *d, int pid, int wstatus)
{
	struct daemon_env *e = NULL;
	const char *status;
	int64_t finished_at;
	double seconds;
	struct berr err;
	size_t i;

	for (i = 0; i < d->nenvs && e == NULL; i++)
		if (d->envs[i]->run != NULL && d->envs[i]->run->pid == pid)
			e = d->envs[i];
	if (e == NULL)
		return false;
	daemon_child_read(e->run, env_log_line, e);
	if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == EXIT_LOCKED) {
		/* Another process took the lock first: run again once it is
		 * free, unless something newer is already waiting. */
		log_info("msg=\"deployment found the environment locked: it "
			 "waits\" env=%s job=%llu", e->name,
			 (unsigned long long)e->run->job);
		if (!e->has_pending) {
			e->pending = e->running;
			queued_init(&e->running);
			e->has_pending = true;
			mark_dirty(d, e);
		}
		daemon_child_free(e->run);
		e->run = NULL;
		set_queue_metrics(d, e);
		wait_and_retry(e, RETRY_LOCK_MS);
		daemon_child_gone(d);
		return true;
	}
	status = finished_status(e, wstatus, &finished_at, &seconds);
	log_info("msg=\"deployment finished\" env=%s job=%llu status=%s "
		 "seconds=%.1f", e->name, (unsigned long long)e->run->job,
		 status, seconds);
	metrics_add(d->m, "berth_deployments_total",
		    (const char *[]){"env", e->name, "status", status, NULL}, 1);
	metrics_observe(d->m, "berth_deploy_duration_seconds",
			(const char *[]){"env", e->name, NULL}, seconds);
	if (strcmp(status, "succeeded") == 0)
		metrics_set(d->m, "berth_last_successful_deploy_timestamp_seconds",
			    (const char *[]){"env", e->name, NULL},
			    (double)finished_at);
	if (e->running.seq > 0) {
		if (inbox_mark_done(d->ib, e->name, e->running.seq, &err) != 0 ||
		    inbox_sync(d->ib, &err) != 0)
			log_error("msg=\"cannot record deliveries as done\" "
				  "error=\"%s\"", err.msg);
	}
	queued_release(&e->running);
	daemon_child_free(e->run);
	e->run = NULL;
	set_queue_metrics(d, e);
	daemon_queue_kick(d, e);
	if (e->run == NULL)
		daemon_sched_tick(d, e);
	daemon_child_gone(d);
	return true;
}

size_t daemon_queue_running(struct daemon *d)
{
	size_t i, n = 0;

	for (i = 0; i < d->nenvs; i++)
		n += d->envs[i]->run != NULL;
	return n;
}

void daemon_env_free(struct daemon_env *e)
{
	if (e == NULL)
		return;
	free(e->name);
	if (e->ctx != NULL) {
		envctx_close(e->ctx);
		free(e->ctx);
	}
	queued_release(&e->pending);
	queued_release(&e->running);
	daemon_child_free(e->run);
	if (e->retry != NULL)
		event_free(e->retry);
	daemon_sched_env_free(e);
	free(e);
}

struct daemon_env *daemon_env_new(struct daemon *d, const char *name)
{
	struct daemon_env *e = xcalloc(1, sizeof(*e));

	e->d = d;
	e->name = xstrdup(name);
	queued_init(&e->pending);
	queued_init(&e->running);
	e->retry = event_new(d->base, -1, 0, on_retry, e);
	if (e->retry == NULL)
		fatal("cannot create a timer");
	return e;
}

void daemon_queue_init(struct daemon *d)
{
	d->flush = event_new(d->base, -1, 0, on_flush, d);
	if (d->flush == NULL)
		fatal("cannot create a timer");
}
