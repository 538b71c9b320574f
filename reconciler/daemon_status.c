/*
 * daemon_status.c — GET /api/status: for every configured environment,
 * what `berth status ENV --json` prints, plus what the daemon runs for it
 * now. The command runs in a child process per environment, never in the
 * event loop: it reads the state and probes each service's health, which
 * may take seconds. Requests that arrive while a run is in progress share
 * its answer; a child that takes longer than STATUS_DEADLINE_S is killed
 * and its environment answered with an error.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <event2/event.h>
#include <jansson.h>

#include "berth.h"
#include "webhooks.h"

#define STATUS_DEADLINE_S 10

struct daemon_status_run {
	struct daemon *d;
	struct server_reply **waiting; /* owned array; each answered once */
	size_t nwaiting;
	struct daemon_child **kids;    /* owned; NULL once reaped */
	char **envs;                   /* owned; in config order */
	json_t **results;              /* owned; NULL until known */
	size_t n, left;
	struct event *deadline;        /* owned */
};

static void run_finish(struct daemon *d)
{
	struct daemon_status_run *run = d->status_run;
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < run->n; i++) {
		struct daemon_env *e = daemon_env_find(d, run->envs[i]);
		json_t *o = run->results[i];

		if (o == NULL)
			o = json_pack("{s:s, s:s}", "env", run->envs[i], "error",
				      "berth status did not answer");
		json_object_set_new(
		    o, "running",
		    e == NULL || e->run == NULL
			? json_null()
			: json_pack("{s:s, s:s, s:i}", "kind",
				    queued_kind_name(e->running.kind), "trigger",
				    e->running.trigger ? e->running.trigger : "",
				    "pid", e->run->pid));
		json_array_append_new(arr, o);
		free(run->envs[i]);
	}
	for (i = 0; i < run->nwaiting; i++)
		server_reply_json(run->waiting[i], 200,
				  json_pack("{s:O}", "environments", arr));
	json_decref(arr);
	event_free(run->deadline);
	free(run->waiting);
	free(run->kids);
	free(run->envs);
	free(run->results);
	free(run);
	d->status_run = NULL;
	daemon_child_gone(d);
}

static void on_deadline(int fd, short what, void *arg)
{
	struct daemon *d = arg;
	size_t i;

	(void)fd;
	(void)what;
	log_warn("msg=\"berth status took too long: killing it\"");
	for (i = 0; d->status_run != NULL && i < d->status_run->n; i++)
		if (d->status_run->kids[i] != NULL)
			kill(-d->status_run->kids[i]->pid, SIGKILL);
}

static void drop_line(const char *l, void *arg)
{
	struct daemon_child *c = arg;

	if (c->out.len < ((size_t)1 << 20)) {
		buf_puts(&c->out, l);
		buf_putc(&c->out, '\n');
	}
}

/* arg points at the run's slot for the child (stable while it runs). */
static void on_output(int fd, short what, void *arg)
{
	struct daemon_child *c = *(struct daemon_child **)arg;

	(void)fd;
	(void)what;
	if (c != NULL)
		daemon_child_read(c, drop_line, c);
}

/* Starts `berth status ENV --json` for every configured environment. */
static void run_start(struct daemon *d)
{
	struct daemon_status_run *run = xcalloc(1, sizeof(*run));
	struct timeval tv = {STATUS_DEADLINE_S, 0};
	size_t i;

	run->d = d;
	run->n = d->cfg.nenvs;
	run->kids = xcalloc(run->n, sizeof(*run->kids));
	run->envs = xcalloc(run->n, sizeof(*run->envs));
	run->results = xcalloc(run->n, sizeof(*run->results));
	run->deadline = event_new(d->base, -1, 0, on_deadline, d);
	if (run->deadline == NULL)
		fatal("cannot create a timer");
	d->status_run = run;
	for (i = 0; i < run->n; i++) {
		struct strv av = {0};
		struct berr err;

		run->envs[i] = xstrdup(d->cfg.envs[i].name);
		strv_push(&av, "berth");
		strv_push(&av, "--config");
		strv_push(&av, d->config_path);
		strv_push(&av, "status");
		strv_push(&av, run->envs[i]);
		strv_push(&av, "--json");
		if (daemon_child_start(&run->kids[i], d, NULL, av.v,
				       DAEMON_CHILD_STDOUT_ONLY, on_output,
				       &run->kids[i], &err) != 0)
			run->results[i] = json_pack("{s:s, s:s}", "env",
						    run->envs[i], "error", err.msg);
		else
			run->left++;
		strv_release(&av);
	}
	event_add(run->deadline, &tv);
}

void daemon_status_request(struct server_reply *r, void *arg)
{
	struct daemon *d = arg;
	struct daemon_status_run *run;

	if (d->status_run == NULL) {
		if (d->stopping) {
			server_reply_json(r, 503, json_pack("{s:s}", "error",
							    "shutting down"));
			return;
		}
		run_start(d);
	}
	run = d->status_run;
	run->waiting = xrealloc(run->waiting,
				(run->nwaiting + 1) * sizeof(*run->waiting));
	run->waiting[run->nwaiting++] = r;
	if (run->left == 0)
		run_finish(d);
}

bool daemon_status_reaped(struct daemon *d, int pid, int wstatus)
{
	struct daemon_status_run *run = d->status_run;
	size_t i;

	for (i = 0; run != NULL && i < run->n; i++) {
		struct daemon_child *c = run->kids[i];
		json_error_t jerr;
		json_t *j = NULL;

		if (c == NULL || c->pid != pid)
			continue;
		daemon_child_read(c, drop_line, c);
		if (c->out.len > 0)
			j = json_loadb(c->out.data, c->out.len, 0, &jerr);
		if (!json_is_object(j)) {
			json_decref(j);
			j = json_pack("{s:s, s:s}", "env", run->envs[i], "error",
				      WIFEXITED(wstatus)
					  ? "berth status failed"
					  : "berth status was killed");
		}
		run->results[i] = j;
		daemon_child_free(c);
		run->kids[i] = NULL;
		if (--run->left == 0 && run->nwaiting > 0)
			run_finish(d);
		return true;
	}
	return false;
}

void daemon_status_stop(struct daemon *d)
{
	if (d->status_run != NULL)
		on_deadline(-1, 0, d);
}
