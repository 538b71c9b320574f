/*
 * test_pg_checks.c — the pre-deploy checks, each passing and failing, with
 * real parts: the private PostgreSQL cluster of tests/fixtures/with_pg.sh
 * (DATABASE_URL), real listening processes on 127.0.0.1, the real disk and
 * memory figures, and services started by the process driver.
 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth.h"
#include "check.h"
#include "manifest_fixture.h"
#include "receiver.h"
#include "service_fixture.h"

static struct sf f;
static const char *database_url;

/* The check called name in r, or NULL. */
static const struct checks_item *item(const struct checks_report *r,
                                      const char *name)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->items[i].name, name) == 0)
			return &r->items[i];
	fprintf(stderr, "no check '%s' in the report\n", name);
	return NULL;
}

/* Asserts the check's outcome and value. */
#define CHECK_ITEM(r, name, want_ok, want_value)                               \
	do {                                                                   \
		const struct checks_item *it_ = item((r), (name));             \
		CHECK(it_ != NULL);                                            \
		if (it_ != NULL) {                                             \
			CHECK_INT(it_->ok, (want_ok));                         \
			CHECK_INT(it_->skipped, false);                        \
			CHECK_STR(it_->value, (want_value));                   \
		}                                                              \
	} while (0)

static bool starts_with(const char *s, const char *prefix)
{
	return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = s ? strlen(s) : 0, k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A manifest that passes every check on this machine. */
static struct manifest *good_manifest(int port)
{
	struct manifest *m = mf_new();
	struct manifest_service *svc;

	mf_database(m, "DATABASE_URL", "migrations");
	m->checks.disk_free_pct = 1;
	m->checks.mem_free_mb = 1;
	strv_push(&m->checks.env_required, "JWT_SECRET");
	mf_build(m, (const char *const[]){"sh", "-c", "true", NULL});
	svc = mf_service(m, "web", (const char *const[]){"./service.py", NULL});
	mf_port(svc, port);
	return m;
}

static void input_init(struct checks_input *in, const struct manifest *m)
{
	memset(in, 0, sizeof(*in));
	in->m = m;
	in->manifest_valid = m != NULL;
	in->ctx = &f.ctx;
	in->migrations = CHECKS_MIGRATIONS_LOOK;
	in->release_dir = f.release;
	in->db_timeout_s = 5;
}

struct seen {
	struct buf lines;
	size_t n;
};

static void on_result(const struct checks_item *c, void *arg)
{
	struct seen *s = arg;
	char *line = checks_format(c);

	buf_printf(&s->lines, "%s\n", line);
	s->n++;
	free(line);
}

static void test_all_pass(void)
{
	int port = refused_port();
	struct manifest *m = good_manifest(port);
	struct checks_input in;
	struct checks_report r;
	struct seen seen = {{0}, 0};
	const struct checks_item *c;
	char *want;

	input_init(&in, m);
	CHECK_INT(checks_run(&r, &in, on_result, &seen), 0);
	CHECK_INT(r.failed, 0);
	/* Backups in the state dir: one filesystem, one disk check. */
	CHECK_INT(r.n, 9);
	CHECK_INT(seen.n, r.n);
	CHECK_ITEM(&r, "tools", true, "all found");
	CHECK_ITEM(&r, "env vars", true, "1 of 1 set");
	c = item(&r, "disk free");
	CHECK(c != NULL && c->ok && ends_with(c->value, "%") &&
	      strcmp(c->threshold, "≥ 1%") == 0);
	c = item(&r, "memory");
	CHECK(c != NULL && c->ok && ends_with(c->value, " MB") &&
	      strcmp(c->threshold, "≥ 1 MB") == 0);
	want = xasprintf("%d free", port);
	CHECK_ITEM(&r, "ports free", true, want);
	free(want);
	CHECK_ITEM(&r, "manifest", true, "valid");
	CHECK_ITEM(&r, "migrations", true, "'migrations' present, 2 files");
	c = item(&r, "database");
	CHECK(c != NULL && c->ok && starts_with(c->value, "postgresql://") &&
	      strstr(c->value, ", PostgreSQL 15.") != NULL &&
	      ends_with(c->value, " ms"));
	CHECK_ITEM(&r, "release dir", true, "clean");

	/* The lines as `berth validate` prints them. */
	fputs(buf_str(&seen.lines), stderr);
	CHECK(starts_with(buf_str(&seen.lines),
	                  "  ✓ tools            all found\n"
	                  "  ✓ env vars         1 of 1 set\n"
	                  "  ✓ disk free        "));
	CHECK(strstr(buf_str(&seen.lines),
	             "% (need ≥ 1%)\n  ✓ memory           ") != NULL);
	CHECK(strstr(buf_str(&seen.lines), "  ✓ release dir      clean\n") !=
	      NULL);
	buf_release(&seen.lines);
	checks_report_release(&r);
	mf_free(m);
}

static void test_thresholds(void)
{
	struct manifest *m = good_manifest(refused_port());
	const struct checks_item *c;
	struct checks_input in;
	struct checks_report r;
	char *line;

	m->checks.disk_free_pct = 100;
	m->checks.mem_free_mb = 1 << 30;
	input_init(&in, m);
	CHECK_INT(checks_run(&r, &in, NULL, NULL), -1);
	CHECK_INT(r.failed, 2);
	CHECK_INT(r.n, 9); /* every check ran */
	c = item(&r, "disk free");
	CHECK(c != NULL && !c->ok && strcmp(c->threshold, "≥ 100%") == 0);
	line = c ? checks_format(c) : NULL;
	CHECK(starts_with(line, "  ✗ disk free        "));
	CHECK(ends_with(line, "% (need ≥ 100%)"));
	free(line);
	c = item(&r, "memory");
	CHECK(c != NULL && !c->ok &&
	      strcmp(c->threshold, "≥ 1073741824 MB") == 0);
	c = item(&r, "database");
	CHECK(c != NULL && c->ok);
	checks_report_release(&r);

	/* Backups on another filesystem are measured too. */
	free(m->db.backup_dir);
	m->db.backup_dir = xstrdup("/dev/shm/berth-test-no-such-dir");
	m->checks.disk_free_pct = 1;
	m->checks.mem_free_mb = 1;
	{
		struct stat a, b;

		CHECK(stat("/dev/shm", &a) == 0 && stat(f.tmp, &b) == 0 &&
		      a.st_dev != b.st_dev);
	}
	CHECK_INT(checks_run(&r, &in, NULL, NULL), 0);
	CHECK_INT(r.n, 10);
	c = item(&r, "backup disk free");
	CHECK(c != NULL && c->ok && strcmp(c->threshold, "≥ 1%") == 0);
	checks_report_release(&r);
	mf_free(m);
}

static void test_tools_and_env(void)
{
	struct manifest *m = good_manifest(refused_port());
	char *empty_dir = fs_join(f.tmp, "empty-bin");
	struct checks_input in;
	struct checks_report r;
	struct berr err;

	mf_build(m, (const char *const[]){"berth-missing-tool", NULL});
	strv_push(&m->checks.env_required, "MISSING_ONE");
	strv_push(&m->checks.env_required, "EMPTY_ONE");
	kvlist_set(&f.vars, "EMPTY_ONE", "");
	input_init(&in, m);
	CHECK_INT(checks_run(&r, &in, NULL, NULL), -1);
	CHECK_INT(r.failed, 2);
	CHECK_ITEM(&r, "tools", false, "missing: berth-missing-tool");
	CHECK_ITEM(&r, "env vars", false,
	           "missing: MISSING_ONE; empty: EMPTY_ONE");
	checks_report_release(&r);

	/* Programs are looked for on the PATH the commands will get: the
	 * env file's here. The database tools too. */
	fs_mkdir_p(empty_dir, 0755, &err);
	kvlist_set(&f.vars, "PATH", empty_dir);
	CHECK_INT(checks_run(&r, &in, NULL, NULL), -1);
	CHECK_ITEM(&r, "tools", false,
	           "missing: sh, berth-missing-tool, pg_dump, pg_restore");
	checks_report_release(&r);

	m->db.backup_format = MANIFEST_BACKUP_PLAIN;
	m->db.migrations = MANIFEST_MIGRATIONS_COMMAND;
	strv_push(&m->db.migrate_command, "npx");
	CHECK_INT(checks_run(&r, &in, NULL, NULL), -1);
	CHECK_ITEM(&r, "tools", false,
	           "missing: sh, berth-missing-tool, pg_dump, psql, npx");
	CHECK_ITEM(&r, "migrations", true, "run by a command");
	checks_report_release(&r);

	kvlist_release(&f.vars);
	kvlist_init(&f.vars);
	kvlist_set(&f.vars, "JWT_SECRET", "not shown anywhere");
	kvlist_set(&f.vars, "DATABASE_URL", database_url);
	free(empty_dir);
	mf_free(m);
}

static void test_ports(void)
{
	int held = refused_port(), own = refused_port();
	char held_s[16], own_s[16], *want, *log = fs_join(f.tmp, "other.log");
	struct manifest *m = good_manifest(own);
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct service_live *live = NULL;
	const struct checks_item *c;
	struct checks_input in;
	struct checks_report r;
	struct kvlist env;
	struct berr err;
	bool killed;
	size_t n = 0;
	pid_t other = -1;

	snprintf(held_s, sizeof(held_s), "%d", held);
	snprintf(own_s, sizeof(own_s), "%d", own);

	/* Another process listens on a port the manifest wants free. */
	kvlist_init(&env);
	spawn_env_base(&env);
	o.argv =
	    (const char *const[]){"python3", "tests/fixtures/test_service.py",
	                          "--port", held_s, NULL};
	o.env = &env;
	CHECK_INT(spawn_detached(&other, &o, log, &err), 0);
	want = xasprintf("listening on %d", held);
	CHECK(sf_wait_for_text(log, want));
	free(want);

	/* The current release's service listens on the service's port. */
	strv_push(&m->services[0].command, "--port");
	strv_push(&m->services[0].command, own_s);
	strv_push(&m->services[0].command, "--child");
	CHECK_INT(driver_process.start(&f.ctx, m, &m->services[0], f.release,
	                               SF_COMMIT, &err),
	          0);
	want = fs_join(f.tmp, "state/envs/test/logs/web.log");
	{
		char *text = xasprintf("listening on %d", own);

		CHECK(sf_wait_for_text(want, text));
		free(text);
	}
	free(want);
	CHECK_INT(driver_process.live(&live, &n, &f.ctx, &err), 0);

	m->checks.ports_free = xcalloc(1, sizeof(int));
	m->checks.ports_free[0] = held;
	m->checks.nports_free = 1;
	input_init(&in, m);
	in.current = live;
	in.ncurrent = n;
	CHECK_INT(checks_run(&r, &in, NULL, NULL), -1);
	CHECK_INT(r.failed, 1);
	c = item(&r, "ports free");
	want = xasprintf("%d in use by pid %d (", held, (int)other);
	CHECK(c != NULL && !c->ok && starts_with(c->value, want));
	free(want);
	checks_report_release(&r);

	/* Without the other process, the port the current release holds is
	 * not busy: the pipeline stops it before starting the new one. */
	spawn_stop_group(other, 5000, &killed, &err);
	CHECK_INT(checks_run(&r, &in, NULL, NULL), 0);
	want = xasprintf("%d free, %d held by the current release",
	                 held < own ? held : own, own);
	if (held > own) {
		free(want);
		want = xasprintf("%d held by the current release, %d free", own,
		                 held);
	}
	CHECK_ITEM(&r, "ports free", true, want);
	free(want);
	checks_report_release(&r);

	/* Unless berth does not know it as the current release. */
	in.current = NULL;
	in.ncurrent = 0;
	CHECK_INT(checks_run(&r, &in, NULL, NULL), -1);
	c = item(&r, "ports free");
	want = xasprintf("%d in use by pid %d (", own, live ? live[0].pid : 0);
	CHECK(c != NULL && !c->ok && starts_with(c->value, want));
	free(want);
	checks_report_release(&r);

	driver_process.stop(&killed, &f.ctx, "web", 5, &err);
	driver_live_free(live, n);
	kvlist_release(&env);
	free(log);
	mf_free(m);
}

static void test_manifest_and_migrations(void)
{
	struct manifest *m = good_manifest(refused_port());
	struct checks_input in;
	struct checks_report r;
	size_t i;

	input_init(&in, m);
	in.manifest_valid = false;
	in.manifest_error = "berth.json: $.services.web.command[0]: "
	                    "\"./bin/web\" does not exist in the release";
	CHECK_INT(checks_run(&r, &in, NULL, NULL), -1);
	CHECK_INT(r.failed, 1);
	CHECK_ITEM(&r, "manifest", false, in.manifest_error);
	checks_report_release(&r);

	/* No manifest at all: what needs it is not checked. */
	input_init(&in, NULL);
	in.manifest_error = "berth.json: line 1 column 1: '[' or '{' expected";
	CHECK_INT(checks_run(&r, &in, NULL, NULL), -1);
	CHECK_INT(r.failed, 1);
	CHECK_INT(r.n, 9);
	for (i = 0; i < r.n; i++) {
		bool needs_manifest =
		    strcmp(r.items[i].name, "manifest") != 0 &&
		    strcmp(r.items[i].name, "release dir") != 0;

		CHECK_INT(r.items[i].skipped, needs_manifest);
	}
	{
		char *line = checks_format(item(&r, "tools"));

		CHECK_STR(line,
		          "  - tools            not checked: the manifest "
		          "is not valid");
		free(line);
	}
	checks_report_release(&r);

	input_init(&in, m);
	free(m->db.sql_dir);
	m->db.sql_dir = xstrdup("db/migrations");
	CHECK_INT(checks_run(&r, &in, NULL, NULL), -1);
	CHECK_ITEM(&r, "migrations", false,
	           "'db/migrations' not found in the release");
	checks_report_release(&r);
	in.migrations = CHECKS_MIGRATIONS_MISSING;
	CHECK_INT(checks_run(&r, &in, NULL, NULL), -1);
	CHECK_ITEM(&r, "migrations", false,
	           "'db/migrations' not found at the commit");
	checks_report_release(&r);
	in.migrations = CHECKS_MIGRATIONS_PRESENT;
	in.release_dir = NULL;
	CHECK_INT(checks_run(&r, &in, NULL, NULL), 0);
	CHECK_ITEM(&r, "migrations", true, "'db/migrations' present");
	checks_report_release(&r);
	mf_free(m);
}

static void test_database(void)
{
	struct manifest *m = good_manifest(refused_port());
	int port = refused_port();
	char *url =
	    xasprintf("postgresql://berth:s3cret-pw@127.0.0.1:%d/pos", port);
	const struct checks_item *c;
	struct checks_input in;
	struct checks_report r;
	char *want;

	input_init(&in, m);
	kvlist_set(&f.vars, "DATABASE_URL", url);
	CHECK_INT(checks_run(&r, &in, NULL, NULL), -1);
	CHECK_INT(r.failed, 1);
	c = item(&r, "database");
	want = xasprintf("cannot connect to postgresql://127.0.0.1:%d/pos: ",
	                 port);
	CHECK(c != NULL && !c->ok && starts_with(c->value, want));
	CHECK(c != NULL && strstr(c->value, "s3cret") == NULL);
	free(want);
	checks_report_release(&r);

	kvlist_release(&f.vars);
	kvlist_init(&f.vars);
	kvlist_set(&f.vars, "JWT_SECRET", "not shown anywhere");
	CHECK_INT(checks_run(&r, &in, NULL, NULL), -1);
	CHECK_ITEM(&r, "database", false,
	           "DATABASE_URL is not set in the env file");
	checks_report_release(&r);
	kvlist_set(&f.vars, "DATABASE_URL", database_url);

	/* No database section: nothing to reach. */
	m->db.present = false;
	CHECK_INT(checks_run(&r, &in, NULL, NULL), 0);
	CHECK_ITEM(&r, "database", true, "none configured");
	CHECK_ITEM(&r, "migrations", true, "none configured");
	checks_report_release(&r);
	free(url);
	mf_free(m);
}

static void test_release_dir(void)
{
	struct manifest *m = good_manifest(refused_port());
	char *releases = state_path(&f.st, "releases");
	char *dead_dir, *live_dir, *stray, *want;
	struct checks_input in;
	struct checks_report r;
	struct berr err;
	int status;
	pid_t dead = fork();

	if (dead == 0)
		_exit(0);
	waitpid(dead, &status, 0);
	/* Left by an export that was killed, and by one that runs now. */
	dead_dir =
	    xasprintf("%s/%s.tmp.%d", releases,
	              "89abcdef0123456789abcdef0123456789abcdef", (int)dead);
	live_dir = xasprintf("%s/%s.tmp.%d", releases,
	                     "fedcba9876543210fedcba9876543210fedcba98",
	                     (int)getppid());
	stray = fs_join(releases, "README");
	fs_mkdir_p(dead_dir, 0755, &err);
	fs_mkdir_p(live_dir, 0755, &err);
	sf_write(stray, "hello\n", 0644);

	input_init(&in, m);
	CHECK_INT(checks_run(&r, &in, NULL, NULL), -1);
	CHECK_INT(r.failed, 1);
	CHECK(!fs_exists(dead_dir));
	want =
	    xasprintf("export 'fedcba9876543210fedcba9876543210fedcba98.tmp.%d'"
	              " in progress (pid %d)",
	              (int)getppid(), (int)getppid());
	{
		const struct checks_item *c = item(&r, "release dir");

		CHECK(c != NULL && !c->ok && strstr(c->value, want) != NULL &&
		      strstr(c->value, "unexpected 'README'") != NULL);
	}
	free(want);
	checks_report_release(&r);

	fs_remove_tree(live_dir, &err);
	unlink(stray);
	fs_mkdir_p(dead_dir, 0755, &err);
	CHECK_INT(checks_run(&r, &in, NULL, NULL), 0);
	CHECK_ITEM(&r, "release dir", true,
	           "clean (removed 1 leftover export)");
	CHECK(!fs_exists(dead_dir));
	CHECK(fs_is_dir(f.release));
	checks_report_release(&r);

	free(dead_dir);
	free(live_dir);
	free(stray);
	free(releases);
	mf_free(m);
}

int main(void)
{
	char *dir, *file;

	database_url = check_database_url("test_pg_checks");
	sf_setup(&f, "test_pg_checks");
	kvlist_set(&f.vars, "JWT_SECRET", "not shown anywhere");
	kvlist_set(&f.vars, "DATABASE_URL", database_url);
	dir = fs_join(f.release, "migrations");
	fs_mkdir_p(dir, 0755, &(struct berr){0});
	file = fs_join(dir, "001_a.sql");
	sf_write(file, "select 1;\n", 0644);
	free(file);
	file = fs_join(dir, "002_b.sql");
	sf_write(file, "select 2;\n", 0644);
	free(file);
	free(dir);

	test_all_pass();
	test_thresholds();
	test_tools_and_env();
	test_ports();
	test_manifest_and_migrations();
	test_database();
	test_release_dir();
	sf_teardown(&f);
	return check_done("test_pg_checks");
}
