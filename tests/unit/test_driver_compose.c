/*
 * test_driver_compose.c — the compose driver against the real Docker
 * engine and the compose of this host: three releases of a small static
 * HTTP server (tests/fixtures/compose_service.c) in FROM scratch images,
 * built, started, replaced, found unhealthy, started again without a
 * rebuild, removed and replaced by hand, cleaned up. Containers use host
 * networking and are reached on 127.0.0.1. Everything the test creates
 * carries a project name of its own and is removed at the end.
 *
 * Needs a docker engine that answers and docker compose or docker-compose
 * (contrib/test.sh installs docker.io and docker-compose and starts
 * dockerd); without them it fails saying so.
 */
#include <unistd.h>

#include "berth.h"
#include "check.h"
#include "receiver.h"
#include "service_fixture.h"

#define C1 "1111111111111111111111111111111111111111"
#define C2 "2222222222222222222222222222222222222222"
#define C3 "3333333333333333333333333333333333333333"

static char *tmp, *srv, project[64];
static struct state st;
static struct kvlist vars;
static struct driver_ctx ctx;
static int port;

static void fail(const char *what, const char *why)
{
	fprintf(stderr, "FAIL: %s: %s\n", what, why);
	exit(1);
}

/* Runs argv (NULL-terminated) with berth's base environment; its output
 * into *out (new) when out is not NULL. Returns the exit code. */
static int sh(char **out, const char *const *argv)
{
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct spawn_result r;
	struct kvlist env;
	struct berr err;
	int code = -1;

	kvlist_init(&env);
	spawn_env_base(&env);
	o.argv = argv;
	o.env = &env;
	o.timeout_ms = 300000;
	if (spawn_run(&r, &o, &err) == 0)
		code = r.exit_code;
	else
		fprintf(stderr, "%s\n", err.msg);
	if (out != NULL)
		*out = xstrdup(buf_str(&r.output));
	else if (code != 0)
		fprintf(stderr, "%s\n", buf_str(&r.output));
	spawn_result_release(&r);
	kvlist_release(&env);
	return code;
}

static const char *compose_yml(bool healthy)
{
	return healthy ? "version: \"3.7\"\n"
	                 "services:\n"
	                 "  web:\n"
	                 "    build: .\n"
	                 "    network_mode: host\n"
	                 "    stop_grace_period: 5s\n"
	                 "    environment:\n"
	                 "      PORT: \"${WEB_PORT}\"\n"
	                 "      SECRET: \"${SECRET}\"\n"
	               : "version: \"3.7\"\n"
	                 "services:\n"
	                 "  web:\n"
	                 "    build: .\n"
	                 "    network_mode: host\n"
	                 "    environment:\n"
	                 "      PORT: \"${WEB_PORT}\"\n"
	                 "      HEALTHY: \"0\"\n";
}

/* releases/<commit> holding the server, a Dockerfile and the compose
 * file; the image says `version` at /version. */
static char *make_release(const char *commit, const char *version, bool healthy)
{
	char *rel = xasprintf("releases/%s", commit);
	char *dir = state_path(&st, rel), *p;
	const char *cp[] = {"cp", srv, dir, NULL};
	struct berr err;

	if (fs_mkdir_p(dir, 0755, &err) < 0)
		fail("mkdir", err.msg);
	if (sh(NULL, cp) != 0)
		fail("cp", "cannot copy the server into the release");
	p = fs_join(dir, "version");
	sf_write(p, version, 0644);
	free(p);
	p = fs_join(dir, "Dockerfile");
	sf_write(p,
	         "FROM scratch\n"
	         "COPY srv /srv\n"
	         "COPY version /version\n"
	         "HEALTHCHECK --interval=1s --timeout=2s --retries=2 "
	         "CMD [\"/srv\", \"--check\"]\n"
	         "CMD [\"/srv\"]\n",
	         0644);
	free(p);
	p = fs_join(dir, "docker-compose.yml");
	sf_write(p, compose_yml(healthy), 0644);
	free(p);
	free(rel);
	return dir;
}

static struct manifest *parse_with(bool http_health, int free_port);

static struct manifest *parse(bool http_health)
{
	return parse_with(http_health, 0);
}

