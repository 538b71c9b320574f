/*
 * database.c — the "database" section of a manifest: where the database
 * URL comes from, how migrations run and how backups are taken, kept and
 * verified.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

static const char *const database_keys[] = {
    "url_env",
    "migrations",
    "backup",
    "service",
    NULL,
};
static const char *const migrations_keys[] = {
    "sql_dir", "command", "lock_timeout_s", "statement_timeout_s", NULL,
};
static const char *const backup_keys[] = {
    "dir", "format", "retention", "schedule", "verify", NULL,
};
static const char *const retention_keys[] = {
    "daily",
    "weekly",
    "monthly",
    NULL,
};
/* In the order of enum manifest_backup_format and _verify. */
static const char *const format_names[] = {"custom", "plain", "plain.gz", NULL};
static const char *const verify_names[] = {"none", "toc", "restore", NULL};

/* Days a retention window may span: a hundred years. */
#define RETENTION_MAX 36500

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL)
		abort();
	return d;
}

static int parse_migrations(struct mparse *p, struct manifest_database *db,
                            const json_t *v)
{
	const json_t *sql_dir = json_object_get(v, "sql_dir");
	const json_t *command = json_object_get(v, "command");
	int rc = 0;
	size_t o;

	if (validate_keys(p, v, migrations_keys) > 0)
		rc = -1;
	if ((sql_dir == NULL) == (command == NULL)) {
		validate_error(p,
		               "expected exactly one of \"sql_dir\" and "
		               "\"command\", got %s",
		               sql_dir ? "both" : "neither");
		rc = -1;
	}
	if (sql_dir != NULL) {
		db->migrations = MANIFEST_MIGRATIONS_SQL_DIR;
		if (validate_string(p, &db->sql_dir, v, "sql_dir",
		                    VALIDATE_NONEMPTY) != 0) {
			rc = -1;
		} else {
			o = validate_push_key(p, "sql_dir");
			if (confine_relpath(p, db->sql_dir) != 0)
				rc = -1;
			validate_pop(p, o);
		}
	}
	if (command != NULL) {
		db->migrations = MANIFEST_MIGRATIONS_COMMAND;
		o = validate_push_key(p, "command");
		if (validate_argv(p, &db->migrate_command, command) != 0) {
			rc = -1;
		} else {
			size_t o0 = validate_push_index(p, 0);

			if (confine_command(p, db->migrate_command.v[0]) != 0)
				rc = -1;
			validate_pop(p, o0);
		}
		validate_pop(p, o);
	}
	if (validate_int(p, &db->lock_timeout_s, v, "lock_timeout_s", 1, 3600,
	                 0) != 0)
		rc = -1;
	if (validate_int(p, &db->statement_timeout_s, v, "statement_timeout_s",
	                 0, 86400, 0) != 0)
		rc = -1;
	return rc;
}

/* "HH:MM", 00:00 to 23:59, into minutes after midnight, or -1. */
static int parse_hhmm(const char *s)
{
	int h, m;

	if (strlen(s) != 5 || s[2] != ':')
		return -1;
	if (s[0] < '0' || s[0] > '2' || s[1] < '0' || s[1] > '9' ||
	    s[3] < '0' || s[3] > '5' || s[4] < '0' || s[4] > '9')
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 23)
		return -1;
	return h * 60 + m;
}

