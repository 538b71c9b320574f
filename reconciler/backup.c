/*
 * backup.c — database backups (SPEC §9, docs/backups.md): pg_dump into the
 * backup directory under a name that says when, a sidecar that says what,
 * and the operations on them: verify, restore, rows written since, list,
 * prune.
 *
 * A dump is written to a hidden file ".backup_<stamp>.partial", created
 * with O_EXCL (so that two backups never pick one name) and locked (an
 * open file description lock) for as long as its writer lives: a partial
 * file nobody holds is a killed writer's and is removed. The dump becomes
 * visible only by rename once pg_dump exited 0 and the data is on disk.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "berth.h"

#define BACKUP_DIR_MODE 0700
/* A partial file younger than this is left alone even when unlocked: its
 * writer may be between creating and locking it. */
#define PARTIAL_MIN_AGE_S 60
/* Seconds tried after a taken name before giving up. */
#define NAME_TRIES 3600
/* Bytes of dump written before the flusher starts their writes. */
#define FLUSH_STEP ((off_t)16 << 20)

static const char *const kind_names[] = {"pre-deploy", "pre-rollback",
                                         "scheduled", "manual"};
static const char *const format_names[] = {"custom", "plain", "plain.gz"};
static const char *const format_exts[] = {".dump", ".sql", ".sql.gz"};

const char *backup_kind_name(enum backup_kind k)
{
	return (size_t)k < BERTH_ARRAY_LEN(kind_names) ? kind_names[k]
	                                               : "unknown";
}

/* Index of s in names[0..n-1], or -1. */
static int lookup(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

int backup_kind_parse(enum backup_kind *out, const char *s)
{
	int i = lookup(kind_names, BERTH_ARRAY_LEN(kind_names), s);

	if (i < 0)
		return -1;
	*out = (enum backup_kind)i;
	return 0;
}

const char *backup_format_name(enum manifest_backup_format f)
{
	return (size_t)f < BERTH_ARRAY_LEN(format_names) ? format_names[f]
	                                                 : "unknown";
}

int backup_format_parse(enum manifest_backup_format *out, const char *s)
{
	int i = lookup(format_names, BERTH_ARRAY_LEN(format_names), s);

	if (i < 0)
		return -1;
	*out = (enum manifest_backup_format)i;
	return 0;
}

const char *backup_format_ext(enum manifest_backup_format f)
{
	return (size_t)f < BERTH_ARRAY_LEN(format_exts) ? format_exts[f] : "";
}

const char *backup_verify_name(enum manifest_backup_verify v)
{
	switch (v) {
	case MANIFEST_VERIFY_NONE:
		return "none";
	case MANIFEST_VERIFY_TOC:
		return "toc";
	default:
		return "restore";
	}
}

/* "backup_20260105_120000" for t, in UTC. */
static void stem_of(char out[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	gmtime_r(&tt, &tm);
	strftime(out, 32, "backup_%Y%m%d_%H%M%S", &tm);
}

static bool digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

int backup_name_parse(int64_t *t, enum manifest_backup_format *format,
                      const char *name)
{
	char stem[32];
	int i;
	struct tm tm;
	time_t tt;

	/* backup_ YYYYmmdd _ HHMMSS: 22 characters, then the extension. */
	if (strncmp(name, "backup_", 7) != 0 || strlen(name) < 22 ||
	    !digits(name + 7, 8) || name[15] != '_' || !digits(name + 16, 6))
		return -1;
	i = lookup(format_exts, BERTH_ARRAY_LEN(format_exts), name + 22);
	if (i < 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(name + 7, "%4d%2d%2d_%2d%2d%2d", &tm.tm_year, &tm.tm_mon,
	           &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	tt = timegm(&tm);
	/* Round trip: rejects month 13, the 31st of April, 25:00. */
	stem_of(stem, (int64_t)tt);
	if (strncmp(stem, name, 22) != 0)
		return -1;
	*t = (int64_t)tt;
	*format = (enum manifest_backup_format)i;
	return 0;
}

char *backup_dir(const char *env_dir, const char *dir)
{
	if (dir == NULL || dir[0] == '\0')
		dir = "backups";
	if (dir[0] == '/')
		return xstrdup(dir);
	return fs_join(env_dir, dir);
}

void backup_info_release(struct backup_info *b)
{
	if (b == NULL)
		return;
	free(b->file);
	free(b->path);
	free(b->commit);
	free(b->env);
	free(b->database);
	free(b->server_version);
	free(b->stats_reset);
	pg_table_stats_release(&b->stats);
	free(b->verified.detail);
	free(b->problem);
	memset(b, 0, sizeof(*b));
}

/* Statistics. */

/* The server's version, when its statistics were last reset (seconds
 * since the epoch, which no session setting changes), and every user
 * table's write counters, in one round trip. */
static const char snapshot_sql[] =
    "SELECT 'server', current_setting('server_version'),"
    " coalesce((SELECT extract(epoch FROM stats_reset)::text"
    "  FROM pg_stat_database WHERE datname = current_database()), ''), ''"
    " UNION ALL"
    " SELECT 'table', format('%I.%I', schemaname, relname),"
    " (n_tup_ins + n_tup_upd + n_tup_del)::text, n_live_tup::text"
    " FROM pg_stat_user_tables";

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct pg_table_stat *)a)->name,
	              ((const struct pg_table_stat *)b)->name);
}

