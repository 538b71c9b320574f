/*
 * migrate.c — the sql_dir migration runner (SPEC §3; docs/migrations.md).
 *
 * The .sql files of a directory run in byte-wise name order, each in one
 * transaction with its row in berth_schema_migrations (name, SHA-256, time,
 * duration, deployment), so a file is either applied and recorded or not there
 * at all. A session advisory lock makes concurrent migrators of one database
 * take turns; the plan is computed again under the lock, so the second one
 * finds nothing left to do.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


#include "berth.h"

/* "berthmig" as a big-endian 64-bit integer: the advisory lock's key. */
#define MIGRATE_LOCK_KEY        "7090199032658487655"
#define MIGRATE_MAX_FILES       100000
#define MIGRATE_MAX_TOTAL_BYTES ((size_t)512 << 20)

static const char create_table_sql[] =
    "CREATE TABLE IF NOT EXISTS " MIGRATE_TABLE " ("
    " name text PRIMARY KEY,"
    " checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now(),"
    " duration_ms integer,"
    " deployment_id bigint)";

/* The files of a directory, read into memory. */
struct dir_files {
	struct migrate_source *files; /* owned, names and data owned too */
	size_t n;
};

/* An applied row. */
struct applied {
	char *name;     /* owned */
	char *checksum; /* owned */
};

bool migrate_is_file_name(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && name[0] != '.' && strchr(name, '/') == NULL &&
	       strcmp(name + n - 4, ".sql") == 0;
}

static int cmp_source(const void *a, const void *b)
{
	const struct migrate_source *x =
	    *(const struct migrate_source *const *)a;
	const struct migrate_source *y =
	    *(const struct migrate_source *const *)b;

	return strcmp(x->name, y->name);
}

static int cmp_applied(const void *a, const void *b)
{
	return strcmp(((const struct applied *)a)->name,
	              ((const struct applied *)b)->name);
}

static void dir_files_release(struct dir_files *d)
{
	size_t i;

	for (i = 0; i < d->n; i++) {
		free((char *)d->files[i].name);
		free((void *)d->files[i].data);
	}
	free(d->files);
	memset(d, 0, sizeof(*d));
}

/* Reads every migration file of dir into *out. Returns 0, BERTH_ENOTFOUND
 * or -1. */
static int read_dir(struct dir_files *out, const char *dir, struct berr *err)
{
	DIR *d = NULL;
	struct dirent *e;
	size_t cap = 0, total = 0;
	char *path = NULL;
	struct buf content;
	struct stat st;
	int rc = -1, r;

	memset(out, 0, sizeof(*out));
	buf_init(&content, MIGRATE_MAX_FILE_BYTES);
	d = opendir(dir);
	if (d == NULL) {
		int e0 = errno;

		berr_errno(err, e0, "cannot open directory '%s'", dir);
		rc = e0 == ENOENT ? BERTH_ENOTFOUND : -1;
		goto out;
	}
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (!migrate_is_file_name(e->d_name))
			continue;
		free(path);
		path = fs_join(dir, e->d_name);
		if (lstat(path, &st) != 0) {
			berr_errno(err, errno, "cannot stat '%s'", path);
			goto out;
		}
		if (!S_ISREG(st.st_mode)) {
			berr_set(err, "'%s' is not a regular file%s", path,
			         S_ISLNK(st.st_mode) ? " (symbolic links are "
			                               "not followed)"
			                             : "");
			goto out;
		}
		if (out->n == MIGRATE_MAX_FILES) {
			berr_set(err, "'%s' holds more than %d migrations", dir,
			         MIGRATE_MAX_FILES);
			goto out;
		}
		buf_reset(&content);
		r = fs_read_file(&content, path, MIGRATE_MAX_FILE_BYTES, err);
		if (r != 0)
			goto out;
		total += content.len;
		if (total > MIGRATE_MAX_TOTAL_BYTES) {
			berr_set(err, "the migrations in '%s' exceed %zu bytes",
			         dir, MIGRATE_MAX_TOTAL_BYTES);
			goto out;
		}
		if (out->n == cap) {
			cap = cap ? cap * 2 : 16;
			out->files =
			    xrealloc(out->files, cap * sizeof(*out->files));
		}
		out->files[out->n].name = xstrdup(e->d_name);
		out->files[out->n].len = content.len;
		out->files[out->n].data = buf_detach(&content);
		out->n++;
	}
	if (errno != 0) {
		berr_errno(err, errno, "cannot read directory '%s'", dir);
		goto out;
	}
	rc = 0;
