/*
 * test_backup_files.c — the parts of backups that need no database: file
 * names, sidecars, the script filter of restore.c, retention with a chosen
 * clock, and list and prune over a directory of synthetic backups.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "berth.h"
#include "check.h"

#define HOUR 3600
#define DAY  86400

/* 2026-03-31T12:00:00Z, a Tuesday. */
#define NOW 1774958400

static void test_names(void)
{
	static const char *const bad[] = {
	    "backup_20260105_120000",          "backup_20260105_120000.tar",
	    "backup_20261305_120000.dump",     "backup_20260431_120000.dump",
	    "backup_20260105_250000.sql",      "backup_2026010_1200000.dump",
	    "xbackup_20260105_120000.dump",    "backup_20260105_120000.dump.x",
	    ".backup_20260105_120000.partial", "backup_20260105_120000.json",
	};
	enum manifest_backup_format f;
	int64_t t = 0;
	size_t i;
	char *p;

	CHECK_INT(backup_name_parse(&t, &f, "backup_20260105_120000.dump"), 0);
	CHECK_INT(t, 1767614400);
	CHECK_INT(f, MANIFEST_BACKUP_CUSTOM);
	CHECK_INT(backup_name_parse(&t, &f, "backup_20260228_235959.sql.gz"),
	          0);
	CHECK_INT(f, MANIFEST_BACKUP_PLAIN_GZ);
	CHECK_INT(backup_name_parse(&t, &f, "backup_20240229_000000.sql"), 0);
	CHECK_INT(f, MANIFEST_BACKUP_PLAIN);
	for (i = 0; i < BERTH_ARRAY_LEN(bad); i++)
		CHECK_INT(backup_name_parse(&t, &f, bad[i]), -1);

	p = sidecar_path("/x/backup_20260105_120000.sql.gz");
	CHECK_STR(p, "/x/backup_20260105_120000.json");
	free(p);
	p = sidecar_path("backup_20260105_120000.dump");
	CHECK_STR(p, "backup_20260105_120000.json");
	free(p);
	CHECK(sidecar_path("/x/dump.sql") == NULL);

	p = backup_dir("/var/lib/berth/envs/production", NULL);
	CHECK_STR(p, "/var/lib/berth/envs/production/backups");
	free(p);
	p = backup_dir("/var/lib/berth/envs/production", "db/dumps");
	CHECK_STR(p, "/var/lib/berth/envs/production/db/dumps");
	free(p);
	p = backup_dir("/var/lib/berth/envs/production", "/srv/backups");
	CHECK_STR(p, "/srv/backups");
	free(p);

	CHECK_INT(backup_format_parse(&f, "plain.gz"), 0);
	CHECK_INT(f, MANIFEST_BACKUP_PLAIN_GZ);
	CHECK_INT(backup_format_parse(&f, "tar"), -1);
	CHECK_STR(backup_format_ext(MANIFEST_BACKUP_PLAIN), ".sql");
	{
		enum backup_kind k;

		CHECK_INT(backup_kind_parse(&k, "pre-rollback"), 0);
		CHECK_STR(backup_kind_name(k), "pre-rollback");
		CHECK_INT(backup_kind_parse(&k, "daily"), -1);
	}
}

/* A sidecar with everything set. */
static void sample(struct backup_info *b)
{
	memset(b, 0, sizeof(*b));
	b->file = xstrdup("backup_20260105_120000.dump");
	b->kind = BACKUP_PRE_ROLLBACK;
	b->deployment_id = 42;
	b->commit = xstrdup("0123456789abcdef0123456789abcdef01234567");
	b->env = xstrdup("production");
	b->database = xstrdup("postgresql://127.0.0.1:5432/pos");
	b->size = 123456;
	memset(b->sha256, 'a', 64);
	b->server_version = xstrdup("15.18");
	b->created_at = 1767614400;
	b->duration_ms = 2876;
	b->stats_reset = xstrdup("1767600000.5");
	b->has_stats = true;
	b->stats.n = 2;
	b->stats.tables = xcalloc(2, sizeof(*b->stats.tables));
	b->stats.tables[0].name = xstrdup("public.orders");
	b->stats.tables[0].writes = 1000;
	b->stats.tables[0].live_rows = 900;
	b->stats.tables[1].name = xstrdup("\"odd name\".t");
	b->verified.done = true;
	b->verified.ok = false;
	b->verified.mode = MANIFEST_VERIFY_RESTORE;
	b->verified.at = 1767618000;
	b->verified.detail = xstrdup("cannot restore");
}

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_ALLOW_NUL, &e);

	CHECK(j != NULL);
	return j;
}

