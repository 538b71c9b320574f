/*
 * test_compose_config.c — what the compose driver reads and writes without
 * an engine: `compose config` output (v1 as captured in the fuzz corpus, a
 * v2-style one), the image names, the override file, the Engine API's
 * answers and log frames, what differs between two containers' specs, and the
 * engine's address.
 */
#include "berth.h"
#include "check.h"

#define CORPUS "tests/fuzz/corpus/"
#define COMMIT "0123456789abcdef0123456789abcdef01234567"

static char *read_all(const char *path, size_t *len)
{
	struct buf b = {0};
	struct berr err;

	if (fs_read_file(&b, path, 1 << 20, &err) < 0) {
		fprintf(stderr, "FAIL: %s\n", err.msg);
		exit(1);
	}
	*len = b.len;
	return buf_detach(&b);
}

static void test_config(void)
{
	struct compose_config c;
	size_t len;
	char *text =
	    read_all(CORPUS "fuzz_compose_config/v1_anchors.yml", &len);

	compose_parse_config(&c, text, len);
	CHECK_INT(c.services.n, 3);
	CHECK(strv_contains(&c.services, "1"));
	CHECK(strv_contains(&c.services, "cache.v2"));
	CHECK(strv_contains(&c.services, "web"));
	/* "build:" as a label key of service 1 is not a build section. */
	CHECK_INT(c.built.n, 1);
	CHECK(strv_contains(&c.built, "web"));
	CHECK_STR(c.version, "3.7");
	compose_config_release(&c);
	free(text);

	text = read_all(CORPUS "fuzz_compose_config/v2_style.yml", &len);
	compose_parse_config(&c, text, len);
	CHECK_INT(c.services.n, 2);
	CHECK_INT(c.built.n, 1);
	CHECK(strv_contains(&c.built, "backend"));
	CHECK(c.version == NULL);
	compose_config_release(&c);
	free(text);

	text = read_all(CORPUS "fuzz_compose_config/odd_quotes_crlf.yml", &len);
	compose_parse_config(&c, text, len);
	CHECK_INT(c.services.n, 1); /* "we\"b" is no compose name */
	CHECK(strv_contains(&c.built, "x"));
	compose_config_release(&c);
	free(text);
}

static void test_image_and_override(void)
{
	struct manifest m = {0};
	struct manifest_service svc = {0};
	struct compose_config c = {0};
	char project[] = "pos", name[] = "Web", hash[] = "abc123";
	size_t by_name = 0;
	char *s;

	s = compose_image("pos", "Web.API__v2-", COMMIT);
	CHECK_STR(s, "berth.invalid/pos/web-api-v2:" COMMIT);
	free(s);
	s = compose_image("pos", "..", COMMIT);
	CHECK_STR(s, "berth.invalid/pos/service:" COMMIT);
	free(s);

	svc.name = name;
	svc.hash = hash;
	kvlist_init(&svc.env);
	kvlist_set(&svc.env, "GREETING", "a secret value");
	m.compose_project = project;
	m.services = &svc;
	m.nservices = 1;
	m.by_name = &by_name;
	strv_push(&c.services, "Web");
	strv_push(&c.services, "redis");
	strv_push(&c.built, "Web");
	c.version = xstrdup("3.7");
	s = compose_override(&c, &m, "production", COMMIT);
	CHECK(strstr(s, "version: '3.7'\nservices:\n  \"Web\":\n    image: "
	                "\"berth.invalid/pos/web:" COMMIT "\"\n") != NULL);
	CHECK(strstr(s, "      berth.hash: \"abc123\"\n") != NULL);
	CHECK(strstr(s, "    environment:\n      - \"GREETING\"\n") != NULL);
	CHECK(strstr(s, "a secret value") == NULL);
	CHECK(strstr(s,
	             "  \"redis\":\n    labels:\n      berth.commit: \"" COMMIT
	             "\"\n      berth.env: \"production\"\n") != NULL);
	free(s);
	kvlist_release(&svc.env);
	compose_config_release(&c);
}

