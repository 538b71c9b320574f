/*
 * daemon_poll.c — the safety net for webhooks that never came (LESSONS.md:
 * forges drop events). Every repo.poll_interval_s, ±10 %, a child process
 * (`berth serve --heads`) asks the remote for the head of each tracked
 * branch: libgit2 has no network timeout, so the ls-remote runs outside the
 * event loop under a deadline that kills it. A head that no webhook
 * announced and that is not what runs queues a deployment with trigger
 * "poll".
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "berth.h"
#include "webhooks.h"

#define POLL_DEADLINE_MIN_S 10
#define POLL_DEADLINE_MAX_S 120

static uint32_t jitter_random(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)strnum_mono_ms();
	return r;
}

static void on_poll_timer(int fd, short what, void *arg);

void daemon_poll_schedule(struct daemon *d)
{
	int64_t ms = (int64_t)d->cfg.repo.poll_interval_s * 1000;
	struct timeval tv;

	if (d->poll_timer == NULL) {
		d->poll_timer = event_new(d->base, -1, 0, on_poll_timer, d);
		if (d->poll_timer == NULL)
			fatal("cannot create the poll timer");
	}
	event_del(d->poll_timer);
	if (ms <= 0 || d->stopping)
		return;
	/* ±10 %: polls of several hosts spread out. */
	ms += (int64_t)(jitter_random() % (uint32_t)(ms / 5 + 1)) - ms / 10;
	if (ms < 100)
		ms = 100;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	event_add(d->poll_timer, &tv);
}

static void poll_line(const char *l, void *arg)
{
	struct daemon *d = arg;

	if (strncmp(l, "head ", 5) == 0) {
		if (d->poll->out.len < ((size_t)1 << 19)) {
			buf_puts(&d->poll->out, l);
			buf_putc(&d->poll->out, '\n');
		}
		return;
	}
	log_warn("msg=\"poll\" detail=\"%s\"", l);
}

static void on_poll_output(int fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	if (d->poll != NULL)
		daemon_child_read(d->poll, poll_line, d);
}

static void on_poll_deadline(int fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	if (d->poll == NULL)
		return;
	log_warn("msg=\"poll timed out: killing it\" pid=%d", d->poll->pid);
	kill(-d->poll->pid, SIGKILL);
	metrics_add(d->m, "berth_polls_total",
		    (const char *[]){"result", "timeout", NULL}, 1);
	d->poll->exited = true; /* counted here; the reap only cleans up */
}

static void on_poll_timer(int fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct strv av = {0};
	struct timeval tv = {0, 0};
	struct berr err;
	int deadline = d->cfg.repo.poll_interval_s;

	(void)fd;
	(void)what;
	if (d->stopping)
		return;
	if (d->poll != NULL) {
		daemon_poll_schedule(d);
		return;
	}
	strv_push(&av, "berth");
	strv_push(&av, "--config");
	strv_push(&av, d->config_path);
	strv_push(&av, "serve");
	strv_push(&av, "--heads");
	if (daemon_child_start(&d->poll, d, NULL, av.v, 0, on_poll_output, d,
			       &err) != 0) {
		log_error("msg=\"cannot start the poll\" error=\"%s\"", err.msg);
		metrics_add(d->m, "berth_polls_total",
			    (const char *[]){"result", "error", NULL}, 1);
		daemon_poll_schedule(d);
	} else {
		if (deadline < POLL_DEADLINE_MIN_S)
			deadline = POLL_DEADLINE_MIN_S;
		if (deadline > POLL_DEADLINE_MAX_S)
			deadline = POLL_DEADLINE_MAX_S;
		tv.tv_sec = deadline;
		if (d->poll_deadline == NULL)
			d->poll_deadline = event_new(d->base, -1, 0,
						     on_poll_deadline, d);
		event_add(d->poll_deadline, &tv);
	}
	strv_release(&av);
}

