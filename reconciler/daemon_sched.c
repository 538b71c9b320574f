/*
 * daemon_sched.c — the scheduled work of `berth serve` (SPEC §8, §9;
 * docs/drift.md): per environment, the drift check every drift.interval_s
 * (±10 %) and the backup at database.backup.schedule (local time).
 *
 * Both run as child processes of the berth binary (`berth drift ENV
 * --scheduled --json`, `berth serve --backup ENV`), like deployments, and
 * share the environment's queue discipline: one piece of work at a time per
 * environment. Scheduled work never starts while a deployment of the
 * environment runs, waits or holds the lock (it is tried again 2 s later),
 * and a deployment waits for the scheduled work that runs (daemon_queue_kick
 * asks daemon_sched_busy). The settings come from the deployed commit's
 * manifest, read again at every tick, so a deployment that changes them is
 * followed within a minute.
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

/* Longest sleep between two looks at the settings. */
#define SCHED_TICK_MAX_MS 60000
/* Wait for a deployment, or the lock, to be over. */
#define SCHED_RETRY_MS 2000
/* Output of a child kept for parsing. */
#define SCHED_OUT_MAX ((size_t)1 << 20)

enum sched_kind { SCHED_NONE, SCHED_DRIFT, SCHED_BACKUP };

struct daemon_sched_env {
	struct event *timer;        /* owned */
	struct daemon_child *child; /* owned; the running check or backup */
	enum sched_kind kind;       /* what child runs */
	int64_t drift_due_ms;       /* monotonic; 0: not planned */
	int64_t backup_due;         /* sched_now() seconds; 0: not planned */
	int backup_minute;          /* the schedule backup_due is for; -1 */
};

static void on_timer(int fd, short what, void *arg);

static struct daemon_sched_env *sched_of(struct daemon_env *e)
{
	if (e->sched == NULL) {
		e->sched = xcalloc(1, sizeof(*e->sched));
		e->sched->backup_minute = -1;
		e->sched->timer = event_new(e->d->base, -1, 0, on_timer, e);
		if (e->sched->timer == NULL)
			fatal("cannot create a timer");
	}
	return e->sched;
}

void daemon_sched_env_free(struct daemon_env *e)
{
	if (e->sched == NULL)
		return;
	event_free(e->sched->timer);
	daemon_child_free(e->sched->child);
	free(e->sched);
	e->sched = NULL;
}

bool daemon_sched_busy(const struct daemon_env *e)
{
	return e->sched != NULL && e->sched->child != NULL;
}

size_t daemon_sched_running(struct daemon *d)
{
	size_t i, n = 0;

	for (i = 0; i < d->nenvs; i++)
		n += daemon_sched_busy(d->envs[i]);
	return n;
}

/* A deployment runs, waits or holds the lock (a terminal's berth apply). */
static bool deploying(struct daemon_env *e)
{
	struct lock_holder holder;
	struct berr err;
	char *path;
	bool locked = false;

	if (e->run != NULL || e->has_pending)
		return true;
	path = state_path(&e->ctx->st, "lock");
	if (lock_peek(&locked, &holder, path, &err) != 0)
		locked = true; /* unknown: do not start */
	free(path);
	return locked;
}

/* The deployed manifest's settings: drift action and interval, the backup
 * slot (-1: none). False when nothing is deployed or it cannot be read. */
static bool settings(enum manifest_drift_action *action, int *interval_s,
                     int *minute, struct daemon_env *e)
{
	struct manifest *m = NULL;
	struct merrs errs = {0};
	struct berr err;
	char commit[41];
	int64_t id;
	bool ok = false;

	*action = MANIFEST_DRIFT_OFF;
	*interval_s = DRIFT_INTERVAL_DEFAULT_S;
	*minute = -1;
	if (state_get_current(&e->ctx->st, commit, &id, &err) != 0)
		goto out;
	if (envctx_manifest(&m, e->ctx, commit, &errs) != 0)
		goto out;
	*action = m->drift_action;
	*interval_s = m->drift_interval_s > 0 ? m->drift_interval_s
	                                      : DRIFT_INTERVAL_DEFAULT_S;
	if (m->db.present && m->db.backup_schedule != NULL)
		*minute = m->db.backup_schedule_min;
	ok = true;
out:
	manifest_free(m);
	merrs_release(&errs);
	return ok;
}

