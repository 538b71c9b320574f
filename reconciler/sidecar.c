/*
 * sidecar.c — the JSON file that describes a backup: what it is, where it
 * came from, its checksum, the table statistics at backup time and the last
 * verification. Written atomically after the dump; without it a dump is
 * not trusted (docs/backups.md lists the fields).
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "berth.h"

/* Identifies a berth sidecar and its layout. */
#define SIDECAR_VERSION 1

static json_t *str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *iso_time(int64_t t)
{
	char ts[32];

	strnum_iso8601(ts, t);
	return json_string(ts);
}

static json_t *stats_to_json(const struct backup_info *b)
{
	json_t *a;
	size_t i;

	if (!b->has_stats)
		return json_null();
	a = json_array();
	for (i = 0; i < b->stats.n; i++) {
		const struct pg_table_stat *t = &b->stats.tables[i];

		json_array_append_new(
		    a, json_pack("{s:s, s:I, s:I}", "table", t->name, "writes",
		                 (json_int_t)t->writes, "live_rows",
		                 (json_int_t)t->live_rows));
	}
	return a;
}

static json_t *check_to_json(const struct backup_check *c)
{
	if (!c->done)
		return json_null();
	return json_pack("{s:s, s:b, s:o, s:o}", "mode",
	                 backup_verify_name(c->mode), "ok", c->ok, "at",
	                 iso_time(c->at), "detail", str_or_null(c->detail));
}

json_t *sidecar_to_json(const struct backup_info *b)
{
	json_t *j = json_object();

	json_object_set_new(j, "berth_backup", json_integer(SIDECAR_VERSION));
	json_object_set_new(j, "file", json_string(b->file));
	json_object_set_new(j, "kind", json_string(backup_kind_name(b->kind)));
	json_object_set_new(j, "deployment_id",
	                    b->deployment_id > 0
	                        ? json_integer(b->deployment_id)
	                        : json_null());
	json_object_set_new(j, "commit", str_or_null(b->commit));
	json_object_set_new(j, "env", str_or_null(b->env));
	json_object_set_new(j, "database", str_or_null(b->database));
	json_object_set_new(j, "format",
	                    json_string(backup_format_name(b->format)));
	json_object_set_new(j, "size", json_integer(b->size));
	json_object_set_new(j, "sha256", json_string(b->sha256));
	json_object_set_new(j, "server_version",
	                    str_or_null(b->server_version));
	json_object_set_new(j, "created_at", iso_time(b->created_at));
	json_object_set_new(j, "duration_ms", json_integer(b->duration_ms));
	json_object_set_new(j, "stats_reset", str_or_null(b->stats_reset));
	json_object_set_new(j, "table_stats", stats_to_json(b));
	json_object_set_new(j, "verification", check_to_json(&b->verified));
	return j;
}

/* Reading. */

static const char *type_name(json_type t)
{
	switch (t) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	default:
		return "true or false";
	}
}

/*
 * *v = member key of o when it has type (JSON_TRUE: either boolean); NULL
 * when it is missing or null, which is an error when required. at is the
 * JSON path of o, for messages.
 */
static int member(const json_t **v, const json_t *o, const char *at,
                  const char *key, json_type type, bool required,
                  struct berr *err)
{
	const json_t *m = json_object_get(o, key);

	*v = NULL;
	if (m == NULL || json_is_null(m))
		return required ? berr_set(err, "%s.%s: missing", at, key) : 0;
	if (json_typeof(m) != type &&
	    !(type == JSON_TRUE && json_is_boolean(m)))
		return berr_set(err, "%s.%s: expected %s", at, key,
		                type_name(type));
	if (type == JSON_STRING &&
	    strlen(json_string_value(m)) != json_string_length(m))
		return berr_set(err, "%s.%s: contains a NUL character", at,
		                key);
	*v = m;
	return 0;
}

/* A string member into a new string (*out NULL when absent). */
static int text(char **out, const json_t *o, const char *at, const char *key,
                bool required, struct berr *err)
{
	const json_t *v;

	if (member(&v, o, at, key, JSON_STRING, required, err) != 0)
		return -1;
	*out = v != NULL ? xstrdup(json_string_value(v)) : NULL;
	return 0;
}

