/*
 * test_state.c — deployment records and their JSON form, the journal
 * (history, lookups, ids under concurrent creators, unreadable records),
 * the current pointer and the freeze marker.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth.h"
#include "check.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA_C "cccccccccccccccccccccccccccccccccccccccc"
#define SHA_D "dddddddddddddddddddddddddddddddddddddddd"
#define SHA_E "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
#define TREE_1 "1111111111111111111111111111111111111111"
#define TREE_2 "2222222222222222222222222222222222222222"

static void remove_root(char *root)
{
	struct berr err;

	if (fs_remove_tree(root, &err) != 0)
		fprintf(stderr, "%s\n", err.msg);
	free(root);
}

/* A record with every field set to something other than its default. */
static void full_record(struct deployment *d)
{
	struct step_record *s;

	deployment_init(d);
	d->id = 42;
	deployment_set(&d->env, "production");
	memcpy(d->commit, SHA_A, 41);
	memcpy(d->previous_commit, SHA_B, 41);
	memcpy(d->tree, TREE_1, 41);
	deployment_set(&d->trigger, "webhook:github:72d3162e-cc78-11e3");
	deployment_set(&d->kind, DEPLOY_KIND_ROLLBACK);
	d->status = DEPLOY_ROLLED_BACK;
	d->started_at = 1767614400;
	d->finished_at = 1767614467;
	deployment_set(&d->backup, "/var/lib/berth/envs/production/backups/"
				   "backup_20260105_120000.dump");
	deployment_set(&d->safety_backup, "/var/backups/backup_20260105_120100.dump");
	d->migrations_ran = true;
	strv_push(&d->migrations, "0007_add_tips.sql");
	strv_push(&d->migrations, "0008_index \"quoted\".sql");
	d->rollback_to = 41;
	deployment_set(&d->version, "v1.4.2");
	deployment_set(&d->error, "smoke 'products': expected status 200, got 502");
	deployment_set(&d->env_file_hash, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"
					  "2b0b822cd15d6c15b0f00a08");
	d->pid = 31337;
	s = deployment_step(d, "backup");
	s->status = STEP_OK;
	s->started_ms = 1767614400123;
	s->finished_ms = 1767614402999;
	deployment_set(&s->detail, "backup_20260105_120000.dump, 1.2 MB");
	deployment_set(&s->output_tail, "pg_dump: done\nline two\t\x01\n");
	s = deployment_step(d, "smoke");
	s->status = STEP_FAILED;
	s->started_ms = 1767614460000;
	s->finished_ms = 1767614461001;
	deployment_set(&s->detail, "products: 502");
	s = deployment_step(d, "notify");
	s->status = STEP_SKIPPED;
	deployment_add_service(d, "backend", "0123abcd");
	deployment_add_service(d, "worker", NULL);
}

static void check_same(const struct deployment *a, const struct deployment *b)
{
	size_t i;

	CHECK_INT(a->id, b->id);
	CHECK_STR(a->env, b->env);
	CHECK_STR(a->commit, b->commit);
	CHECK_STR(a->previous_commit, b->previous_commit);
	CHECK_STR(a->tree, b->tree);
	CHECK_STR(a->trigger, b->trigger);
	CHECK_STR(a->kind, b->kind);
	CHECK_INT(a->status, b->status);
	CHECK_INT(a->started_at, b->started_at);
	CHECK_INT(a->finished_at, b->finished_at);
	CHECK_STR(a->backup, b->backup);
	CHECK_STR(a->safety_backup, b->safety_backup);
	CHECK_INT(a->migrations_ran, b->migrations_ran);
	CHECK_INT(a->migrations.n, b->migrations.n);
	for (i = 0; i < a->migrations.n && i < b->migrations.n; i++)
		CHECK_STR(a->migrations.v[i], b->migrations.v[i]);
	CHECK_INT(a->rollback_to, b->rollback_to);
	CHECK_STR(a->version, b->version);
	CHECK_STR(a->error, b->error);
	CHECK_STR(a->env_file_hash, b->env_file_hash);
	CHECK_INT(a->pid, b->pid);
	CHECK_INT(a->nsteps, b->nsteps);
	for (i = 0; i < a->nsteps && i < b->nsteps; i++) {
		const struct step_record *x = &a->steps[i], *y = &b->steps[i];

		CHECK_STR(x->name, y->name);
		CHECK_INT(x->status, y->status);
		CHECK_INT(x->started_ms, y->started_ms);
		CHECK_INT(x->finished_ms, y->finished_ms);
		CHECK(x->detail == y->detail ||
		      (x->detail && y->detail && !strcmp(x->detail, y->detail)));
		CHECK(x->output_tail == y->output_tail ||
		      (x->output_tail && y->output_tail &&
		       !strcmp(x->output_tail, y->output_tail)));
	}
	CHECK_INT(a->nservices, b->nservices);
	for (i = 0; i < a->nservices && i < b->nservices; i++) {
		CHECK_STR(a->services[i].name, b->services[i].name);
		CHECK(a->services[i].hash == b->services[i].hash ||
		      (a->services[i].hash && b->services[i].hash &&
		       !strcmp(a->services[i].hash, b->services[i].hash)));
	}
}