/* When the next backup is due: at once when the last one (schedule.json)
 * is older than the last slot — a daemon that was down at the slot takes
 * the backup it missed, one only — else the next slot. */
static int64_t plan_backup(struct daemon_env *e, int minute, int64_t now)
{
	struct berr err;
	int64_t last = 0;

	if (sched_backup_last(&last, &e->ctx->st, &err) == 0 &&
	    last < sched_daily_prev(now, minute))
		return now;
	return sched_daily_next(now, minute);
}

static void sched_line(const char *l, void *arg)
{
	struct daemon_env *e = arg;
	struct daemon_child *c = e->sched->child;

	if (c->out.len + strlen(l) + 1 < SCHED_OUT_MAX) {
		buf_puts(&c->out, l);
		buf_putc(&c->out, '\n');
	}
}

static void on_output(int fd, short what, void *arg)
{
	struct daemon_env *e = arg;

	(void)fd;
	(void)what;
	if (e->sched != NULL && e->sched->child != NULL)
		daemon_child_read(e->sched->child, sched_line, e);
}

static int start_child(struct daemon_env *e, enum sched_kind kind)
{
	struct daemon_sched_env *s = e->sched;
	struct strv av = {0};
	struct berr err;
	int rc;

	strv_push(&av, "berth");
	strv_push(&av, "--config");
	strv_push(&av, e->d->config_path);
	if (kind == SCHED_DRIFT) {
		strv_push(&av, "drift");
		strv_push(&av, e->name);
		strv_push(&av, "--scheduled");
		strv_push(&av, "--json");
	} else {
		strv_push(&av, "serve");
		strv_push(&av, "--backup");
		strv_push(&av, e->name);
	}
	rc = daemon_child_start(&s->child, e->d, NULL, av.v,
	                        DAEMON_CHILD_STDOUT_ONLY, on_output, e, &err);
	strv_release(&av);
	if (rc != 0) {
		log_error("msg=\"cannot start scheduled work\" env=%s work=%s "
		          "error=\"%s\"",
		          e->name, kind == SCHED_DRIFT ? "drift" : "backup",
		          err.msg);
		return -1;
	}
	s->kind = kind;
	log_info(
	    "msg=\"scheduled work started\" env=%s work=%s job=%llu pid=%d",
	    e->name, kind == SCHED_DRIFT ? "drift" : "backup",
	    (unsigned long long)s->child->job, s->child->pid);
	return 0;
}

static void arm(struct daemon_env *e, int64_t ms)
{
	struct timeval tv;

	if (ms < 100)
		ms = 100;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	event_add(e->sched->timer, &tv);
}

void daemon_sched_tick(struct daemon *d, struct daemon_env *e)
{
	struct daemon_sched_env *s;
	enum manifest_drift_action action;
	int interval_s, minute;
	int64_t now, mono, wait_ms = SCHED_TICK_MAX_MS;
	bool due;

	if (!e->configured || e->ctx == NULL)
		return;
	s = sched_of(e);
	event_del(s->timer);
	if (d->stopping || s->child != NULL)
		return;
	if (!settings(&action, &interval_s, &minute, e)) {
		/* Nothing deployed yet: look again later. */
		s->drift_due_ms = 0;
		s->backup_due = 0;
		arm(e, SCHED_TICK_MAX_MS);
		return;
	}
	now = sched_now();
	mono = strnum_mono_ms();
	if (minute < 0) {
		s->backup_due = 0;
	} else if (s->backup_due == 0 || minute != s->backup_minute) {
		s->backup_due = plan_backup(e, minute, now);
		s->backup_minute = minute;
		log_info("msg=\"next scheduled backup\" env=%s in_s=%lld",
		         e->name, (long long)(s->backup_due - now));
	}
	if (action == MANIFEST_DRIFT_OFF)
		s->drift_due_ms = 0;
	else if (s->drift_due_ms == 0)
		s->drift_due_ms =
		    mono + sched_jitter_ms((int64_t)interval_s * 1000, 10);
	due = (s->backup_due != 0 && now >= s->backup_due) ||
	      (s->drift_due_ms != 0 && mono >= s->drift_due_ms);
	if (due && deploying(e)) {
		arm(e, SCHED_RETRY_MS);
		return;
	}
	if (s->backup_due != 0 && now >= s->backup_due &&
	    start_child(e, SCHED_BACKUP) == 0)
		return;
	if (s->drift_due_ms != 0 && mono >= s->drift_due_ms &&
	    start_child(e, SCHED_DRIFT) == 0)
		return;
	if (s->backup_due != 0) {
		int64_t ms = (s->backup_due - now) * 1000;

		wait_ms = ms < wait_ms ? ms : wait_ms;
	}
	if (s->drift_due_ms != 0 && s->drift_due_ms - mono < wait_ms)
		wait_ms = s->drift_due_ms - mono;
	arm(e, wait_ms);
}