/* With free_port > 0, checks.ports_free holds it. */
static struct manifest *parse_with(bool http_health, int free_port)
{
	struct manifest_ctx mctx = {"berth.json", &vars, "envhash"};
	struct merrs errs = {0};
	struct manifest *m;
	char checks[64] = "";
	char *json;
	size_t i;

	if (free_port > 0)
		snprintf(checks, sizeof(checks),
		         ",\n \"checks\": {\"ports_free\": [%d]}", free_port);
	json = xasprintf(
	    "{\"version\": 1, \"app\": \"shop\", \"driver\": \"compose\",\n"
	    " \"compose\": {\"project\": \"%s\"},\n"
	    " \"services\": {\"web\": {\"env\": {\"GREETING\": \"hello\"},\n"
	    "   %s \"stop_timeout_s\": 5, \"ports\": [%d]}}%s}\n",
	    project,
	    http_health ? "\"health\": {\"http\": "
	                  "\"http://127.0.0.1:${WEB_PORT}/health\", "
	                  "\"interval_s\": 1, \"start_period_s\": 30},"
	                : "",
	    port, checks);
	m = manifest_parse(json, strlen(json), &mctx, &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.items[i]);
	if (m == NULL)
		fail("manifest", "does not parse");
	merrs_release(&errs);
	free(json);
	return m;
}

static char *get(const char *path, long *status)
{
	char *url = xasprintf("http://127.0.0.1:%d%s", port, path);
	char *body = sf_get(status, url);

	free(url);
	return body ? body : xstrdup("");
}

/* get() until the server answers (a container started by hand is not
 * waited for). */
static char *wait_get(const char *path, long *status)
{
	int64_t deadline = strnum_mono_ms() + SF_WAIT_MS;
	char *body;

	for (;;) {
		body = get(path, status);
		if (*status != 0 || strnum_mono_ms() > deadline)
			return body;
		free(body);
		sf_sleep_ms(100);
	}
}

static void expect_body(const char *path, const char *want)
{
	long status;
	char *body = get(path, &status);

	CHECK_INT(status, 200);
	CHECK_STR(body, want);
	free(body);
}

/* The one service live() reports, or fails. */
static struct service_live *live_one(size_t *n)
{
	struct service_live *l = NULL;
	struct berr err;

	*n = 0;
	if (driver_compose.live(&l, n, &ctx, &err) < 0)
		fail("live", err.msg);
	CHECK_INT(*n, 1);
	if (*n != 1)
		exit(1);
	CHECK_STR(l[0].name, "web");
	return l;
}

static char *image_id(const char *commit)
{
	char *ref = compose_image(project, "web", commit), *out = NULL;
	const char *argv[] = {"docker",  "image", "inspect", "-f",
	                      "{{.Id}}", ref,     NULL};

	if (sh(&out, argv) != 0) {
		free(out);
		out = xstrdup("");
	}
	out[strcspn(out, "\n")] = '\0';
	free(ref);
	return out;
}

/* Runs `--env PGPASSWORD` in the web container through
 * driver_compose_exec_argv, PGPASSWORD passed by name; its output (new). */
static char *exec_in_web(const struct manifest *m, const char *release)
{
	const char *const pass[] = {"PGPASSWORD", NULL};
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct spawn_result r;
	struct strv argv = {0};
	struct kvlist env;
	struct berr err;
	char *out;
	size_t i;

	kvlist_init(&env);
	driver_env(&env, &vars, NULL);
	kvlist_set(&env, "PGPASSWORD", "from the environment");
	CHECK_INT(driver_compose_exec_argv(&argv, m, release, "web", pass, &env,
	                                   &err),
	          0);
	for (i = 0; i < argv.n; i++)
		CHECK(strstr(argv.v[i], "from the environment") == NULL);
	strv_push(&argv, "/srv");
	strv_push(&argv, "--env");
	strv_push(&argv, "PGPASSWORD");
	o.argv = (const char *const *)argv.v;
	o.env = &env;
	o.cwd = release;
	CHECK_INT(spawn_run(&r, &o, &err), 0);
	CHECK_INT(r.exit_code, 0);
	out = xstrdup(buf_str(&r.output));
	spawn_result_release(&r);
	strv_release(&argv);
	kvlist_release(&env);
	return out;
}