static void test_status_names(void)
{
	enum deploy_status ds;
	enum step_status ss;
	int i;

	for (i = DEPLOY_RUNNING; i <= DEPLOY_INTERRUPTED; i++) {
		CHECK_INT(deploy_status_parse(&ds, deploy_status_name(i)), 0);
		CHECK_INT(ds, i);
	}
	CHECK_STR(deploy_status_name(DEPLOY_ROLLED_BACK), "rolled_back");
	CHECK_STR(deploy_status_name(DEPLOY_ROLLBACK_FAILED), "rollback_failed");
	CHECK_INT(deploy_status_parse(&ds, "Succeeded"), -1);
	CHECK_INT(deploy_status_parse(&ds, NULL), -1);
	for (i = STEP_PENDING; i <= STEP_SKIPPED; i++) {
		CHECK_INT(step_status_parse(&ss, step_status_name(i)), 0);
		CHECK_INT(ss, i);
	}
	CHECK_STR(step_status_name(STEP_OK), "ok");
}

static void test_json_round_trip(void)
{
	struct deployment d, back;
	struct berr err;
	json_t *j, *j2, *parsed;
	char *text;

	full_record(&d);
	j = deployment_to_json(&d);
	/* SPEC §5 names and ISO-8601 times, as a script reading it sees them. */
	CHECK_INT(json_integer_value(json_object_get(j, "id")), 42);
	CHECK_STR(json_string_value(json_object_get(j, "status")), "rolled_back");
	CHECK_STR(json_string_value(json_object_get(j, "started_at")),
		  "2026-01-05T12:00:00Z");
	CHECK_STR(json_string_value(json_object_get(j, "finished_at")),
		  "2026-01-05T12:01:07Z");
	CHECK_INT(json_integer_value(json_object_get(j, "duration_s")), 67);
	CHECK_STR(json_string_value(json_object_get(
			  json_array_get(json_object_get(j, "steps"), 0),
			  "started_at")),
		  "2026-01-05T12:00:00.123Z");
	CHECK_INT(json_integer_value(json_object_get(
			  json_array_get(json_object_get(j, "steps"), 0),
			  "duration_ms")),
		  2876);
	CHECK(json_is_null(json_object_get(
		json_array_get(json_object_get(j, "steps"), 2), "duration_ms")));

	/* Through text, as it is stored. */
	text = json_dumps(j, JSON_INDENT(2));
	parsed = json_loads(text, 0, NULL);
	CHECK(parsed != NULL);
	CHECK_INT(deployment_from_json(&back, parsed, &err), 0);
	check_same(&d, &back);
	j2 = deployment_to_json(&back);
	CHECK(json_equal(j, j2));
	free(text);
	json_decref(j);
	json_decref(j2);
	json_decref(parsed);
	deployment_release(&back);
	deployment_release(&d);

	/* A fresh record: nulls, and the defaults come back. */
	deployment_init(&d);
	d.id = 1;
	deployment_set(&d.env, "staging");
	j = deployment_to_json(&d);
	CHECK(json_is_null(json_object_get(j, "commit")));
	CHECK(json_is_null(json_object_get(j, "finished_at")));
	CHECK(json_is_null(json_object_get(j, "backup")));
	CHECK_STR(json_string_value(json_object_get(j, "kind")), "deploy");
	CHECK_INT(deployment_from_json(&back, j, &err), 0);
	CHECK_STR(back.commit, "");
	CHECK_STR(back.kind, "deploy");
	CHECK_INT(back.status, DEPLOY_RUNNING);
	CHECK(back.backup == NULL);
	CHECK_INT(back.finished_at, 0);
	json_decref(j);
	deployment_release(&back);
	deployment_release(&d);
}

