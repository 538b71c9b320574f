/*
 * deployment.c — the deployment record of SPEC §5 and its JSON form, the
 * journal entry that state.c stores one file per deployment. The JSON is a
 * public format (`history --json`, `/api/deployments`, docs/state.md): field
 * names are fixed, fields may be added, and a reader ignores what it does not
 * know so that an older berth can read a newer journal.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

static const char *const deploy_status_names[] = {
	[DEPLOY_RUNNING] = "running",
	[DEPLOY_SUCCEEDED] = "succeeded",
	[DEPLOY_FAILED] = "failed",
	[DEPLOY_ROLLED_BACK] = "rolled_back",
	[DEPLOY_ROLLBACK_FAILED] = "rollback_failed",
	[DEPLOY_INTERRUPTED] = "interrupted",
};

static const char *const step_status_names[] = {
	[STEP_PENDING] = "pending", [STEP_RUNNING] = "running",
	[STEP_OK] = "ok",           [STEP_FAILED] = "failed",
	[STEP_SKIPPED] = "skipped",
};

static int name_index(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

static const char *name_at(const char *const *names, size_t n, int i)
{
	return i >= 0 && (size_t)i < n ? names[i] : "unknown";
}

const char *deploy_status_name(enum deploy_status s)
{
	return name_at(deploy_status_names,
		       BERTH_ARRAY_LEN(deploy_status_names), (int)s);
}

const char *step_status_name(enum step_status s)
{
	return name_at(step_status_names, BERTH_ARRAY_LEN(step_status_names),
		       (int)s);
}

int deploy_status_parse(enum deploy_status *out, const char *s)
{
	int i = name_index(deploy_status_names,
			   BERTH_ARRAY_LEN(deploy_status_names), s);

	if (i >= 0)
		*out = (enum deploy_status)i;
	return i >= 0 ? 0 : -1;
}

int step_status_parse(enum step_status *out, const char *s)
{
	int i = name_index(step_status_names,
			   BERTH_ARRAY_LEN(step_status_names), s);

	if (i >= 0)
		*out = (enum step_status)i;
	return i >= 0 ? 0 : -1;
}

void deployment_init(struct deployment *d)
{
	memset(d, 0, sizeof(*d));
	d->status = DEPLOY_RUNNING;
}

void deployment_release(struct deployment *d)
{
	size_t i;

	if (d == NULL)
		return;
	free(d->env);
	free(d->trigger);
	free(d->kind);
	free(d->backup);
	free(d->safety_backup);
	strv_release(&d->migrations);
	free(d->version);
	free(d->error);
	free(d->env_file_hash);
	for (i = 0; i < d->nsteps; i++) {
		free(d->steps[i].name);
		free(d->steps[i].detail);
		free(d->steps[i].output_tail);
	}
	free(d->steps);
	for (i = 0; i < d->nservices; i++) {
		free(d->services[i].name);
		free(d->services[i].hash);
	}
	free(d->services);
	for (i = 0; i < d->nrestores; i++) {
		free(d->restores[i].step);
		free(d->restores[i].backup);
		free(d->restores[i].reason);
		free(d->restores[i].safety_backup);
		free(d->restores[i].tables);
	}
	free(d->restores);
	deployment_init(d);
}

void deployment_set(char **field, const char *value)
{
	char *copy = value != NULL ? xstrdup(value) : NULL;

	free(*field);
	*field = copy;
}

struct step_record *deployment_step(struct deployment *d, const char *name)
{
	struct step_record *s;
	size_t i;

	for (i = 0; i < d->nsteps; i++)
		if (strcmp(d->steps[i].name, name) == 0)
			return &d->steps[i];
	d->steps = xrealloc(d->steps, (d->nsteps + 1) * sizeof(*d->steps));
	s = &d->steps[d->nsteps++];
	memset(s, 0, sizeof(*s));
	s->name = xstrdup(name);
	s->status = STEP_PENDING;
	return s;
}

void deployment_add_service(struct deployment *d, const char *name,
			    const char *hash)
{
	struct service_record *s;

	d->services = xrealloc(d->services,
			       (d->nservices + 1) * sizeof(*d->services));
	s = &d->services[d->nservices++];
	s->name = xstrdup(name);
	s->hash = hash != NULL ? xstrdup(hash) : NULL;
}

struct restore_record *deployment_add_restore(struct deployment *d)
{
	struct restore_record *r;

	d->restores = xrealloc(d->restores,
			       (d->nrestores + 1) * sizeof(*d->restores));
	r = &d->restores[d->nrestores++];
	memset(r, 0, sizeof(*r));
	r->rows_written_since = -1;
	return r;
}

/* Writing. */

static json_t *str_or_null(const char *s)
{
	return s != NULL && *s != '\0' ? json_string(s) : json_null();
}