/* One "head BRANCH SHA" result: queue the environments it concerns. */
static void poll_result(struct daemon *d, const char *branch, const char *sha)
{
	const struct env_config *ec = NULL;

	while ((ec = config_env_for_branch(&d->cfg, branch, ec)) != NULL) {
		struct daemon_env *e = daemon_env_find(d, ec->name);
		char current[41] = "";
		int64_t id;
		struct berr err;
		struct queued q;

		if (e == NULL || !ec->auto_deploy || e->ctx == NULL)
			continue;
		if (strcmp(e->last_seen, sha) == 0)
			continue;
		if (e->run == NULL && !e->has_pending &&
		    state_get_current(&e->ctx->st, current, &id, &err) == 0 &&
		    strcmp(current, sha) == 0) {
			memcpy(e->last_seen, sha, 41);
			continue;
		}
		log_info("msg=\"poll found a new head\" env=%s branch=%s "
			 "commit=%s", e->name, branch, sha);
		queued_init(&q);
		q.trigger = (char *)"poll";
		memcpy(q.hint, sha, 41);
		q.requests = 1;
		daemon_queue_add(d, e, &q);
	}
}

bool daemon_poll_reaped(struct daemon *d, int pid, int wstatus)
{
	struct daemon_child *c = d->poll;
	const char *p, *result = "ok";

	if (c == NULL || c->pid != pid)
		return false;
	daemon_child_read(c, poll_line, d);
	event_del(d->poll_deadline);
	d->poll = NULL;
	if (c->exited) {
		result = NULL; /* timed out, already counted */
	} else if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
		result = "error";
		log_warn("msg=\"poll failed\" status=%d",
			 WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
	}
	for (p = buf_str(&c->out); result != NULL && *p;) {
		char branch[PUSH_REF_MAX], sha[41];
		const char *nl = strchr(p, '\n');

		if (sscanf(p, "head %255s %40s", branch, sha) == 2 &&
		    strnum_is_sha(sha) && config_check_branch(branch))
			poll_result(d, branch, sha);
		p = nl ? nl + 1 : p + strlen(p);
	}
	if (result != NULL)
		metrics_add(d->m, "berth_polls_total",
			    (const char *[]){"result", result, NULL}, 1);
	daemon_child_free(c);
	daemon_poll_schedule(d);
	daemon_child_gone(d);
	return true;
}

void daemon_poll_stop(struct daemon *d)
{
	if (d->poll_timer != NULL)
		event_del(d->poll_timer);
	if (d->poll != NULL)
		kill(-d->poll->pid, SIGKILL);
}

int daemon_poll_heads(const char *config_path)
{
	struct merrs errs = {0};
	struct config cfg;
	struct envctx ctx;
	struct git_mirror *gm;
	struct berr err;
	struct strv done = {0};
	int status = EXIT_FAILED;
	size_t i;

	memset(&ctx, 0, sizeof(ctx));
	if (config_load(&cfg, config_path, &errs) != 0) {
		config_print_errors(&errs, stderr);
		merrs_release(&errs);
		return EXIT_FAILED;
	}
	if (envctx_open(&ctx, config_path, cfg.envs[0].name, &errs) != 0) {
		config_print_errors(&errs, stderr);
		goto out;
	}
	if (envctx_git(&ctx, &gm, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		goto out;
	}
	status = EXIT_OK;
	for (i = 0; i < cfg.nenvs; i++) {
		const char *b = cfg.envs[i].branch;
		char sha[41];
		int rc;

		if (!cfg.envs[i].auto_deploy || strv_contains(&done, b))
			continue;
		strv_push(&done, b);
		rc = git_mirror_ls_remote(sha, gm, b, &err);
		if (rc == 0) {
			printf("head %s %s\n", b, sha);
		} else if (rc == BERTH_ENOTFOUND) {
			printf("head %s -\n", b);
		} else {
			fprintf(stderr, "%s\n", err.msg);
			status = EXIT_FAILED;
		}
	}
	fflush(stdout);
out:
	strv_release(&done);
	merrs_release(&errs);
	envctx_close(&ctx);
	config_release(&cfg);
	return status;
}
