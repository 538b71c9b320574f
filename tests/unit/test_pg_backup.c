/*
 * test_pg_backup.c — backups against a real PostgreSQL 15 cluster: pg_dump
 * in each format with its sidecar, verification (and what it catches),
 * restores that bring a database back and restores that fail without
 * changing anything, rows written since a backup, an unreachable server, a
 * full disk, a killed pg_dump, a prefix command, and the password kept off
 * every command line and out of every message.
 * Run by ctest under tests/fixtures/with_pg.sh, which sets DATABASE_URL.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "berth.h"
#include "check.h"

static const char *url;
static char password[128];
static struct pg_conn *conn;
static struct pgtool db;
static char *root;

/* Fixed clock for names: 2026-01-05T12:00:00Z. */
#define T0 1767614400

/* The password of DATABASE_URL, to check that nothing shows it. */
static void find_password(void)
{
	struct kvlist env;
	struct berr err;
	const char *pw;

	kvlist_init(&env);
	password[0] = '\0';
	if (pg_url_env(&env, url, &err) == 0 &&
	    (pw = kvlist_get(&env, "PGPASSWORD")) != NULL)
		snprintf(password, sizeof(password), "%s", pw);
	kvlist_release(&env);
}

static bool no_secret(const char *s)
{
	return password[0] != '\0' && strstr(s, password) == NULL;
}

static void sql(const char *s)
{
	struct berr err;

	if (pg_exec(conn, s, &err) != 0) {
		fprintf(stderr, "setup SQL failed: %s\n  in: %s\n", err.msg, s);
		CHECK(0);
	}
}

/* First value of a query, as a new string ("" for none). */
static char *value(struct pg_conn *c, const char *s)
{
	struct pg_rows rows;
	struct berr err;
	char *v;

	if (pg_query(&rows, c, s, 0, NULL, &err) != 0) {
		fprintf(stderr, "query failed: %s\n  in: %s\n", err.msg, s);
		CHECK(0);
		return xstrdup("");
	}
	v = xstrdup(pg_rows_get(&rows, 0, 0) ? pg_rows_get(&rows, 0, 0) : "");
	pg_rows_release(&rows);
	return v;
}

static int64_t number(const char *s)
{
	char *v = value(conn, s);
	int64_t n = -1;

	CHECK_INT(strnum_i64(&n, v, INT64_MIN, INT64_MAX), 0);
	free(v);
	return n;
}

/* The state a restore must bring back, as one string: row counts, sums,
 * settings, large objects, every table and column. */
static char *fingerprint(void)
{
	return value(
	    conn,
	    "SELECT concat_ws(' | ',"
	    " (SELECT count(*) FROM customers),"
	    " (SELECT string_agg(name, ',' ORDER BY id) FROM customers),"
	    " (SELECT count(*) || ':' || sum(total) FROM orders),"
	    " (SELECT string_agg(k || '=' || v, ',' ORDER BY k)"
	    "  FROM app.settings),"
	    " (SELECT string_agg(convert_from(lo_get(oid), 'UTF8'), ',')"
	    "  FROM pg_largeobject_metadata),"
	    " (SELECT string_agg(table_schema || '.' || table_name || '.' ||"
	    "  column_name, ',' ORDER BY table_schema, table_name,"
	    "  column_name) FROM information_schema.columns"
	    "  WHERE table_schema IN ('public', 'app')))");
}

/*
 * Waits until the statistics count at least min writes to table: a backend
 * publishes its counters when idle, at most once a second, unless it asks
 * for the next flush to be forced (pg_stat_force_next_flush, PostgreSQL
 * 15). A deadline turns a server that never publishes into a failure.
 */
static void wait_stats(const char *table, int64_t min)
{
	char *q = xasprintf("SELECT coalesce((SELECT n_tup_ins + n_tup_upd +"
	                    " n_tup_del FROM pg_stat_user_tables WHERE"
	                    " format('%%I.%%I', schemaname, relname) = '%s'),"
	                    " -1)",
	                    table);
	int64_t deadline = strnum_mono_ms() + 30000, n = -1;
	struct pg_conn *reader = NULL;
	struct berr err;

	sql("SELECT pg_stat_force_next_flush()");
	CHECK_INT(pg_connect(&reader, url, 10, &err), 0);
	while (reader != NULL && strnum_mono_ms() < deadline) {
		char *v = value(reader, q);

		strnum_i64(&n, v, INT64_MIN, INT64_MAX);
		free(v);
		if (n >= min)
			break;
		usleep(100 * 1000);
	}
	if (n < min)
		fprintf(stderr,
		        "statistics of %s stayed at %lld writes, "
		        "expected %lld\n",
		        table, (long long)n, (long long)min);
	CHECK(n >= min);
	pg_close(reader);
	free(q);
}