/* A non-negative integer member (*out untouched when absent). */
static int count(int64_t *out, const json_t *o, const char *at, const char *key,
                 bool required, struct berr *err)
{
	const json_t *v;

	if (member(&v, o, at, key, JSON_INTEGER, required, err) != 0)
		return -1;
	if (v == NULL)
		return 0;
	if (json_integer_value(v) < 0)
		return berr_set(err, "%s.%s: expected an integer of at least 0",
		                at, key);
	*out = json_integer_value(v);
	return 0;
}

static int when(int64_t *out, const json_t *o, const char *at, const char *key,
                struct berr *err)
{
	const json_t *v;

	if (member(&v, o, at, key, JSON_STRING, true, err) != 0)
		return -1;
	if (strnum_parse_iso8601(out, json_string_value(v)) != 0)
		return berr_set(err,
		                "%s.%s: expected a UTC time like "
		                "\"2026-01-05T12:00:00Z\"",
		                at, key);
	return 0;
}

static bool is_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[64] == '\0';
}

static int stats_from_json(struct backup_info *b, const json_t *j,
                           struct berr *err)
{
	const json_t *a, *e;
	char at[48];
	size_t i;

	if (member(&a, j, "$", "table_stats", JSON_ARRAY, false, err) != 0)
		return -1;
	if (a == NULL)
		return 0;
	b->has_stats = true;
	if (json_array_size(a) > 0)
		b->stats.tables =
		    xcalloc(json_array_size(a), sizeof(*b->stats.tables));
	json_array_foreach(a, i, e)
	{
		struct pg_table_stat *t = &b->stats.tables[i];

		snprintf(at, sizeof(at), "$.table_stats[%zu]", i);
		if (!json_is_object(e))
			return berr_set(err, "%s: expected an object", at);
		b->stats.n++;
		if (text(&t->name, e, at, "table", true, err) != 0 ||
		    count(&t->writes, e, at, "writes", true, err) != 0 ||
		    count(&t->live_rows, e, at, "live_rows", true, err) != 0)
			return -1;
	}
	return 0;
}

static int check_from_json(struct backup_check *c, const json_t *j,
                           struct berr *err)
{
	const char *at = "$.verification";
	const json_t *o, *v;

	if (member(&o, j, "$", "verification", JSON_OBJECT, false, err) != 0)
		return -1;
	if (o == NULL)
		return 0;
	c->done = true;
	if (member(&v, o, at, "mode", JSON_STRING, true, err) != 0)
		return -1;
	if (strcmp(json_string_value(v), "toc") == 0)
		c->mode = MANIFEST_VERIFY_TOC;
	else if (strcmp(json_string_value(v), "restore") == 0)
		c->mode = MANIFEST_VERIFY_RESTORE;
	else
		return berr_set(err, "%s.mode: expected toc or restore", at);
	if (member(&v, o, at, "ok", JSON_TRUE, true, err) != 0 ||
	    when(&c->at, o, at, "at", err) != 0 ||
	    text(&c->detail, o, at, "detail", false, err) != 0)
		return -1;
	c->ok = json_is_true(v);
	return 0;
}