static int parse_backup(struct mparse *p, struct manifest_database *db,
                        const json_t *v)
{
	const json_t *retention;
	int rc = 0, format = (int)db->backup_format;
	int verify = -1;

	if (validate_keys(p, v, backup_keys) > 0)
		rc = -1;
	if (validate_string(p, &db->backup_dir, v, "dir", VALIDATE_NONEMPTY) !=
	    0)
		rc = -1;
	if (validate_enum(p, &format, v, "format", format_names, 0) != 0)
		rc = -1;
	db->backup_format = (enum manifest_backup_format)format;
	if (validate_object(p, &retention, v, "retention", 0) != 0)
		rc = -1;
	if (retention != NULL) {
		size_t o = validate_push_key(p, "retention");

		if (validate_keys(p, retention, retention_keys) > 0)
			rc = -1;
		if (validate_int(p, &db->retention_daily, retention, "daily", 0,
		                 RETENTION_MAX, 0) != 0)
			rc = -1;
		if (validate_int(p, &db->retention_weekly, retention, "weekly",
		                 0, RETENTION_MAX, 0) != 0)
			rc = -1;
		if (validate_int(p, &db->retention_monthly, retention,
		                 "monthly", 0, RETENTION_MAX, 0) != 0)
			rc = -1;
		validate_pop(p, o);
	}
	if (validate_string(p, &db->backup_schedule, v, "schedule", 0) != 0) {
		rc = -1;
	} else if (db->backup_schedule != NULL) {
		size_t o = validate_push_key(p, "schedule");

		db->backup_schedule_min = parse_hhmm(db->backup_schedule);
		if (db->backup_schedule_min < 0) {
			validate_expected(p,
			                  "a time of day \"HH:MM\" "
			                  "(00:00 to 23:59)",
			                  json_object_get(v, "schedule"));
			free(db->backup_schedule);
			db->backup_schedule = NULL;
			rc = -1;
		}
		validate_pop(p, o);
	}
	/* A plain SQL dump has no table of contents to read. */
	db->backup_verify = db->backup_format == MANIFEST_BACKUP_CUSTOM
	                        ? MANIFEST_VERIFY_TOC
	                        : MANIFEST_VERIFY_NONE;
	if (validate_enum(p, &verify, v, "verify", verify_names, 0) != 0)
		rc = -1;
	if (verify == MANIFEST_VERIFY_TOC &&
	    db->backup_format != MANIFEST_BACKUP_CUSTOM) {
		size_t o = validate_push_key(p, "verify");

		validate_error(p, "\"toc\" needs \"format\": \"custom\" (a "
		                  "plain SQL dump has no table of contents)");
		validate_pop(p, o);
		rc = -1;
	} else if (verify >= 0) {
		db->backup_verify = (enum manifest_backup_verify)verify;
	}
	return rc;
}

int database_parse(struct mparse *p, struct manifest_database *db,
                   const json_t *v)
{
	const json_t *sub;
	size_t o;
	int rc = 0;

	db->url_env = xstrdup("DATABASE_URL");
	db->migrations = MANIFEST_MIGRATIONS_NONE;
	db->lock_timeout_s = 10;
	db->statement_timeout_s = 0;
	db->backup_dir = xstrdup("backups");
	db->backup_format = MANIFEST_BACKUP_CUSTOM;
	db->retention_daily = 7;
	db->retention_weekly = 28;
	db->retention_monthly = 365;
	db->backup_schedule_min = -1;
	db->backup_verify = MANIFEST_VERIFY_TOC;
	if (v == NULL)
		return 0;
	db->present = true;
	o = validate_push_key(p, "database");
	if (validate_keys(p, v, database_keys) > 0)
		rc = -1;
	if (validate_name(p, &db->url_env, v, "url_env", 0, validate_is_varname,
	                  VALIDATE_VARNAME) != 0)
		rc = -1;
	if (validate_name(p, &db->service, v, "service", 0,
	                  validate_is_service_name,
	                  "a compose service name ([A-Za-z0-9][A-Za-z0-9_.-]*, "
	                  "at most 63 characters)") != 0)
		rc = -1;
	if (validate_object(p, &sub, v, "migrations", 0) != 0) {
		rc = -1;
	} else if (sub != NULL) {
		size_t o2 = validate_push_key(p, "migrations");

		if (parse_migrations(p, db, sub) != 0)
			rc = -1;
		validate_pop(p, o2);
	}
	if (validate_object(p, &sub, v, "backup", 0) != 0) {
		rc = -1;
	} else if (sub != NULL) {
		size_t o2 = validate_push_key(p, "backup");

		if (parse_backup(p, db, sub) != 0)
			rc = -1;
		validate_pop(p, o2);
	}
	validate_pop(p, o);
	return rc;
}

void database_release(struct manifest_database *db)
{
	if (db == NULL)
		return;
	free(db->url_env);
	free(db->sql_dir);
	strv_release(&db->migrate_command);
	free(db->backup_dir);
	free(db->backup_schedule);
	free(db->service);
	memset(db, 0, sizeof(*db));
}
