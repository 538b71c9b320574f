/*
 * dbrestore.c — restoring an environment's database without silently
 * losing a row (SPEC §6; docs/backups.md): how many rows were written
 * since the backup, per table; whether to go ahead (a question on a
 * terminal, a refusal for a script that did not say --yes, or on with a
 * loud report when nobody can be asked); then, with the services stopped,
 * the sessions left ended, a safety backup of the database as it is, and
 * the restore in one transaction — each recorded in the deployment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

/* Bytes of the answer to a question read. */
#define ASK_MAX 64

/* The base name of path (borrowed). */
static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

int dbrestore_writes(struct backup_writes *out, const struct envdb *db,
                     const char *path, struct berr *err)
{
	struct backup_info b;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = sidecar_load(&b, path, err);
	if (rc == BERTH_ENOTFOUND) {
		/* A dump made elsewhere: nothing to compare with. */
		out->no_stats = true;
		return 0;
	}
	if (rc != 0)
		return -1;
	rc = backup_writes_since(out, &db->tool, &b, err);
	backup_info_release(&b);
	return rc;
}

bool dbrestore_discards(const struct backup_writes *w)
{
	return w->no_stats || w->total > 0 || w->unknown > 0;
}

char *dbrestore_tables(const struct backup_writes *w)
{
	struct buf b;
	size_t i;

	buf_init(&b, 0);
	for (i = 0; i < w->n; i++) {
		const struct backup_table_writes *t = &w->tables[i];

		if (t->writes == 0)
			continue;
		buf_printf(&b, "%s%s ", b.len ? ", " : "", t->name);
		if (t->writes > 0)
			buf_printf(&b, "%lld", (long long)t->writes);
		else
			buf_puts(&b, "unknown");
		if (t->note != NULL)
			buf_printf(&b, " (%s)", t->note);
	}
	if (b.len > 0)
		return buf_detach(&b);
	buf_release(&b);
	return NULL;
}

char *dbrestore_describe(const struct backup_writes *w)
{
	char *tables, *s;

	if (w->no_stats)
		return xstrdup("unknown (the backup has no table statistics)");
	if (!dbrestore_discards(w))
		return xstrdup("none");
	tables = dbrestore_tables(w);
	if (w->unknown > 0 && w->total == 0)
		s = xasprintf("unknown for %zu table%s (%s)", w->unknown,
		              w->unknown == 1 ? "" : "s", tables);
	else
		s = xasprintf(
		    "%s%lld row%s (%s)", w->unknown > 0 ? "at least " : "",
		    (long long)w->total, w->total == 1 ? "" : "s", tables);
	free(tables);
	return s;
}

/* Reads one line from stdin; true when it says yes. */
static bool answered_yes(void)
{
	char line[ASK_MAX];
	size_t n;

	if (fgets(line, sizeof(line), stdin) == NULL)
		return false;
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
	                 line[n - 1] == ' '))
		line[--n] = '\0';
	return strcmp(line, "yes") == 0;
}

int dbrestore_confirm(struct pipeline *p, const struct envdb *db,
                      const char *path, enum dbrestore_ask ask,
                      struct berr *err)
{
	struct backup_writes w;
	char *what = NULL;
	int rc = 0;

	if (dbrestore_writes(&w, db, path, err) != 0) {
		backup_writes_release(&w);
		return berr_prefix(err,
		                   "cannot count the rows written since "
		                   "'%s'",
		                   base_name(path));
	}
	what = dbrestore_describe(&w);
	pipeline_line(p, "rows written since %s: %s", base_name(path), what);
	if (!dbrestore_discards(&w) || ask == DBRESTORE_YES)
		goto out;
	if (ask == DBRESTORE_REFUSE) {
		rc = berr_set(err,
		              "restoring %s would discard the rows written "
		              "since it (%s): not done without --yes (no "
		              "terminal to ask)",
		              base_name(path), what);
		goto out;
	}
	if (ask == DBRESTORE_UNATTENDED) {
		pipeline_line(p,
		              "warning: nobody to ask: restoring anyway; the "
		              "safety backup taken first keeps those rows");
		goto out;
	}
	fprintf(stderr,
	        "restoring %s discards the rows written since it: %s.\n"
	        "They stay in the safety backup taken first. Type yes to "
	        "restore: ",
	        base_name(path), what);
	fflush(stderr);
	if (!answered_yes()) {
		pipeline_line(p, "restore not confirmed");
		rc = berr_set(err, "the restore of %s was not confirmed",
		              base_name(path));
		rc = BERTH_EDECLINED;
	}
out:
	free(what);
	backup_writes_release(&w);
	return rc;
}