static void on_timer(int fd, short what, void *arg)
{
	struct daemon_env *e = arg;

	(void)fd;
	(void)what;
	daemon_sched_tick(e->d, e);
}

void daemon_sched_schedule(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->nenvs; i++) {
		struct daemon_env *e = d->envs[i];

		if (e->configured && e->ctx != NULL)
			daemon_sched_tick(d, e);
		else if (e->sched != NULL)
			event_del(e->sched->timer);
	}
}

void daemon_sched_stop(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->nenvs; i++)
		if (d->envs[i]->sched != NULL)
			event_del(d->envs[i]->sched->timer);
}

static int exit_code(int wstatus)
{
	return WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
}

/* The end of a drift check: metrics and the log from its JSON. */
static void drift_done(struct daemon *d, struct daemon_env *e, json_t *j,
                       int code)
{
	const char *labels[] = {"env", e->name, NULL};
	const char *result = code == EXIT_OK        ? "clean"
	                     : code == EXIT_CHANGES ? "drift"
	                                            : "error";
	json_t *heal = json_object_get(j, "heal");
	size_t open = json_array_size(json_object_get(j, "open"));

	metrics_add(d->m, "berth_drift_checks_total",
	            (const char *[]){"env", e->name, "result", result, NULL},
	            1);
	metrics_set(d->m, "berth_drift_last_check_timestamp_seconds", labels,
	            (double)(strnum_now_ms() / 1000));
	if (j != NULL)
		metrics_set(d->m, "berth_drift_findings", labels, (double)open);
	metrics_add(d->m, "berth_drift_notifications_total", labels,
	            (double)json_integer_value(json_object_get(j, "notified")));
	if (json_is_object(heal)) {
		const char *st =
		    json_string_value(json_object_get(heal, "status"));

		metrics_add(d->m, "berth_drift_heals_total",
		            (const char *[]){"env", e->name, "status",
		                             st ? st : "refused", NULL},
		            1);
	}
	log_info("msg=\"drift check finished\" env=%s result=%s open=%zu "
	         "opened=%zu cleared=%zu notified=%lld healed=%s",
	         e->name, result, open,
	         json_array_size(json_object_get(j, "opened")),
	         json_array_size(json_object_get(j, "cleared")),
	         (long long)json_integer_value(json_object_get(j, "notified")),
	         json_is_object(heal) ? "yes" : "no");
}

/* The end of a scheduled backup. */
static void backup_done(struct daemon *d, struct daemon_env *e, json_t *j,
                        int code)
{
	const char *labels[] = {"env", e->name, NULL};
	bool ok = code == EXIT_OK && json_is_true(json_object_get(j, "ok"));
	json_t *pruned = json_object_get(j, "pruned"), *p;
	const char *file = json_string_value(json_object_get(j, "file"));
	const char *error = json_string_value(json_object_get(j, "error"));
	bool verified = json_is_true(json_object_get(j, "verified"));
	size_t i, removed = 0;

	if (json_object_get(j, "skipped") != NULL) {
		log_info(
		    "msg=\"scheduled backup skipped\" env=%s reason=\"%s\"",
		    e->name, json_string_value(json_object_get(j, "skipped")));
		return;
	}
	json_array_foreach(pruned, i, p) removed +=
	    json_is_true(json_object_get(p, "removed"));
	metrics_add(d->m, "berth_backups_total",
	            (const char *[]){"env", e->name, "result",
	                             ok ? "ok" : "failed", NULL},
	            1);
	if (file != NULL)
		metrics_add(d->m, "berth_backup_verifications_total",
		            (const char *[]){"env", e->name, "result",
		                             verified ? "ok"
		                             : ok     ? "skipped"
		                                      : "failed",
		                             NULL},
		            1);
	metrics_add(d->m, "berth_backups_pruned_total", labels,
	            (double)removed);
	if (ok) {
		metrics_set(d->m, "berth_backup_last_success_timestamp_seconds",
		            labels, (double)(strnum_now_ms() / 1000));
		metrics_set(
		    d->m, "berth_backup_size_bytes", labels,
		    (double)json_integer_value(json_object_get(j, "size")));
		log_info("msg=\"scheduled backup finished\" env=%s file=%s "
		         "verified=%s pruned=%zu",
		         e->name, file ? file : "-", verified ? "yes" : "no",
		         removed);
	} else {
		log_error("msg=\"scheduled backup failed\" env=%s error=\"%s\" "
		          "notified=%lld",
		          e->name, error ? error : "see the log",
		          (long long)json_integer_value(
		              json_object_get(j, "notified")));
	}
}