out:
	if (d != NULL)
		closedir(d);
	free(path);
	buf_release(&content);
	if (rc != 0)
		dir_files_release(out);
	return rc;
}

/*
 * Statements that cannot run in the file's transaction: transaction control
 * would end it early, the others refuse a transaction block. Returns a new
 * message ("line 3: …") for the first one, or NULL.
 */
static char *find_problem(const char *data, size_t len)
{
	static const struct {
		const char *w[4];
		const char *why;
	} refused[] = {
	    {{"begin"}, "transaction"},
	    {{"start", "transaction"}, "transaction"},
	    {{"commit"}, "transaction"},
	    {{"end"}, "transaction"},
	    {{"abort"}, "transaction"},
	    {{"rollback"}, "transaction"},
	    {{"prepare", "transaction"}, "transaction"},
	    {{"vacuum"}, "block"},
	    {{"create", "database"}, "block"},
	    {{"drop", "database"}, "block"},
	    {{"create", "tablespace"}, "block"},
	    {{"drop", "tablespace"}, "block"},
	    {{"alter", "system"}, "block"},
	    {{"create", "index", "concurrently"}, "block"},
	    {{"create", "unique", "index", "concurrently"}, "block"},
	    {{"drop", "index", "concurrently"}, "block"},
	};
	struct sqlscan_stmt *stmts = NULL;
	size_t n = 0, i, k, j;
	char *problem = NULL;

	sqlscan_statements(&stmts, &n, data, len);
	for (i = 0; i < n && problem == NULL; i++) {
		const struct sqlscan_stmt *st = &stmts[i];

		/* ROLLBACK [WORK|TRANSACTION] TO SAVEPOINT stays inside. */
		if (strcmp(st->words[0], "rollback") == 0 &&
		    (strcmp(st->words[1], "to") == 0 ||
		     strcmp(st->words[2], "to") == 0))
			continue;
		for (k = 0; k < BERTH_ARRAY_LEN(refused); k++) {
			struct buf what;

			for (j = 0; j < 4 && refused[k].w[j] != NULL; j++)
				if (strcmp(st->words[j], refused[k].w[j]) != 0)
					break;
			if (j == 4 || refused[k].w[j] != NULL)
				continue;
			buf_init(&what, 0);
			for (j = 0; j < 4 && refused[k].w[j] != NULL; j++) {
				const char *w;

				if (j > 0)
					buf_putc(&what, ' ');
				for (w = refused[k].w[j]; *w; w++)
					buf_putc(&what, (char)(*w - 'a' + 'A'));
			}
			if (strcmp(refused[k].why, "transaction") == 0)
				problem = xasprintf("line %u: %s is not "
				                    "allowed: berth runs each "
				                    "migration file in a "
				                    "transaction of its own",
				                    st->line, buf_str(&what));
			else
				problem = xasprintf("line %u: %s cannot run "
				                    "inside a transaction "
				                    "block; run it from a "
				                    "\"command\" migration",
				                    st->line, buf_str(&what));
			buf_release(&what);
			break;
		}
	}
	free(stmts);
	return problem;
}

static void applied_release(struct applied *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(a[i].name);
		free(a[i].checksum);
	}
	free(a);
}

/* Reads the table's rows sorted by name (strcmp); *exists says whether the
 * table is there at all. Returns 0 or -1. */
static int read_applied(struct applied **out, size_t *n, bool *exists,
                        struct pg_conn *c, struct berr *err)
{
	struct pg_rows rows;
	size_t i;
	int rc = -1;