static void expect_bad_json(const char *text, const char *message)
{
	struct deployment d;
	struct berr err;
	json_t *j = json_loads(text, 0, NULL);

	CHECK(j != NULL);
	CHECK_INT(deployment_from_json(&d, j, &err), -1);
	CHECK_STR(err.msg, message);
	CHECK(d.env == NULL && d.steps == NULL);
	json_decref(j);
}

static void test_json_errors(void)
{
	expect_bad_json("[]", "$: expected an object");
	expect_bad_json("{\"id\": 0, \"env\": \"p\", \"status\": \"running\"}",
			"$.id: expected a positive integer");
	expect_bad_json("{\"id\": 1, \"env\": \"p\", \"status\": \"done\"}",
			"$.status: expected one of running, succeeded, failed, "
			"rolled_back, rollback_failed, interrupted");
	expect_bad_json("{\"id\": 1, \"status\": \"running\"}", "$.env: missing");
	expect_bad_json("{\"id\": 1, \"env\": \"p\", \"status\": \"running\", "
			"\"commit\": \"HEAD\"}",
			"$.commit: expected 40 lowercase hex digits");
	expect_bad_json("{\"id\": 1, \"env\": \"p\", \"status\": \"running\", "
			"\"started_at\": 1767614400}",
			"$.started_at: expected an ISO-8601 UTC time like "
			"\"2026-01-05T12:00:00Z\"");
	expect_bad_json("{\"id\": 1, \"env\": \"p\", \"status\": \"running\", "
			"\"steps\": [{\"name\": \"lock\", \"status\": \"ok\"}, "
			"{\"name\": \"fetch\", \"status\": \"done\"}]}",
			"$.steps[1].status: expected one of pending, running, "
			"ok, failed, skipped");
	expect_bad_json("{\"id\": 1, \"env\": \"p\", \"status\": \"running\", "
			"\"services\": [{\"hash\": \"x\"}]}",
			"$.services[0].name: missing");
	expect_bad_json("{\"id\": 1, \"env\": \"p\", \"status\": \"running\", "
			"\"migrations\": [1]}",
			"$.migrations[0]: expected a string");
	expect_bad_json("{\"id\": 1, \"env\": \"p\", \"status\": \"running\", "
			"\"pid\": -4}",
			"$.pid: expected an integer from 0 to 2147483647");
}

/* Creates a record in st and returns its id. */
static int64_t add(struct state *st, const char *commit, const char *tree,
		   enum deploy_status status, const char *kind)
{
	struct deployment d;
	struct berr err;
	int64_t id;

	deployment_init(&d);
	if (commit != NULL)
		memcpy(d.commit, commit, 41);
	if (tree != NULL)
		memcpy(d.tree, tree, 41);
	deployment_set(&d.trigger, "cli");
	deployment_set(&d.kind, kind);
	d.started_at = 1767614400;
	if (state_create_deployment(st, &d, &err) != 0)
		fprintf(stderr, "create: %s\n", err.msg);
	d.status = status;
	if (status != DEPLOY_RUNNING)
		d.finished_at = 1767614460;
	if (state_save_deployment(st, &d, &err) != 0)
		fprintf(stderr, "save: %s\n", err.msg);
	id = d.id;
	deployment_release(&d);
	return id;
}