/* Fills version, stats_reset (NULL when never reset) and stats of *b. */
static int snapshot(struct backup_info *b, const struct pgtool *db,
                    struct berr *err)
{
	struct pg_rows rows;
	size_t i;
	int rc = -1;

	if (pgtool_query(&rows, db, NULL, snapshot_sql, 4, err) != 0)
		goto out;
	if (rows.nrows > 0)
		b->stats.tables = xcalloc(rows.nrows, sizeof(*b->stats.tables));
	for (i = 0; i < rows.nrows; i++) {
		const char *what = pg_rows_get(&rows, i, 0);
		const char *a = pg_rows_get(&rows, i, 1);
		const char *c = pg_rows_get(&rows, i, 2);
		struct pg_table_stat *t;

		if (strcmp(what, "server") == 0) {
			free(b->server_version);
			b->server_version = xstrdup(a);
			free(b->stats_reset);
			b->stats_reset = c[0] != '\0' ? xstrdup(c) : NULL;
			continue;
		}
		t = &b->stats.tables[b->stats.n++];
		t->name = xstrdup(a);
		if (strnum_i64(&t->writes, c, 0, INT64_MAX) != 0 ||
		    strnum_i64(&t->live_rows, pg_rows_get(&rows, i, 3), 0,
		               INT64_MAX) != 0) {
			berr_set(err, "unexpected statistics for table '%s'",
			         a);
			goto out;
		}
	}
	if (b->stats.n > 1)
		qsort(b->stats.tables, b->stats.n, sizeof(*b->stats.tables),
		      by_name);
	b->has_stats = true;
	rc = 0;
out:
	pg_rows_release(&rows);
	return rc;
}

/* Partial files. */

static bool name_taken(const char *dir, const char *stem)
{
	static const char *const exts[] = {".dump", ".sql", ".sql.gz", ".json"};
	struct stat st;
	size_t i;
	bool taken = false;

	for (i = 0; i < BERTH_ARRAY_LEN(exts) && !taken; i++) {
		char *p = xasprintf("%s/%s%s", dir, stem, exts[i]);

		taken = lstat(p, &st) == 0 || errno != ENOENT;
		free(p);
	}
	return taken;
}

static int lock_whole(int fd)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	return fcntl(fd, F_OFD_SETLK, &fl);
}

/*
 * Creates and locks the partial file of the first free name from *t on
 * (*t advanced to it). *fd and *partial are the file's.
 */
static int reserve(int *fd, char **partial, int64_t *t, const char *dir,
                   struct berr *err)
{
	char stem[32];
	int i;