static void test_api_answers(void)
{
	struct docker_container *l = NULL;
	struct berr err;
	size_t len, n = 0, i;
	char *text =
	    read_all(CORPUS "fuzz_docker_containers/list_project", &len);
	bool proxied = false;

	CHECK_INT(docker_parse_list(&l, &n, text + 1, len - 1, &err), 0);
	CHECK_INT(n, 4);
	for (i = 0; i < n; i++) {
		CHECK_STR(l[i].project, "cap");
		if (strcmp(l[i].service, "proxied") == 0) {
			proxied = true;
			CHECK_INT(l[i].nports, 1);
			CHECK_INT(l[i].nports ? l[i].ports[0] : 0, 18403);
		}
		if (strcmp(l[i].service, "web") == 0) {
			CHECK_STR(l[i].hash, "abc");
			CHECK_STR(l[i].env, "production");
		}
	}
	CHECK(proxied);
	docker_containers_free(l, n);
	free(text);

	/* An unhealthy container: state, pid, health. */
	{
		struct docker_container c = {0};
		const char *id;

		text =
		    read_all(CORPUS "fuzz_docker_containers/inspect_bad", &len);
		id = strstr(text, "\"Id\":\"") + 6;
		c.id = xstrndup(id, strcspn(id, "\""));
		c.name = xstrdup("cap_bad_1");
		CHECK_INT(docker_parse_inspect(&c, text + 1, len - 1, &err), 0);
		CHECK(c.running);
		CHECK(c.pid > 1);
		CHECK_STR(c.health, "unhealthy");
		CHECK(c.started_at > 1700000000);
		CHECK(c.hash == NULL);
		docker_container_release(&c);
		free(text);
	}
	{
		struct docker_container c = {0};
		const char *id;

		text = read_all(CORPUS "fuzz_docker_containers/inspect_exited",
		                &len);
		id = strstr(text, "\"Id\":\"") + 6;
		c.id = xstrndup(id, strcspn(id, "\""));
		c.name = xstrdup("cap_exited_1");
		CHECK_INT(docker_parse_inspect(&c, text + 1, len - 1, &err), 0);
		CHECK(!c.running);
		CHECK_INT(c.pid, 0);
		CHECK_INT(c.exit_code, 1);
		CHECK_STR(c.state, "exited");
		docker_container_release(&c);
		free(text);
	}
	/* Not an array, an inspect answer about another container. */
	CHECK_INT(docker_parse_list(&l, &n, "{}", 2, &err), -1);
}

/* An inspect answer about container "c1" as a spec (json_t, owned). */
static struct json_t *spec_of(const char *image, const char *cmd,
                              const char *env, const char *config_hash)
{
	struct docker_container c = {0};
	struct json_t *spec;
	struct berr err;
	char *json = xasprintf(
	    "{\"Id\":\"c1\",\"State\":{\"Status\":\"running\","
	    "\"Running\":true},\"Image\":\"%s\",\"Config\":{\"Cmd\":%s,"
	    "\"Entrypoint\":null,\"Env\":%s,\"User\":\"\",\"WorkingDir\":"
	    "\"\",\"Labels\":{\"com.docker.compose.config-hash\":\"%s\"}},"
	    "\"HostConfig\":{\"NetworkMode\":\"host\"}}",
	    image, cmd, env, config_hash);

	c.id = xstrdup("c1");
	c.name = xstrdup("app_web_1");
	CHECK_INT(docker_parse_inspect(&c, json, strlen(json), &err), 0);
	spec = c.spec;
	c.spec = NULL;
	docker_container_release(&c);
	free(json);
	return spec;
}