bool daemon_sched_reaped(struct daemon *d, int pid, int wstatus)
{
	struct daemon_env *e = NULL;
	struct daemon_sched_env *s;
	struct daemon_child *c;
	json_t *j;
	int code = exit_code(wstatus);
	size_t i;

	for (i = 0; i < d->nenvs && e == NULL; i++)
		if (daemon_sched_busy(d->envs[i]) &&
		    d->envs[i]->sched->child->pid == pid)
			e = d->envs[i];
	if (e == NULL)
		return false;
	s = e->sched;
	c = s->child;
	daemon_child_read(c, sched_line, e);
	j = json_loadb(buf_str(&c->out), c->out.len, 0, NULL);
	if (j == NULL)
		log_warn("msg=\"scheduled work printed no result\" env=%s "
		         "status=%d",
		         e->name, code);
	if (code == EXIT_LOCKED) {
		/* A deployment took the lock first: try again after it. */
		log_info("msg=\"scheduled work found the environment locked: "
		         "it waits\" env=%s",
		         e->name);
	} else if (s->kind == SCHED_DRIFT) {
		drift_done(d, e, j, code);
		s->drift_due_ms = 0; /* the next interval from now */
	} else {
		backup_done(d, e, j, code);
		s->backup_due = sched_daily_next(sched_now(), s->backup_minute);
		if (s->backup_due <= 0)
			s->backup_due = 0;
	}
	json_decref(j);
	daemon_child_free(c);
	s->child = NULL;
	s->kind = SCHED_NONE;
	daemon_queue_kick(d, e);
	daemon_sched_tick(d, e);
	daemon_child_gone(d);
	return true;
}

int daemon_sched_backup(const char *config_path, const char *env)
{
	struct merrs errs = {0};
	struct sched_backup b;
	struct envctx ctx;
	struct berr err;
	json_t *j;
	int rc, status;

	memset(&b, 0, sizeof(b));
	if (envctx_open(&ctx, config_path, env, &errs) != 0) {
		config_print_errors(&errs, stderr);
		merrs_release(&errs);
		envctx_close(&ctx);
		return EXIT_FAILED;
	}
	rc = sched_backup_run(&b, &ctx, &err);
	if (rc == BERTH_ENOTFOUND) {
		j = json_pack("{s:s, s:s}", "env", env, "skipped", err.msg);
		status = EXIT_OK;
	} else if (rc == BERTH_ELOCKED) {
		j = json_pack("{s:s, s:s}", "env", env, "locked", err.msg);
		status = EXIT_LOCKED;
	} else {
		j = sched_backup_to_json(&b, env);
		if (rc != 0 && !b.taken && b.error == NULL)
			json_object_set_new(j, "error", json_string(err.msg));
		status = rc == 0 ? EXIT_OK : EXIT_FAILED;
	}
	if (rc != 0)
		fprintf(stderr, "berth: %s\n", err.msg);
	json_dumpf(j, stdout, JSON_INDENT(2));
	putchar('\n');
	fflush(stdout);
	json_decref(j);
	sched_backup_release(&b);
	envctx_close(&ctx);
	merrs_release(&errs);
	return status;
}
