/*
 * cmd_status.c — `berth status ENV [--json]`: the commit that runs, the most
 * recent deployment, the services and their health, the lock, the freeze
 * and what is queued.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "berth.h"

static const struct cli_opt opts[] = {
	{"json", NULL, "print one JSON document instead of text"},
	{NULL, NULL, NULL},
};

/* One health probe's bound: status is read often and must stay quick. */
#define STATUS_PROBE_MS 2000

/* One service as status shows it. */
struct status_service {
	char *name;   /* owned */
	char *state;  /* owned: "running", "stopped", "not started" */
	char *detail; /* owned or NULL: the driver's words, health's */
	int pid;
	bool healthy;
};

static void add_service(struct status_service **out, size_t *n,
			const char *name, const struct service_live *l,
			const struct manifest_service *svc)
{
	struct status_service *s;
	char *why = NULL;

	*out = xrealloc(*out, (*n + 1) * sizeof(**out));
	s = &(*out)[(*n)++];
	memset(s, 0, sizeof(*s));
	s->name = xstrdup(name);
	if (l == NULL) {
		s->state = xstrdup("not started");
		return;
	}
	s->pid = l->pid;
	s->state = xstrdup(l->running ? "running" : "stopped");
	if (l->running && svc != NULL)
		s->healthy = health_probe(&why, svc, STATUS_PROBE_MS);
	else if (l->running)
		s->healthy = true;
	if (why != NULL)
		s->detail = xasprintf("unhealthy: %s", why);
	else if (!l->running && l->detail != NULL)
		s->detail = xstrdup(l->detail);
	else if (l->changed != NULL)
		s->detail = xasprintf("changed outside berth: %s", l->changed);
	else if (svc == NULL)
		s->detail = xstrdup("not in the running commit's manifest");
	free(why);
}

/*
 * The services: those of the running commit's manifest in start order,
 * then any other the driver knows of, each with the driver's live state and
 * one health probe. Without a readable manifest, what the driver knows.
 */
static void status_services(struct status_service **out, size_t *n,
			    struct envctx *ctx, const char *commit)
{
	const struct driver_ops *ops = &driver_process;
	struct service_live *live = NULL;
	struct manifest *m = NULL;
	struct merrs errs = {0};
	struct driver_ctx dctx;
	struct berr err;
	size_t nlive = 0, i, k;
	bool *shown;

	*out = NULL;
	*n = 0;
	if (commit[0] != '\0' && envctx_manifest(&m, ctx, commit, &errs) == 0 &&
	    driver_for(m) != NULL)
		ops = driver_for(m);
	merrs_release(&errs);
	memset(&dctx, 0, sizeof(dctx));
	dctx.st = &ctx->st;
	dctx.vars = &ctx->vars;
	if (ops->live(&live, &nlive, &dctx, &err) != 0)
		fprintf(stderr, "berth: warning: %s\n", err.msg);
	shown = xcalloc(nlive + 1, sizeof(*shown));
	for (i = 0; m != NULL && i < m->nservices; i++) {
		const struct manifest_service *svc = &m->services[m->order[i]];
		const struct service_live *l = NULL;

		for (k = 0; k < nlive; k++)
			if (strcmp(live[k].name, svc->name) == 0) {
				l = &live[k];
				shown[k] = true;
			}
		add_service(out, n, svc->name, l, svc);
	}
	for (k = 0; k < nlive; k++)
		if (!shown[k])
			add_service(out, n, live[k].name, &live[k], NULL);
	free(shown);
	driver_live_free(live, nlive);
	manifest_free(m);
}

static void status_services_free(struct status_service *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(s[i].name);
		free(s[i].state);
		free(s[i].detail);
	}
	free(s);
}

struct status {
	char commit[41];           /* "" when nothing runs */
	int64_t current_id;
	bool have_latest;
	struct deployment latest;
	bool locked;
	struct lock_holder holder;
	char *frozen;              /* owned reason, NULL when not frozen */
	struct status_service *services;
	size_t nservices;
	json_t *queued;            /* owned; what the daemon queued, or NULL */
	json_t *drift;             /* owned; {"open", "checked_at"} from the
				      daemon's drift checks, or NULL */
};

