/*
 * test_pg_migrate.c — the sql_dir runner against a real PostgreSQL cluster:
 * fresh apply, idempotence, a file failing on its second statement, changed
 * checksums, missing and out-of-order files, refused statements, lock and
 * statement timeouts, the migration lock, and concurrent migrators.
 * Run by ctest under tests/fixtures/with_pg.sh, which sets DATABASE_URL.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "berth.h"
#include "check.h"

static const char *url;
static char dir[512];

static struct pg_conn *connect_or_die(void)
{
	struct pg_conn *c;
	struct berr err;

	if (pg_connect(&c, url, 5, &err) != 0) {
		fprintf(stderr, "test_pg_migrate: %s\n", err.msg);
		exit(1);
	}
	return c;
}

static void put_file(const char *name, const char *text)
{
	char *path = fs_join(dir, name);
	struct berr err;

	if (fs_write_atomic(path, text, strlen(text), 0644, &err) != 0) {
		fprintf(stderr, "test_pg_migrate: %s\n", err.msg);
		exit(1);
	}
	free(path);
}

static void remove_file(const char *name)
{
	char *path = fs_join(dir, name);

	unlink(path);
	free(path);
}

/* The single value of a query, as a new string ("" for NULL). */
static char *value(struct pg_conn *c, const char *sql)
{
	struct pg_rows rows;
	struct berr err;
	char *v;

	if (pg_query(&rows, c, sql, 0, NULL, &err) != 0) {
		fprintf(stderr, "test_pg_migrate: %s: %s\n", sql, err.msg);
		exit(1);
	}
	v = xstrdup(pg_rows_get(&rows, 0, 0) ? pg_rows_get(&rows, 0, 0) : "");
	pg_rows_release(&rows);
	return v;
}

static void check_value(struct pg_conn *c, const char *sql, const char *want,
                        int line)
{
	char *v = value(c, sql);

	check_count++;
	if (strcmp(v, want) != 0) {
		check_failures++;
		fprintf(stderr, "%s:%d: %s gave '%s', expected '%s'\n",
		        __FILE__, line, sql, v, want);
	}
	free(v);
}
#define CHECK_VALUE(c, sql, want) check_value(c, sql, want, __LINE__)

struct progress_log {
	struct buf text;
};

static void on_progress(const char *name, int64_t ms, void *arg)
{
	struct progress_log *log = arg;

	buf_printf(&log->text, "%s%s;", ms < 0 ? "start " : "done ", name);
}

static void default_opts(struct migrate_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->deployment_id = 42;
	o->lock_timeout_s = 10;
	o->display_dir = "migrations";
}

static int apply(struct pg_conn *c, const struct migrate_opts *o,
                 struct migrate_result *res, struct berr *err)
{
	return migrate_apply(res, c, dir, o, err);
}

/* Runs migrate_apply and checks its status, how many files it applied, and,
 * when msg is not NULL, its whole error message. */
static void expect_apply(struct pg_conn *c, const struct migrate_opts *o,
                         int want_rc, size_t want_applied, const char *msg,
                         int line)
{
	struct migrate_result res;
	struct berr err;
	int rc = migrate_apply(&res, c, dir, o, &err);

	check_count++;
	if (rc != want_rc || res.napplied != want_applied ||
	    (msg != NULL && strcmp(err.msg, msg) != 0)) {
		check_failures++;
		fprintf(stderr,
		        "%s:%d: migrate_apply gave %d with %zu applied "
		        "(\"%s\"), expected %d with %zu (\"%s\")\n",
		        __FILE__, line, rc, res.napplied, rc ? err.msg : "",
		        want_rc, want_applied, msg ? msg : "");
	}
	migrate_result_release(&res);
}
#define EXPECT_APPLY(c, o, rc, n, msg) expect_apply(c, o, rc, n, msg, __LINE__)

