/*
 * test_manifest.c — the manifest model beyond the data-driven cases: the
 * shipped examples, ${NAME} expansion, hash stability, diffs, checks
 * against a real release directory with symlinks, and a thousand-service
 * manifest (its CPU time is printed, not asserted).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "manifest.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	data = malloc((size_t)n + 1);
	if (data == NULL || fread(data, 1, (size_t)n, f) != (size_t)n) {
		free(data);
		fclose(f);
		return NULL;
	}
	data[n] = '\0';
	*len = (size_t)n;
	fclose(f);
	return data;
}

/* Parses text; prints the errors and returns NULL when it does not parse. */
static struct manifest *parse(const char *text, const struct kvlist *vars,
                              const char *env_file_hash)
{
	struct manifest_ctx ctx = {"berth.json", vars, env_file_hash};
	struct merrs errs = {0};
	struct manifest *m = manifest_parse(text, strlen(text), &ctx, &errs);
	size_t i;

	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "  %s\n", errs.items[i]);
	merrs_release(&errs);
	return m;
}

/* The first error for text, or "" (a new string). */
static char *first_error(const char *text, const struct kvlist *vars)
{
	struct manifest_ctx ctx = {"berth.json", vars, NULL};
	struct merrs errs = {0};
	struct manifest *m = manifest_parse(text, strlen(text), &ctx, &errs);
	char *e = strdup(errs.n ? errs.items[0] : "");

	manifest_free(m);
	merrs_release(&errs);
	return e;
}

static void test_examples(void)
{
	static const char *const files[] = {"manifests/examples/process.json",
	                                    "manifests/examples/compose.json"};
	struct kvlist vars;
	size_t i, len;

	kvlist_init(&vars);
	for (i = 0; i < 2; i++) {
		struct manifest_ctx ctx = {"berth.json", &vars, NULL};
		struct merrs errs = {0};
		char *data = slurp(files[i], &len);
		struct manifest *m;
		size_t k;

		CHECK(data != NULL);
		if (data == NULL)
			continue;
		m = manifest_parse(data, len, &ctx, &errs);
		for (k = 0; k < errs.n; k++)
			fprintf(stderr, "%s: %s\n", files[i], errs.items[k]);
		CHECK(m != NULL);
		CHECK_INT(errs.n, 0);
		if (m != NULL && i == 0) {
			const struct manifest_service *fe =
			    manifest_service(m, "frontend");

			CHECK_INT(m->driver, MANIFEST_DRIVER_PROCESS);
			CHECK_STR(m->services[m->order[0]].name, "backend");
			CHECK(fe != NULL);
			if (fe != NULL) {
				CHECK_STR(fe->health.http,
				          "http://127.0.0.1:8080/");
				CHECK_STR(fe->command.v[3],
				          "tcp://127.0.0.1:8080");
			}
			CHECK_INT(m->db.migrations,
			          MANIFEST_MIGRATIONS_SQL_DIR);
			CHECK_INT(m->nsmoke, 3);
		}
		if (m != NULL && i == 1) {
			CHECK_INT(m->driver, MANIFEST_DRIVER_COMPOSE);
			CHECK_STR(m->services[m->order[0]].name, "redis");
			CHECK_STR(m->compose_file, "docker-compose.prod.yml");
			CHECK_INT(m->db.migrations,
			          MANIFEST_MIGRATIONS_COMMAND);
		}
		manifest_free(m);
		merrs_release(&errs);
		free(data);
	}
	kvlist_release(&vars);
}

static void expect_expand(const char *in, const struct kvlist *first,
                          const struct kvlist *second, const char *want)
{
	struct merrs problems = {0};
	char *out = NULL;
	int rc = expand_vars(&out, in, first, second, &problems);

	CHECK_INT(rc, 0);
	CHECK_STR(out, want);
	CHECK_INT(problems.n, 0);
	free(out);
	merrs_release(&problems);
}

static void expect_expand_error(const char *in, const struct kvlist *first,
                                const char *want)
{
	struct merrs problems = {0};
	char *out = (char *)"unchanged";
	int rc = expand_vars(&out, in, first, NULL, &problems);

	CHECK_INT(rc, -1);
	CHECK(out == NULL);
	CHECK(problems.n >= 1);
	CHECK_STR(problems.n ? problems.items[0] : NULL, want);
	merrs_release(&problems);
}