static void test_spec_diff(void)
{
	const char *img1 = "sha256:1111111111111111111111111111111111111111111"
	                   "111111111111111111111";
	const char *img2 = "sha256:2222222222222222222222222222222222222222222"
	                   "222222222222222222222";
	const char *env = "[\"PATH=/bin\",\"PORT=1\",\"SECRET=s3cret\"]";
	struct json_t *was = spec_of(img1, "[\"/srv\"]", env, "h1");
	struct json_t *now;
	char *d;

	/* The same, whatever the order of the environment. */
	now = spec_of(img1, "[\"/srv\"]",
	              "[\"SECRET=s3cret\",\"PORT=1\",\"PATH=/bin\"]", "h1");
	CHECK(docker_spec_diff(was, now) == NULL);
	docker_container_release(&(struct docker_container){.spec = now});

	/* A value changed: never shown. */
	now = spec_of(img1, "[\"/srv\"]",
	              "[\"PATH=/bin\",\"PORT=1\",\"SECRET=other\"]", "h1");
	d = docker_spec_diff(was, now);
	CHECK_STR(d, "environment: a value changed (values are not shown)");
	free(d);
	docker_container_release(&(struct docker_container){.spec = now});

	/* Image, command and names. */
	now = spec_of(img2, "[\"/srv\",\"x\"]",
	              "[\"PATH=/bin\",\"PORT=1\",\"EXTRA=s3cret\"]", "h1");
	d = docker_spec_diff(was, now);
	CHECK_STR(d, "image sha256:222222222222, berth started "
	             "sha256:111111111111; command [\"/srv\",\"x\"], berth "
	             "started [\"/srv\"]; environment: EXTRA added, SECRET "
	             "removed");
	free(d);
	docker_container_release(&(struct docker_container){.spec = now});

	/* Only compose's own hash differs. */
	now = spec_of(img1, "[\"/srv\"]", env, "h2");
	d = docker_spec_diff(was, now);
	CHECK_STR(d, "its compose configuration differs "
	             "(com.docker.compose.config-hash)");
	free(d);
	docker_container_release(&(struct docker_container){.spec = now});
	docker_container_release(&(struct docker_container){.spec = was});
}

static void test_logs(void)
{
	const char frames[] = "\x01\0\0\0\0\0\0\x06hello\n"
	                      "\x02\0\0\0\0\0\0\x04oops"
	                      "\x01\0\0\0\0\0\0\x09"
	                      "cut";
	struct buf out;

	buf_init(&out, 0);
	docker_demux_logs(&out, frames, sizeof(frames) - 1);
	CHECK_STR(buf_str(&out), "hello\noopscut");
	buf_reset(&out);
	docker_demux_logs(&out, "plain text, no frames", 21);
	CHECK_STR(buf_str(&out), "");
	buf_release(&out);
}

static void test_address(void)
{
	struct kvlist vars;
	struct docker d;
	struct berr err;

	kvlist_init(&vars);
	CHECK_INT(docker_init(&d, &vars, &err), 0);
	CHECK_STR(d.socket, "/var/run/docker.sock");
	docker_release(&d);
	kvlist_set(&vars, "DOCKER_HOST", "unix:///run/user/1000/docker.sock");
	CHECK_INT(docker_init(&d, &vars, &err), 0);
	CHECK_STR(d.socket, "/run/user/1000/docker.sock");
	docker_release(&d);
	kvlist_set(&vars, "DOCKER_HOST", "tcp://10.0.0.1:2375");
	CHECK_INT(docker_init(&d, &vars, &err), -1);
	CHECK_STR(err.msg, "DOCKER_HOST 'tcp://10.0.0.1:2375': only "
	                   "unix:///path sockets are supported");
	docker_release(&d);
	/* A socket nobody listens on: the engine does not answer. */
	kvlist_set(&vars, "DOCKER_HOST", "unix:///nonexistent/docker.sock");
	CHECK_INT(docker_init(&d, &vars, &err), 0);
	CHECK_INT(docker_ping(&d, &err), -1);
	CHECK(strncmp(err.msg, "docker engine at '/nonexistent/docker.sock': ",
	              45) == 0);
	docker_release(&d);
	kvlist_release(&vars);
}

int main(void)
{
	test_config();
	test_image_and_override();
	test_api_answers();
	test_spec_diff();
	test_logs();
	test_address();
	return check_done("test_compose_config");
}