	for (i = 0; i < NAME_TRIES; i++, (*t)++) {
		stem_of(stem, *t);
		if (name_taken(dir, stem))
			continue;
		*partial = xasprintf("%s/.%s.partial", dir, stem);
		*fd =
		    open(*partial, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (*fd < 0 && errno != EEXIST) {
			berr_errno(err, errno, "cannot create '%s'", *partial);
			free(*partial);
			*partial = NULL;
			return -1;
		}
		/* Locked, and still no dump of that name published by a
		 * writer that held it a moment ago: ours. */
		if (*fd >= 0 && lock_whole(*fd) == 0 && !name_taken(dir, stem))
			return 0;
		if (*fd >= 0) {
			unlink(*partial);
			close(*fd);
			*fd = -1;
		}
		free(*partial);
		*partial = NULL;
	}
	return berr_set(err,
	                "no free backup name in '%s' within %d seconds "
	                "of the current time",
	                dir, NAME_TRIES);
}

/* The pid in "backup_X.json.tmp.<pid>" (a sidecar fs_write_atomic was
 * writing), or 0. */
static int sidecar_temp_pid(const char *name)
{
	const char *p = strstr(name, ".json.tmp.");
	int pid;

	if (strncmp(name, "backup_", 7) != 0 || p == NULL ||
	    strnum_int(&pid, p + 10, 1, INT32_MAX) != 0)
		return 0;
	return pid;
}

/* Removes the partial dumps, and the sidecars being written, of writers
 * that are gone. */
static void clean_partials(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	time_t now = time(NULL);

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		struct stat st, again;
		size_t len = strlen(e->d_name);
		int pid = sidecar_temp_pid(e->d_name), fd;

		if (pid > 0 && pid != getpid() && kill(pid, 0) != 0 &&
		    errno == ESRCH) {
			unlinkat(dirfd(d), e->d_name, 0);
			continue;
		}
		if (strncmp(e->d_name, ".backup_", 8) != 0 || len < 16 ||
		    strcmp(e->d_name + len - 8, ".partial") != 0)
			continue;
		fd = openat(dirfd(d), e->d_name,
		            O_RDWR | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    now - st.st_mtime >= PARTIAL_MIN_AGE_S &&
		    lock_whole(fd) == 0 &&
		    fstatat(dirfd(d), e->d_name, &again, AT_SYMLINK_NOFOLLOW) ==
		        0 &&
		    again.st_ino == st.st_ino && again.st_dev == st.st_dev) {
			unlinkat(dirfd(d), e->d_name, 0);
			log_info("msg=\"removed the partial dump of a backup "
			         "that was killed\" file=%s",
			         e->d_name);
		}
		close(fd);
	}
	closedir(d);
}

/* Create. */

static void pg_dump_args(struct strv *argv, enum manifest_backup_format f)
{
	strv_push(argv, "--no-password");
	if (f == MANIFEST_BACKUP_CUSTOM) {
		strv_push(argv, "--format=custom");
		return;
	}
	strv_push(argv, "--format=plain");
	/* pg_dump compresses a plain script as gzip would, in one process
	 * (inside the container, with a prefix: less to stream). */
	if (f == MANIFEST_BACKUP_PLAIN_GZ)
		strv_push(argv, "--compress=6");
}

/*
 * While pg_dump writes, starts the disk writes of what it wrote so far
 * (sync_file_range, as PostgreSQL's own checkpointer does): the fsync at the
 * end then finds little left to do, and the dump never piles up in memory.
 */
struct flusher {
	int fd;
	atomic_bool stop;
	pthread_t thread;
	bool started;
};

static void *flusher_main(void *arg)
{
	struct flusher *f = arg;
	struct timespec pause = {0, 200 * 1000 * 1000};
	off_t done = 0;
	struct stat st;

	while (!atomic_load(&f->stop)) {
		nanosleep(&pause, NULL);
		if (fstat(f->fd, &st) != 0 || st.st_size - done < FLUSH_STEP)
			continue;
		sync_file_range(f->fd, done, st.st_size - done,
		                SYNC_FILE_RANGE_WRITE);
		done = st.st_size;
	}
	return NULL;
}

static void flusher_start(struct flusher *f, int fd)
{
	f->fd = fd;
	atomic_init(&f->stop, false);
	/* Only an optimisation: without the thread, fsync does it all. */
	f->started = pthread_create(&f->thread, NULL, flusher_main, f) == 0;
}

static void flusher_stop(struct flusher *f)
{
	atomic_store(&f->stop, true);
	if (f->started)
		pthread_join(f->thread, NULL);
	f->started = false;
}