static void test_expand(void)
{
	struct kvlist env, vars;
	char big[300];
	char *longer;

	kvlist_init(&env);
	kvlist_init(&vars);
	kvlist_set(&env, "PORT", "3001");
	kvlist_set(&vars, "PORT", "9999");
	kvlist_set(&vars, "HOST", "127.0.0.1");
	kvlist_set(&vars, "EMPTY", "");
	kvlist_set(&vars, "TRICKY", "${HOST} $(id) `id` *");
	/* The service's env wins over the env file. */
	expect_expand("http://${HOST}:${PORT}/", &env, &vars,
	              "http://127.0.0.1:3001/");
	expect_expand("${PORT}", NULL, &vars, "9999");
	expect_expand("plain", NULL, NULL, "plain");
	expect_expand("", NULL, NULL, "");
	expect_expand("a${EMPTY}b", NULL, &vars, "ab");
	/* "$$" is one "$"; a lone "$" stays; nothing else is interpreted. */
	expect_expand("$$ $${PORT} $PORT $ $(x) a$", NULL, &vars,
	              "$ ${PORT} $PORT $ $(x) a$");
	/* Expanded values are not expanded again. */
	expect_expand("${TRICKY}", NULL, &vars, "${HOST} $(id) `id` *");
	expect_expand_error("${NOPE}", &env, "undefined variable \"NOPE\"");
	expect_expand_error(
	    "x${PORT", &env,
	    "malformed variable reference \"${PORT\": missing \"}\"");
	expect_expand_error("${}", &env,
	                    "malformed variable reference \"${}\": expected "
	                    "${NAME} with NAME [A-Za-z_][A-Za-z0-9_]*");
	expect_expand_error(
	    "${PORT:-80}", &env,
	    "malformed variable reference \"${PORT:-80}\": "
	    "expected ${NAME} with NAME [A-Za-z_][A-Za-z0-9_]*");
	/* Every problem of one string is reported. */
	{
		struct merrs problems = {0};
		char *out = NULL;

		CHECK_INT(expand_vars(&out, "${A}${B}${PORT}${C", &env, NULL,
		                      &problems),
		          -1);
		CHECK_INT(problems.n, 3);
		merrs_release(&problems);
	}
	/* A name too long to be real, and an expansion over the cap. */
	memset(big, 'A', sizeof(big));
	memcpy(big, "${", 2);
	big[sizeof(big) - 2] = '}';
	big[sizeof(big) - 1] = '\0';
	expect_expand_error(
	    big, &env,
	    "malformed variable reference: name "
	    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...\" is "
	    "too long");
	longer = malloc(EXPAND_MAX_LEN + 1);
	CHECK(longer != NULL);
	if (longer == NULL)
		return;
	memset(longer, 'x', EXPAND_MAX_LEN);
	longer[EXPAND_MAX_LEN / 2] = '\0';
	kvlist_set(&vars, "HALF", longer);
	longer[EXPAND_MAX_LEN / 2] = 'x';
	longer[EXPAND_MAX_LEN] = '\0';
	expect_expand("${HALF}${HALF}", NULL, &vars, longer);
	expect_expand_error("${HALF}${HALF}!", &vars,
	                    "the expanded value is longer than 65536 bytes");
	free(longer);
	kvlist_release(&vars);
	kvlist_release(&env);
}

static const char *const ordered =
    "{\"version\":1,\"app\":\"pos\",\"services\":{"
    "\"db\":{\"command\":[\"postgres\"],\"ports\":[5432]},"
    "\"web\":{\"command\":[\"./web\",\"--port\",\"${PORT}\"],"
    "\"env\":{\"PORT\":\"3000\",\"MODE\":\"prod\"},\"depends_on\":[\"db\"],"
    "\"health\":{\"http\":\"http://127.0.0.1:${PORT}/\",\"retries\":2},"
    "\"ports\":[3000,3001]}}}";
static const char *const reordered =
    "{\"services\":{\"web\":{\"ports\":[3001,3000],"
    "\"health\":{\"retries\":2,\"http\":\"http://127.0.0.1:${PORT}/\"},"
    "\"depends_on\":[\"db\"],\"env\":{\"MODE\":\"prod\",\"PORT\":\"3000\"},"
    "\"command\":[\"./web\",\"--port\",\"${PORT}\"]},"
    "\"db\":{\"ports\":[5432],\"command\":[\"postgres\"]}},"
    "\"app\":\"pos\",\"version\":1}";