static void test_sidecar_json(void)
{
	static const char *const broken[][2] = {
	    {"\"sha256\": \"zz\"", "$.sha256: expected 64 lowercase hex"},
	    {"\"kind\": \"daily\"", "$.kind: expected one of"},
	    {"\"berth_backup\": 2", "$.berth_backup: expected 1, got 2"},
	    {"\"size\": -1", "$.size: expected an integer of at least 0"},
	    {"\"created_at\": \"yesterday\"", "$.created_at: expected a UTC"},
	    {"\"table_stats\": [1]", "$.table_stats[0]: expected an object"},
	    {"\"table_stats\": [{\"table\": \"t\", \"writes\": \"1\"}]",
	     "$.table_stats[0].writes: expected an integer"},
	    {"\"verification\": {\"mode\": \"x\"}",
	     "$.verification.mode: expected toc or restore"},
	    {"\"file\": \"a\\u0000b\"", "$.file: contains a NUL"},
	};
	struct backup_info b, back;
	struct berr err;
	json_t *j;
	char *text, *again;
	size_t i;

	sample(&b);
	j = sidecar_to_json(&b);
	text = json_dumps(j, JSON_SORT_KEYS);
	json_decref(j);
	j = parse(text);
	CHECK_INT(sidecar_from_json(&back, j, &err), 0);
	json_decref(j);
	CHECK_STR(back.file, b.file);
	CHECK_INT(back.kind, BACKUP_PRE_ROLLBACK);
	CHECK_INT(back.deployment_id, 42);
	CHECK_INT(back.stats.n, 2);
	CHECK_STR(back.stats.tables[1].name, "\"odd name\".t");
	CHECK_INT(back.stats.tables[0].live_rows, 900);
	CHECK(back.verified.done && !back.verified.ok);
	CHECK_INT(back.verified.at, 1767618000);
	CHECK_STR(back.stats_reset, "1767600000.5");
	j = sidecar_to_json(&back);
	again = json_dumps(j, JSON_SORT_KEYS);
	json_decref(j);
	CHECK_STR(again, text);
	free(again);
	backup_info_release(&back);

	/* Unverified, no statistics, no deployment: nulls. */
	b.verified.done = false;
	b.has_stats = false;
	b.deployment_id = 0;
	j = sidecar_to_json(&b);
	CHECK(json_is_null(json_object_get(j, "verification")));
	CHECK(json_is_null(json_object_get(j, "table_stats")));
	CHECK(json_is_null(json_object_get(j, "deployment_id")));
	CHECK_INT(sidecar_from_json(&back, j, &err), 0);
	CHECK(!back.has_stats && !back.verified.done);
	backup_info_release(&back);
	json_decref(j);

	for (i = 0; i < BERTH_ARRAY_LEN(broken); i++) {
		/* The good text with one member replaced (the last one of a
		 * key wins in jansson without JSON_REJECT_DUPLICATES). */
		char *bad = xasprintf("%.*s, %s}", (int)strlen(text) - 1, text,
		                      broken[i][0]);

		j = parse(bad);
		CHECK_INT(sidecar_from_json(&back, j, &err), -1);
		if (strstr(err.msg, broken[i][1]) == NULL)
			fprintf(stderr, "case %zu: %s\n", i, err.msg);
		CHECK(strstr(err.msg, broken[i][1]) != NULL);
		json_decref(j);
		free(bad);
	}
	j = parse("[]");
	CHECK_INT(sidecar_from_json(&back, j, &err), -1);
	json_decref(j);
	free(text);
	backup_info_release(&b);
}