static void fixture(void)
{
	sql("CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL);"
	    "CREATE TABLE orders (id serial PRIMARY KEY,"
	    " customer int REFERENCES customers, total numeric(10,2),"
	    " note text);"
	    "INSERT INTO customers SELECT g, 'customer ' || g"
	    " FROM generate_series(1, 50) g;"
	    "INSERT INTO orders (customer, total, note)"
	    " SELECT 1 + g % 50, g * 1.25, md5(g::text)"
	    " FROM generate_series(1, 2000) g;"
	    "CREATE SCHEMA app;"
	    "CREATE TABLE app.settings (k text PRIMARY KEY, v text);"
	    "INSERT INTO app.settings VALUES ('currency', 'EUR'),"
	    " ('tax', '20');"
	    "CREATE VIEW order_totals AS SELECT customer, sum(total)"
	    " FROM orders GROUP BY customer;"
	    "SELECT lo_from_bytea(0, 'receipt logo');");
}

static char *tempdir(const char *name)
{
	char *d = xasprintf("%s/%s", root, name);
	struct berr err;

	CHECK_INT(fs_mkdir_p(d, 0700, &err), 0);
	return d;
}

/* Entries of dir but . and .. */
static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static struct backup_create_opts opts(const char *dir,
                                      enum manifest_backup_format f)
{
	struct backup_create_opts o = {0};

	o.dir = dir;
	o.format = f;
	o.kind = BACKUP_PRE_DEPLOY;
	o.deployment_id = 17;
	o.commit = "0123456789abcdef0123456789abcdef01234567";
	o.env = "production";
	o.now = T0;
	return o;
}

static int make_backup(struct backup_info *b, const char *dir,
                       enum manifest_backup_format f)
{
	struct backup_create_opts o = opts(dir, f);
	struct berr err;
	int rc = backup_create(b, &db, &o, &err);

	if (rc != 0)
		fprintf(stderr, "backup_create: %s\n", err.msg);
	return rc;
}

static void test_create(void)
{
	static const char *const names[] = {"backup_20260105_120000.dump",
	                                    "backup_20260105_120001.sql",
	                                    "backup_20260105_120002.sql.gz"};
	char *dir = tempdir("create");
	size_t f;

	for (f = 0; f < 3; f++) {
		struct backup_info b, side;
		struct berr err;
		char hex[65], *json;
		int64_t size = 0;
		int fd;

		/* Same clock each time: the next free second names it. */
		CHECK_INT(make_backup(&b, dir, (enum manifest_backup_format)f),
		          0);
		CHECK_STR(b.file, names[f]);
		CHECK_INT(b.created_at, T0);
		CHECK_INT(sidecar_load(&side, b.path, &err), 0);
		CHECK_STR(side.file, names[f]);
		CHECK_STR(side.sha256, b.sha256);
		CHECK_INT(side.size, b.size);
		CHECK_STR(backup_kind_name(side.kind), "pre-deploy");
		CHECK_INT(side.deployment_id, 17);
		CHECK_STR(side.commit,
		          "0123456789abcdef0123456789abcdef01234567");
		CHECK_STR(side.env, "production");
		CHECK_INT(side.format, f);
		CHECK(side.server_version != NULL &&
		      strncmp(side.server_version, "15.", 3) == 0);
		CHECK(side.database != NULL && no_secret(side.database));
		CHECK(!side.verified.done);
		CHECK(side.has_stats && side.stats.n == 3);
		if (side.stats.n == 3) {
			CHECK_STR(side.stats.tables[0].name, "app.settings");
			CHECK_STR(side.stats.tables[2].name, "public.orders");
			CHECK(side.stats.tables[2].writes >= 2000);
		}
		fd = open(b.path, O_RDONLY);
		CHECK(fd >= 0);
		CHECK_INT(dumpcheck_sha256_fd(hex, &size, fd, &err), 0);
		close(fd);
		CHECK_STR(hex, b.sha256);
		CHECK_INT(size, b.size);
		json = sidecar_path(b.path);
		CHECK(json != NULL && fs_exists(json));
		free(json);
		backup_info_release(&side);
		backup_info_release(&b);
	}
	/* Three dumps, three sidecars, no partial file. */
	CHECK_INT(count_files(dir), 6);
	free(dir);
}

/* Rewrites one byte of path, at offset from the end when back is true. */
static void flip_byte(const char *path, off_t off, bool back)
{
	int fd = open(path, O_RDWR);
	struct stat st;
	unsigned char c = 0;

	CHECK(fd >= 0 && fstat(fd, &st) == 0);
	if (back)
		off = st.st_size - off;
	CHECK_INT(pread(fd, &c, 1, off), 1);
	c ^= 0x20;
	CHECK_INT(pwrite(fd, &c, 1, off), 1);
	close(fd);
}