static void start_healthy(const struct manifest *m, const char *release,
                          const char *commit)
{
	const struct manifest_service *svc = manifest_service(m, "web");
	struct health_result hr;
	struct berr err;
	char *text;

	if (driver_compose.start(&ctx, m, svc, release, commit, &err) < 0)
		fail("start", err.msg);
	CHECK_INT(driver_wait_healthy(&hr, &driver_compose, &ctx, svc), 0);
	text = health_describe(&hr, "web");
	fprintf(stderr, "%s\n", text);
	CHECK(strstr(text, "web healthy in") != NULL);
	free(text);
	health_result_release(&hr);
}

static void stop_web(void)
{
	struct berr err;
	bool killed = true;

	if (driver_compose.stop(&killed, &ctx, "web", 5, &err) < 0)
		fail("stop", err.msg);
	CHECK(!killed);
}

static void build(const struct manifest *m, const char *release)
{
	struct buf out;
	struct berr err;

	buf_init(&out, 0);
	if (driver_compose.build(&out, &ctx, m, release, &err) < 0)
		fail("build", err.msg);
	buf_release(&out);
}

/* The port check, with the live services as the current release. */
static bool port_free(const struct manifest *m, const struct service_live *l,
                      size_t n, char **value)
{
	struct checks_input in = {0};
	struct checks_report r;
	size_t i;
	bool ok = false;

	in.m = m;
	in.manifest_valid = true;
	in.driver = &driver_compose;
	in.ctx = &ctx;
	in.current = l;
	in.ncurrent = n;
	checks_run(&r, &in, NULL, NULL);
	for (i = 0; i < r.n; i++)
		if (strcmp(r.items[i].name, "ports free") == 0) {
			ok = r.items[i].ok;
			*value = xstrdup(r.items[i].value);
		}
	checks_report_release(&r);
	return ok;
}

static void test_tools(const struct manifest *m)
{
	struct strv missing = {0};
	struct berr err;

	CHECK_INT(driver_compose.check_tools(&missing, &ctx, m, &err), 0);
	CHECK_INT(missing.n, 0);
	strv_release(&missing);
}

static void test_deploys(void)
{
	struct manifest *m1 = parse(true), *m3 = parse(false);
	char *r1 = make_release(C1, "v1", true),
	     *r2 = make_release(C2, "v2", true);
	char *r3 = make_release(C3, "v3", false);
	char *override, *text, *value = NULL, *id2, *log = NULL;
	const struct manifest_service *svc = manifest_service(m1, "web");
	struct service_live *l;
	struct health_result hr;
	struct buf out;
	struct berr err;
	size_t n;
	long status;

	test_tools(m1);

	/* v1: built with the commit's tag, started, labelled, serving. */
	build(m1, r1);
	text = image_id(C1);
	CHECK(strncmp(text, "sha256:", 7) == 0);
	free(text);
	start_healthy(m1, r1, C1);
	expect_body("/version", "v1");
	expect_body("/env/SECRET", "s3cret value");
	expect_body("/env/GREETING", "hello");
	override = state_path(&st, "compose/" C1 ".yml");
	text = sf_read(override);
	CHECK(strstr(text, "berth.hash") != NULL);
	CHECK(strstr(text, "GREETING") != NULL);
	CHECK(strstr(text, "hello") == NULL);
	CHECK(strstr(text, "s3cret") == NULL);
	free(text);
	free(override);
	l = live_one(&n);
	CHECK(l[0].running);
	CHECK_STR(l[0].hash, svc->hash);
	CHECK_STR(l[0].commit, C1);
	CHECK_STR(l[0].health, "healthy");
	CHECK(l[0].pid > 1);
	CHECK(l[0].image != NULL && strncmp(l[0].image, "sha256:", 7) == 0);
	CHECK(strncmp(l[0].detail, "running, healthy (container ", 28) == 0);

	/* The port is held by the current release's container. */
	CHECK(port_free(m1, l, n, &value));
	CHECK(value != NULL && strstr(value, "held by the current release"));
	free(value);
	CHECK(!port_free(m1, NULL, 0, &value));
	CHECK(value != NULL && strstr(value, "in use by pid") != NULL);
	free(value);
	driver_live_free(l, n);

	/* Its log, from the Engine API. */
	buf_init(&out, 0);
	CHECK_INT(driver_compose.logs(&out, &ctx, "web", 10, &err), 0);
	text = xasprintf("listening on %d\n", port);
	CHECK(strstr(buf_str(&out), text) != NULL);
	free(text);
	buf_release(&out);

	/* A second start is refused while it runs. */
	CHECK(driver_compose.start(&ctx, m1, svc, r1, C1, &err) < 0);
	CHECK(strstr(err.msg, "already running") != NULL);

	/* Inside the container: the argv prefix for backups and
	 * migrations, passing a variable by name. */
	text = exec_in_web(m1, r1);
	CHECK_STR(text, "PGPASSWORD=from the environment\n");
	free(text);

	/* v2 replaces it. */
	build(m1, r2);
	stop_web();
	start_healthy(m1, r2, C2);
	expect_body("/version", "v2");
	l = live_one(&n);
	CHECK_STR(l[0].commit, C2);
	id2 = image_id(C2);
	CHECK_STR(l[0].image, id2);
	driver_live_free(l, n);

	/* v3 never becomes healthy: its container's own check says so. */
	build(m3, r3);
	stop_web();
	if (driver_compose.start(&ctx, m3, manifest_service(m3, "web"), r3, C3,
	                         &err) < 0)
		fail("start v3", err.msg);
	CHECK_INT(driver_wait_healthy(&hr, &driver_compose, &ctx,
	                              manifest_service(m3, "web")),
	          -1);
	CHECK(hr.verdict_failed);
	text = health_describe(&hr, "web");
	fprintf(stderr, "%s\n", text);
	CHECK(strstr(text, "web unhealthy (") != NULL);
	CHECK(strstr(text, "health check says unhealthy") != NULL);
	free(text);
	health_result_release(&hr);
	free(get("/health", &status));
	CHECK_INT(status, 503);

	/* Back to v2 (what the pipeline's rollback does): its image is
	 * still there, nothing is rebuilt. */
	stop_web();
	start_healthy(m1, r2, C2);
	expect_body("/version", "v2");
	l = live_one(&n);
	CHECK_STR(l[0].image, id2);
	CHECK_STR(l[0].commit, C2);
	driver_live_free(l, n);

	free(id2);
	free(log);
	free(r1);
	free(r2);
	free(r3);
	manifest_free(m1);
	manifest_free(m3);
}