/* The daemon's drift findings (drift.json), or NULL when never checked. */
static json_t *status_drift(struct state *st)
{
	struct drift_state ds;
	struct berr err;
	json_t *o, *j, *at;
	int rc = drift_state_load(&ds, st, &err);

	if (rc != 0) {
		if (rc != BERTH_ENOTFOUND)
			fprintf(stderr, "berth: warning: %s\n", err.msg);
		drift_state_release(&ds);
		return NULL;
	}
	j = drift_state_to_json(&ds, "");
	at = json_object_get(json_object_get(j, "last"), "checked_at");
	o = json_pack("{s:O, s:O}", "open", json_object_get(j, "open"),
		      "checked_at", at != NULL ? at : json_null());
	json_decref(j);
	drift_state_release(&ds);
	return o;
}

/* What `berth serve` queued for the environment (queued.json), or NULL. */
static int status_queued(json_t **out, struct state *st, struct berr *err)
{
	struct queued q;
	int rc = queued_read(&q, st, err);

	*out = NULL;
	if (rc == BERTH_ENOTFOUND)
		return 0;
	if (rc != 0)
		return -1;
	*out = queued_to_json(&q);
	queued_release(&q);
	return 0;
}

static int status_load(struct status *s, struct envctx *ctx, struct berr *err)
{
	char *lock_path = NULL;
	int rc;

	memset(s, 0, sizeof(*s));
	deployment_init(&s->latest);
	rc = state_get_current(&ctx->st, s->commit, &s->current_id, err);
	if (rc != 0 && rc != BERTH_ENOTFOUND)
		return -1;
	rc = state_latest(&ctx->st, &s->latest, err);
	if (rc != 0 && rc != BERTH_ENOTFOUND)
		return -1;
	s->have_latest = rc == 0;
	lock_path = state_path(&ctx->st, "lock");
	rc = lock_peek(&s->locked, &s->holder, lock_path, err);
	free(lock_path);
	if (rc != 0)
		return -1;
	if (state_frozen(&ctx->st, &s->frozen) == 0)
		s->frozen = NULL;
	if (status_queued(&s->queued, &ctx->st, err) != 0)
		return -1;
	s->drift = status_drift(&ctx->st);
	status_services(&s->services, &s->nservices, ctx, s->commit);
	return 0;
}

static void status_release(struct status *s)
{
	deployment_release(&s->latest);
	free(s->frozen);
	status_services_free(s->services, s->nservices);
	json_decref(s->queued);
	json_decref(s->drift);
}

static json_t *status_json(const struct status *s, const char *env)
{
	json_t *o = json_object(), *svc = json_array();
	size_t i;

	json_object_set_new(o, "env", json_string(env));
	json_object_set_new(o, "commit",
			    s->commit[0] ? json_string(s->commit) : json_null());
	json_object_set_new(o, "deployment",
			    s->have_latest ? deployment_to_json(&s->latest)
					   : json_null());
	for (i = 0; i < s->nservices; i++)
		json_array_append_new(
		    svc, json_pack("{s:s, s:s, s:b, s:o, s:o}", "name",
				   s->services[i].name, "state",
				   s->services[i].state, "healthy",
				   s->services[i].healthy, "pid",
				   s->services[i].pid > 0
					   ? json_integer(s->services[i].pid)
					   : json_null(),
				   "detail",
				   s->services[i].detail
					   ? json_string(s->services[i].detail)
					   : json_null()));
	json_object_set_new(o, "services", svc);
	json_object_set_new(o, "locked", json_boolean(s->locked));
	if (s->locked) {
		char who[256];

		lock_describe(who, sizeof(who), &s->holder);
		json_object_set_new(o, "lock_holder", json_string(who));
	}
	json_object_set_new(o, "frozen", json_boolean(s->frozen != NULL));
	if (s->frozen != NULL)
		json_object_set_new(o, "frozen_reason", json_string(s->frozen));
	json_object_set_new(o, "queued",
			    s->queued ? json_incref(s->queued) : json_null());
	json_object_set_new(o, "drift",
			    s->drift ? json_incref(s->drift) : json_null());
	return o;
}