static void test_fresh(struct pg_conn *c)
{
	struct migrate_plan plan;
	struct migrate_result res;
	struct migrate_opts o;
	struct progress_log log;
	struct berr err;
	char *sum;

	put_file("001_a.sql", "CREATE TABLE a (id int PRIMARY KEY);\n");
	put_file("002_b.sql", "-- two statements\nCREATE TABLE b (id int);\n"
	                      "INSERT INTO b VALUES (1), (2);\n");
	put_file("003_c.sql", "ALTER TABLE b ADD COLUMN note text;");
	put_file("README.md", "not a migration");
	put_file(".hidden.sql", "SELECT nonsense;");

	/* Planning needs no table and changes nothing. */
	CHECK_INT(migrate_plan(&plan, c, dir, &err), 0);
	CHECK(!plan.table_exists);
	CHECK_INT(plan.napplied, 0);
	CHECK_INT(plan.npending, 3);
	if (plan.npending == 3) {
		CHECK_STR(plan.pending[0].name, "001_a.sql");
		CHECK_STR(plan.pending[2].name, "003_c.sql");
		CHECK(plan.pending[0].problem == NULL);
		CHECK(!plan.pending[1].out_of_order);
		/* sha256sum of the text above */
		CHECK_STR(plan.pending[0].checksum,
		          "634b33d42b556b5b6f28f21aa19a9c5d89df49c73a1df3ce8ff5"
		          "319146c7d0cc");
	}
	migrate_plan_release(&plan);
	CHECK_VALUE(c, "SELECT to_regclass('berth_schema_migrations') IS NULL",
	            "t");

	default_opts(&o);
	buf_init(&log.text, 0);
	o.progress = on_progress;
	o.arg = &log;
	CHECK_INT(apply(c, &o, &res, &err), 0);
	CHECK_INT(res.napplied, 3);
	CHECK(res.failed == NULL);
	CHECK_INT(res.plan.nmissing, 0);
	if (res.napplied == 3) {
		CHECK_STR(res.applied[0].name, "001_a.sql");
		CHECK_STR(res.applied[1].name, "002_b.sql");
		CHECK(res.applied[2].ms >= 0);
	}
	CHECK_STR(buf_str(&log.text),
	          "start 001_a.sql;done 001_a.sql;start 002_b.sql;"
	          "done 002_b.sql;start 003_c.sql;done 003_c.sql;");
	buf_release(&log.text);
	migrate_result_release(&res);

	CHECK_VALUE(c,
	            "SELECT string_agg(name, ',' ORDER BY name) FROM "
	            "berth_schema_migrations",
	            "001_a.sql,002_b.sql,003_c.sql");
	CHECK_VALUE(c,
	            "SELECT count(*) FROM berth_schema_migrations WHERE "
	            "deployment_id = 42 AND duration_ms >= 0 AND "
	            "applied_at <= now()",
	            "3");
	CHECK_VALUE(c, "SELECT count(*) FROM b WHERE note IS NULL", "2");
	sum = value(c, "SELECT checksum FROM berth_schema_migrations "
	               "WHERE name = '001_a.sql'");
	CHECK_STR(
	    sum,
	    "634b33d42b556b5b6f28f21aa19a9c5d89df49c73a1df3ce8ff5319146c7d0cc");
	free(sum);

	/* A second run finds nothing to do. */
	o.progress = NULL;
	CHECK_INT(apply(c, &o, &res, &err), 0);
	CHECK_INT(res.napplied, 0);
	CHECK_INT(res.plan.npending, 0);
	CHECK_INT(res.plan.napplied, 3);
	CHECK(res.plan.table_exists);
	migrate_result_release(&res);
	CHECK_VALUE(c, "SELECT count(*) FROM berth_schema_migrations", "3");
}