/* docker run with compose's labels, as someone would by hand. */
static void run_by_hand(const char *hash_label)
{
	char *image = compose_image(project, "web", C2);
	char *plabel = xasprintf("com.docker.compose.project=%s", project);
	char *penv = xasprintf("PORT=%d", port);
	char *hlabel = xasprintf("berth.hash=%s", hash_label ? hash_label : "");
	const char *argv[] = {"docker",
	                      "run",
	                      "-d",
	                      "--network",
	                      "host",
	                      "--label",
	                      plabel,
	                      "--label",
	                      "com.docker.compose.service=web",
	                      "-e",
	                      penv,
	                      hash_label ? "--label" : image,
	                      hash_label ? hlabel : NULL,
	                      image,
	                      NULL};

	CHECK_INT(sh(NULL, argv), 0);
	free(hlabel);
	free(penv);
	free(plabel);
	free(image);
}

static void remove_containers(void)
{
	struct docker_container *cs = NULL;
	struct docker d;
	struct berr err;
	size_t i, n = 0;

	if (docker_init(&d, &vars, &err) == 0 &&
	    docker_list(&cs, &n, &d, project, NULL, &err) == 0)
		for (i = 0; i < n; i++)
			docker_remove(&d, &cs[i], &err);
	docker_containers_free(cs, n);
	docker_release(&d);
}