static void test_hash(void)
{
	struct kvlist vars_a, vars_b;
	struct manifest *a, *b, *c, *d, *e;
	const char *changed =
	    "{\"version\":1,\"app\":\"pos\",\"services\":{"
	    "\"db\":{\"command\":[\"postgres\"],\"ports\":[5432]},"
	    "\"web\":{\"command\":[\"./web\",\"--port\",\"${PORT}\",\"-v\"],"
	    "\"env\":{\"PORT\":\"3000\",\"MODE\":\"prod\"},\"depends_on\":["
	    "\"db\"],"
	    "\"health\":{\"http\":\"http://127.0.0.1:${PORT}/\",\"retries\":2},"
	    "\"ports\":[3000,3001]}}}";
	const char *no_dep =
	    "{\"version\":1,\"app\":\"pos\",\"services\":{"
	    "\"db\":{\"command\":[\"postgres\"],\"ports\":[5432]},"
	    "\"web\":{\"command\":[\"./web\",\"--port\",\"${PORT}\"],"
	    "\"env\":{\"PORT\":\"3000\",\"MODE\":\"prod\"},"
	    "\"health\":{\"http\":\"http://127.0.0.1:${PORT}/\",\"retries\":2},"
	    "\"ports\":[3000,3001]}}}";

	kvlist_init(&vars_a);
	kvlist_init(&vars_b);
	kvlist_set(&vars_a, "X", "1");
	kvlist_set(&vars_a, "Y", "2");
	kvlist_set(&vars_b, "Y", "2");
	kvlist_set(&vars_b, "X", "1");
	a = parse(ordered, &vars_a, "envhash1");
	b = parse(reordered, &vars_b, "envhash1");
	c = parse(changed, &vars_a, "envhash1");
	d = parse(ordered, &vars_a, "envhash2");
	e = parse(no_dep, &vars_a, "envhash1");
	CHECK(a && b && c && d && e);
	if (a && b && c && d && e) {
		const struct manifest_service *aw = manifest_service(a, "web");
		const struct manifest_service *bw = manifest_service(b, "web");
		const struct manifest_service *cw = manifest_service(c, "web");
		const struct manifest_service *dw = manifest_service(d, "web");
		const struct manifest_service *ew = manifest_service(e, "web");

		CHECK_INT(strlen(aw->hash), 64);
		/* Key order, port order and env file order change nothing. */
		CHECK_STR(aw->hash, bw->hash);
		CHECK_STR(a->hash, b->hash);
		CHECK_STR(manifest_service(a, "db")->hash,
		          manifest_service(b, "db")->hash);
		/* A changed command changes that service and the manifest. */
		CHECK(strcmp(aw->hash, cw->hash) != 0);
		CHECK(strcmp(a->hash, c->hash) != 0);
		CHECK_STR(manifest_service(a, "db")->hash,
		          manifest_service(c, "db")->hash);
		/* The env file changes every service, not the manifest. */
		CHECK(strcmp(aw->hash, dw->hash) != 0);
		CHECK_STR(a->hash, d->hash);
		/* depends_on orders starts; it does not change how web runs. */
		CHECK_STR(aw->hash, ew->hash);
		CHECK(strcmp(a->hash, e->hash) != 0);
	}
	manifest_free(a);
	manifest_free(b);
	manifest_free(c);
	manifest_free(d);
	manifest_free(e);
	/* A value of the env file used in the command changes the hash. */
	kvlist_set(&vars_b, "PORT", "1");
	a = parse("{\"version\":1,\"app\":\"x\",\"services\":{\"s\":"
	          "{\"command\":[\"run\",\"${PORT}\"]}}}",
	          &vars_a, NULL);
	CHECK(a == NULL);
	kvlist_set(&vars_a, "PORT", "2");
	a = parse("{\"version\":1,\"app\":\"x\",\"services\":{\"s\":"
	          "{\"command\":[\"run\",\"${PORT}\"]}}}",
	          &vars_a, NULL);
	b = parse("{\"version\":1,\"app\":\"x\",\"services\":{\"s\":"
	          "{\"command\":[\"run\",\"${PORT}\"]}}}",
	          &vars_b, NULL);
	CHECK(a && b);
	if (a && b) {
		CHECK(strcmp(a->services[0].hash, b->services[0].hash) != 0);
		CHECK_STR(a->hash, b->hash);
	}
	manifest_free(a);
	manifest_free(b);
	kvlist_release(&vars_a);
	kvlist_release(&vars_b);
}