/* The ids state_history returns, "8,7,6", as a new string. */
static char *history_ids(struct state *st, struct merrs *bad, size_t limit)
{
	struct deployment *h = NULL;
	struct berr err;
	struct buf b;
	size_t n, i;

	buf_init(&b, 0);
	if (state_history(st, &h, &n, bad, limit, &err) != 0)
		buf_puts(&b, err.msg);
	for (i = 0; i < n; i++)
		buf_printf(&b, "%s%lld", i ? "," : "", (long long)h[i].id);
	state_history_free(h, n);
	return buf_detach(&b);
}

static void test_journal(void)
{
	char *root = check_tempdir("berth-state");
	struct deployment *h = NULL, d, full;
	struct state st;
	char *ids;
	struct berr err;
	size_t n;

	CHECK_INT(state_open(&st, root, "../etc", &err), -1);
	CHECK_STR(err.msg, "invalid environment name '../etc': expected "
			   "letters, digits, '.', '_' or '-'");
	CHECK(!state_env_name_ok(".hidden"));
	CHECK(!state_env_name_ok(""));
	CHECK(state_env_name_ok("prod-eu_1.b"));
	CHECK_INT(state_open(&st, root, "production", &err), 0);
	CHECK(fs_is_dir(st.env_dir));
	CHECK_INT(state_latest(&st, &d, &err), BERTH_ENOTFOUND);
	CHECK_INT(state_last_good(&st, 0, &d, &err), BERTH_ENOTFOUND);
	CHECK_INT(state_history(&st, &h, &n, NULL, 0, &err), 0);
	CHECK_INT(n, 0);
	state_history_free(h, n);

	CHECK_INT(add(&st, SHA_A, TREE_1, DEPLOY_SUCCEEDED, "deploy"), 1);
	CHECK_INT(add(&st, SHA_B, TREE_2, DEPLOY_FAILED, "deploy"), 2);
	CHECK_INT(add(&st, SHA_C, TREE_2, DEPLOY_SUCCEEDED, "deploy"), 3);
	CHECK_INT(add(&st, SHA_C, NULL, DEPLOY_SUCCEEDED, DEPLOY_KIND_UNLOCK), 4);
	CHECK_INT(add(&st, SHA_D, NULL, DEPLOY_ROLLED_BACK, "deploy"), 5);
	CHECK_INT(add(&st, SHA_A, TREE_1, DEPLOY_SUCCEEDED, "rollback"), 6);
	CHECK_INT(add(&st, SHA_E, NULL, DEPLOY_RUNNING, "deploy"), 7);

	/* Every field survives the disk. */
	full_record(&full);
	full.id = 0;
	CHECK_INT(state_create_deployment(&st, &full, &err), 0);
	CHECK_INT(full.id, 8);
	CHECK_INT(state_load_deployment(&st, 8, &d, &err), 0);
	check_same(&full, &d);
	deployment_release(&d);
	full.status = DEPLOY_SUCCEEDED;
	CHECK_INT(state_save_deployment(&st, &full, &err), 0);
	CHECK_INT(state_load_deployment(&st, 8, &d, &err), 0);
	check_same(&full, &d);
	deployment_release(&d);
	full.id = 99;
	CHECK_INT(state_save_deployment(&st, &full, &err), BERTH_ENOTFOUND);
	CHECK_INT(state_load_deployment(&st, 99, &d, &err), BERTH_ENOTFOUND);
	CHECK_STR(err.msg, "no deployment 99 in environment 'production'");
	full.id = 8;
	deployment_set(&full.env, "staging");
	CHECK_INT(state_save_deployment(&st, &full, &err), -1);
	CHECK_INT(state_create_deployment(&st, &full, &err), -1);
	deployment_release(&full);

	/* History: newest first, limited. */
	ids = history_ids(&st, NULL, 0);
	CHECK_STR(ids, "8,7,6,5,4,3,2,1");
	free(ids);
	ids = history_ids(&st, NULL, 3);
	CHECK_STR(ids, "8,7,6");
	free(ids);

	CHECK_INT(state_latest(&st, &d, &err), 0);
	CHECK_INT(d.id, 8);
	deployment_release(&d);

	/* Last good: succeeded deploys and rollbacks only, never an unlock. */
	CHECK_INT(state_last_good(&st, 0, &d, &err), 0);
	CHECK_INT(d.id, 8); /* the full record, a succeeded rollback */
	deployment_release(&d);
	CHECK_INT(state_last_good(&st, 8, &d, &err), 0);
	CHECK_INT(d.id, 6);
	deployment_release(&d);
	CHECK_INT(state_last_good(&st, 6, &d, &err), 0);
	CHECK_INT(d.id, 3);
	deployment_release(&d);
	CHECK_INT(state_last_good(&st, 3, &d, &err), 0);
	CHECK_INT(d.id, 1);
	deployment_release(&d);
	CHECK_INT(state_last_good(&st, 1, &d, &err), BERTH_ENOTFOUND);

	CHECK_INT(state_find_by_commit(&st, SHA_C, &d, &err), 0);
	CHECK_INT(d.id, 3);
	deployment_release(&d);
	CHECK_INT(state_find_by_commit(&st, SHA_B, &d, &err), BERTH_ENOTFOUND);
	CHECK_INT(state_find_by_commit(&st, SHA_D, &d, &err), BERTH_ENOTFOUND);
	CHECK_INT(state_find_by_tree(&st, TREE_2, &d, &err), 0);
	CHECK_INT(d.id, 3);
	deployment_release(&d);
	CHECK_INT(state_find_by_tree(&st, TREE_1, &d, &err), 0);
	CHECK_INT(d.id, 8);
	deployment_release(&d);

	CHECK_INT(state_find_running(&st, &h, &n, &err), 0);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK_INT(h[0].id, 7);
	state_history_free(h, n);

	state_close(&st);
	remove_root(root);
}