/* Runs pg_dump into fd, then makes its data durable and hashes it. */
static int dump_into(struct backup_info *b, const struct pgtool *db, int fd,
                     struct berr *err)
{
	struct spawn_result res;
	struct flusher flusher;
	struct pgtool_cmd c;
	int rc = -1, ran;

	if (pgtool_cmd_init(&c, db, "pg_dump", NULL, err) != 0) {
		memset(&res, 0, sizeof(res));
		goto out;
	}
	pg_dump_args(&c.argv, b->format);
	flusher_start(&flusher, fd);
	ran = pgtool_run(&res, &c, -1, fd, err);
	flusher_stop(&flusher);
	if (ran != 0)
		goto out;
	if (fsync(fd) != 0) {
		berr_errno(err, errno, "cannot write the dump to disk");
		goto out;
	}
	if (dumpcheck_sha256_fd(b->sha256, &b->size, fd, err) != 0)
		goto out;
	if (b->size == 0) {
		berr_set(err, "pg_dump exited 0 but wrote nothing");
		goto out;
	}
	rc = 0;
out:
	spawn_result_release(&res);
	pgtool_cmd_release(&c);
	return rc;
}

int backup_create(struct backup_info *out, const struct pgtool *db,
                  const struct backup_create_opts *o, struct berr *err)
{
	int64_t start = strnum_mono_ms(), t;
	char *partial = NULL, stem[32];
	bool published = false;
	int fd = -1, rc = -1;

	memset(out, 0, sizeof(*out));
	out->format = o->format;
	out->kind = o->kind;
	out->deployment_id = o->deployment_id > 0 ? o->deployment_id : 0;
	out->commit = o->commit != NULL ? xstrdup(o->commit) : NULL;
	out->env = o->env != NULL ? xstrdup(o->env) : NULL;
	out->database = pg_url_display(db->url);
	out->created_at = o->now > 0 ? o->now : (int64_t)time(NULL);
	if (fs_mkdir_p(o->dir, BACKUP_DIR_MODE, err) != 0)
		goto out;
	clean_partials(o->dir);
	/* Before the dump: a write between the two is counted as written
	 * since the backup, never missed. */
	if (snapshot(out, db, err) != 0) {
		berr_prefix(err, "cannot read the table statistics");
		goto out;
	}
	t = out->created_at;
	if (reserve(&fd, &partial, &t, o->dir, err) != 0)
		goto out;
	stem_of(stem, t);
	out->file = xasprintf("%s%s", stem, backup_format_ext(o->format));
	out->path = fs_join(o->dir, out->file);
	if (dump_into(out, db, fd, err) != 0)
		goto out;
	if (rename(partial, out->path) != 0) {
		berr_errno(err, errno, "cannot rename '%s' to '%s'", partial,
		           out->file);
		goto out;
	}
	published = true;
	if (fs_fsync_dir(o->dir, err) != 0)
		goto out;
	out->duration_ms = strnum_mono_ms() - start;
	if (sidecar_save(out, err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0) {
		if (published)
			unlink(out->path);
		else if (fd >= 0)
			unlink(partial);
		berr_prefix(err, "backup of %s failed",
		            out->database != NULL ? out->database : "?");
	}
	if (fd >= 0)
		close(fd);
	free(partial);
	return rc;
}

/* Verify and restore. */

/* Loads the sidecar of path; a dump without one is an error. */
static int load_known(struct backup_info *b, const char *path, struct berr *err)
{
	int rc = sidecar_load(b, path, err);

	if (rc == BERTH_ENOTFOUND)
		berr_set(err,
		         "'%s' has no sidecar: incomplete, or not made "
		         "by berth",
		         path);
	return rc == 0 ? 0 : -1;
}

int backup_verify(struct backup_info *out, const struct pgtool *db,
                  const char *path, enum manifest_backup_verify mode,
                  struct berr *err)
{
	struct buf detail;
	bool verdict = false;
	int rc;

	if (load_known(out, path, err) != 0)
		return -1;
	if (mode == MANIFEST_VERIFY_NONE)
		mode = MANIFEST_VERIFY_TOC;
	buf_init(&detail, 4096);
	rc = dumpcheck_checksum(&verdict, &detail, out, err);
	if (rc == 0)
		rc = dumpcheck_archive(&verdict, &detail, db, out, err);
	if (rc == 0 && mode == MANIFEST_VERIFY_RESTORE)
		rc = dumpcheck_restore(&verdict, &detail, db, out, err);
	if (rc == 0 || verdict) {
		struct berr save_err;

		free(out->verified.detail);
		out->verified.done = true;
		out->verified.ok = rc == 0;
		out->verified.mode = mode;
		out->verified.at = (int64_t)time(NULL);
		out->verified.detail =
		    xstrdup(rc == 0 ? buf_str(&detail) : err->msg);
		if (sidecar_save(out, &save_err) != 0) {
			if (rc == 0)
				berr_set(err, "%s", save_err.msg);
			rc = -1;
		}
	}
	buf_release(&detail);
	return rc;
}

/* What backup_restore checks first: the sidecar's checksum, when there is
 * a sidecar. *format is what the restore reads. */
static int restore_check(enum manifest_backup_format *format, const char *path,
                         struct berr *err)
{
	const char *base = strrchr(path, '/');
	struct backup_info b;
	struct buf detail;
	bool verdict;
	int64_t t;
	int rc;

	base = base != NULL ? base + 1 : path;
	if (backup_name_parse(&t, format, base) != 0) {
		size_t len = strlen(base);

		/* Any name will do for a dump made elsewhere. */
		if (len > 7 && strcmp(base + len - 7, ".sql.gz") == 0)
			*format = MANIFEST_BACKUP_PLAIN_GZ;
		else if (len > 4 && strcmp(base + len - 4, ".sql") == 0)
			*format = MANIFEST_BACKUP_PLAIN;
		else if (len > 5 && strcmp(base + len - 5, ".dump") == 0)
			*format = MANIFEST_BACKUP_CUSTOM;
		else
			return berr_set(err,
			                "cannot tell the format of '%s': "
			                "expected .dump, .sql or .sql.gz",
			                base);
		return 0;
	}
	rc = sidecar_load(&b, path, err);
	if (rc == BERTH_ENOTFOUND)
		return 0;
	if (rc != 0)
		return -1;
	buf_init(&detail, 256);
	*format = b.format;
	rc = dumpcheck_checksum(&verdict, &detail, &b, err);
	buf_release(&detail);
	backup_info_release(&b);
	return rc;
}

/* The restore itself, once restore_check passed. */
static int restore_checked(const struct pgtool *db, const char *path,
                           enum manifest_backup_format format, struct berr *err)
{
	char *where = pg_url_display(db->url);
	int rc = restore_dump(db, path, format, NULL, err);

	if (rc != 0)
		berr_prefix(err,
		            "restore of '%s' into %s failed, the database "
		            "is unchanged",
		            path, where);
	free(where);
	return rc;
}

int backup_restore(const struct pgtool *db, const char *path, struct berr *err)
{
	enum manifest_backup_format format;

	if (restore_check(&format, path, err) != 0)
		return berr_prefix(err, "nothing restored");
	return restore_checked(db, path, format, err);
}

int backup_restore_safely(struct backup_info *safety, const struct pgtool *db,
                          const char *path,
                          const struct backup_create_opts *safety_opts,
                          struct berr *err)
{
	struct backup_create_opts o = *safety_opts;
	enum manifest_backup_format format;

	memset(safety, 0, sizeof(*safety));
	if (restore_check(&format, path, err) != 0)
		return berr_prefix(err, "nothing restored");
	o.kind = BACKUP_PRE_ROLLBACK;
	if (backup_create(safety, db, &o, err) != 0)
		return berr_prefix(err, "no safety backup, nothing restored");
	if (restore_checked(db, path, format, err) != 0)
		return berr_prefix(err, "safety backup '%s' taken",
		                   safety->file);
	return 0;
}

/* Rows written since. */

static void add_writes(struct backup_writes *w, const char *name,
                       int64_t writes, int64_t live, const char *note)
{
	struct backup_table_writes *t;

	w->tables = xrealloc(w->tables, (w->n + 1) * sizeof(*w->tables));
	t = &w->tables[w->n++];
	t->name = xstrdup(name);
	t->writes = writes;
	t->live_rows = live;
	t->note = note;
	if (writes < 0)
		w->unknown++;
	else
		w->total += writes;
}

int backup_writes_since(struct backup_writes *out, const struct pgtool *db,
                        const struct backup_info *b, struct berr *err)
{
	const struct pg_table_stats *then = &b->stats;
	struct backup_info now;
	size_t i = 0, j = 0;
	bool reset;

	memset(out, 0, sizeof(*out));
	memset(&now, 0, sizeof(now));
	if (!b->has_stats) {
		out->no_stats = true;
		return 0;
	}
	if (snapshot(&now, db, err) != 0) {
		backup_info_release(&now);
		return berr_prefix(err, "cannot read the table statistics");
	}
	reset = (b->stats_reset == NULL) != (now.stats_reset == NULL) ||
	        (b->stats_reset != NULL &&
	         strcmp(b->stats_reset, now.stats_reset) != 0);
	/* Both lists are sorted by name: merge them. */
	while (i < then->n || j < now.stats.n) {
		const struct pg_table_stat *a =
		    i < then->n ? &then->tables[i] : NULL;
		const struct pg_table_stat *c =
		    j < now.stats.n ? &now.stats.tables[j] : NULL;
		int cmp = a == NULL   ? 1
		          : c == NULL ? -1
		                      : strcmp(a->name, c->name);

		if (cmp < 0) {
			add_writes(out, a->name, -1, -1,
			           "dropped since the backup");
			i++;
		} else if (cmp > 0 && c != NULL) {
			add_writes(out, c->name, reset ? -1 : c->writes,
			           c->live_rows, "created since the backup");
			j++;
		} else {
			bool down = reset || c->writes < a->writes;

			add_writes(out, c->name,
			           down ? -1 : c->writes - a->writes,
			           c->live_rows,
			           down ? "statistics were reset" : NULL);
			i++, j++;
		}
	}
	backup_info_release(&now);
	return 0;
}

void backup_writes_release(struct backup_writes *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n; i++)
		free(w->tables[i].name);
	free(w->tables);
	memset(w, 0, sizeof(*w));
}