static void test_failure(struct pg_conn *c)
{
	struct migrate_result res;
	struct migrate_opts o;
	struct berr err;

	/* The second statement fails: the first one's table must not stay,
	 * the file gets no row, the next file does not run. */
	put_file("004_fail.sql", "CREATE TABLE d (id int);\n\n"
	                         "INSERT INTO nosuch VALUES (1);\n");
	put_file("005_after.sql", "CREATE TABLE e (id int);\n");
	default_opts(&o);
	CHECK_INT(apply(c, &o, &res, &err), -1);
	CHECK_STR(err.msg, "migrations/004_fail.sql: line 3: relation "
	                   "\"nosuch\" does not exist");
	CHECK_STR(res.failed, "004_fail.sql");
	CHECK_INT(res.napplied, 0);
	migrate_result_release(&res);
	CHECK_VALUE(c, "SELECT to_regclass('d') IS NULL", "t");
	CHECK_VALUE(c, "SELECT to_regclass('e') IS NULL", "t");
	CHECK_VALUE(c, "SELECT count(*) FROM berth_schema_migrations", "3");
	CHECK(!pg_in_transaction(c));

	/* A run-time error has no position: the statement gives the line. */
	put_file("004_fail.sql", "INSERT INTO a VALUES (1);\n"
	                         "INSERT INTO a VALUES (2);\n"
	                         "INSERT INTO a\n  VALUES (1);\n");
	EXPECT_APPLY(c, &o, -1, 0,
	             "migrations/004_fail.sql: line 3: duplicate key value "
	             "violates unique constraint \"a_pkey\": Key (id)=(1) "
	             "already exists");
	CHECK_VALUE(c, "SELECT count(*) FROM a", "0");

	/* Fixed: both run, in order. */
	put_file("004_fail.sql", "INSERT INTO a VALUES (1);\n");
	EXPECT_APPLY(c, &o, 0, 2, NULL);
	CHECK_VALUE(c, "SELECT count(*) FROM berth_schema_migrations", "5");
}

static void test_changed(struct pg_conn *c)
{
	struct migrate_plan plan;
	struct migrate_result res;
	struct migrate_opts o;
	struct berr err;

	put_file("002_b.sql", "CREATE TABLE b (id int);\n-- edited\n");
	put_file("006_new.sql", "CREATE TABLE f (id int);\n");
	CHECK_INT(migrate_plan(&plan, c, dir, &err), 0);
	CHECK_INT(plan.nchanged, 1);
	CHECK_INT(plan.npending, 1);
	if (plan.nchanged == 1) {
		CHECK_STR(plan.changed[0].name, "002_b.sql");
		CHECK(strcmp(plan.changed[0].applied,
		             plan.changed[0].current) != 0);
	}
	migrate_plan_release(&plan);

	default_opts(&o);
	CHECK_INT(apply(c, &o, &res, &err), -1);
	CHECK(strstr(err.msg, "'migrations/002_b.sql' changed after it was "
	                      "applied") != NULL);
	CHECK(strstr(err.msg, "nothing was migrated") != NULL);
	CHECK_INT(res.napplied, 0);
	migrate_result_release(&res);
	CHECK_VALUE(c, "SELECT to_regclass('f') IS NULL", "t");

	put_file("002_b.sql", "-- two statements\nCREATE TABLE b (id int);\n"
	                      "INSERT INTO b VALUES (1), (2);\n");
	remove_file("006_new.sql");
}

static void test_missing_and_order(struct pg_conn *c)
{
	struct migrate_result res;
	struct migrate_opts o;
	struct berr err;

	/* 001 was applied and is gone: a warning, not an error. 0035 sorts
	 * before applied files: applied anyway, flagged. */
	remove_file("001_a.sql");
	put_file("0035_late.sql", "CREATE TABLE late (id int);\n");
	default_opts(&o);
	CHECK_INT(apply(c, &o, &res, &err), 0);
	CHECK_INT(res.plan.nmissing, 1);
	if (res.plan.nmissing == 1)
		CHECK_STR(res.plan.missing[0], "001_a.sql");
	CHECK_INT(res.plan.npending, 1);
	if (res.plan.npending == 1)
		CHECK(res.plan.pending[0].out_of_order);
	CHECK_INT(res.napplied, 1);
	migrate_result_release(&res);
	put_file("001_a.sql", "CREATE TABLE a (id int PRIMARY KEY);\n");
}