	*out = NULL;
	*n = 0;
	*exists = false;
	if (pg_query(&rows, c,
	             "SELECT to_regclass('" MIGRATE_TABLE "') IS NOT NULL", 0,
	             NULL, err) != 0)
		goto out;
	*exists = rows.nrows == 1 && pg_rows_get(&rows, 0, 0) != NULL &&
	          strcmp(pg_rows_get(&rows, 0, 0), "t") == 0;
	pg_rows_release(&rows);
	if (!*exists)
		return 0;
	if (pg_query(&rows, c, "SELECT name, checksum FROM " MIGRATE_TABLE, 0,
	             NULL, err) != 0)
		goto out;
	if (rows.nrows > 0)
		*out = xcalloc(rows.nrows, sizeof(**out));
	for (i = 0; i < rows.nrows; i++) {
		const char *name = pg_rows_get(&rows, i, 0);
		const char *sum = pg_rows_get(&rows, i, 1);

		(*out)[i].name = xstrdup(name != NULL ? name : "");
		(*out)[i].checksum = xstrdup(sum != NULL ? sum : "");
	}
	*n = rows.nrows;
	if (*n > 0)
		qsort(*out, *n, sizeof(**out), cmp_applied);
	rc = 0;
out:
	if (rc != 0)
		berr_prefix(err, "cannot read " MIGRATE_TABLE);
	pg_rows_release(&rows);
	return rc;
}

int migrate_plan_files(struct migrate_plan *out, struct pg_conn *c,
                       const struct migrate_source *files, size_t nfiles,
                       struct berr *err)
{
	const struct migrate_source **sorted = NULL;
	struct applied *applied = NULL;
	size_t nsorted = 0, napplied = 0, i, a;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (nfiles > 0)
		sorted = xcalloc(nfiles, sizeof(*sorted));
	for (i = 0; i < nfiles; i++)
		if (migrate_is_file_name(files[i].name))
			sorted[nsorted++] = &files[i];
	if (nsorted > 0)
		qsort(sorted, nsorted, sizeof(*sorted), cmp_source);
	for (i = 1; i < nsorted; i++) {
		if (strcmp(sorted[i - 1]->name, sorted[i]->name) == 0) {
			berr_set(err, "migration '%s' is given twice",
			         sorted[i]->name);
			goto out;
		}
	}
	if (read_applied(&applied, &napplied, &out->table_exists, c, err) != 0)
		goto out;
	out->napplied = napplied;
	if (nsorted > 0)
		out->pending = xcalloc(nsorted, sizeof(*out->pending));
	if (napplied > 0) {
		out->changed = xcalloc(napplied, sizeof(*out->changed));
		out->missing = xcalloc(napplied, sizeof(*out->missing));
	}

	/* Both lists are sorted: walk them side by side. */
	for (i = 0, a = 0; i < nsorted || a < napplied;) {
		int cmp = i == nsorted ? 1
		          : a == napplied
		              ? -1
		              : strcmp(sorted[i]->name, applied[a].name);
		char sum[65];

		if (cmp > 0) {
			out->missing[out->nmissing++] =
			    xstrdup(applied[a].name);
			a++;
			continue;
		}
		sha256_hex(sum, sorted[i]->data, sorted[i]->len);
		if (cmp == 0) {
			if (strcmp(sum, applied[a].checksum) != 0) {
				struct migrate_changed *ch =
				    &out->changed[out->nchanged++];

				ch->name = xstrdup(applied[a].name);
				ch->applied = xstrdup(applied[a].checksum);
				memcpy(ch->current, sum, sizeof(sum));
			}
			i++, a++;
			continue;
		}
		{
			struct migrate_pending *p =
			    &out->pending[out->npending++];

			p->name = xstrdup(sorted[i]->name);
			memcpy(p->checksum, sum, sizeof(sum));
			p->out_of_order =
			    napplied > 0 &&
			    strcmp(p->name, applied[napplied - 1].name) < 0;
			p->problem =
			    find_problem(sorted[i]->data, sorted[i]->len);
		}
		i++;
	}
	rc = 0;
out:
	free(sorted);
	applied_release(applied, napplied);
	if (rc != 0)
		migrate_plan_release(out);
	return rc;
}