/* List and prune. */

static void list_push(struct backup_info **items, size_t *n,
                      struct backup_info *b)
{
	*items = xrealloc(*items, (*n + 1) * sizeof(**items));
	(*items)[(*n)++] = *b;
}

/* A dump and its sidecar, or the problem with them. */
static void list_dump(struct backup_info *b, const char *dir, const char *name,
                      int64_t t, enum manifest_backup_format f)
{
	char *path = fs_join(dir, name);
	struct berr err;
	int rc = sidecar_load(b, path, &err);

	if (rc == 0) {
		b->complete = true;
		free(path);
		return;
	}
	memset(b, 0, sizeof(*b));
	b->file = xstrdup(name);
	b->path = path;
	b->format = f;
	b->created_at = t;
	b->problem = rc == BERTH_ENOTFOUND
	                 ? xstrdup("no sidecar: incomplete, or not made by "
	                           "berth")
	                 : xstrdup(err.msg);
}

/* A sidecar whose dump is gone: read as the sidecar of each possible
 * dump name until one matches. */
static bool list_orphan(struct backup_info *b, const char *dir,
                        const char *json_name)
{
	size_t stem = strlen(json_name) - 5, i;
	struct berr err;

	for (i = 0; i < BERTH_ARRAY_LEN(format_exts); i++) {
		char *name =
		    xasprintf("%.*s%s", (int)stem, json_name, format_exts[i]);
		char *path = fs_join(dir, name);
		struct stat st;
		bool found =
		    lstat(path, &st) != 0 && sidecar_load(b, path, &err) == 0;

		free(name);
		free(path);
		if (found) {
			b->problem = xstrdup("its dump is gone");
			return true;
		}
	}
	return false;
}