static void test_refused(struct pg_conn *c)
{
	static const char *const sneaky[] = {
	    "CREATE FUNCTION begin() RETURNS int LANGUAGE sql RETURN 1;\n"
	    "COMMIT;\n",
	    "CREATE OR REPLACE FUNCTION begin() RETURNS int LANGUAGE sql "
	    "RETURN 2;\nCOMMIT;\nBEGIN;\nSELECT 1;\n",
	};
	size_t i;
	struct migrate_plan plan;
	struct migrate_opts o;
	struct berr err;

	put_file("007_txn.sql", "CREATE TABLE g (id int);\n"
	                        "COMMIT;\nBEGIN;\n");
	CHECK_INT(migrate_plan(&plan, c, dir, &err), 0);
	CHECK_INT(plan.npending, 1);
	if (plan.npending == 1)
		CHECK_STR(plan.pending[0].problem,
		          "line 2: COMMIT is not allowed: berth runs each "
		          "migration file in a transaction of its own");
	migrate_plan_release(&plan);
	default_opts(&o);
	EXPECT_APPLY(c, &o, -1, 0,
	             "migrations/007_txn.sql: line 2: COMMIT is not allowed: "
	             "berth runs each migration file in a transaction of its "
	             "own; nothing was migrated");
	CHECK_VALUE(c, "SELECT to_regclass('g') IS NULL", "t");

	put_file("007_txn.sql", "/* build it online */\n"
	                        "CREATE INDEX CONCURRENTLY a_idx ON a (id);\n");
	EXPECT_APPLY(c, &o, -1, 0,
	             "migrations/007_txn.sql: line 2: CREATE INDEX "
	             "CONCURRENTLY cannot run inside a transaction block; run "
	             "it from a \"command\" migration; nothing was migrated");

	/* Savepoints stay inside the transaction: allowed. */
	put_file("007_txn.sql", "SAVEPOINT s; CREATE TABLE g (id int);\n"
	                        "ROLLBACK TO SAVEPOINT s; RELEASE s;\n");
	EXPECT_APPLY(c, &o, 0, 1, NULL);
	CHECK_VALUE(c, "SELECT to_regclass('g') IS NULL", "t");

	/* A COMMIT the scanner cannot see (a function named "begin" opens
	 * what looks like a body) is caught afterwards, also when the file
	 * opens a new transaction after it. */
	for (i = 0; i < BERTH_ARRAY_LEN(sneaky); i++) {
		put_file("008_sneaky.sql", sneaky[i]);
		EXPECT_APPLY(c, &o, -1, 0,
		             "migrations/008_sneaky.sql: the file ended "
		             "berth's transaction (COMMIT or ROLLBACK in it): "
		             "what ran before that stays, the file is not "
		             "recorded as applied");
		CHECK_VALUE(c,
		            "SELECT count(*) FROM berth_schema_migrations "
		            "WHERE name = '008_sneaky.sql'",
		            "0");
		CHECK(!pg_in_transaction(c));
	}
	remove_file("008_sneaky.sql");
}