static void truncate_to(const char *path, off_t len)
{
	CHECK_INT(truncate(path, len), 0);
}

/* No database of that name pattern is left on the server. */
static int64_t scratch_dbs(void)
{
	return number("SELECT count(*) FROM pg_database"
	              " WHERE datname LIKE 'berth\\_verify\\_%'");
}

/* Runs check on a new backup in each format, in directory name. */
static void each_format(const char *name, void (*check)(struct backup_info *b))
{
	char *dir = tempdir(name);
	size_t f;

	for (f = 0; f < 3; f++) {
		struct backup_info b;

		if (make_backup(&b, dir, (enum manifest_backup_format)f) == 0)
			check(&b);
		else
			CHECK(0);
		backup_info_release(&b);
	}
	free(dir);
}

static void verify_one(struct backup_info *b)
{
	struct backup_info v;
	struct berr err;

	if (backup_verify(&v, &db, b->path, MANIFEST_VERIFY_TOC, &err) != 0) {
		fprintf(stderr, "verify %s: %s\n", b->file, err.msg);
		CHECK(0);
	}
	CHECK(v.verified.done && v.verified.ok);
	CHECK(v.verified.mode == MANIFEST_VERIFY_TOC);
	fprintf(stderr, "verified %s: %s\n", v.file, v.verified.detail);
	backup_info_release(&v);

	if (backup_verify(&v, &db, b->path, MANIFEST_VERIFY_RESTORE, &err) !=
	    0) {
		fprintf(stderr, "verify %s: %s\n", b->file, err.msg);
		CHECK(0);
	}
	CHECK(v.verified.done && v.verified.ok);
	CHECK(v.verified.detail != NULL &&
	      strstr(v.verified.detail, "berth_verify_") != NULL);
	fprintf(stderr, "restore-verified %s: %s\n", v.file, v.verified.detail);
	backup_info_release(&v);
	CHECK_INT(scratch_dbs(), 0);

	/* A flipped byte in the middle. */
	flip_byte(b->path, b->size / 2, false);
	CHECK_INT(backup_verify(&v, &db, b->path, MANIFEST_VERIFY_TOC, &err),
	          -1);
	CHECK(strstr(err.msg, "changed since it was written") != NULL);
	backup_info_release(&v);
	/* The verdict is in the sidecar. */
	CHECK_INT(sidecar_load(&v, b->path, &err), 0);
	CHECK(v.verified.done && !v.verified.ok);
	CHECK(v.verified.detail != NULL &&
	      strstr(v.verified.detail, "SHA-256") != NULL);
	backup_info_release(&v);
	flip_byte(b->path, b->size / 2, false);

	/* Cut short. */
	truncate_to(b->path, b->size - 100);
	CHECK_INT(
	    backup_verify(&v, &db, b->path, MANIFEST_VERIFY_RESTORE, &err), -1);
	CHECK(strstr(err.msg, "truncated") != NULL);
	fprintf(stderr, "truncated: %s\n", err.msg);
	backup_info_release(&v);
	CHECK_INT(scratch_dbs(), 0);
}

/* Checks that do not rely on the checksum: a sidecar made to match a
 * damaged file, as if the damage came before the hash. */
static void rehash(struct backup_info *b)
{
	struct berr err;
	int fd = open(b->path, O_RDONLY);

	CHECK(fd >= 0);
	CHECK_INT(dumpcheck_sha256_fd(b->sha256, &b->size, fd, &err), 0);
	close(fd);
	CHECK_INT(sidecar_save(b, &err), 0);
}

/* Damage that the archive checks see on their own. */
static void damage_one(struct backup_info *b)
{
	struct backup_info v;
	struct berr err;

	if (b->format == MANIFEST_BACKUP_CUSTOM)
		flip_byte(b->path, 0, false); /* the "PGDMP" magic */
	else
		truncate_to(b->path, b->size * 2 / 3);
	rehash(b);
	CHECK_INT(backup_verify(&v, &db, b->path, MANIFEST_VERIFY_TOC, &err),
	          -1);
	fprintf(stderr, "damaged %s: %s\n", b->file, err.msg);
	CHECK(v.verified.done && !v.verified.ok);
	CHECK(strstr(err.msg, "size and SHA-256") == NULL);
	backup_info_release(&v);
}

/* Changes everything a restore must undo. */
static void mutate(void)
{
	sql("DELETE FROM orders WHERE id % 3 = 0;"
	    "UPDATE customers SET name = 'renamed';"
	    "DROP TABLE app.settings;"
	    "CREATE TABLE refunds (id int, order_id int REFERENCES orders);"
	    "INSERT INTO refunds SELECT id, id FROM orders LIMIT 5;"
	    "ALTER TABLE orders ADD COLUMN paid bool;"
	    "CREATE SCHEMA reports;"
	    "CREATE TABLE reports.daily AS SELECT 1 AS x;"
	    "SELECT lo_unlink(oid) FROM pg_largeobject_metadata;"
	    "SELECT lo_from_bytea(0, 'new logo');");
}

