/*
 * drift_state.c — the scheduled drift check (SPEC §8; docs/drift.md): apply
 * drift.action to what drift_check found, and remember in
 * envs/<env>/drift.json which findings are open, so that each one is
 * notified once when it appears and once when it clears, across restarts
 * of the daemon, and healed at most once while it stays open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "berth.h"

#define DRIFT_STATE_VERSION 1

void drift_state_release(struct drift_state *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nopen; i++) {
		free(s->open[i].kind);
		free(s->open[i].name);
		free(s->open[i].detail);
	}
	free(s->open);
	if (s->last != NULL)
		json_decref(s->last);
	memset(s, 0, sizeof(*s));
}

static struct drift_open *open_add(struct drift_state *s,
                                   const struct drift_open *from)
{
	struct drift_open *o;

	s->open = xrealloc(s->open, (s->nopen + 1) * sizeof(*s->open));
	o = &s->open[s->nopen++];
	*o = *from;
	o->kind = xstrdup(from->kind);
	o->name = xstrdup(from->name);
	o->detail = xstrdup(from->detail);
	return o;
}

static struct drift_open *open_find(const struct drift_state *s,
                                    const char *kind, const char *name)
{
	size_t i;

	for (i = 0; i < s->nopen; i++)
		if (strcmp(s->open[i].kind, kind) == 0 &&
		    strcmp(s->open[i].name, name) == 0)
			return &s->open[i];
	return NULL;
}

/* Reads one entry of $.open. Returns 0 or -1. */
static int open_from_json(struct drift_state *s, const json_t *item)
{
	struct drift_open o;
	const char *since;

	memset(&o, 0, sizeof(o));
	o.kind = (char *)json_string_value(json_object_get(item, "kind"));
	o.name = (char *)json_string_value(json_object_get(item, "name"));
	o.detail = (char *)json_string_value(json_object_get(item, "detail"));
	if (o.kind == NULL || o.name == NULL || o.detail == NULL)
		return -1;
	since = json_string_value(json_object_get(item, "since"));
	if (since == NULL || strnum_parse_iso8601(&o.since, since) != 0)
		o.since = 0;
	o.notified = json_is_true(json_object_get(item, "notified"));
	o.healable = json_is_true(json_object_get(item, "healable"));
	o.heal_deployment =
	    json_integer_value(json_object_get(item, "heal_deployment"));
	open_add(s, &o);
	return 0;
}

int drift_state_load(struct drift_state *out, struct state *st,
                     struct berr *err)
{
	char *path = state_path(st, DRIFT_STATE_FILE);
	json_t *root = NULL, *open, *item;
	json_error_t jerr;
	struct buf text;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	buf_init(&text, 0);
	rc = fs_read_file(&text, path, DRIFT_STATE_MAX, err);
	if (rc != 0)
		goto out;
	rc = -1;
	root = json_loadb(buf_str(&text), text.len, 0, &jerr);
	open = json_object_get(root, "open");
	if (!json_is_object(root) || !json_is_array(open)) {
		berr_set(err, "cannot read '%s': not a drift state", path);
		goto out;
	}
	json_array_foreach(open, i, item)
	{
		if (open_from_json(out, item) != 0) {
			berr_set(err,
			         "cannot read '%s': $.open[%zu]: expected "
			         "kind, name and detail",
			         path, i);
			drift_state_release(out);
			goto out;
		}
	}
	item = json_object_get(root, "last");
	out->last = json_is_object(item) ? json_incref(item) : NULL;
	rc = 0;
out:
	if (root != NULL)
		json_decref(root);
	buf_release(&text);
	free(path);
	return rc;
}

/* The open findings as JSON (new reference). */
static json_t *open_json(const struct drift_state *s)
{
	json_t *a = json_array();
	char when[32];
	size_t i;

	for (i = 0; i < s->nopen; i++) {
		const struct drift_open *o = &s->open[i];

		strnum_iso8601(when, o->since);
		json_array_append_new(
		    a, json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:o}", "kind",
		                 o->kind, "name", o->name, "detail", o->detail,
		                 "since", when, "notified", o->notified,
		                 "healable", o->healable, "heal_deployment",
		                 o->heal_deployment > 0
		                     ? json_integer(o->heal_deployment)
		                     : json_null()));
	}
	return a;
}