/* Output of restore_filter, collected. */
static int collect(const char *p, size_t len, void *arg)
{
	return buf_append(arg, p, len);
}

/* Runs in through the filter in pieces of each size of a list, and checks
 * what comes out and whether pg_dump's last line was seen. */
static void check_filter(const char *in, const char *want, bool complete)
{
	static const size_t pieces[] = {1, 2, 3, 7, 64, 1000, 4096, 1 << 20};
	size_t len = strlen(in), i, off, n;

	for (i = 0; i < BERTH_ARRAY_LEN(pieces); i++) {
		struct restore_filter f = {.emit = collect};
		struct buf out;

		buf_init(&out, 0);
		f.arg = &out;
		for (off = 0; off < len; off += n) {
			n = len - off < pieces[i] ? len - off : pieces[i];
			CHECK_INT(restore_filter_feed(&f, in + off, n), 0);
		}
		CHECK_INT(restore_filter_finish(&f), 0);
		CHECK_STR(buf_str(&out), want);
		CHECK_INT(f.complete, complete);
		buf_release(&out);
	}
}

/* Pieces of a script for the filter tests: COPY data that looks like
 * what the filter acts on (and must not), the large objects section, the
 * end. */
#define SCRIPT_HEAD                                                            \
	"--\n-- PostgreSQL database dump\n--\n\n"                              \
	"CREATE TABLE public.t (x text);\n"                                    \
	"COPY public.t (x) FROM stdin;\n"                                      \
	"BEGIN;\nCOMMIT;\n-- PostgreSQL database dump complete\n\\.\n\n"       \
	"--\n-- Data for Name: BLOBS; Type: BLOBS; Schema: -; Owner: "         \
	"-\n--\n\n"
#define SCRIPT_BLOBS                                                           \
	"SELECT pg_catalog.lo_open('16522', 131072);\n"                        \
	"SELECT pg_catalog.lowrite(0, '\\x01');\n"                             \
	"SELECT pg_catalog.lo_close(0);\n\n"
#define SCRIPT_TAIL "BEGIN;\n--\n-- PostgreSQL database dump complete\n--\n\n"

static void test_filter(void)
{
	static const char script[] =
	    SCRIPT_HEAD "BEGIN;\n\n" SCRIPT_BLOBS "COMMIT;\n\n" SCRIPT_TAIL;
	/* The same without the two lines around the large objects. */
	static const char expected[] =
	    SCRIPT_HEAD "\n" SCRIPT_BLOBS "\n" SCRIPT_TAIL;
	struct buf big;
	size_t i;

	check_filter(script, expected, true);
	/* Cut before the last line: not complete. */
	check_filter("--\n-- PostgreSQL database dump\n--\nSELECT 1;\n",
	             "--\n-- PostgreSQL database dump\n--\nSELECT 1;\n", false);
	/* The last line inside COPY data is data. */
	check_filter("COPY t (x) FROM stdin;\n"
	             "-- PostgreSQL database dump complete\n",
	             "COPY t (x) FROM stdin;\n"
	             "-- PostgreSQL database dump complete\n",
	             false);
	/* A COPY header longer than the filter holds still starts COPY
	 * data, and a line longer still passes whole; no newline at the
	 * end is kept as it is. */
	buf_init(&big, 0);
	buf_puts(&big, "COPY public.wide (");
	for (i = 0; i < 2000; i++)
		buf_printf(&big, "%scolumn_%zu", i ? ", " : "", i);
	buf_puts(&big, ") FROM stdin;\n");
	for (i = 0; i < 30000; i++)
		buf_putc(&big, (char)('a' + i % 26));
	buf_puts(&big, "\n-- PostgreSQL database dump complete\n\\.\n");
	buf_puts(&big, "-- PostgreSQL database dump complete");
	check_filter(buf_str(&big), buf_str(&big), true);
	buf_release(&big);
}

static void at(struct retention_item *it, int64_t t, bool protect)
{
	memset(it, 0, sizeof(*it));
	it->created_at = t;
	it->protect = protect;
}