/* Writes text into the record file of id, by hand. */
static void write_raw(struct state *st, const char *name, const char *text)
{
	struct berr err;
	char *rel = xasprintf("deployments/%s", name);
	char *path = state_path(st, rel);

	if (fs_write_atomic(path, text, strlen(text), 0644, &err) != 0)
		fprintf(stderr, "%s\n", err.msg);
	free(rel);
	free(path);
}

/* The pid of a process that existed and no longer does. */
static int dead_pid(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return (int)pid;
}

static void test_unreadable_records(void)
{
	char *root = check_tempdir("berth-state"), name[64], *path, *ids;
	struct deployment d;
	struct merrs bad = {0};
	struct state st;
	struct berr err;
	int pid;

	CHECK_INT(state_open(&st, root, "production", &err), 0);
	add(&st, SHA_A, NULL, DEPLOY_SUCCEEDED, "deploy");
	add(&st, SHA_B, NULL, DEPLOY_SUCCEEDED, "deploy");
	add(&st, SHA_C, NULL, DEPLOY_SUCCEEDED, "deploy");
	add(&st, SHA_D, NULL, DEPLOY_FAILED, "deploy");
	/* Edited by hand: truncated, and a copy under another id. */
	write_raw(&st, "2.json", "{\"id\": 2, \"env\": \"produc");
	path = state_path(&st, "deployments/1.json");
	{
		struct buf b;

		buf_init(&b, 0);
		CHECK_INT(fs_read_file(&b, path, 1 << 20, &err), 0);
		write_raw(&st, "5.json", buf_str(&b));
		buf_release(&b);
	}
	free(path);
	/* What killed writers leave, and names that are not records. */
	pid = dead_pid();
	snprintf(name, sizeof(name), "3.json.tmp.%d", pid);
	write_raw(&st, name, "{\"id\": 3, \"env\"");
	snprintf(name, sizeof(name), ".new.%d.json", pid);
	write_raw(&st, name, "{}");
	snprintf(name, sizeof(name), "3.json.tmp.%d", (int)getppid());
	write_raw(&st, name, "garbage from a live writer");
	write_raw(&st, "notes.txt", "hello");
	write_raw(&st, "007.json", "{}");

	ids = history_ids(&st, &bad, 0);
	CHECK_STR(ids, "4,3,1");
	free(ids);
	CHECK_INT(bad.n, 2);
	if (bad.n == 2) {
		path = state_path(&st, "deployments/5.json");
		CHECK(strstr(bad.items[0], path) != NULL);
		CHECK(strstr(bad.items[0], "it says deployment 1") != NULL);
		free(path);
		path = state_path(&st, "deployments/2.json");
		CHECK(strstr(bad.items[1], path) != NULL);
		CHECK(strstr(bad.items[1], "is not valid JSON") != NULL);
		free(path);
	}
	merrs_release(&bad);
	CHECK_INT(state_load_deployment(&st, 2, &d, &err), -1);
	CHECK(strstr(err.msg, "deployments/2.json") != NULL);
	/* Lookups skip it; the newest readable record is the latest. */
	CHECK_INT(state_last_good(&st, 4, &d, &err), 0);
	CHECK_INT(d.id, 3);
	deployment_release(&d);
	/* A new id goes past every name in the journal, readable or not. */
	CHECK_INT(add(&st, SHA_E, NULL, DEPLOY_RUNNING, "deploy"), 6);
	state_close(&st);

	/* Reopening removes the dead writer's temporary files only. */
	CHECK_INT(state_open(&st, root, "production", &err), 0);
	snprintf(name, sizeof(name), "deployments/3.json.tmp.%d", pid);
	path = state_path(&st, name);
	CHECK(!fs_exists(path));
	free(path);
	snprintf(name, sizeof(name), "deployments/.new.%d.json", pid);
	path = state_path(&st, name);
	CHECK(!fs_exists(path));
	free(path);
	snprintf(name, sizeof(name), "deployments/3.json.tmp.%d", (int)getppid());
	path = state_path(&st, name);
	CHECK(fs_exists(path));
	free(path);
	state_close(&st);
	remove_root(root);
}