json_t *drift_state_to_json(const struct drift_state *s, const char *env)
{
	return json_pack("{s:s, s:o, s:O?}", "env", env, "open", open_json(s),
	                 "last", s->last);
}

int drift_state_save(const struct drift_state *s, struct state *st,
                     struct berr *err)
{
	char *path = state_path(st, DRIFT_STATE_FILE);
	json_t *root = json_object();
	char *text;
	int rc;

	json_object_set_new(root, "version", json_integer(DRIFT_STATE_VERSION));
	json_object_set_new(root, "env", json_string(st->env));
	json_object_set_new(root, "open", open_json(s));
	json_object_set(root, "last", s->last ? s->last : json_null());
	text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(root);
	if (text == NULL)
		fatal("cannot serialise the drift state");
	rc = fs_write_atomic(path, text, strlen(text), 0640, err);
	free(text);
	free(path);
	return rc;
}

/* Whether check could not run in r: its open findings are then neither
 * confirmed nor cleared. */
static bool not_checked(const struct drift_report *r, const char *kind)
{
	size_t i;

	for (i = 0; i < r->nerrors; i++)
		if (strcmp(r->errors[i].kind, kind) == 0)
			return true;
	return false;
}

void drift_state_merge(struct drift_state *s, const struct drift_report *r,
                       struct drift_finding **cleared, size_t *ncleared)
{
	struct drift_state next;
	struct drift_open o;
	size_t i;

	memset(&next, 0, sizeof(next));
	for (i = 0; i < r->nfindings; i++) {
		const struct drift_finding *f = &r->findings[i];
		const struct drift_open *old = open_find(s, f->kind, f->name);

		if (open_find(&next, f->kind, f->name) != NULL)
			continue; /* one open finding per kind and name */
		memset(&o, 0, sizeof(o));
		if (old != NULL)
			o = *old;
		else
			o.since = r->checked_at;
		o.kind = f->kind;
		o.name = f->name;
		o.detail = f->detail;
		o.healable = f->healable;
		open_add(&next, &o);
	}
	for (i = 0; i < s->nopen; i++) {
		const struct drift_open *old = &s->open[i];

		if (open_find(&next, old->kind, old->name) != NULL)
			continue;
		if (not_checked(r, old->kind))
			open_add(&next, old);
		else if (old->notified)
			drift_finding_add(cleared, ncleared, old->kind,
			                  old->name, old->detail);
	}
	next.last = s->last;
	s->last = NULL;
	drift_state_release(s);
	*s = next;
}

static void slack_list(struct buf *b, const char *title,
                       const struct drift_finding *f, size_t n)
{
	size_t i;

	if (n == 0)
		return;
	buf_printf(b, "\n%s:", title);
	for (i = 0; i < n; i++) {
		buf_puts(b, "\n• ");
		notify_slack_escape(b, f[i].kind);
		buf_putc(b, ' ');
		notify_slack_escape(b, f[i].name);
		buf_puts(b, ": ");
		notify_slack_escape(b, f[i].detail);
	}
}

char *drift_notify_payload(enum manifest_notify_type type,
                           const struct drift_report *r,
                           const struct drift_finding *opened, size_t nopened,
                           const struct drift_finding *cleared, size_t ncleared,
                           size_t nopen)
{
	json_t *o = json_object();
	char when[32], *out;
	struct buf b;

	strnum_iso8601(when, r->checked_at);
	if (type == MANIFEST_NOTIFY_SLACK) {
		buf_init(&b, 0);
		buf_putc(&b, '[');
		notify_slack_escape(&b, r->env);
		buf_printf(&b,
		           "] drift on `%.7s`: %zu new, %zu cleared, %zu "
		           "open",
		           r->commit, nopened, ncleared, nopen);
		slack_list(&b, "new", opened, nopened);
		slack_list(&b, "cleared", cleared, ncleared);
		json_object_set_new(o, "text", json_string(buf_str(&b)));
		buf_release(&b);
	} else {
		json_object_set_new(o, "event", json_string("drift"));
		json_object_set_new(o, "env", json_string(r->env));
		json_object_set_new(o, "commit",
		                    r->commit[0] ? json_string(r->commit)
		                                 : json_null());
		json_object_set_new(
		    o, "status",
		    json_string(nopened > 0 ? "drift" : "cleared"));
		json_object_set_new(o, "opened",
		                    drift_findings_json(opened, nopened));
		json_object_set_new(o, "cleared",
		                    drift_findings_json(cleared, ncleared));
		json_object_set_new(o, "open", json_integer((json_int_t)nopen));
		json_object_set_new(o, "checked_at", json_string(when));
	}
	out = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (out == NULL)
		fatal("cannot serialise a drift notification");
	return out;
}