static void test_retention(void)
{
	struct backup_retention r = {.daily = 7, .weekly = 28, .monthly = 365};
	struct retention_item it[12];
	/* Expected decision and reason of each. */
	static const struct {
		bool keep;
		const char *reason;
	} want[12] = {
	    {true, "newest backup"}, /* today 10:00 */
	    {false, "a newer backup of its day, week or month (2026-03-31) "
	            "is kept"},                        /* today 02:00 */
	    {true, "daily 2026-03-30"},                /* 03-30 14:00 */
	    {false, NULL},                             /* 03-30 02:00 */
	    {true, "daily 2026-03-25"},                /* 03-25 14:00 */
	    {true, "weekly the week from 2026-03-16"}, /* 03-20 12:00 */
	    {false, NULL},                             /* 03-17 12:00 */
	    {true, "monthly 2026-02"},                 /* 02-10 12:00 */
	    {false, NULL},                             /* 02-03 12:00 */
	    {false, "outside every retention window"}, /* 2025-01-15 */
	    {true, "protected"},                       /* 2025-01-10 */
	    {true, "daily 2026-03-24"},                /* 03-24 14:00 */
	};
	size_t i;

	at(&it[0], NOW - 2 * HOUR, false);
	at(&it[1], NOW - 10 * HOUR, false);
	at(&it[2], NOW - 22 * HOUR, false);
	at(&it[3], NOW - 34 * HOUR, false);
	at(&it[4], NOW - 5 * DAY - 22 * HOUR, false);
	at(&it[5], NOW - 11 * DAY, false);
	at(&it[6], NOW - 14 * DAY, false);
	at(&it[7], NOW - 49 * DAY, false);
	at(&it[8], NOW - 56 * DAY, false);
	at(&it[9], NOW - 440 * DAY, false);
	at(&it[10], NOW - 445 * DAY, true);
	at(&it[11], NOW - 6 * DAY - 22 * HOUR, false);
	retention_plan(it, 12, &r, NOW);
	for (i = 0; i < 12; i++) {
		if (it[i].keep != want[i].keep)
			fprintf(stderr, "item %zu: %s\n", i, it[i].reason);
		CHECK_INT(it[i].keep, want[i].keep);
		if (want[i].reason != NULL)
			CHECK_STR(it[i].reason, want[i].reason);
	}

	/* No window: everything stays. */
	r.daily = r.weekly = r.monthly = 0;
	retention_plan(it, 12, &r, NOW);
	for (i = 0; i < 12; i++)
		CHECK(it[i].keep);

	/* Only a daily window: a backup made "after" now (a clock set back)
	 * is inside it, and is the newest. */
	r.daily = 1;
	at(&it[0], NOW + DAY, false);
	at(&it[1], NOW - HOUR, false);
	at(&it[2], NOW - 2 * DAY, false);
	retention_plan(it, 3, &r, NOW);
	CHECK(it[0].keep && it[1].keep && !it[2].keep);
	CHECK_STR(it[0].reason, "newest backup");
	CHECK_STR(it[1].reason, "daily 2026-03-31");
	CHECK_STR(it[2].reason, "outside every retention window");
	retention_plan(it, 0, &r, NOW);
}

/* A synthetic backup: a small dump file and its sidecar. */
static void fake_backup(const char *dir, int64_t t, const char *ext,
                        bool with_sidecar)
{
	struct backup_info b;
	enum manifest_backup_format f;
	struct berr err;
	char stem[32];
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(stem, sizeof(stem), "backup_%Y%m%d_%H%M%S", &tm);
	memset(&b, 0, sizeof(b));
	b.file = xasprintf("%s%s", stem, ext);
	b.path = fs_join(dir, b.file);
	CHECK_INT(backup_name_parse(&b.created_at, &f, b.file), 0);
	b.format = f;
	b.kind = BACKUP_SCHEDULED;
	b.size = 4;
	memset(b.sha256, '0', 64);
	CHECK_INT(fs_write_atomic(b.path, "dump", 4, 0600, &err), 0);
	if (with_sidecar)
		CHECK_INT(sidecar_save(&b, &err), 0);
	backup_info_release(&b);
}