static void test_restore(void)
{
	char *dir = tempdir("restore"), *before = fingerprint();
	struct backup_info b[3];
	size_t f;

	for (f = 0; f < 3; f++)
		CHECK_INT(
		    make_backup(&b[f], dir, (enum manifest_backup_format)f), 0);
	for (f = 0; f < 3; f++) {
		struct berr err;
		char *after;

		mutate();
		CHECK_INT(number("SELECT count(*) FROM pg_tables"
		                 " WHERE schemaname = 'app'"),
		          0);
		if (backup_restore(&db, b[f].path, &err) != 0) {
			fprintf(stderr, "restore %s: %s\n", b[f].file, err.msg);
			CHECK(0);
		}
		after = fingerprint();
		CHECK_STR(after, before);
		CHECK_INT(number("SELECT count(*) FROM pg_namespace"
		                 " WHERE nspname = 'reports'"),
		          0);
		CHECK_INT(
		    number("SELECT count(*) FROM pg_largeobject_metadata"), 1);
		free(after);
	}
	for (f = 0; f < 3; f++)
		backup_info_release(&b[f]);
	free(before);
	free(dir);
}

/* The lines of src up to and including the first line equal to stop, into
 * dst: a dump cut where a statement ends. */
static void copy_until(const char *dst, const char *src, const char *stop)
{
	FILE *in = fopen(src, "r"), *out = fopen(dst, "w");
	char line[8192];

	CHECK(in != NULL && out != NULL);
	while (in != NULL && out != NULL && fgets(line, sizeof(line), in)) {
		fputs(line, out);
		if (strcmp(line, stop) == 0)
			break;
	}
	if (in)
		fclose(in);
	if (out)
		fclose(out);
}

static void check_state(const char *state)
{
	char *now = fingerprint();

	CHECK_STR(now, state);
	CHECK_INT(number("SELECT x FROM extra"), 42);
	free(now);
}

/* The first len bytes of src into dst. */
static void copy_bytes(const char *dst, const char *src, size_t len)
{
	struct berr err;
	struct buf data;

	buf_init(&data, 0);
	CHECK_INT(fs_read_file(&data, src, (size_t)1 << 30, &err), 0);
	CHECK(len <= data.len);
	CHECK_INT(fs_write_atomic(dst, data.data, len, 0600, &err), 0);
	buf_release(&data);
}

static void test_restore_failure(void)
{
	char *dir = tempdir("failure"), *cut, *state;
	struct backup_info b[2], v;
	struct berr err;
	size_t f;

	/* A CHECK constraint that calls a function reading another table: a
	 * known way for a dump to fail to restore, as a_items' rows are
	 * loaded before known's. */
	sql("CREATE TABLE known (id int);"
	    "CREATE FUNCTION is_known(int) RETURNS bool LANGUAGE sql STABLE"
	    " AS 'SELECT EXISTS (SELECT 1 FROM public.known WHERE id = $1)';"
	    "CREATE TABLE a_items (id int CHECK (public.is_known(id)));"
	    "INSERT INTO known VALUES (1), (2);"
	    "INSERT INTO a_items VALUES (1), (2);");
	for (f = 0; f < 2; f++)
		CHECK_INT(
		    make_backup(&b[f], dir, (enum manifest_backup_format)f), 0);
	sql("DROP TABLE a_items; DROP TABLE known; DROP FUNCTION is_known;"
	    "INSERT INTO orders (customer, total) VALUES (1, 99.99);"
	    "CREATE TABLE extra (x int); INSERT INTO extra VALUES (42);");
	state = fingerprint();
	for (f = 0; f < 2; f++) {
		CHECK_INT(backup_restore(&db, b[f].path, &err), -1);
		fprintf(stderr, "failing restore: %s\n", err.msg);
		CHECK(strstr(err.msg, "check constraint") != NULL);
		CHECK(strstr(err.msg, "unchanged") != NULL);
		CHECK(no_secret(err.msg));
		check_state(state);
	}
	/* The scratch database goes, also when the restore fails. */
	CHECK_INT(
	    backup_verify(&v, &db, b[0].path, MANIFEST_VERIFY_RESTORE, &err),
	    -1);
	CHECK(v.verified.done && !v.verified.ok);
	CHECK_INT(scratch_dbs(), 0);
	backup_info_release(&v);

	/* Clean dumps for the rest. */
	sql("DROP TABLE extra; DELETE FROM orders WHERE total = 99.99;");
	for (f = 0; f < 2; f++) {
		backup_info_release(&b[f]);
		CHECK_INT(
		    make_backup(&b[f], dir, (enum manifest_backup_format)f), 0);
	}
	sql("CREATE TABLE extra (x int); INSERT INTO extra VALUES (42);");
	free(state);
	state = fingerprint();

	/* A plain dump cut right after a table's data, with no sidecar to
	 * tell: psql runs every statement it gets without an error, but the
	 * last line never comes, so nothing is committed. */
	free(tempdir("cut"));
	cut = xasprintf("%s/cut/old_backup.sql", root);
	copy_until(cut, b[1].path, "\\.\n");
	CHECK_INT(backup_restore(&db, cut, &err), -1);
	fprintf(stderr, "cut dump: %s\n", err.msg);
	CHECK(strstr(err.msg, "ends before pg_dump's last line") != NULL);
	check_state(state);
	/* A custom archive cut short, no sidecar: pg_restore fails. */
	free(cut);
	cut = xasprintf("%s/cut/old_backup.dump", root);
	copy_bytes(cut, b[0].path, b[0].size * 3 / 4);
	CHECK_INT(backup_restore(&db, cut, &err), -1);
	fprintf(stderr, "cut archive: %s\n", err.msg);
	CHECK(strstr(err.msg, "pg_restore") != NULL);
	check_state(state);
	sql("DROP TABLE extra;");
	for (f = 0; f < 2; f++)
		backup_info_release(&b[f]);
	free(state);
	free(cut);
	free(dir);
}