static void test_by_hand(void)
{
	struct manifest *m = parse(true);
	struct service_live *l;
	struct berr err;
	size_t n;
	long status;
	char *body;

	/* Removed by hand: no longer running. */
	remove_containers();
	l = live_one(&n);
	CHECK(!l[0].running);
	CHECK_STR(l[0].detail, "not running: its container is gone");
	driver_live_free(l, n);

	/* Started by hand without berth's labels. */
	run_by_hand(NULL);
	l = live_one(&n);
	CHECK(l[0].hash == NULL);
	CHECK(strstr(l[0].detail, "not started by berth") != NULL);
	CHECK(l[0].changed != NULL &&
	      strncmp(l[0].changed, "container ", 10) == 0);
	driver_live_free(l, n);
	remove_containers();

	/* Started by hand with other settings and a berth.hash label: what
	 * the engine says it runs is not what berth started, so the label
	 * is not believed. */
	run_by_hand(
	    "0000000000000000000000000000000000000000000000000000000000000000");
	l = live_one(&n);
	CHECK(l[0].running);
	CHECK(l[0].hash == NULL);
	CHECK(l[0].changed != NULL &&
	      strncmp(l[0].changed, "container ", 10) == 0);
	if (l[0].changed != NULL)
		printf("changed by hand: %s\n", l[0].changed);
	driver_live_free(l, n);
	body = wait_get("/version", &status);
	CHECK_INT(status, 200);
	CHECK_STR(body, "v2");
	free(body);

	/* stop takes down whatever runs as the service. */
	CHECK_INT(driver_compose.stop(&(bool){false}, &ctx, "web", 5, &err), 0);
	CHECK_INT(driver_compose.live(&l, &n, &ctx, &err), 0);
	CHECK_INT(n, 0);
	driver_live_free(l, n);
	CHECK_INT(driver_compose.stop(&(bool){false}, &ctx, "web", 5, &err),
	          BERTH_ENOTFOUND);
	manifest_free(m);
}

/* A container of the project on the bridge network, its port published
 * on 127.0.0.1 through docker-proxy: held by the current release when it
 * is one of the current services. */
static void test_proxied_port(void)
{
	int published = refused_port();
	struct manifest *m = parse_with(true, published);
	char *image = compose_image(project, "web", C2);
	char *plabel = xasprintf("com.docker.compose.project=%s", project);
	char *publish = xasprintf("127.0.0.1:%d:8080", published);
	const char *argv[] = {
	    "docker", "run",     "-d",
	    "-p",     publish,   "--label",
	    plabel,   "--label", "com.docker.compose.service=proxied",
	    image,    NULL};
	struct service_live *l = NULL;
	struct berr err;
	char *value = NULL;
	size_t i, n = 0;
	bool seen = false;

	CHECK_INT(sh(NULL, argv), 0);
	CHECK_INT(driver_compose.live(&l, &n, &ctx, &err), 0);
	for (i = 0; i < n; i++)
		if (strcmp(l[i].name, "proxied") == 0) {
			seen = true;
			CHECK_INT(l[i].nports, 1);
			CHECK_INT(l[i].nports ? l[i].ports[0] : 0, published);
		}
	CHECK(seen);
	CHECK(port_free(m, l, n, &value));
	CHECK(value != NULL && strstr(value, "held by the current release"));
	free(value);
	CHECK(!port_free(m, NULL, 0, &value));
	CHECK(value != NULL && strstr(value, "(docker-proxy)") != NULL);
	if (value != NULL && strstr(value, "(docker-proxy)") == NULL)
		fprintf(stderr, "ports free: %s\n", value);
	free(value);
	driver_live_free(l, n);
	remove_containers();
	free(publish);
	free(plabel);
	free(image);
	manifest_free(m);
}

/* `docker compose` (v2) is preferred when the docker CLI has it: a
 * `docker` on the env file's PATH that hands `compose` to docker-compose
 * stands in for the plugin, so the v2 command lines run for real. */
static void test_v2_command_line(void)
{
	struct manifest *m = parse(true);
	char *shims = fs_join(tmp, "shims"), *docker = fs_join(shims, "docker");
	char *path = xasprintf("%s:/usr/local/bin:/usr/bin:/bin", shims);
	char *calls = fs_join(tmp, "v2-calls"), *log, *rel;
	char *script =
	    xasprintf("#!/bin/sh\n"
	              "if [ \"$1\" = compose ]; then\n"
	              "  shift; echo \"compose $*\" >> '%s'\n"
	              "  exec docker-compose \"$@\"\n"
	              "fi\n"
	              "PATH=/usr/local/bin:/usr/bin:/bin exec docker \"$@\"\n",
	              calls);
	struct strv cli = {0};
	struct kvlist env;
	struct berr err;

	if (fs_mkdir_p(shims, 0755, &err) < 0)
		fail("mkdir", err.msg);
	sf_write(docker, script, 0755);
	kvlist_set(&vars, "PATH", path);
	kvlist_init(&env);
	driver_env(&env, &vars, NULL);
	CHECK_INT(compose_cli(&cli, &env, &err), 0);
	CHECK(cli.n == 2 && strcmp(cli.v[0], "docker") == 0 &&
	      strcmp(cli.v[1], "compose") == 0);
	rel = state_path(&st, "releases/" C2);
	start_healthy(m, rel, C2);
	expect_body("/version", "v2");
	stop_web();
	log = sf_read(calls);
	CHECK(strstr(log, "compose -p ") != NULL);
	CHECK(strstr(log, " up -d --no-deps --no-build --force-recreate web") !=
	      NULL);
	free(log);

	/* Back to the host's compose for what follows. */
	kvlist_set(&vars, "PATH", "/usr/local/bin:/usr/bin:/bin");
	strv_release(&cli);
	kvlist_release(&env);
	free(rel);
	free(script);
	free(calls);
	free(path);
	free(docker);
	free(shims);
	manifest_free(m);
}