int migrate_plan(struct migrate_plan *out, struct pg_conn *c, const char *dir,
                 struct berr *err)
{
	struct dir_files files;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = read_dir(&files, dir, err);
	if (rc != 0)
		return rc;
	rc = migrate_plan_files(out, c, files.files, files.n, err);
	dir_files_release(&files);
	return rc;
}

void migrate_plan_release(struct migrate_plan *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->npending; i++) {
		free(p->pending[i].name);
		free(p->pending[i].problem);
	}
	for (i = 0; i < p->nchanged; i++) {
		free(p->changed[i].name);
		free(p->changed[i].applied);
	}
	for (i = 0; i < p->nmissing; i++)
		free(p->missing[i]);
	free(p->pending);
	free(p->changed);
	free(p->missing);
	memset(p, 0, sizeof(*p));
}

/* "backend pid N" for the session holding the migration lock, into out. */
static const char *lock_holder(char *out, size_t size, struct pg_conn *c)
{
	static const char sql[] =
	    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
	    " AND classid = (" MIGRATE_LOCK_KEY "::bigint >> 32)::oid"
	    " AND objid = (" MIGRATE_LOCK_KEY "::bigint & 4294967295)::oid"
	    " AND objsubid = 1 LIMIT 1";
	struct pg_rows rows;
	struct berr ignored;

	snprintf(out, size, "backend pid unknown");
	if (pg_query(&rows, c, sql, 0, NULL, &ignored) == 0 &&
	    pg_rows_get(&rows, 0, 0) != NULL)
		snprintf(out, size, "backend pid %s", pg_rows_get(&rows, 0, 0));
	pg_rows_release(&rows);
	return out;
}

/* Waits for the migration lock. Returns 0, BERTH_ELOCKED or -1. */
static int advisory_lock(struct pg_conn *c, int wait_s, struct berr *err)
{
	char sql[64];

	if (wait_s > 0) {
		snprintf(sql, sizeof(sql), "SET statement_timeout = %lld",
		         (long long)wait_s * 1000);
		if (pg_exec(c, sql, err) != 0)
			return -1;
	}
	if (pg_exec(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err) !=
	    0) {
		bool timed_out =
		    strcmp(pg_last_error(c)->sqlstate, "57014") == 0;
		struct berr ignored;
		char holder[64];

		if (wait_s > 0)
			pg_exec(c, "RESET statement_timeout", &ignored);
		if (!timed_out || wait_s == 0)
			return berr_prefix(err, "cannot take the migration "
			                        "lock");
		berr_set(err,
		         "another migrator (%s) has held the migration "
		         "lock of this database for more than %ds",
		         lock_holder(holder, sizeof(holder), c), wait_s);
		return BERTH_ELOCKED;
	}
	if (wait_s > 0 && pg_exec(c, "RESET statement_timeout", err) != 0)
		return -1;
	return 0;
}

/* The message for a failed file: "DIR/NAME: line N: what the server said". */
static void file_error(struct berr *err, struct pg_conn *c, const char *where,
                       const struct migrate_source *f,
                       const struct migrate_opts *opts)
{
	const struct pg_error *pe = pg_last_error(c);
	struct sqlscan_stmt *stmts = NULL;
	size_t n = 0;
	unsigned line = 0;
	char hint[64] = "";

	if (pe->offset >= 0) {
		line = sqlscan_line(f->data, f->len, (size_t)pe->offset);
	} else if (pe->statement >= 0) {
		sqlscan_statements(&stmts, &n, f->data, f->len);
		if ((size_t)pe->statement < n)
			line = stmts[pe->statement].line;
		free(stmts);
	}
	if (strcmp(pe->sqlstate, "55P03") == 0 && opts->lock_timeout_s > 0)
		snprintf(hint, sizeof(hint), " (lock_timeout is %ds)",
		         opts->lock_timeout_s);
	else if (strcmp(pe->sqlstate, "57014") == 0 &&
	         opts->statement_timeout_s > 0)
		snprintf(hint, sizeof(hint), " (statement_timeout is %ds)",
		         opts->statement_timeout_s);
	if (line > 0)
		berr_prefix(err, "%s: line %u", where, line);
	else
		berr_prefix(err, "%s", where);
	if (hint[0] != '\0') {
		struct berr tmp = *err;

		berr_set(err, "%s%s", tmp.msg, hint);
	}
}