static const struct backup_table_writes *
find_writes(const struct backup_writes *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->n; i++)
		if (strcmp(w->tables[i].name, name) == 0)
			return &w->tables[i];
	return NULL;
}

/* Superuser over the cluster's socket (trust), for pg_stat_reset(). */
static char *admin_url(void)
{
	const char *sock = getenv("PG_SOCKET_DIR"), *port = getenv("PG_PORT");
	const char *name = getenv("PG_DATABASE");

	CHECK(sock != NULL && port != NULL && name != NULL);
	return xasprintf("host=%s port=%s dbname=%s user=postgres",
	                 sock ? sock : "", port ? port : "", name ? name : "");
}

static void test_writes_since(void)
{
	char *dir = tempdir("writes"), *admin;
	const struct backup_table_writes *t;
	struct backup_writes w;
	struct backup_info b;
	struct pg_conn *su = NULL;
	struct berr err;
	size_t i;

	sql("CREATE TABLE ws (id int PRIMARY KEY, v int);"
	    "INSERT INTO ws SELECT g, 0 FROM generate_series(1, 10) g;"
	    "CREATE TABLE ws_gone (x int); INSERT INTO ws_gone VALUES (1);"
	    "CREATE TABLE ws_again (x int);"
	    "INSERT INTO ws_again SELECT generate_series(1, 5);");
	wait_stats("public.ws", 10);
	wait_stats("public.ws_gone", 1);
	wait_stats("public.ws_again", 5);
	CHECK_INT(make_backup(&b, dir, MANIFEST_BACKUP_CUSTOM), 0);

	/* 7 inserts, 3 updates, 2 deletes. */
	sql("INSERT INTO ws SELECT g, 0 FROM generate_series(11, 17) g;"
	    "UPDATE ws SET v = 1 WHERE id <= 3;"
	    "DELETE FROM ws WHERE id IN (16, 17);"
	    "CREATE TABLE ws_new (x int);"
	    "INSERT INTO ws_new SELECT generate_series(1, 4);"
	    "DROP TABLE ws_gone;"
	    "DROP TABLE ws_again; CREATE TABLE ws_again (x int);"
	    "INSERT INTO ws_again VALUES (1);");
	wait_stats("public.ws", 22);
	wait_stats("public.ws_new", 4);
	wait_stats("public.ws_again", 1);
	CHECK_INT(backup_writes_since(&w, &db, &b, &err), 0);
	CHECK(!w.no_stats);
	t = find_writes(&w, "public.ws");
	CHECK(t != NULL && t->writes == 12 && t->note == NULL);
	CHECK(t != NULL && t->live_rows == 15);
	t = find_writes(&w, "public.ws_new");
	CHECK(t != NULL && t->writes == 4 && t->note != NULL &&
	      strcmp(t->note, "created since the backup") == 0);
	t = find_writes(&w, "public.ws_gone");
	CHECK(t != NULL && t->writes == -1 && t->live_rows == -1 &&
	      t->note != NULL && strstr(t->note, "dropped") != NULL);
	t = find_writes(&w, "public.ws_again");
	CHECK(t != NULL && t->writes == -1 && t->note != NULL &&
	      strcmp(t->note, "statistics were reset") == 0);
	CHECK(w.total >= 16);
	CHECK_INT(w.unknown, 2);
	for (i = 0; i < w.n; i++)
		fprintf(stderr, "written since: %s %lld (%s)\n",
		        w.tables[i].name, (long long)w.tables[i].writes,
		        w.tables[i].note ? w.tables[i].note : "");
	backup_writes_release(&w);

	/* Counters reset for the whole database: nothing is known. */
	admin = admin_url();
	CHECK_INT(pg_connect(&su, admin, 10, &err), 0);
	if (su != NULL)
		CHECK_INT(pg_exec(su, "SELECT pg_stat_reset()", &err), 0);
	pg_close(su);
	CHECK_INT(backup_writes_since(&w, &db, &b, &err), 0);
	CHECK_INT(w.unknown, w.n);
	CHECK_INT(w.total, 0);
	t = find_writes(&w, "public.ws");
	CHECK(t != NULL && t->writes == -1 && t->note != NULL &&
	      strcmp(t->note, "statistics were reset") == 0);
	backup_writes_release(&w);

	/* A backup without statistics says so. */
	pg_table_stats_release(&b.stats);
	b.has_stats = false;
	CHECK_INT(backup_writes_since(&w, &db, &b, &err), 0);
	CHECK(w.no_stats && w.n == 0);
	backup_writes_release(&w);
	sql("DROP TABLE ws; DROP TABLE ws_new; DROP TABLE ws_again;");
	backup_info_release(&b);
	free(admin);
	free(dir);
}