/* Several processes creating records at once get distinct ids, 1..N. */
static void test_concurrent_ids(void)
{
	enum { WRITERS = 4, EACH = 25 };
	char *root = check_tempdir("berth-state");
	bool seen[WRITERS][EACH], ids[WRITERS * EACH + 1];
	struct deployment *h = NULL;
	struct state st;
	struct berr err;
	pid_t pids[WRITERS];
	size_t n, i;
	int w, status;

	CHECK_INT(state_open(&st, root, "production", &err), 0);
	for (w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		if (pids[w] == 0) {
			int k;

			for (k = 0; k < EACH; k++) {
				struct deployment d;
				char trig[32];

				deployment_init(&d);
				snprintf(trig, sizeof(trig), "w%d:%d", w, k);
				deployment_set(&d.trigger, trig);
				if (state_create_deployment(&st, &d, &err) != 0) {
					fprintf(stderr, "%s\n", err.msg);
					_exit(1);
				}
				deployment_release(&d);
			}
			_exit(0);
		}
	}
	for (w = 0; w < WRITERS; w++) {
		CHECK(waitpid(pids[w], &status, 0) == pids[w]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	memset(seen, 0, sizeof(seen));
	memset(ids, 0, sizeof(ids));
	CHECK_INT(state_history(&st, &h, &n, NULL, 0, &err), 0);
	CHECK_INT(n, WRITERS * EACH);
	for (i = 0; i < n; i++) {
		int k;

		CHECK(h[i].id >= 1 && h[i].id <= WRITERS * EACH);
		if (h[i].id >= 1 && h[i].id <= WRITERS * EACH) {
			CHECK(!ids[h[i].id]);
			ids[h[i].id] = true;
		}
		CHECK_INT(sscanf(h[i].trigger, "w%d:%d", &w, &k), 2);
		if (w >= 0 && w < WRITERS && k >= 0 && k < EACH) {
			CHECK(!seen[w][k]);
			seen[w][k] = true;
		}
	}
	state_history_free(h, n);
	state_close(&st);
	remove_root(root);
}

static void test_current(void)
{
	char *root = check_tempdir("berth-state"), commit[41], target[128], *path;
	struct state st;
	struct berr err;
	int64_t id;
	ssize_t len;

	CHECK_INT(state_open(&st, root, "production", &err), 0);
	CHECK_INT(state_get_current(&st, commit, &id, &err), BERTH_ENOTFOUND);
	CHECK_INT(state_set_current(&st, SHA_A, 1, &err), -1);
	CHECK(strstr(err.msg, "no such release directory") != NULL);
	CHECK_INT(state_set_current(&st, "main", 1, &err), -1);
	path = state_path(&st, "releases/" SHA_A);
	CHECK_INT(fs_mkdir_p(path, 0755, &err), 0);
	free(path);
	path = state_path(&st, "releases/" SHA_B);
	CHECK_INT(fs_mkdir_p(path, 0755, &err), 0);
	free(path);

	CHECK_INT(state_set_current(&st, SHA_A, 1, &err), 0);
	CHECK_INT(state_get_current(&st, commit, &id, &err), 0);
	CHECK_STR(commit, SHA_A);
	CHECK_INT(id, 1);
	path = state_path(&st, "current");
	len = readlink(path, target, sizeof(target) - 1);
	CHECK(len > 0);
	target[len > 0 ? len : 0] = '\0';
	CHECK_STR(target, "releases/" SHA_A);

	CHECK_INT(state_set_current(&st, SHA_B, 2, &err), 0);
	CHECK_INT(state_get_current(&st, commit, &id, &err), 0);
	CHECK_STR(commit, SHA_B);
	CHECK_INT(id, 2);
	len = readlink(path, target, sizeof(target) - 1);
	target[len > 0 ? len : 0] = '\0';
	CHECK_STR(target, "releases/" SHA_B);
	free(path);
	/* Through the symlink, the release directory itself. */
	path = state_path(&st, "current/.");
	CHECK(fs_is_dir(path));
	free(path);

	path = state_path(&st, "current.json");
	CHECK_INT(fs_write_atomic(path, "{\"commit\": 1}", 13, 0644, &err), 0);
	CHECK_INT(state_get_current(&st, commit, &id, &err), -1);
	CHECK(strstr(err.msg, path) != NULL);
	free(path);
	state_close(&st);
	remove_root(root);
}

static void test_freeze(void)
{
	char *root = check_tempdir("berth-state"), *reason = NULL, *path;
	struct state st;
	struct berr err;

	CHECK_INT(state_open(&st, root, "production", &err), 0);
	CHECK_INT(state_frozen(&st, &reason), 0);
	CHECK(reason == NULL);
	CHECK_INT(state_unfreeze(&st, &err), BERTH_ENOTFOUND);
	CHECK_STR(err.msg, "environment 'production' is not frozen");
	CHECK_INT(state_freeze(&st, "deployment 7: rollback failed: backend "
				    "unhealthy", &err), 0);
	CHECK_INT(state_frozen(&st, NULL), 1);
	CHECK_INT(state_frozen(&st, &reason), 1);
	CHECK_STR(reason, "deployment 7: rollback failed: backend unhealthy");
	free(reason);
	CHECK_INT(state_unfreeze(&st, &err), 0);
	CHECK_INT(state_frozen(&st, &reason), 0);

	/* A freeze marker edited into nonsense still freezes. */
	path = state_path(&st, "frozen");
	CHECK_INT(fs_write_atomic(path, "yes", 3, 0644, &err), 0);
	CHECK_INT(state_frozen(&st, &reason), 1);
	CHECK(reason != NULL && strstr(reason, "not valid JSON") != NULL);
	free(reason);
	free(path);
	state_close(&st);
	remove_root(root);
}

int main(void)
{
	test_status_names();
	test_json_round_trip();
	test_json_errors();
	test_journal();
	test_unreadable_records();
	test_concurrent_ids();
	test_current();
	test_freeze();
	return check_done("test_state");
}
