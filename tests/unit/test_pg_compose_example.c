/*
 * test_pg_compose_example.c — the example app's compose variant
 * (contrib/example-app: Dockerfile, docker-compose.yml, berth.compose.json)
 * through the compose driver, on the real Docker engine, against a private
 * PostgreSQL on the host (tests/fixtures/with_pg.sh sets DATABASE_URL): its
 * build command collects the binary's libraries, compose builds the FROM
 * scratch image, the container starts with host networking and answers
 * /health with the database reachable. Everything it made is removed.
 */
#include <unistd.h>

#include "berth.h"
#include "check.h"
#include "receiver.h"
#include "service_fixture.h"

#define COMMIT "abcdefabcdefabcdefabcdefabcdefabcdefabcd"

static void fail(const char *what, const char *why)
{
	fprintf(stderr, "FAIL: %s: %s\n", what, why);
	exit(1);
}

/* Copies the example app's sources into release. */
static void copy_app(const char *release)
{
	static const char *const files[] = {
	    "Makefile",           "VERSION",           "src",
	    "migrations",         "Dockerfile",        ".dockerignore",
	    "docker-compose.yml", "berth.compose.json"};
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct spawn_result r;
	struct kvlist env;
	struct berr err;
	const char *argv[16] = {"cp", "-r"};
	char *paths[BERTH_ARRAY_LEN(files)];
	size_t i, n = 2;

	for (i = 0; i < BERTH_ARRAY_LEN(files); i++) {
		paths[i] = fs_join("contrib/example-app", files[i]);
		argv[n++] = paths[i];
	}
	argv[n++] = release;
	argv[n] = NULL;
	kvlist_init(&env);
	spawn_env_base(&env);
	o.argv = argv;
	o.env = &env;
	if (spawn_run(&r, &o, &err) < 0 || r.exit_code != 0)
		fail("cp", buf_str(&r.output));
	spawn_result_release(&r);
	kvlist_release(&env);
	for (i = 0; i < BERTH_ARRAY_LEN(files); i++)
		free(paths[i]);
}

static struct manifest *parse(const struct kvlist *vars, const char *release)
{
	struct manifest_ctx mctx = {"berth.compose.json", vars, NULL};
	struct merrs errs = {0};
	struct manifest *m;
	char *path = fs_join(release, "berth.compose.json"), *text;
	size_t i;

	text = sf_read(path);
	m = manifest_parse(text, strlen(text), &mctx, &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.items[i]);
	if (m == NULL)
		fail("berth.compose.json", "does not parse");
	merrs_release(&errs);
	free(text);
	free(path);
	return m;
}

int main(void)
{
	const char *db = getenv("DATABASE_URL");
	struct service_live *l = NULL;
	struct strv keep = {0}, removed = {0};
	struct driver_ctx ctx = {0};
	struct health_result hr;
	struct kvlist vars;
	struct state st;
	struct berr err;
	struct buf out;
	struct docker d;
	char *tmp, *dir, *release, *url, *body, port_s[16];
	size_t n = 0;
	long status;
	bool killed;
	struct manifest *m;

	if (db == NULL)
		fail("DATABASE_URL", "not set (run through with_pg.sh)");
	tmp = check_tempdir("test_pg_compose_example");
	dir = fs_join(tmp, "state");
	if (state_open(&st, dir, "production", &err) < 0)
		fail("state", err.msg);
	release = state_path(&st, "releases/" COMMIT);
	if (fs_mkdir_p(release, 0755, &err) < 0)
		fail("mkdir", err.msg);
	copy_app(release);
	if (docker_init(&d, NULL, &err) < 0 || docker_ping(&d, &err) < 0)
		fail("the docker engine does not answer (run contrib/test.sh, "
		     "which installs docker.io and starts dockerd)",
		     err.msg);
	docker_release(&d);

	kvlist_init(&vars);
	snprintf(port_s, sizeof(port_s), "%d", refused_port());
	kvlist_set(&vars, "PORT", port_s);
	kvlist_set(&vars, "DATABASE_URL", db);
	ctx.st = &st;
	ctx.vars = &vars;
	m = parse(&vars, release);
	free(m->compose_project);
	m->compose_project = xasprintf("berthexample%d", (int)getpid());

	buf_init(&out, 0);
	if (driver_compose.build(&out, &ctx, m, release, &err) < 0)
		fail("build", err.msg);
	buf_release(&out);
	if (driver_compose.start(&ctx, m, manifest_service(m, "backend"),
	                         release, COMMIT, &err) < 0)
		fail("start", err.msg);
	CHECK_INT(driver_wait_healthy(&hr, &driver_compose, &ctx,
	                              manifest_service(m, "backend")),
	          0);
	body = health_describe(&hr, "backend");
	fprintf(stderr, "%s\n", body);
	free(body);
	health_result_release(&hr);

	/* It reaches the database on the host. */
	url = xasprintf("http://127.0.0.1:%s/health", port_s);
	body = sf_get(&status, url);
	CHECK_INT(status, 200);
	CHECK(body != NULL && strstr(body, "\"database\":\"ok\"") != NULL);
	CHECK(body != NULL && strstr(body, "\"version\":\"1.0.0\"") != NULL);
	free(body);
	free(url);
	CHECK_INT(driver_compose.live(&l, &n, &ctx, &err), 0);
	CHECK_INT(n, 1);
	CHECK(n == 1 && l[0].running &&
	      strcmp(l[0].hash, manifest_service(m, "backend")->hash) == 0);
	driver_live_free(l, n);

	CHECK_INT(driver_compose.stop(&killed, &ctx, "backend", 15, &err), 0);
	CHECK(!killed);
	CHECK_INT(driver_compose.cleanup(&removed, &ctx, m, &keep, &err), 0);
	CHECK_INT(removed.n, 1);
	strv_release(&removed);

	manifest_free(m);
	kvlist_release(&vars);
	state_close(&st);
	fs_remove_tree(tmp, &err);
	free(release);
	free(dir);
	free(tmp);
	return check_done("test_pg_compose_example");
}