static bool exists_in(const char *dir, const char *name)
{
	char *p = fs_join(dir, name);
	bool e = fs_exists(p);

	free(p);
	return e;
}

static const struct backup_pruned *find(const struct backup_pruned *p, size_t n,
                                        const char *file)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(p[i].file, file) == 0)
			return &p[i];
	return NULL;
}

/* A pid that no process has: a child that already exited and was
 * reaped. */
static pid_t dead_pid(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return pid;
}

static int count_prefix(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d != NULL && (e = readdir(d)) != NULL)
		if (strncmp(e->d_name, prefix, strlen(prefix)) == 0)
			n++;
	if (d != NULL)
		closedir(d);
	return n;
}

static void test_list_prune(void)
{
	char *dir = check_tempdir("berth-prune"), *p;
	const char *protect[] = {"/elsewhere/backup_20250110_120000.dump",
	                         NULL};
	struct backup_prune_opts o = {.dir = dir,
	                              .keep = {7, 28, 365},
	                              .protect = protect,
	                              .now = NOW,
	                              .dry_run = true};
	struct backup_info *list;
	struct backup_pruned *pr;
	const struct backup_pruned *e;
	struct timespec old[2] = {{NOW - DAY, 0}, {NOW - DAY, 0}};
	struct berr err;
	size_t n, i;
	int fd;

	fake_backup(dir, NOW - 2 * HOUR, ".dump", true);    /* kept */
	fake_backup(dir, NOW - 10 * HOUR, ".sql", true);    /* removed */
	fake_backup(dir, NOW - 22 * HOUR, ".sql.gz", true); /* kept */
	fake_backup(dir, NOW - 14 * DAY, ".dump", true);    /* kept, weekly */
	fake_backup(dir, NOW - 15 * DAY, ".dump", true);    /* removed */
	fake_backup(dir, NOW - 440 * DAY, ".dump", true);   /* removed */
	fake_backup(dir, NOW - 445 * DAY, ".dump", true);   /* protected */
	fake_backup(dir, NOW - 500 * DAY, ".dump", false);  /* no sidecar */
	/* A sidecar whose dump is gone, and files berth does not know. */
	fake_backup(dir, NOW - 3 * DAY, ".sql", true);
	p = fs_join(dir, "backup_20260328_120000.sql");
	CHECK_INT(unlink(p), 0);
	free(p);
	p = fs_join(dir, "notes.txt");
	CHECK_INT(fs_write_atomic(p, "x", 1, 0600, &err), 0);
	free(p);
	p = fs_join(dir, "backup_20260105_120000.json.tmp.1");
	CHECK_INT(fs_write_atomic(p, "x", 1, 0600, &err), 0);
	free(p);
	/* A sidecar whose writer died half way (no such pid). */
	p = xasprintf("%s/backup_20260105_120000.json.tmp.%d", dir,
	              (int)dead_pid());
	CHECK_INT(fs_write_atomic(p, "x", 1, 0600, &err), 0);
	free(p);
	/* A partial dump nobody writes any more, and one being written. */
	p = fs_join(dir, ".backup_20260101_000000.partial");
	CHECK_INT(fs_write_atomic(p, "x", 1, 0600, &err), 0);
	CHECK_INT(utimensat(AT_FDCWD, p, old, 0), 0);
	free(p);
	p = fs_join(dir, ".backup_20260102_000000.partial");
	fd = open(p, O_RDWR | O_CREAT, 0600);
	CHECK(fd >= 0);
	{
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

		CHECK_INT(fcntl(fd, F_OFD_SETLK, &fl), 0);
	}
	CHECK_INT(utimensat(AT_FDCWD, p, old, 0), 0);

	CHECK_INT(backup_list(&list, &n, dir, &err), 0);
	CHECK_INT(n, 9);
	if (n == 9) {
		CHECK_STR(list[0].file, "backup_20260331_100000.dump");
		CHECK(list[0].complete && list[0].problem == NULL);
		CHECK_STR(list[3].file, "backup_20260328_120000.sql");
		CHECK(!list[3].complete);
		CHECK_STR(list[3].problem, "its dump is gone");
		CHECK_STR(list[8].file, "backup_20241116_120000.dump");
		CHECK(!list[8].complete);
		CHECK(strstr(list[8].problem, "no sidecar") != NULL);
		for (i = 1; i < n; i++)
			CHECK(list[i - 1].created_at >= list[i].created_at);
	}
	backup_list_free(list, n);

	CHECK_INT(backup_prune(&pr, &n, &o, &err), 0);
	CHECK_INT(n, 9);
	for (i = 0; i < n; i++)
		fprintf(stderr, "prune: %s %s\n", pr[i].file, pr[i].reason);
	e = find(pr, n, "backup_20260331_020000.sql");
	CHECK(e != NULL && e->removed);
	e = find(pr, n, "backup_20260317_120000.dump");
	CHECK(e != NULL && !e->removed);
	e = find(pr, n, "backup_20260316_120000.dump");
	CHECK(e != NULL && e->removed);
	e = find(pr, n, "backup_20250115_120000.dump");
	CHECK(e != NULL && e->removed &&
	      strcmp(e->reason, "removed: outside every retention window") ==
	          0);
	e = find(pr, n, "backup_20250110_120000.dump");
	CHECK(e != NULL && !e->removed &&
	      strcmp(e->reason, "kept: protected") == 0);
	e = find(pr, n, "backup_20241116_120000.dump");
	CHECK(e != NULL && !e->removed);
	e = find(pr, n, "backup_20260328_120000.sql");
	CHECK(e != NULL && e->removed &&
	      strcmp(e->reason, "removed: its dump is gone") == 0);
	/* A dry run removes nothing. */
	CHECK(exists_in(dir, "backup_20260331_020000.sql"));
	CHECK(exists_in(dir, "backup_20260328_120000.json"));
	CHECK(exists_in(dir, ".backup_20260101_000000.partial"));
	backup_pruned_free(pr, n);

	o.dry_run = false;
	CHECK_INT(backup_prune(&pr, &n, &o, &err), 0);
	backup_pruned_free(pr, n);
	CHECK(exists_in(dir, "backup_20260331_100000.dump"));
	CHECK(exists_in(dir, "backup_20260331_100000.json"));
	CHECK(!exists_in(dir, "backup_20260331_020000.sql"));
	CHECK(!exists_in(dir, "backup_20260331_020000.json"));
	CHECK(exists_in(dir, "backup_20260330_140000.sql.gz"));
	CHECK(exists_in(dir, "backup_20260317_120000.dump"));
	CHECK(!exists_in(dir, "backup_20260316_120000.dump"));
	CHECK(!exists_in(dir, "backup_20250115_120000.dump"));
	CHECK(!exists_in(dir, "backup_20250115_120000.json"));
	CHECK(exists_in(dir, "backup_20250110_120000.dump"));
	CHECK(exists_in(dir, "backup_20241116_120000.dump"));
	CHECK(!exists_in(dir, "backup_20260328_120000.json"));
	CHECK(exists_in(dir, "notes.txt"));
	/* pid 1 lives: its file stays; the dead writer's goes. */
	CHECK(exists_in(dir, "backup_20260105_120000.json.tmp.1"));
	CHECK_INT(count_prefix(dir, "backup_20260105_120000.json.tmp."), 1);
	CHECK(!exists_in(dir, ".backup_20260101_000000.partial"));
	CHECK(exists_in(dir, ".backup_20260102_000000.partial"));
	close(fd);
	free(p);

	/* An empty or missing directory lists nothing. */
	p = fs_join(dir, "none");
	CHECK_INT(backup_list(&list, &n, p, &err), 0);
	CHECK_INT(n, 0);
	backup_list_free(list, n);
	free(p);
	CHECK_INT(fs_remove_tree(dir, &err), 0);
	free(dir);
}

int main(void)
{
	test_names();
	test_sidecar_json();
	test_filter();
	test_retention();
	test_list_prune();
	return check_done("test_backup_files");
}