static json_t *time_or_null(int64_t t)
{
	char ts[32];

	if (t <= 0)
		return json_null();
	strnum_iso8601(ts, t);
	return json_string(ts);
}

/* Step times keep their milliseconds: "2026-01-05T12:00:00.123Z". */
static json_t *time_ms_or_null(int64_t ms)
{
	char ts[32], out[40];

	if (ms <= 0)
		return json_null();
	strnum_iso8601(ts, ms / 1000);
	ts[strlen(ts) - 1] = '\0'; /* the Z */
	snprintf(out, sizeof(out), "%s.%03dZ", ts, (int)(ms % 1000));
	return json_string(out);
}

static json_t *id_or_null(int64_t id)
{
	return id > 0 ? json_integer(id) : json_null();
}

/* Sets started_at, finished_at and the derived duration ("duration_s", or
 * "duration_ms" when the times are in milliseconds). */
static void set_times(json_t *j, int64_t start, int64_t end, bool ms)
{
	json_object_set_new(j, "started_at",
			    ms ? time_ms_or_null(start) : time_or_null(start));
	json_object_set_new(j, "finished_at",
			    ms ? time_ms_or_null(end) : time_or_null(end));
	json_object_set_new(j, ms ? "duration_ms" : "duration_s",
			    start > 0 && end >= start ? json_integer(end - start)
						      : json_null());
}

static json_t *step_to_json(const struct step_record *s)
{
	json_t *j = json_object();

	json_object_set_new(j, "name", json_string(s->name));
	json_object_set_new(j, "status", json_string(step_status_name(s->status)));
	set_times(j, s->started_ms, s->finished_ms, true);
	json_object_set_new(j, "detail", str_or_null(s->detail));
	json_object_set_new(j, "output_tail", str_or_null(s->output_tail));
	return j;
}

static json_t *restore_to_json(const struct restore_record *r)
{
	json_t *j = json_object();

	json_object_set_new(j, "step", str_or_null(r->step));
	json_object_set_new(j, "backup", str_or_null(r->backup));
	json_object_set_new(j, "reason", str_or_null(r->reason));
	json_object_set_new(j, "safety_backup", str_or_null(r->safety_backup));
	json_object_set_new(j, "ok", json_boolean(r->ok));
	json_object_set_new(j, "rows_written_since",
			    r->rows_written_since >= 0
				    ? json_integer(r->rows_written_since)
				    : json_null());
	json_object_set_new(j, "tables", str_or_null(r->tables));
	return j;
}

json_t *deployment_to_json(const struct deployment *d)
{
	json_t *j = json_object(), *a;
	size_t i;

	json_object_set_new(j, "id", json_integer(d->id));
	json_object_set_new(j, "env", str_or_null(d->env));
	json_object_set_new(j, "kind",
			    json_string(d->kind ? d->kind : DEPLOY_KIND_DEPLOY));
	json_object_set_new(j, "commit", str_or_null(d->commit));
	json_object_set_new(j, "previous_commit", str_or_null(d->previous_commit));
	json_object_set_new(j, "tree", str_or_null(d->tree));
	json_object_set_new(j, "version", str_or_null(d->version));
	json_object_set_new(j, "trigger", str_or_null(d->trigger));
	json_object_set_new(j, "status", json_string(deploy_status_name(d->status)));
	set_times(j, d->started_at, d->finished_at, false);
	json_object_set_new(j, "error", str_or_null(d->error));
	json_object_set_new(j, "backup", str_or_null(d->backup));
	json_object_set_new(j, "safety_backup", str_or_null(d->safety_backup));
	json_object_set_new(j, "migrations_ran", json_boolean(d->migrations_ran));
	a = json_array();
	for (i = 0; i < d->migrations.n; i++)
		json_array_append_new(a, json_string(d->migrations.v[i]));
	json_object_set_new(j, "migrations", a);
	json_object_set_new(j, "rollback_to", id_or_null(d->rollback_to));
	json_object_set_new(j, "env_file_hash", str_or_null(d->env_file_hash));
	json_object_set_new(j, "pid", d->pid > 0 ? json_integer(d->pid) : json_null());
	a = json_array();
	for (i = 0; i < d->nservices; i++) {
		json_t *s = json_object();

		json_object_set_new(s, "name", json_string(d->services[i].name));
		json_object_set_new(s, "hash", str_or_null(d->services[i].hash));
		json_array_append_new(a, s);
	}
	json_object_set_new(j, "services", a);
	a = json_array();
	for (i = 0; i < d->nsteps; i++)
		json_array_append_new(a, step_to_json(&d->steps[i]));
	json_object_set_new(j, "steps", a);
	a = json_array();
	for (i = 0; i < d->nrestores; i++)
		json_array_append_new(a, restore_to_json(&d->restores[i]));
	json_object_set_new(j, "restores", a);
	return j;
}