/* Sends what opened and cleared to every notifier. Returns how many got
 * it, or -1 when there is no notifier. */
static int notify(struct envctx *ctx, const struct manifest *m,
                  const struct drift_report *r,
                  const struct drift_finding *opened, size_t nopened,
                  const struct drift_finding *cleared, size_t ncleared,
                  size_t nopen)
{
	struct notify_target *targets = NULL;
	struct buf *bufs = NULL;
	size_t n, i;
	int sent = 0;

	n = pipeline_notify_targets(&targets, &bufs, ctx, m);
	for (i = 0; i < n; i++) {
		struct notify_result res;
		char *body =
		    drift_notify_payload(targets[i].type, r, opened, nopened,
		                         cleared, ncleared, nopen);
		char *line;

		if (notify_send_body(&res, &targets[i], body, NULL) == 0)
			sent++;
		line = notify_describe_result(&res);
		log_info("msg=\"drift notification\" env=%s result=\"%s\"",
		         r->env, line);
		free(line);
		notify_result_release(&res);
		free(body);
	}
	pipeline_notify_targets_free(targets, bufs, n);
	return n == 0 ? -1 : sent;
}

/* One scheduled run. */
struct sched_run {
	struct envctx *ctx;
	struct drift_state s;
	struct drift_report r;
	struct drift_finding *opened, *cleared;
	size_t nopened, ncleared;
	struct deployment heal;
	bool healed;      /* a heal deployment ran */
	char *heal_error; /* owned; why a heal was not tried, or NULL */
	int heal_rc;
};

/* action heal: the findings not healed yet, redeployed once. */
static void heal_once(struct sched_run *w, const struct drift_opts *o,
                      void *progress, bool (*stop)(void))
{
	struct drift_report again;
	struct berr err;
	size_t i;
	bool todo = false;

	for (i = 0; i < w->s.nopen; i++)
		if (w->s.open[i].healable && w->s.open[i].heal_deployment == 0)
			todo = true;
	if (!todo)
		return;
	w->heal_rc = drift_heal(&w->heal, w->ctx, &w->r, progress, stop, &err);
	if (w->heal.id == 0) {
		w->heal_error = xstrdup(err.msg);
		return;
	}
	w->healed = true;
	for (i = 0; i < w->s.nopen; i++)
		if (w->s.open[i].healable)
			w->s.open[i].heal_deployment = w->heal.id;
	if (drift_check(&again, w->ctx, o, &err) != 0) {
		drift_report_release(&again);
		return;
	}
	drift_state_merge(&w->s, &again, &w->cleared, &w->ncleared);
	drift_report_release(&w->r);
	w->r = again;
}

/* The JSON the daemon reads: the report, the open findings and what this
 * run notified and healed (new reference). */
static json_t *run_json(const struct sched_run *w, int sent)
{
	json_t *j = drift_report_to_json(&w->r);

	json_object_set_new(j, "open", open_json(&w->s));
	json_object_set_new(j, "opened",
	                    drift_findings_json(w->opened, w->nopened));
	json_object_set_new(j, "cleared",
	                    drift_findings_json(w->cleared, w->ncleared));
	json_object_set_new(j, "notified", json_integer(sent));
	if (w->healed)
		json_object_set_new(
		    j, "heal",
		    json_pack("{s:I, s:s}", "deployment",
		              (json_int_t)w->heal.id, "status",
		              deploy_status_name(w->heal.status)));
	else if (w->heal_error != NULL)
		json_object_set_new(j, "heal",
		                    json_pack("{s:n, s:s}", "deployment",
		                              "error", w->heal_error));
	return j;
}

/* The deployed commit and its manifest's drift settings into r (no
 * findings), *m the manifest (NULL when it cannot be read). Returns 0, or
 * -1 when nothing is deployed or the manifest cannot be read. */