/* The id of the open transaction, as a new string; NULL on failure. */
static char *current_xact(struct pg_conn *c, struct berr *err)
{
	struct pg_rows rows;
	char *id = NULL;

	if (pg_query(&rows, c, "SELECT pg_current_xact_id()", 0, NULL, err) ==
	    0)
		id = xstrdup(pg_rows_get(&rows, 0, 0) ? pg_rows_get(&rows, 0, 0)
		                                      : "");
	pg_rows_release(&rows);
	return id;
}

/* Runs one file and records it, in one transaction. Returns 0 or -1. */
static int apply_one(struct migrate_step *step, struct pg_conn *c,
                     const char *where, const struct migrate_source *f,
                     const struct migrate_opts *opts, struct berr *err)
{
	char sql[160], ms_text[24], dep_text[24];
	const char *params[4];
	char *text = NULL, *xact = NULL, *xact_after = NULL;
	int64_t t0;
	struct berr ignored;
	int rc = -1;

	/* The server takes a NUL-terminated text; a NUL inside a file would
	 * cut it short silently, so refuse it. */
	if (memchr(f->data, '\0', f->len) != NULL)
		return berr_set(err, "%s: contains a NUL byte", where);
	snprintf(sql, sizeof(sql),
	         "BEGIN; SET LOCAL lock_timeout = %lld;"
	         " SET LOCAL statement_timeout = %lld",
	         (long long)opts->lock_timeout_s * 1000,
	         (long long)opts->statement_timeout_s * 1000);
	if (pg_exec(c, sql, err) != 0 ||
	    (xact = current_xact(c, err)) == NULL) {
		berr_prefix(err, "%s: cannot start its transaction", where);
		goto out;
	}
	text = xstrndup(f->data, f->len);
	t0 = strnum_mono_ms();
	if (pg_exec(c, text, err) != 0) {
		file_error(err, c, where, f, opts);
		goto out;
	}
	step->ms = strnum_mono_ms() - t0;
	/* The scan refuses COMMIT and ROLLBACK before anything runs; this
	 * catches one it could not see, also when followed by a BEGIN. */
	if (pg_in_transaction(c) &&
	    (xact_after = current_xact(c, err)) == NULL) {
		berr_prefix(err, "%s", where);
		goto out;
	}
	if (xact_after == NULL || strcmp(xact, xact_after) != 0) {
		berr_set(err,
		         "%s: the file ended berth's transaction (COMMIT "
		         "or ROLLBACK in it): what ran before that stays, "
		         "the file is not recorded as applied",
		         where);
		goto out;
	}
	snprintf(ms_text, sizeof(ms_text), "%lld",
	         (long long)(step->ms < INT32_MAX ? step->ms : INT32_MAX));
	snprintf(dep_text, sizeof(dep_text), "%lld",
	         (long long)opts->deployment_id);
	params[0] = f->name;
	params[1] = step->checksum;
	params[2] = ms_text;
	params[3] = opts->deployment_id > 0 ? dep_text : NULL;
	if (pg_exec_params(c,
	                   "INSERT INTO " MIGRATE_TABLE " (name, checksum,"
	                   " duration_ms, deployment_id)"
	                   " VALUES ($1, $2, $3, $4)",
	                   4, params, err) != 0) {
		berr_prefix(err, "%s: cannot record it in " MIGRATE_TABLE,
		            where);
		goto out;
	}
	if (pg_exec(c, "COMMIT", err) != 0) {
		berr_prefix(err, "%s: cannot commit", where);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0 && pg_in_transaction(c))
		pg_exec(c, "ROLLBACK", &ignored);
	free(xact_after);
	free(xact);
	free(text);
	return rc;
}