static void test_unreachable(void)
{
	char *dir = tempdir("unreachable"), *nowhere = tempdir("nowhere");
	/* A socket directory where no server listens. */
	char *u = xasprintf("postgresql://berth:s3cret-unreach@/berth_test"
	                    "?host=%s",
	                    nowhere);
	struct backup_create_opts o = opts(dir, MANIFEST_BACKUP_CUSTOM);
	struct pgtool off = {.url = u};
	struct backup_info b;
	struct berr err;

	CHECK_INT(backup_create(&b, &off, &o, &err), -1);
	fprintf(stderr, "unreachable: %s\n", err.msg);
	CHECK(strstr(err.msg, "No such file or directory") != NULL);
	CHECK(strstr(err.msg, "backup of postgresql://") != NULL);
	CHECK(strstr(err.msg, "s3cret") == NULL);
	CHECK_INT(count_files(dir), 0);
	backup_info_release(&b);
	free(nowhere);
	free(u);
	free(dir);
}

/* pg_dump itself fails: a table the role may not read. */
static void test_dump_refused(void)
{
	char *dir = tempdir("refused"), *admin = admin_url();
	struct backup_create_opts o = opts(dir, MANIFEST_BACKUP_PLAIN);
	struct pg_conn *su = NULL;
	struct backup_info b;
	struct berr err;

	CHECK_INT(pg_connect(&su, admin, 10, &err), 0);
	if (su == NULL) {
		free(admin);
		free(dir);
		return;
	}
	CHECK_INT(pg_exec(su, "CREATE TABLE public.ledger (x int)", &err), 0);
	CHECK_INT(backup_create(&b, &db, &o, &err), -1);
	fprintf(stderr, "refused: %s\n", err.msg);
	CHECK(strstr(err.msg, "pg_dump exited 1: ") != NULL);
	CHECK(strstr(err.msg, "permission denied for table ledger") != NULL);
	CHECK(no_secret(err.msg));
	CHECK_INT(count_files(dir), 0);
	CHECK_INT(pg_exec(su, "DROP TABLE public.ledger", &err), 0);
	pg_close(su);
	backup_info_release(&b);
	free(admin);
	free(dir);
}

/* pg_dump waits for a lock another session holds, and is killed when its
 * time is up: nothing is left. */
static void test_killed(void)
{
	char *dir = tempdir("killed");
	struct backup_create_opts o = opts(dir, MANIFEST_BACKUP_CUSTOM);
	struct pgtool slow = {.url = url, .timeout_s = 2};
	struct backup_info b;
	struct berr err;

	sql("BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE;");
	CHECK_INT(backup_create(&b, &slow, &o, &err), -1);
	sql("ROLLBACK");
	fprintf(stderr, "killed: %s\n", err.msg);
	CHECK(strstr(err.msg, "pg_dump timed out after 2 s") != NULL);
	CHECK(no_secret(err.msg));
	CHECK_INT(count_files(dir), 0);
	backup_info_release(&b);
	free(dir);
}