/* "1.2 MB" for people (new). */
static char *size_text(int64_t bytes)
{
	if (bytes >= 1000 * 1000)
		return xasprintf("%.1f MB", (double)bytes / 1e6);
	return xasprintf("%lld kB", (long long)((bytes + 999) / 1000));
}

/* The sessions a restore would wait for are ended; said as a line. */
static void end_sessions(struct pipeline *p, const struct envdb *db)
{
	struct strv ended = {0};
	struct berr err;
	size_t i;

	if (envdb_terminate(&ended, db, &err) != 0) {
		pipeline_line(p, "warning: %s", err.msg);
		return;
	}
	for (i = 0; i < ended.n; i++)
		pipeline_line(p, "ended the session of %s on %s", ended.v[i],
		              db->display);
	strv_release(&ended);
}

int dbrestore_run(struct pipeline *p, const struct envdb *db, const char *path,
                  const char *reason, const char *step, struct berr *err)
{
	struct deployment *d = p->d;
	struct backup_create_opts o;
	struct backup_writes w;
	struct backup_info safety;
	struct restore_record *r;
	struct berr werr;
	char *size = NULL;
	int64_t t0;
	int rc;

	r = deployment_add_restore(d);
	deployment_set(&r->step, step);
	deployment_set(&r->backup, path);
	deployment_set(&r->reason, reason);
	pipeline_save(p, NULL);
	pipeline_line(p, "restoring %s (%s) into %s", base_name(path),
	              reason != NULL ? reason : "as asked", db->display);
	end_sessions(p, db);
	/* Counted again now that nothing writes: the record says what the
	 * restore discards. */
	if (dbrestore_writes(&w, db, path, &werr) == 0) {
		char *what = dbrestore_describe(&w);

		r = &d->restores[d->nrestores - 1];
		r->rows_written_since =
		    w.no_stats || (w.unknown > 0 && w.total == 0) ? -1
		                                                  : w.total;
		r->tables = dbrestore_tables(&w);
		pipeline_line(p, "rows written since %s: %s%s", base_name(path),
		              what,
		              dbrestore_discards(&w)
		                  ? " — discarded by the restore, kept in the "
		                    "safety backup"
		                  : "");
		free(what);
	} else {
		pipeline_line(p,
		              "warning: cannot count the rows written since "
		              "%s: %s",
		              base_name(path), werr.msg);
	}
	backup_writes_release(&w);
	envdb_backup_opts(&o, db, BACKUP_PRE_ROLLBACK, d);
	t0 = strnum_mono_ms();
	rc = backup_restore_safely(&safety, &db->tool, path, &o, err);
	r = &d->restores[d->nrestores - 1];
	if (safety.path != NULL) {
		deployment_set(&r->safety_backup, safety.path);
		deployment_set(&d->safety_backup, safety.path);
		size = size_text(safety.size);
		pipeline_line(p, "safety backup %s, %s: the database as it was",
		              safety.file, size);
	}
	r->ok = rc == 0;
	if (rc == 0)
		pipeline_line(p, "restored %s in %.1f s", base_name(path),
		              (double)(strnum_mono_ms() - t0) / 1000.0);
	pipeline_save(p, NULL);
	backup_info_release(&safety);
	free(size);
	return rc;
}

char *dbrestore_warning(const struct deployment *d)
{
	struct buf b;
	size_t i;

	buf_init(&b, 0);
	for (i = 0; i < d->nrestores; i++) {
		const struct restore_record *r = &d->restores[i];

		if (!r->ok || r->rows_written_since == 0)
			continue;
		buf_printf(&b, "%srestoring %s discarded ", b.len ? "; " : "",
		           base_name(r->backup));
		if (r->rows_written_since > 0)
			buf_printf(&b, "%lld row%s written since it",
			           (long long)r->rows_written_since,
			           r->rows_written_since == 1 ? "" : "s");
		else
			buf_puts(&b,
			         "an unknown number of rows written since it");
		if (r->tables != NULL)
			buf_printf(&b, " (%s)", r->tables);
		if (r->safety_backup != NULL)
			buf_printf(&b, "; they are kept in %s",
			           base_name(r->safety_backup));
	}
	if (b.len > 0)
		return buf_detach(&b);
	buf_release(&b);
	return NULL;
}