static int settings(struct drift_report *r, struct manifest **m,
                    struct envctx *ctx)
{
	struct merrs errs = {0};
	struct berr err;
	int rc;

	memset(r, 0, sizeof(*r));
	r->env = xstrdup(ctx->env->name);
	r->checked_at = strnum_now_ms() / 1000;
	r->action = MANIFEST_DRIFT_REPORT;
	r->interval_s = DRIFT_INTERVAL_DEFAULT_S;
	*m = NULL;
	rc = state_get_current(&ctx->st, r->commit, &r->deployment_id, &err);
	if (rc != 0) {
		r->commit[0] = '\0';
		return -1;
	}
	rc = envctx_manifest(m, ctx, r->commit, &errs);
	merrs_release(&errs);
	if (rc != 0)
		return -1;
	r->action = (*m)->drift_action;
	r->interval_s = (*m)->drift_interval_s;
	return 0;
}

int drift_scheduled(struct envctx *ctx, const struct drift_opts *o,
                    void *progress, bool (*stop)(void))
{
	struct sched_run w;
	struct manifest *m = NULL;
	struct berr err;
	size_t i;
	int status = EXIT_FAILED, sent = 0, rc;
	json_t *j;

	memset(&w, 0, sizeof(w));
	w.ctx = ctx;
	deployment_init(&w.heal);
	rc = drift_state_load(&w.s, &ctx->st, &err);
	if (rc == BERTH_ENOTFOUND) {
		memset(&w.s, 0, sizeof(w.s));
	} else if (rc != 0) {
		/* A broken state file is replaced: at worst an open finding
		 * is notified once more. */
		log_warn("msg=\"drift state unreadable: starting afresh\" "
		         "error=\"%s\"",
		         err.msg);
		memset(&w.s, 0, sizeof(w.s));
	}
	if (settings(&w.r, &m, ctx) == 0 && w.r.action == MANIFEST_DRIFT_OFF) {
		/* Nothing checked, nothing notified; the daemon learns the
		 * settings from the output and asks again later. */
		status = EXIT_OK;
		goto print;
	}
	drift_report_release(&w.r);
	if (drift_check(&w.r, ctx, o, &err) != 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		goto out;
	}
	drift_state_merge(&w.s, &w.r, &w.cleared, &w.ncleared);
	if (w.r.action == MANIFEST_DRIFT_HEAL)
		heal_once(&w, o, progress, stop);
	for (i = 0; i < w.s.nopen; i++)
		if (!w.s.open[i].notified)
			drift_finding_add(&w.opened, &w.nopened,
			                  w.s.open[i].kind, w.s.open[i].name,
			                  w.s.open[i].detail);
	if (w.nopened > 0 || w.ncleared > 0) {
		sent = notify(ctx, m, &w.r, w.opened, w.nopened, w.cleared,
		              w.ncleared, w.s.nopen);
		/* Undelivered, it is tried again at the next check; with no
		 * notifier at all there is nobody to tell. */
		for (i = 0; sent != 0 && i < w.s.nopen; i++)
			w.s.open[i].notified = true;
	}
	if (w.s.last != NULL)
		json_decref(w.s.last);
	w.s.last = drift_report_to_json(&w.r);
	if (drift_state_save(&w.s, &ctx->st, &err) != 0)
		fprintf(stderr, "berth: warning: %s\n", err.msg);
	status = w.healed && w.heal_rc != 0
	             ? apply_exit_status(w.heal_rc, &w.heal)
	             : drift_exit_status(&w.r);
print:
	j = run_json(&w, sent < 0 ? 0 : sent);
	if (progress == NULL) {
		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		fflush(stdout);
	} else {
		drift_report_print(&w.r, progress);
		fprintf(progress,
		        "%zu open, %zu new, %zu cleared; %d notified\n",
		        w.s.nopen, w.nopened, w.ncleared, sent < 0 ? 0 : sent);
	}
	json_decref(j);
out:
	manifest_free(m);
	drift_findings_free(w.opened, w.nopened);
	drift_findings_free(w.cleared, w.ncleared);
	free(w.heal_error);
	deployment_release(&w.heal);
	drift_report_release(&w.r);
	drift_state_release(&w.s);
	return status;
}