static void test_full_disk(void)
{
	static const enum manifest_backup_format formats[] = {
	    MANIFEST_BACKUP_CUSTOM, MANIFEST_BACKUP_PLAIN};
	char *dir = tempdir("full");
	size_t i;

	if (geteuid() != 0) {
		fprintf(stderr, "test_full_disk needs root to mount a tmpfs\n");
		CHECK(0);
		free(dir);
		return;
	}
	/* About 1 MB of data that compresses poorly. */
	sql("CREATE TABLE filler AS SELECT g, md5(g::text) || md5((-g)::text)"
	    " AS t FROM generate_series(1, 15000) g;");
	if (mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700") != 0) {
		fprintf(stderr, "cannot mount a tmpfs on '%s': %s\n", dir,
		        strerror(errno));
		CHECK(0);
		free(dir);
		return;
	}
	for (i = 0; i < BERTH_ARRAY_LEN(formats); i++) {
		struct backup_create_opts o = opts(dir, formats[i]);
		struct backup_info b;
		struct berr err;

		CHECK_INT(backup_create(&b, &db, &o, &err), -1);
		fprintf(stderr, "full disk: %s\n", err.msg);
		CHECK(strstr(err.msg, "No space left on device") != NULL);
		CHECK(strstr(err.msg, "pg_dump") != NULL);
		CHECK_INT(count_files(dir), 0);
		backup_info_release(&b);
	}
	CHECK_INT(umount2(dir, 0), 0);
	sql("DROP TABLE filler;");
	free(dir);
}

/* What the watcher saw of pg_dump while it waited for a lock. */
struct watch {
	struct pg_conn *locker; /* holds the lock pg_dump waits for */
	bool seen;              /* a pg_dump process waiting for it */
	bool leaked;            /* the password in some process's argv */
	bool env_has_password;  /* where it should be instead */
	char cmdline[1024];
};

/* The whole of /proc/<pid>/<what> with NULs made spaces, "" when it
 * cannot be read. */
static size_t read_proc(char *out, size_t len, const char *pid,
                        const char *what)
{
	char path[320];
	ssize_t n;
	size_t i;
	int fd;

	out[0] = '\0'; /* a process that is gone reads as nothing */
	snprintf(path, sizeof(path), "/proc/%s/%s", pid, what);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return 0;
	n = read(fd, out, len - 1);
	close(fd);
	if (n < 0)
		n = 0;
	for (i = 0; i < (size_t)n; i++)
		if (out[i] == '\0')
			out[i] = ' ';
	out[n] = '\0';
	return (size_t)n;
}

/* Scans every process once: argv never shows the password; pg_dump's is
 * kept. */
static void scan_processes(struct watch *w)
{
	static char text[1 << 16];
	DIR *d = opendir("/proc");
	struct dirent *e;
	char comm[64];

	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		read_proc(text, sizeof(text), e->d_name, "cmdline");
		if (strstr(text, password) != NULL)
			w->leaked = true;
		read_proc(comm, sizeof(comm), e->d_name, "comm");
		if (strncmp(comm, "pg_dump", 7) != 0 ||
		    strstr(text, "--format=custom") == NULL)
			continue;
		memcpy(w->cmdline, text, sizeof(w->cmdline) - 1);
		read_proc(text, sizeof(text), e->d_name, "environ");
		w->env_has_password = strstr(text, password) != NULL;
	}
	if (d != NULL)
		closedir(d);
}

static void *watch_main(void *arg)
{
	struct watch *w = arg;
	int64_t deadline = strnum_mono_ms() + 60000;
	struct pg_conn *reader = NULL;
	struct berr err;

	if (pg_connect(&reader, url, 10, &err) != 0)
		deadline = 0;
	while (!w->seen && strnum_mono_ms() < deadline) {
		char *n = value(reader, "SELECT count(*) FROM pg_stat_activity"
		                        " WHERE application_name = 'berth'"
		                        " AND wait_event_type = 'Lock'");

		scan_processes(w);
		w->seen = strcmp(n, "1") == 0 && w->cmdline[0] != '\0';
		free(n);
		if (!w->seen)
			usleep(50 * 1000);
	}
	pg_exec(w->locker, "ROLLBACK", &err);
	pg_close(reader);
	return NULL;
}

static void test_password_hidden(void)
{
	char *dir = tempdir("hidden");
	struct watch w = {0};
	struct backup_info b;
	pthread_t t;
	struct berr err;

	CHECK_INT(pg_connect(&w.locker, url, 10, &err), 0);
	CHECK_INT(pg_exec(w.locker,
	                  "BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE",
	                  &err),
	          0);
	CHECK_INT(pthread_create(&t, NULL, watch_main, &w), 0);
	CHECK_INT(make_backup(&b, dir, MANIFEST_BACKUP_CUSTOM), 0);
	pthread_join(t, NULL);
	fprintf(stderr, "pg_dump ran as: %s\n", w.cmdline);
	CHECK(w.seen);
	CHECK(!w.leaked);
	CHECK(strstr(w.cmdline, "postgresql://") == NULL);
	CHECK(w.env_has_password);
	pg_close(w.locker);
	backup_info_release(&b);
	free(dir);
}