static int newest_first(const void *x, const void *y)
{
	const struct backup_info *a = x, *b = y;

	if (a->created_at != b->created_at)
		return a->created_at < b->created_at ? 1 : -1;
	return strcmp(b->file, a->file);
}

int backup_list(struct backup_info **out, size_t *n, const char *dir,
                struct berr *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	*out = NULL;
	*n = 0;
	if (d == NULL) {
		if (errno == ENOENT)
			return 0;
		return berr_errno(err, errno, "cannot read directory '%s'",
		                  dir);
	}
	while ((e = readdir(d)) != NULL) {
		enum manifest_backup_format f;
		struct backup_info b;
		size_t len = strlen(e->d_name);
		int64_t t;

		if (backup_name_parse(&t, &f, e->d_name) == 0) {
			list_dump(&b, dir, e->d_name, t, f);
			list_push(out, n, &b);
		} else if (len == 27 && strcmp(e->d_name + 22, ".json") == 0 &&
		           strncmp(e->d_name, "backup_", 7) == 0 &&
		           list_orphan(&b, dir, e->d_name)) {
			list_push(out, n, &b);
		}
	}
	closedir(d);
	if (*n > 1)
		qsort(*out, *n, sizeof(**out), newest_first);
	return 0;
}

void backup_list_free(struct backup_info *b, size_t n)
{
	size_t i;

	for (i = 0; b != NULL && i < n; i++)
		backup_info_release(&b[i]);
	free(b);
}