/* Reading. Each getter takes the object, the key and the JSON path of the
 * object for messages; a missing key or null leaves the default. */

static int get_str(char **out, const json_t *o, const char *key,
		   const char *at, bool required, struct berr *err)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v)) {
		if (required)
			return berr_set(err, "%s.%s: missing", at, key);
		return 0;
	}
	if (!json_is_string(v))
		return berr_set(err, "%s.%s: expected a string", at, key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return berr_set(err, "%s.%s: contains a NUL character", at, key);
	deployment_set(out, json_string_value(v));
	return 0;
}

static int get_sha(char out[41], const json_t *o, const char *key,
		   const char *at, struct berr *err)
{
	const json_t *v = json_object_get(o, key);

	out[0] = '\0';
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !strnum_is_sha(json_string_value(v)))
		return berr_set(err, "%s.%s: expected 40 lowercase hex digits",
				at, key);
	memcpy(out, json_string_value(v), 41);
	return 0;
}

static int get_int(int64_t *out, const json_t *o, const char *key,
		   const char *at, int64_t max, struct berr *err)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > max)
		return berr_set(err, "%s.%s: expected an integer from 0 to %lld",
				at, key, (long long)max);
	*out = json_integer_value(v);
	return 0;
}

/* ms: the string may carry milliseconds and *out is in milliseconds. */
static int get_time(int64_t *out, const json_t *o, const char *key,
		    const char *at, bool ms, struct berr *err)
{
	const json_t *v = json_object_get(o, key);
	char whole[32];
	const char *s, *dot;
	int64_t t;
	int frac = 0;

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		goto bad;
	s = json_string_value(v);
	dot = strchr(s, '.');
	if (dot != NULL) {
		if (!ms || (size_t)(dot - s) >= sizeof(whole) - 1 ||
		    strlen(dot) != 5 || dot[4] != 'Z')
			goto bad;
		snprintf(whole, sizeof(whole), "%.*sZ", (int)(dot - s), s);
		if (dot[1] < '0' || dot[1] > '9' || dot[2] < '0' ||
		    dot[2] > '9' || dot[3] < '0' || dot[3] > '9')
			goto bad;
		frac = (dot[1] - '0') * 100 + (dot[2] - '0') * 10 + (dot[3] - '0');
		s = whole;
	}
	if (strnum_parse_iso8601(&t, s) != 0 || t <= 0)
		goto bad;
	*out = ms ? t * 1000 + frac : t;
	return 0;
bad:
	return berr_set(err, "%s.%s: expected an ISO-8601 UTC time like "
			     "\"2026-01-05T12:00:00Z\"", at, key);
}

/* Parses one element of an array of the record, appending it to d. */
typedef int (*deployment_elem_fn)(struct deployment *d, const json_t *v,
				  const char *at, struct berr *err);

/* Calls fn for each element of the array at key (missing or null: none). */
static int each_element(struct deployment *d, const json_t *j, const char *key,
			deployment_elem_fn fn, struct berr *err)
{
	const json_t *a = json_object_get(j, key), *v;
	char at[64];
	size_t i;

	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a))
		return berr_set(err, "$.%s: expected an array", key);
	json_array_foreach(a, i, v) {
		snprintf(at, sizeof(at), "$.%s[%zu]", key, i);
		if (fn(d, v, at, err) != 0)
			return -1;
	}
	return 0;
}

static int step_from_json(struct deployment *d, const json_t *j,
			  const char *at, struct berr *err)
{
	struct step_record *s;
	const json_t *v;

	if (!json_is_object(j))
		return berr_set(err, "%s: expected an object", at);
	d->steps = xrealloc(d->steps, (d->nsteps + 1) * sizeof(*d->steps));
	s = &d->steps[d->nsteps++];
	memset(s, 0, sizeof(*s));
	if (get_str(&s->name, j, "name", at, true, err) != 0)
		return -1;
	v = json_object_get(j, "status");
	if (!json_is_string(v) ||
	    step_status_parse(&s->status, json_string_value(v)) != 0)
		return berr_set(err, "%s.status: expected one of pending, "
				     "running, ok, failed, skipped", at);
	if (get_time(&s->started_ms, j, "started_at", at, true, err) != 0 ||
	    get_time(&s->finished_ms, j, "finished_at", at, true, err) != 0 ||
	    get_str(&s->detail, j, "detail", at, false, err) != 0 ||
	    get_str(&s->output_tail, j, "output_tail", at, false, err) != 0)
		return -1;
	return 0;
}