/* The checks that stop a run before anything runs. Returns 0 or -1. */
static int check_plan(const struct migrate_plan *plan, const char *shown,
                      struct berr *err)
{
	struct buf names;
	size_t i;

	if (plan->nchanged > 0) {
		buf_init(&names, 0);
		for (i = 0; i < plan->nchanged; i++)
			buf_printf(&names, "%s'%s/%s'", i ? ", " : "", shown,
			           plan->changed[i].name);
		berr_set(err,
		         "%s changed after %s applied (SHA-256 differs); "
		         "nothing was migrated: add a new migration instead "
		         "of editing an applied one",
		         buf_str(&names),
		         plan->nchanged > 1 ? "they were" : "it was");
		buf_release(&names);
		return -1;
	}
	for (i = 0; i < plan->npending; i++)
		if (plan->pending[i].problem != NULL)
			return berr_set(err, "%s/%s: %s; nothing was migrated",
			                shown, plan->pending[i].name,
			                plan->pending[i].problem);
	return 0;
}

int migrate_apply(struct migrate_result *out, struct pg_conn *c,
                  const char *dir, const struct migrate_opts *opts,
                  struct berr *err)
{
	const char *shown = opts->display_dir ? opts->display_dir : dir;
	struct dir_files files;
	char *where = NULL;
	bool locked = false;
	struct berr ignored;
	size_t i, k;
	int rc, r;

	memset(out, 0, sizeof(*out));
	rc = read_dir(&files, dir, err);
	if (rc != 0)
		return rc;
	rc = -1;
	r = advisory_lock(c, opts->lock_wait_s, err);
	if (r != 0) {
		rc = r;
		goto out;
	}
	locked = true;
	if (pg_exec(c, create_table_sql, err) != 0) {
		berr_prefix(err, "cannot create " MIGRATE_TABLE);
		goto out;
	}
	if (migrate_plan_files(&out->plan, c, files.files, files.n, err) != 0 ||
	    check_plan(&out->plan, shown, err) != 0)
		goto out;
	if (out->plan.npending > 0)
		out->applied =
		    xcalloc(out->plan.npending, sizeof(*out->applied));
	for (i = 0; i < out->plan.npending; i++) {
		const struct migrate_pending *p = &out->plan.pending[i];
		const struct migrate_source *f = NULL;
		struct migrate_step *step = &out->applied[out->napplied];

		for (k = 0; k < files.n && f == NULL; k++)
			if (strcmp(files.files[k].name, p->name) == 0)
				f = &files.files[k];
		if (f == NULL) {
			berr_set(err, "'%s/%s' vanished", shown, p->name);
			goto out;
		}
		free(where);
		where = xasprintf("%s/%s", shown, p->name);
		memcpy(step->checksum, p->checksum, sizeof(step->checksum));
		if (opts->progress != NULL)
			opts->progress(p->name, -1, opts->arg);
		if (apply_one(step, c, where, f, opts, err) != 0) {
			out->failed = xstrdup(p->name);
			goto out;
		}
		step->name = xstrdup(p->name);
		out->napplied++;
		if (opts->progress != NULL)
			opts->progress(p->name, step->ms, opts->arg);
	}
	rc = 0;
out:
	if (locked)
		pg_exec(c, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")",
		        &ignored);
	free(where);
	dir_files_release(&files);
	return rc;
}

void migrate_result_release(struct migrate_result *r)
{
	size_t i;

	if (r == NULL)
		return;
	migrate_plan_release(&r->plan);
	for (i = 0; i < r->napplied; i++)
		free(r->applied[i].name);
	free(r->applied);
	free(r->failed);
	memset(r, 0, sizeof(*r));
}