/* A stand-in for `docker compose exec -T db`: the URL names a host only
 * "the container" knows, and the script maps it to the real server. */
static char *write_prefix(const char *dir, const char *log)
{
	char *path = xasprintf("%s/enter", dir);
	char *text =
	    xasprintf("#!/bin/sh\n"
	              "[ \"$PGHOST\" = db.invalid ] ||"
	              " { echo \"enter: PGHOST is '$PGHOST'\" >&2; exit 90; }\n"
	              "printf '%%s\\n' \"$*\" >> '%s'\n"
	              "PGHOST=127.0.0.1 PGPORT=%s exec \"$@\"\n",
	              log, getenv("PG_PORT") ? getenv("PG_PORT") : "0");
	struct berr err;

	CHECK_INT(fs_write_atomic(path, text, strlen(text), 0755, &err), 0);
	free(text);
	return path;
}

static void test_prefix(void)
{
	char *dir = tempdir("prefix"), *log = xasprintf("%s/log", dir);
	char *enter = write_prefix(dir, log), *before, *after;
	const char *at = strchr(url, '@'), *slash = strrchr(url, '/');
	char *u =
	    xasprintf("%.*s@db.invalid:5432%s", (int)(at - url), url, slash);
	const char *const prefix[] = {enter, NULL};
	struct pgtool inside = {.url = u, .prefix = prefix};
	struct backup_create_opts o = opts(dir, MANIFEST_BACKUP_CUSTOM);
	struct backup_info b, gz, v, safety;
	struct backup_writes w;
	struct buf seen;
	struct berr err;

	before = fingerprint();
	if (backup_create(&b, &inside, &o, &err) != 0)
		fprintf(stderr, "prefix backup: %s\n", err.msg);
	o.format = MANIFEST_BACKUP_PLAIN_GZ;
	CHECK_INT(backup_create(&gz, &inside, &o, &err), 0);
	CHECK_INT(
	    backup_verify(&v, &inside, b.path, MANIFEST_VERIFY_RESTORE, &err),
	    0);
	CHECK(v.verified.ok);
	backup_info_release(&v);
	CHECK_INT(
	    backup_verify(&v, &inside, gz.path, MANIFEST_VERIFY_TOC, &err), 0);
	backup_info_release(&v);
	CHECK_INT(backup_writes_since(&w, &inside, &b, &err), 0);
	CHECK(!w.no_stats && w.n >= 3);
	backup_writes_release(&w);
	mutate();
	o.format = MANIFEST_BACKUP_CUSTOM;
	if (backup_restore_safely(&safety, &inside, b.path, &o, &err) != 0)
		fprintf(stderr, "prefix restore: %s\n", err.msg);
	CHECK_STR(backup_kind_name(safety.kind), "pre-rollback");
	after = fingerprint();
	CHECK_STR(after, before);
	free(after);
	/* The safety backup holds what the restore discarded. */
	CHECK_INT(backup_restore(&inside, gz.path, &err), 0);
	CHECK_INT(backup_restore(&inside, safety.path, &err), 0);
	CHECK_INT(number("SELECT count(*) FROM pg_namespace"
	                 " WHERE nspname = 'reports'"),
	          1);
	CHECK_INT(backup_restore(&db, b.path, &err), 0);

	buf_init(&seen, 0);
	CHECK_INT(fs_read_file(&seen, log, 1 << 20, &err), 0);
	CHECK(strstr(buf_str(&seen), "pg_dump --no-password --format=custom") !=
	      NULL);
	CHECK(strstr(buf_str(&seen), "pg_restore --list") != NULL);
	CHECK(strstr(buf_str(&seen), "pg_restore -f -") != NULL);
	CHECK(strstr(buf_str(&seen), "psql -X") != NULL);
	CHECK(strstr(buf_str(&seen), "gzip") == NULL);
	CHECK(no_secret(buf_str(&seen)));
	buf_release(&seen);
	backup_info_release(&safety);
	backup_info_release(&gz);
	backup_info_release(&b);
	free(before);
	free(u);
	free(enter);
	free(log);
	free(dir);
}

int main(void)
{
	struct berr err;

	url = check_database_url("test_pg_backup");
	find_password();
	CHECK(password[0] != '\0');
	root = check_tempdir("berth-backup");
	if (pg_connect(&conn, url, 10, &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	db.url = url;
	fixture();
	wait_stats("public.orders", 2000);
	test_create();
	each_format("verify", verify_one);
	each_format("archive", damage_one);
	test_restore();
	test_restore_failure();
	test_writes_since();
	test_unreachable();
	test_dump_refused();
	test_killed();
	test_full_disk();
	test_password_hidden();
	test_prefix();
	pg_close(conn);
	fs_remove_tree(root, &err);
	free(root);
	return check_done("test_pg_backup");
}