/* "drift: 1 open: service web (checked …)". */
static void status_print_drift(json_t *drift)
{
	json_t *open = json_object_get(drift, "open"), *f;
	const char *at = json_string_value(json_object_get(drift, "checked_at"));
	size_t i;

	if (drift == NULL) {
		printf("  drift: not checked by berth serve yet\n");
		return;
	}
	if (json_array_size(open) == 0)
		printf("  drift: none");
	else
		printf("  drift: %zu open:", json_array_size(open));
	json_array_foreach(open, i, f)
	{
		printf("%s %s %s", i ? "," : "",
		       json_string_value(json_object_get(f, "kind")),
		       json_string_value(json_object_get(f, "name")));
	}
	printf(" (checked %s)\n", at ? at : "-");
}

static void status_print(const struct status *s, const char *env)
{
	size_t i;

	if (s->commit[0] == '\0')
		printf("%s: nothing deployed yet\n", env);
	else
		printf("%s: running %.12s (deployment %lld)\n", env, s->commit,
		       (long long)s->current_id);
	if (s->have_latest) {
		char started[32];

		strnum_iso8601(started, s->latest.started_at);
		printf("  last deployment: %lld %s, %.12s, started %s, trigger %s\n",
		       (long long)s->latest.id,
		       deploy_status_name(s->latest.status),
		       s->latest.commit[0] ? s->latest.commit : "-", started,
		       s->latest.trigger ? s->latest.trigger : "-");
		if (s->latest.error != NULL)
			printf("    %s\n", s->latest.error);
	}
	if (s->nservices > 0)
		printf("  services:\n");
	for (i = 0; i < s->nservices; i++) {
		const struct status_service *v = &s->services[i];
		char pid[32] = "";

		if (v->pid > 0 && strcmp(v->state, "running") == 0)
			snprintf(pid, sizeof(pid), " (pid %d)", v->pid);
		printf("    %-20s %-11s %s%s%s%s\n", v->name, v->state,
		       v->healthy ? "healthy" : "not healthy", pid,
		       v->detail ? ": " : "", v->detail ? v->detail : "");
	}
	if (s->locked) {
		char who[256];

		lock_describe(who, sizeof(who), &s->holder);
		printf("  lock: held by %s\n", who);
	} else {
		printf("  lock: free\n");
	}
	if (s->frozen != NULL)
		printf("  frozen: %s\n  (fix the cause, then 'berth resume %s')\n",
		       s->frozen, env);
	else
		printf("  frozen: no\n");
	if (s->queued != NULL) {
		const char *trigger = json_string_value(
		    json_object_get(s->queued, "trigger"));
		const char *kind = json_string_value(
		    json_object_get(s->queued, "kind"));

		printf("  queued: %s (trigger %s)\n", kind ? kind : "deploy",
		       trigger ? trigger : "-");
	} else {
		printf("  queued: nothing\n");
	}
	status_print_drift(s->drift);
}

static int run(struct cli *cli)
{
	const char *env = cli_env(cli);
	struct merrs errs = {0};
	struct envctx ctx;
	struct status s;
	struct berr err;
	int status = EXIT_FAILED;

	memset(&s, 0, sizeof(s));
	deployment_init(&s.latest);
	if (recover_open(&ctx, cli->config_path, env, &errs) != 0) {
		config_print_errors(&errs, stderr);
		goto out;
	}
	if (status_load(&s, &ctx, &err) != 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		goto out;
	}
	if (cli_flag(cli, "json")) {
		json_t *o = status_json(&s, env);

		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
	} else {
		status_print(&s, env);
	}
	status = EXIT_OK;
out:
	status_release(&s);
	merrs_release(&errs);
	envctx_close(&ctx);
	return status;
}

const struct cli_cmd cmd_status = {
	.name = "status",
	.args = "[ENV]",
	.summary = "what runs now: commit, deployment, services, lock, freeze",
	.opts = opts,
	.min_args = 0,
	.max_args = 1,
	.run = run,
};