static void test_timeouts(struct pg_conn *c)
{
	struct pg_conn *holder = connect_or_die();
	struct migrate_opts o;
	struct berr err;

	/* Another session holds a lock the migration needs. */
	CHECK_INT(
	    pg_exec(holder, "BEGIN; LOCK TABLE a IN ACCESS SHARE MODE", &err),
	    0);
	put_file("009_alter.sql", "-- needs an exclusive lock\n"
	                          "ALTER TABLE a ADD COLUMN z int;\n");
	default_opts(&o);
	o.lock_timeout_s = 1;
	EXPECT_APPLY(c, &o, -1, 0,
	             "migrations/009_alter.sql: line 2: canceling statement "
	             "due to lock timeout (lock_timeout is 1s)");
	CHECK_INT(pg_exec(holder, "ROLLBACK", &err), 0);
	EXPECT_APPLY(c, &o, 0, 1, NULL);

	put_file("010_slow.sql", "SELECT 1;\nSELECT pg_sleep(30);\n");
	o.statement_timeout_s = 1;
	EXPECT_APPLY(c, &o, -1, 0,
	             "migrations/010_slow.sql: line 2: canceling statement "
	             "due to statement timeout (statement_timeout is 1s)");
	remove_file("010_slow.sql");
	pg_close(holder);
}

/* Waits (30 s at most) until some session waits for an advisory lock. */
static bool someone_waits_for_lock(struct pg_conn *c)
{
	int i;

	for (i = 0; i < 600; i++) {
		char *n = value(c, "SELECT count(*) FROM pg_locks WHERE "
		                   "locktype = 'advisory' AND NOT granted");
		bool yes = strcmp(n, "0") != 0;

		free(n);
		if (yes)
			return true;
		usleep(50 * 1000);
	}
	return false;
}

/* A child process that migrates and exits with the number of files it
 * applied, or 100 on failure. */
static pid_t spawn_migrator(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		struct pg_conn *c = connect_or_die();
		struct migrate_result res;
		struct migrate_opts o;
		struct berr err;
		int code;

		default_opts(&o);
		if (migrate_apply(&res, c, dir, &o, &err) != 0) {
			fprintf(stderr, "migrator %ld: %s\n", (long)getpid(),
			        err.msg);
			code = 100;
		} else {
			code = (int)res.napplied;
		}
		migrate_result_release(&res);
		pg_close(c);
		_exit(code);
	}
	return pid;
}

static int wait_code(pid_t pid)
{
	int st = 0;

	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static void test_lock(struct pg_conn *c)
{
	struct pg_conn *holder = connect_or_die();
	struct migrate_result res;
	struct migrate_opts o;
	struct berr err;
	pid_t pid;

	CHECK_INT(pg_exec(holder,
	                  "SELECT pg_advisory_lock(7090199032658487655)", &err),
	          0);
	put_file("011_x.sql", "CREATE TABLE x (id int);\n");
	put_file("012_y.sql", "CREATE TABLE y (id int);\n");

	/* With a bounded wait, a held lock ends the attempt. */
	default_opts(&o);
	o.lock_wait_s = 1;
	CHECK_INT(apply(c, &o, &res, &err), BERTH_ELOCKED);
	CHECK(strstr(err.msg, "another migrator (backend pid ") != NULL);
	CHECK(strstr(err.msg, ") has held the migration lock of this database "
	                      "for more than 1s") != NULL);
	fprintf(stderr, "locked: %s\n", err.msg);
	migrate_result_release(&res);

	/* Unbounded: the migrator waits, runs nothing meanwhile, and goes on
	 * once the lock is released. */
	pid = spawn_migrator();
	CHECK(someone_waits_for_lock(c));
	CHECK_VALUE(c, "SELECT to_regclass('x') IS NULL", "t");
	CHECK_INT(pg_exec(holder,
	                  "SELECT pg_advisory_unlock(7090199032658487655)",
	                  &err),
	          0);
	CHECK_INT(wait_code(pid), 2);
	CHECK_VALUE(c,
	            "SELECT count(*) FROM berth_schema_migrations WHERE "
	            "name IN ('011_x.sql', '012_y.sql')",
	            "2");
	pg_close(holder);
}

static void test_concurrent(struct pg_conn *c)
{
	pid_t a, b;
	int ca, cb;
	char name[32], text[64];
	int i;

	/* Two migrators race over the same ten files: each file runs once. */
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "1%02d_t.sql", i);
		snprintf(text, sizeof(text), "CREATE TABLE t%d (id int);\n", i);
		put_file(name, text);
	}
	a = spawn_migrator();
	b = spawn_migrator();
	ca = wait_code(a);
	cb = wait_code(b);
	CHECK(ca >= 0 && ca <= 10);
	CHECK(cb >= 0 && cb <= 10);
	CHECK_INT(ca + cb, 10);
	CHECK_VALUE(c,
	            "SELECT count(*) FROM berth_schema_migrations WHERE "
	            "name LIKE '1__\\_t.sql'",
	            "10");
}