static int service_from_json(struct deployment *d, const json_t *j,
			     const char *at, struct berr *err)
{
	struct service_record *s;

	if (!json_is_object(j))
		return berr_set(err, "%s: expected an object", at);
	d->services = xrealloc(d->services,
			       (d->nservices + 1) * sizeof(*d->services));
	s = &d->services[d->nservices++];
	memset(s, 0, sizeof(*s));
	if (get_str(&s->name, j, "name", at, true, err) != 0 ||
	    get_str(&s->hash, j, "hash", at, false, err) != 0)
		return -1;
	return 0;
}

static int restore_from_json(struct deployment *d, const json_t *j,
			     const char *at, struct berr *err)
{
	struct restore_record *r;
	const json_t *ok;

	if (!json_is_object(j))
		return berr_set(err, "%s: expected an object", at);
	r = deployment_add_restore(d);
	ok = json_object_get(j, "ok");
	if (ok != NULL && !json_is_null(ok) && !json_is_boolean(ok))
		return berr_set(err, "%s.ok: expected true or false", at);
	r->ok = json_is_true(ok);
	if (get_str(&r->step, j, "step", at, false, err) != 0 ||
	    get_str(&r->backup, j, "backup", at, true, err) != 0 ||
	    get_str(&r->reason, j, "reason", at, false, err) != 0 ||
	    get_str(&r->safety_backup, j, "safety_backup", at, false, err) != 0 ||
	    get_int(&r->rows_written_since, j, "rows_written_since", at,
		    INT64_MAX, err) != 0 ||
	    get_str(&r->tables, j, "tables", at, false, err) != 0)
		return -1;
	return 0;
}

static int migration_from_json(struct deployment *d, const json_t *j,
			       const char *at, struct berr *err)
{
	if (!json_is_string(j))
		return berr_set(err, "%s: expected a string", at);
	strv_push(&d->migrations, json_string_value(j));
	return 0;
}

static int migrations_ran_from_json(struct deployment *d, const json_t *j,
				    struct berr *err)
{
	const json_t *ran = json_object_get(j, "migrations_ran");

	if (ran != NULL && !json_is_null(ran) && !json_is_boolean(ran))
		return berr_set(err, "$.migrations_ran: expected true or false");
	d->migrations_ran = json_is_true(ran);
	return 0;
}

int deployment_from_json(struct deployment *d, const json_t *j,
			 struct berr *err)
{
	const json_t *v;
	int64_t pid = 0;

	deployment_init(d);
	if (!json_is_object(j)) {
		berr_set(err, "$: expected an object");
		goto fail;
	}
	v = json_object_get(j, "id");
	if (!json_is_integer(v) || json_integer_value(v) < 1) {
		berr_set(err, "$.id: expected a positive integer");
		goto fail;
	}
	d->id = json_integer_value(v);
	v = json_object_get(j, "status");
	if (!json_is_string(v) ||
	    deploy_status_parse(&d->status, json_string_value(v)) != 0) {
		berr_set(err, "$.status: expected one of running, succeeded, "
			      "failed, rolled_back, rollback_failed, interrupted");
		goto fail;
	}
	if (get_str(&d->env, j, "env", "$", true, err) != 0 ||
	    get_str(&d->kind, j, "kind", "$", false, err) != 0 ||
	    get_sha(d->commit, j, "commit", "$", err) != 0 ||
	    get_sha(d->previous_commit, j, "previous_commit", "$", err) != 0 ||
	    get_sha(d->tree, j, "tree", "$", err) != 0 ||
	    get_str(&d->version, j, "version", "$", false, err) != 0 ||
	    get_str(&d->trigger, j, "trigger", "$", false, err) != 0 ||
	    get_time(&d->started_at, j, "started_at", "$", false, err) != 0 ||
	    get_time(&d->finished_at, j, "finished_at", "$", false, err) != 0 ||
	    get_str(&d->error, j, "error", "$", false, err) != 0 ||
	    get_str(&d->backup, j, "backup", "$", false, err) != 0 ||
	    get_str(&d->safety_backup, j, "safety_backup", "$", false, err) != 0 ||
	    migrations_ran_from_json(d, j, err) != 0 ||
	    each_element(d, j, "migrations", migration_from_json, err) != 0 ||
	    get_int(&d->rollback_to, j, "rollback_to", "$", INT64_MAX, err) != 0 ||
	    get_str(&d->env_file_hash, j, "env_file_hash", "$", false, err) != 0 ||
	    get_int(&pid, j, "pid", "$", INT32_MAX, err) != 0 ||
	    each_element(d, j, "services", service_from_json, err) != 0 ||
	    each_element(d, j, "steps", step_from_json, err) != 0 ||
	    each_element(d, j, "restores", restore_from_json, err) != 0)
		goto fail;
	if (d->kind == NULL)
		d->kind = xstrdup(DEPLOY_KIND_DEPLOY);
	d->pid = (int)pid;
	return 0;
fail:
	deployment_release(d);
	return -1;
}