static void check_change(const struct manifest_changes *c, size_t i,
                         const char *kind, const char *name, const char *detail)
{
	CHECK(i < c->n);
	if (i >= c->n)
		return;
	CHECK_STR(c->items[i].kind, kind);
	CHECK_STR(c->items[i].name, name);
	CHECK_STR(c->items[i].detail, detail);
}

static void test_diff(void)
{
	struct manifest_changes ch = {0};
	struct manifest *old, *new_m, *same, *env2;
	const char *old_text =
	    "{\"version\":1,\"app\":\"pos\",\"services\":{"
	    "\"web\":{\"command\":[\"./web\"],\"depends_on\":[\"api\"],"
	    "\"ports\":[80]},"
	    "\"api\":{\"command\":[\"./api\",\"-p\",\"3000\"],"
	    "\"env\":{\"PORT\":\"3000\",\"GONE\":\"x\",\"SAME\":\"s\"},"
	    "\"health\":{\"http\":\"http://127.0.0.1:3000/\",\"timeout_s\":5},"
	    "\"depends_on\":[\"db\"]},"
	    "\"db\":{\"command\":[\"postgres\"]},"
	    "\"cache\":{\"command\":[\"redis-server\"]},"
	    "\"old-worker\":{\"command\":[\"./"
	    "worker\"],\"depends_on\":[\"api\"]}"
	    "}}";
	const char *new_text =
	    "{\"version\":1,\"app\":\"pos\",\"services\":{"
	    "\"web\":{\"command\":[\"./web\"],\"depends_on\":[\"api\"],"
	    "\"ports\":[80,443]},"
	    "\"api\":{\"command\":[\"./api\",\"-p\",\"3001\"],"
	    "\"env\":{\"PORT\":\"3001\",\"NEW\":\"y\",\"SAME\":\"s\"},"
	    "\"health\":{\"http\":\"http://127.0.0.1:3000/\",\"timeout_s\":9},"
	    "\"stop_timeout_s\":10,\"depends_on\":[\"db\"]},"
	    "\"db\":{\"command\":[\"postgres\"]},"
	    "\"mailer\":{\"command\":[\"./mailer\"]}"
	    "}}";

	old = parse(old_text, NULL, "e1");
	new_m = parse(new_text, NULL, "e1");
	same = parse(new_text, NULL, "e1");
	env2 = parse(new_text, NULL, "e2");
	CHECK(old && new_m && same && env2);
	if (!(old && new_m && same && env2))
		goto out;
	/* First deployment: everything starts, dependencies first. */
	manifest_diff(&ch, NULL, new_m);
	CHECK_INT(ch.n, 4);
	check_change(&ch, 0, "start", "db", "new service");
	check_change(&ch, 1, "start", "api", "new service");
	check_change(&ch, 2, "start", "web", "new service");
	check_change(&ch, 3, "start", "mailer", "new service");
	manifest_changes_release(&ch);
	/* Nothing changed. */
	manifest_diff(&ch, new_m, same);
	CHECK_INT(ch.n, 0);
	manifest_changes_release(&ch);
	/* Only the env file changed. */
	manifest_diff(&ch, new_m, env2);
	CHECK_INT(ch.n, 4);
	check_change(&ch, 0, "restart", "db", "env file changed");
	manifest_changes_release(&ch);
	/* Restarts name each field; stops come last, dependents first. */
	manifest_diff(&ch, old, new_m);
	CHECK_INT(ch.n, 5);
	check_change(&ch, 0, "restart", "api",
	             "command changed; env PORT changed; env NEW added; "
	             "env GONE removed; health.timeout_s 5 -> 9; "
	             "stop_timeout_s 30 -> 10");
	check_change(&ch, 1, "restart", "web", "ports [80] -> [80,443]");
	check_change(&ch, 2, "start", "mailer", "new service");
	check_change(&ch, 3, "stop", "old-worker", "removed from the manifest");
	check_change(&ch, 4, "stop", "cache", "removed from the manifest");
	manifest_changes_release(&ch);
out:
	manifest_free(old);
	manifest_free(new_m);
	manifest_free(same);
	manifest_free(env2);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

static int remove_one(const char *path, const struct stat *st, int type,
                      struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void test_check_release(void)
{
	char tmpl[] = "/tmp/berth-manifest-XXXXXX";
	char *dir = mkdtemp(tmpl), path[512], target[512];
	struct merrs errs = {0};
	struct manifest *m;
	char *e;
	size_t i;
	const char *text =
	    "{\"version\":1,\"app\":\"pos\",\"driver\":\"compose\","
	    "\"compose\":{\"file\":\"deploy/compose.yml\"},"
	    "\"build\":[[\"tools/build.sh\"],[\"make\"]],"
	    "\"services\":{\"web\":{\"command\":[\"bin/web\"]},"
	    "\"api\":{\"command\":[\"./api/run\"]},"
	    "\"later\":{\"command\":[\"out/not-built-yet\"]},"
	    "\"sys\":{\"command\":[\"/usr/bin/env\"]}},"
	    "\"database\":{\"migrations\":{\"sql_dir\":\"db/migrations\"}}}";

	CHECK(dir != NULL);
	if (dir == NULL)
		return;
	m = parse(text, NULL, NULL);
	CHECK(m != NULL);
	if (m == NULL)
		return;
	/* Nothing there yet: the compose file and sql_dir are missing. */
	CHECK_INT(manifest_check_release(m, dir, &errs), -1);
	CHECK_INT(errs.n, 2);
	CHECK_STR(errs.n > 0 ? errs.items[0] : NULL,
	          "berth.json: $.compose.file: \"deploy/compose.yml\" does "
	          "not exist in the release");
	CHECK_STR(errs.n > 1 ? errs.items[1] : NULL,
	          "berth.json: $.database.migrations.sql_dir: "
	          "\"db/migrations\" does not exist in the release");
	merrs_release(&errs);
	/* A good layout, with symlinks that stay inside. */
	snprintf(path, sizeof(path), "%s/deploy", dir);
	CHECK_INT(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/deploy/compose.prod.yml", dir);
	write_file(path, "services: {}\n");
	snprintf(path, sizeof(path), "%s/deploy/compose.yml", dir);
	CHECK_INT(symlink("./sub/../compose.prod.yml", path), 0);
	snprintf(path, sizeof(path), "%s/deploy/sub", dir);
	CHECK_INT(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sql", dir);
	CHECK_INT(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/db", dir);
	CHECK_INT(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/db/migrations", dir);
	CHECK_INT(symlink("../sql", path), 0);
	snprintf(path, sizeof(path), "%s/bin", dir);
	CHECK_INT(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/bin/web", dir);
	snprintf(target, sizeof(target), "%s/api/run", dir);
	CHECK_INT(symlink(target, path), 0); /* absolute, but inside */
	CHECK_INT(manifest_check_release(m, dir, &errs), 0);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "  %s\n", errs.items[i]);
	CHECK_INT(errs.n, 0);
	merrs_release(&errs);
	/* Symlinks that leave: a directory, a program, a link loop, and a
	 * compose file that is a directory. */
	snprintf(path, sizeof(path), "%s/db/migrations", dir);
	CHECK_INT(unlink(path), 0);
	CHECK_INT(symlink("../../", path), 0);
	snprintf(path, sizeof(path), "%s/bin/web", dir);
	CHECK_INT(unlink(path), 0);
	CHECK_INT(symlink("/usr/bin/env", path), 0);
	snprintf(path, sizeof(path), "%s/api", dir);
	CHECK_INT(symlink("api", path), 0);
	snprintf(path, sizeof(path), "%s/tools", dir);
	CHECK_INT(symlink("/usr/bin", path), 0);
	snprintf(path, sizeof(path), "%s/deploy/compose.yml", dir);
	CHECK_INT(unlink(path), 0);
	CHECK_INT(mkdir(path, 0755), 0);
	CHECK_INT(manifest_check_release(m, dir, &errs), -1);
	CHECK_INT(errs.n, 5);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "  (expected) %s\n", errs.items[i]);
	CHECK(errs.n > 0 &&
	      strstr(errs.items[0], "$.build[0][0]: \"tools/build.sh\" leaves "
	                            "the release through a symlink") != NULL);
	CHECK(
	    errs.n > 1 &&
	    strstr(errs.items[1],
	           "$.services.web.command[0]: \"bin/web\" leaves the release "
	           "through a symlink (it resolves to \"/usr/bin/env\")") !=
	        NULL);
	CHECK(errs.n > 2 &&
	      strstr(errs.items[2], "$.services.api.command[0]: cannot resolve "
	                            "\"./api/run\" in the release") != NULL);
	CHECK(errs.n > 3 &&
	      strstr(errs.items[3], "$.compose.file: \"deploy/compose.yml\" is "
	                            "not a regular file") != NULL);
	CHECK(errs.n > 4 &&
	      strstr(errs.items[4], "$.database.migrations.sql_dir: "
	                            "\"db/migrations\" leaves the release") !=
	          NULL);
	merrs_release(&errs);
	manifest_free(m);
	/* A release directory that is not there. */
	m = parse("{\"version\":1,\"app\":\"a\",\"services\":{\"s\":{"
	          "\"command\":[\"x\"]}}}",
	          NULL, NULL);
	CHECK_INT(
	    manifest_check_release(m, "/nonexistent/berth-release", &errs), -1);
	CHECK_INT(errs.n, 1);
	merrs_release(&errs);
	manifest_free(m);
	/* Lexical checks at parse time need no checkout. */
	e = first_error("{\"version\":1,\"app\":\"a\",\"services\":{\"s\":"
	                "{\"command\":[\"x\"]}},\"database\":{\"migrations\":"
	                "{\"sql_dir\":\"a/../../etc\"}}}",
	                NULL);
	CHECK_STR(e, "berth.json: $.database.migrations.sql_dir: expected a "
	             "relative path inside the release, got \"a/../../etc\" "
	             "(\"..\" may leave the release)");
	free(e);
	CHECK_INT(nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* A thousand services, each depending on up to three earlier ones. */
static void test_scale(void)
{
	size_t cap = 1u << 20, used = 0, i;
	char *text = malloc(cap);
	struct manifest *m, *m2;
	struct manifest_changes ch = {0};
	clock_t t0, t1;

	used +=
	    (size_t)snprintf(text + used, cap - used,
	                     "{\"version\":1,\"app\":\"big\",\"services\":{");
	for (i = 999; i < 1000; i--) {
		used += (size_t)snprintf(
		    text + used, cap - used,
		    "%s\"svc%zu\":{\"command\":[\"./bin/svc\",\"--id\",\"%zu\","
		    "\"--port\",\"${PORT}\"],\"env\":{\"PORT\":\"%zu\"},"
		    "\"health\":{\"http\":\"http://127.0.0.1:${PORT}/health\"},"
		    "\"ports\":[%zu],\"depends_on\":[",
		    i == 999 ? "" : ",", i, i, 10000 + i, 10000 + i);
		if (i > 0)
			used += (size_t)snprintf(text + used, cap - used,
			                         "\"svc%zu\"", i - 1);
		if (i > 10 && i / 2 != i - 10)
			used += (size_t)snprintf(text + used, cap - used,
			                         ",\"svc%zu\",\"svc%zu\"",
			                         i / 2, i - 10);
		used += (size_t)snprintf(text + used, cap - used, "]}");
	}
	snprintf(text + used, cap - used, "}}");
	t0 = clock();
	m = parse(text, NULL, NULL);
	m2 = parse(text, NULL, "other");
	if (m != NULL && m2 != NULL)
		manifest_diff(&ch, m, m2);
	t1 = clock();
	CHECK(m != NULL);
	CHECK(m2 != NULL);
	if (m != NULL) {
		CHECK_INT(m->nservices, 1000);
		/* svc0 is last in the file but must start first. */
		CHECK_STR(m->services[m->order[0]].name, "svc0");
		CHECK_STR(m->services[m->order[999]].name, "svc999");
		CHECK_INT(ch.n, 1000);
	}
	fprintf(stderr,
	        "1000 services: two parses and a diff took %.1f ms "
	        "of CPU\n",
	        (double)(t1 - t0) * 1000.0 / CLOCKS_PER_SEC);
	manifest_changes_release(&ch);
	manifest_free(m);
	manifest_free(m2);
	free(text);
}

int main(void)
{
	test_examples();
	test_expand();
	test_hash();
	test_diff();
	test_check_release();
	test_scale();
	return check_done("test_manifest");
}