static bool is_protected(const char *const *protect, const char *file)
{
	size_t i;

	for (i = 0; protect != NULL && protect[i] != NULL; i++) {
		const char *base = strrchr(protect[i], '/');

		if (strcmp(base != NULL ? base + 1 : protect[i], file) == 0)
			return true;
	}
	return false;
}

/* Removes b's dump, then its sidecar. */
static int remove_backup(const struct backup_info *b, struct berr *err)
{
	char *side = sidecar_path(b->path);
	int rc = 0;

	if (unlink(b->path) != 0 && errno != ENOENT)
		rc = berr_errno(err, errno, "cannot remove '%s'", b->path);
	else if (side != NULL && unlink(side) != 0 && errno != ENOENT)
		rc = berr_errno(err, errno, "cannot remove '%s'", side);
	free(side);
	return rc;
}

int backup_prune(struct backup_pruned **out, size_t *n,
                 const struct backup_prune_opts *o, struct berr *err)
{
	struct retention_item *items = NULL;
	struct backup_info *list = NULL;
	size_t count = 0, nitems = 0, i;
	int64_t now = o->now > 0 ? o->now : (int64_t)time(NULL);
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (!o->dry_run)
		clean_partials(o->dir);
	if (backup_list(&list, &count, o->dir, err) != 0)
		return -1;
	/* Only complete backups are retention's to decide; the list is
	 * newest first, and so are the items. */
	items = xcalloc(count > 0 ? count : 1, sizeof(*items));
	for (i = 0; i < count; i++) {
		if (!list[i].complete)
			continue;
		items[nitems].created_at = list[i].created_at;
		items[nitems++].protect =
		    is_protected(o->protect, list[i].file);
	}
	retention_plan(items, nitems, &o->keep, now);
	*out = xcalloc(count > 0 ? count : 1, sizeof(**out));
	for (i = 0, nitems = 0; i < count; i++) {
		struct backup_pruned *p = &(*out)[(*n)++];
		const char *why = list[i].problem;

		p->file = xstrdup(list[i].file);
		if (list[i].complete) {
			p->removed = !items[nitems].keep;
			why = items[nitems++].reason;
		} else {
			/* A sidecar whose dump is gone goes; a dump without
			 * a sidecar is not berth's to judge. */
			p->removed = list[i].sha256[0] != '\0';
		}
		if (p->removed && !o->dry_run &&
		    (rc != 0 || remove_backup(&list[i], err) != 0)) {
			/* After the first failure nothing more is removed. */
			p->removed = false;
			why = rc != 0 ? "an earlier removal failed"
			              : "it could not be removed";
			rc = -1;
		}
		p->reason =
		    xasprintf("%s: %s", p->removed ? "removed" : "kept", why);
	}
	if (!o->dry_run && rc == 0 && count > 0)
		rc = fs_fsync_dir(o->dir, err);
	backup_list_free(list, count);
	free(items);
	return rc;
}

void backup_pruned_free(struct backup_pruned *p, size_t n)
{
	size_t i;

	for (i = 0; p != NULL && i < n; i++) {
		free(p[i].file);
		free(p[i].reason);
	}
	free(p);
}