static void test_cleanup(void)
{
	struct manifest *m = parse(true);
	struct strv keep = {0}, removed = {0};
	struct berr err;
	char *id;

	strv_push(&keep, C2);
	CHECK_INT(driver_compose.cleanup(&removed, &ctx, m, &keep, &err), 0);
	CHECK_INT(removed.n, 2);
	id = image_id(C1);
	CHECK_STR(id, "");
	free(id);
	id = image_id(C2);
	CHECK(strncmp(id, "sha256:", 7) == 0);
	free(id);
	id = state_path(&st, "compose/" C1 ".yml");
	CHECK(!fs_exists(id));
	free(id);
	id = state_path(&st, "compose/" C2 ".yml");
	CHECK(fs_exists(id));
	free(id);
	strv_release(&keep);
	strv_release(&removed);
	manifest_free(m);
}

/* Removes every image of the project, whatever the test did. */
static void remove_images(void)
{
	struct strv tags = {0};
	struct docker d;
	struct berr err;
	char *prefix = xasprintf("%s%s/", COMPOSE_IMAGE_PREFIX, project);
	size_t i;

	if (docker_init(&d, &vars, &err) == 0 &&
	    docker_image_tags(&tags, &d, prefix, &err) == 0)
		for (i = 0; i < tags.n; i++)
			docker_image_remove(&d, tags.v[i], &err);
	docker_release(&d);
	strv_release(&tags);
	free(prefix);
}

static void setup(void)
{
	struct strv cli = {0};
	struct kvlist env;
	struct docker d;
	struct berr err;
	char *state_dir;
	const char *cc[] = {"cc", "-static", "-O2",
	                    "-o", NULL,      "tests/fixtures/compose_service.c",
	                    NULL};

	tmp = check_tempdir("test_driver_compose");
	state_dir = fs_join(tmp, "state");
	if (state_open(&st, state_dir, "test", &err) < 0)
		fail("state", err.msg);
	free(state_dir);
	kvlist_init(&vars);
	ctx.st = &st;
	ctx.vars = &vars;
	port = refused_port();
	snprintf(project, sizeof(project), "berthtest%d", (int)getpid());
	{
		char p[16];

		snprintf(p, sizeof(p), "%d", port);
		kvlist_set(&vars, "WEB_PORT", p);
	}
	kvlist_set(&vars, "SECRET", "s3cret value");

	if (docker_init(&d, &vars, &err) < 0 || docker_ping(&d, &err) < 0)
		fail("the docker engine does not answer (run contrib/test.sh, "
		     "which installs docker.io and starts dockerd)",
		     err.msg);
	docker_release(&d);
	kvlist_init(&env);
	driver_env(&env, &vars, NULL);
	if (compose_cli(&cli, &env, &err) < 0)
		fail("no compose (install docker-compose)", err.msg);
	kvlist_release(&env);
	strv_release(&cli);
	srv = fs_join(tmp, "srv");
	cc[4] = srv;
	if (sh(NULL, cc) != 0)
		fail("cc -static",
		     "cannot build tests/fixtures/compose_service.c "
		     "(libc6-dev has the static C library)");
}

int main(void)
{
	struct berr err;

	setup();
	test_deploys();
	test_by_hand();
	test_proxied_port();
	test_v2_command_line();
	test_cleanup();

	remove_containers();
	remove_images();
	state_close(&st);
	kvlist_release(&vars);
	fs_remove_tree(tmp, &err);
	free(tmp);
	free(srv);
	return check_done("test_driver_compose");
}