int sidecar_from_json(struct backup_info *out, const json_t *j,
                      struct berr *err)
{
	const json_t *v;
	char *s = NULL;
	int64_t version = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(j)) {
		berr_set(err, "$: expected an object");
		goto out;
	}
	if (count(&version, j, "$", "berth_backup", true, err) != 0)
		goto out;
	if (version != SIDECAR_VERSION) {
		berr_set(err, "$.berth_backup: expected %d, got %lld",
		         SIDECAR_VERSION, (long long)version);
		goto out;
	}
	if (text(&out->file, j, "$", "file", true, err) != 0 ||
	    text(&s, j, "$", "kind", true, err) != 0)
		goto out;
	if (backup_kind_parse(&out->kind, s) != 0) {
		berr_set(err, "$.kind: expected one of pre-deploy, "
		              "pre-rollback, scheduled, manual");
		goto out;
	}
	free(s);
	s = NULL;
	if (text(&s, j, "$", "format", true, err) != 0)
		goto out;
	if (backup_format_parse(&out->format, s) != 0) {
		berr_set(err, "$.format: expected custom, plain or plain.gz");
		goto out;
	}
	if (member(&v, j, "$", "sha256", JSON_STRING, true, err) != 0)
		goto out;
	if (!is_hex64(json_string_value(v))) {
		berr_set(err, "$.sha256: expected 64 lowercase hex digits");
		goto out;
	}
	memcpy(out->sha256, json_string_value(v), 65);
	if (count(&out->deployment_id, j, "$", "deployment_id", false, err) !=
	        0 ||
	    text(&out->commit, j, "$", "commit", false, err) != 0 ||
	    text(&out->env, j, "$", "env", false, err) != 0 ||
	    text(&out->database, j, "$", "database", false, err) != 0 ||
	    count(&out->size, j, "$", "size", true, err) != 0 ||
	    text(&out->server_version, j, "$", "server_version", false, err) !=
	        0 ||
	    when(&out->created_at, j, "$", "created_at", err) != 0 ||
	    count(&out->duration_ms, j, "$", "duration_ms", false, err) != 0 ||
	    text(&out->stats_reset, j, "$", "stats_reset", false, err) != 0 ||
	    stats_from_json(out, j, err) != 0 ||
	    check_from_json(&out->verified, j, err) != 0)
		goto out;
	rc = 0;
out:
	free(s);
	if (rc != 0)
		backup_info_release(out);
	return rc;
}

char *sidecar_path(const char *dump_path)
{
	const char *base = strrchr(dump_path, '/');
	enum manifest_backup_format f;
	int64_t t;
	size_t ext;

	base = base != NULL ? base + 1 : dump_path;
	if (backup_name_parse(&t, &f, base) != 0)
		return NULL;
	ext = strlen(backup_format_ext(f));
	return xasprintf("%.*s.json", (int)(strlen(dump_path) - ext),
	                 dump_path);
}

int sidecar_save(const struct backup_info *b, struct berr *err)
{
	char *path = sidecar_path(b->path), *text_json = NULL;
	json_t *j = NULL;
	int rc = -1;

	if (path == NULL) {
		berr_set(err, "'%s' is not a backup's file name", b->path);
		goto out;
	}
	j = sidecar_to_json(b);
	text_json = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text_json == NULL) {
		berr_set(err, "cannot encode the sidecar of '%s'", b->file);
		goto out;
	}
	rc = fs_write_atomic(path, text_json, strlen(text_json), 0600, err);
out:
	free(text_json);
	json_decref(j);
	free(path);
	return rc;
}

int sidecar_load(struct backup_info *out, const char *dump_path,
                 struct berr *err)
{
	char *path = sidecar_path(dump_path);
	const char *base = strrchr(dump_path, '/');
	json_error_t jerr;
	json_t *j = NULL;
	struct buf data;
	int rc;

	memset(out, 0, sizeof(*out));
	buf_init(&data, SIDECAR_MAX_BYTES);
	base = base != NULL ? base + 1 : dump_path;
	if (path == NULL) {
		rc = berr_set(err, "'%s' is not a backup's file name", base);
		goto out;
	}
	rc = fs_read_file(&data, path, SIDECAR_MAX_BYTES, err);
	if (rc != 0)
		goto out;
	rc = -1;
	j = json_loadb(buf_str(&data), data.len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		berr_set(err, "sidecar '%s': line %d: %s", path, jerr.line,
		         jerr.text);
		goto out;
	}
	if (sidecar_from_json(out, j, err) != 0) {
		berr_prefix(err, "sidecar '%s'", path);
		goto out;
	}
	if (strcmp(out->file, base) != 0) {
		berr_set(err, "sidecar '%s' describes '%s', not '%s'", path,
		         out->file, base);
		backup_info_release(out);
		goto out;
	}
	out->path = xstrdup(dump_path);
	rc = 0;
out:
	json_decref(j);
	buf_release(&data);
	free(path);
	return rc;
}