static void test_sources(struct pg_conn *c)
{
	struct migrate_source files[] = {
	    {"200_z.sql", "SELECT 1;", 9},
	    {"notes.txt", "x", 1},
	    {"150_m.sql", "BEGIN;", 6},
	    {"001_a.sql", "CREATE TABLE a (id int PRIMARY KEY);\n", 37},
	};
	struct migrate_plan plan;
	struct berr err;

	/* As from Git: unordered, with other files; compared with the
	 * database without touching it. */
	CHECK_INT(migrate_plan_files(&plan, c, files, 4, &err), 0);
	CHECK_INT(plan.npending, 2);
	if (plan.npending == 2) {
		CHECK_STR(plan.pending[0].name, "150_m.sql");
		CHECK_STR(plan.pending[0].problem,
		          "line 1: BEGIN is not allowed: berth runs each "
		          "migration file in a transaction of its own");
		CHECK_STR(plan.pending[1].name, "200_z.sql");
		CHECK(!plan.pending[1].out_of_order);
	}
	CHECK_INT(plan.nchanged, 0);
	CHECK(plan.nmissing > 0);
	migrate_plan_release(&plan);

	files[1].name = "200_z.sql";
	CHECK_INT(migrate_plan_files(&plan, c, files, 4, &err), -1);
	CHECK_STR(err.msg, "migration '200_z.sql' is given twice");
	migrate_plan_release(&plan);

	CHECK(migrate_is_file_name("001_init.sql"));
	CHECK(!migrate_is_file_name(".sql"));
	CHECK(!migrate_is_file_name(".001.sql"));
	CHECK(!migrate_is_file_name("001.SQL"));
	CHECK(!migrate_is_file_name("a/001.sql"));
}

static void test_dir_errors(struct pg_conn *c)
{
	struct migrate_plan plan;
	struct migrate_result res;
	struct migrate_opts o;
	struct berr err;
	char *link, *missing;

	missing = fs_join(dir, "nosuch");
	CHECK_INT(migrate_plan(&plan, c, missing, &err), BERTH_ENOTFOUND);
	migrate_plan_release(&plan);
	default_opts(&o);
	CHECK_INT(migrate_apply(&res, c, missing, &o, &err), BERTH_ENOTFOUND);
	migrate_result_release(&res);
	free(missing);

	link = fs_join(dir, "013_link.sql");
	CHECK_INT(symlink("/etc/passwd", link), 0);
	CHECK_INT(migrate_plan(&plan, c, dir, &err), -1);
	CHECK(strstr(err.msg, "013_link.sql' is not a regular file") != NULL);
	migrate_plan_release(&plan);
	unlink(link);
	free(link);
}

int main(void)
{
	struct pg_conn *c;
	struct berr err;

	url = check_database_url("test_pg_migrate");
	/* with_pg.sh points TMPDIR into the directory it removes at the end,
	 * so a crash leaves nothing behind. */
	snprintf(dir, sizeof(dir), "%s/berth-migrate-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	c = connect_or_die();
	test_fresh(c);
	test_failure(c);
	test_changed(c);
	test_missing_and_order(c);
	test_refused(c);
	test_timeouts(c);
	test_lock(c);
	test_concurrent(c);
	test_sources(c);
	test_dir_errors(c);
	pg_close(c);
	fs_remove_tree(dir, &err);
	return check_done("test_pg_migrate");
}
