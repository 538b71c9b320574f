/*
 * test_state_crash.c — SPEC §11: killing berth at any instant leaves state
 * that the next start can read.
 *
 * A forked writer keeps creating and rewriting deployment records, switching
 * `current` and freezing/unfreezing, each write a different version. The
 * parent kills it with SIGKILL at a random instant of its writing (every
 * tenth time, of its start-up), ROUNDS times, and after
 * every kill loads the whole state (history, latest, current, frozen) and
 * checks that each thing it reads is exactly one of the versions the writer
 * wrote, and that no temporary file survives the next state_open.
 *
 * Every version is a pure function of a sequence number that the writer
 * announces in shared memory before writing it, so the parent can rebuild
 * what it must have been and compare it field by field.
 */
#include <errno.h>
#include <jansson.h>
#include <dirent.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "berth.h"
#include "check.h"

#define ROUNDS 250
#define MAX_SEQ (1 << 20)
#define MAX_RECORDS 40
#define NCOMMITS 16
#define ENV "crash"

struct shared {
	_Atomic int64_t announced; /* the newest sequence number begun */
	/* For each sequence number, the record id it rewrites, or -1 when it
	 * creates a new record (whose id the writer cannot know before). */
	int64_t target[MAX_SEQ];
};

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void sha_of(char out[41], uint64_t n)
{
	snprintf(out, 41, "%016llx%016llx%08llx",
		 (unsigned long long)mix(n), (unsigned long long)mix(n + 1),
		 (unsigned long long)(mix(n + 2) & 0xffffffffULL));
}

static char *filler(char c, size_t len)
{
	char *s = xmalloc(len + 1);

	memset(s, c, len);
	s[len] = '\0';
	return s;
}

/* Version seq of a record (its id is set by the caller). */
static void gen(struct deployment *d, int64_t seq)
{
	static const char *const triggers[] = {
		"cli", "webhook:github:d1", "hook:post-receive", "poll",
		"drift", "revert", "api"};
	uint64_t r = mix((uint64_t)seq);
	char buf[64];
	size_t i, n;

	deployment_init(d);
	deployment_set(&d->env, ENV);
	snprintf(buf, sizeof(buf), "v%lld", (long long)seq);
	deployment_set(&d->version, buf);
	deployment_set(&d->kind, seq % 7 == 0 ? DEPLOY_KIND_ROLLBACK
					      : DEPLOY_KIND_DEPLOY);
	sha_of(d->commit, (uint64_t)seq);
	if (seq % 3 != 0)
		sha_of(d->previous_commit, (uint64_t)seq + 1000003);
	sha_of(d->tree, (uint64_t)seq ^ 0xabcdef);
	deployment_set(&d->trigger, triggers[r % BERTH_ARRAY_LEN(triggers)]);
	d->status = (enum deploy_status)(seq % 6);
	d->started_at = 1767614400 + seq;
	if (d->status != DEPLOY_RUNNING)
		d->finished_at = d->started_at + (int64_t)(r % 500);
	if (seq % 2)
		deployment_set(&d->backup, "/srv/backups/backup_20260105_120000.dump");
	d->migrations_ran = seq % 4 == 1;
	for (i = 0; i < (size_t)(seq % 4); i++) {
		snprintf(buf, sizeof(buf), "%04zu_step_%lld.sql", i, (long long)seq);
		strv_push(&d->migrations, buf);
	}
	d->rollback_to = seq % 5 == 0 ? seq / 2 : 0;
	d->error = filler('e', (size_t)(r >> 8) % 3000);
	d->pid = (int)(seq % 30000) + 1;
	n = (size_t)(seq % 6);
	for (i = 0; i < n; i++) {
		static const char *const names[] = {"lock", "validate", "backup",
						    "fetch", "build", "migrate"};
		struct step_record *s = deployment_step(d, names[i]);

		s->status = (enum step_status)((seq + (int64_t)i) % 5);
		s->started_ms = (d->started_at + (int64_t)i) * 1000 + seq % 1000;
		s->finished_ms = s->started_ms + (int64_t)(r >> (i * 4)) % 9000;
		s->output_tail = filler((char)('a' + i),
					(size_t)(seq * 13 + (int64_t)i) % 2000);
	}
	for (i = 0; i < (size_t)(seq % 3); i++) {
		snprintf(buf, sizeof(buf), "svc%zu", i);
		deployment_add_service(d, buf, d->tree);
	}
}

static void die(const char *what, const struct berr *err)
{
	fprintf(stderr, "writer: %s: %s\n", what, err->msg);
	_exit(1);
}

/* The writer: never returns; killed by the parent. */
static void writer(const char *root, struct shared *sh, int64_t seq)
{
	struct deployment d;
	struct state st;
	struct berr err;
	char commit[41];
	int64_t count = 0;
	int rc;

	if (state_open(&st, root, ENV, &err) != 0)
		die("open", &err);
	rc = state_latest(&st, &d, &err);
	if (rc == 0)
		count = d.id;
	else if (rc != BERTH_ENOTFOUND)
		die("latest", &err);
	deployment_release(&d);
	for (;; seq++) {
		int op = (int)(seq % 10);

		if (seq >= MAX_SEQ)
			_exit(0);
		if (op <= 6) {
			bool create = count == 0 ||
				      (op <= 1 && count < MAX_RECORDS);

			sh->target[seq] =
				create ? -1 : 1 + (int64_t)(mix((uint64_t)seq) %
							     (uint64_t)count);
			atomic_store(&sh->announced, seq);
			gen(&d, seq);
			if (create) {
				if (state_create_deployment(&st, &d, &err) != 0)
					die("create", &err);
				count = d.id;
			} else {
				d.id = sh->target[seq];
				if (state_save_deployment(&st, &d, &err) != 0)
					die("save", &err);
			}
			deployment_release(&d);
		} else if (op <= 8) {
			atomic_store(&sh->announced, seq);
			sha_of(commit, (uint64_t)(seq % NCOMMITS));
			if (state_set_current(&st, commit, seq, &err) != 0)
				die("set_current", &err);
		} else {
			char reason[64];

			atomic_store(&sh->announced, seq);
			snprintf(reason, sizeof(reason), "frozen at %lld",
				 (long long)seq);
			if ((seq / 10) % 2 == 0)
				rc = state_freeze(&st, reason, &err);
			else
				rc = state_unfreeze(&st, &err);
			if (rc != 0 && rc != BERTH_ENOTFOUND)
				die("freeze", &err);
		}
	}
}

/* Temporary files (anything but the names the state itself uses) in dir. */
static int count_temp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, ".tmp.") != NULL ||
		    strncmp(e->d_name, ".new.", 5) == 0)
			n++;
	closedir(d);
	return n;
}

static int temp_files(const char *root)
{
	char *env = xasprintf("%s/envs/%s", root, ENV);
	char *dep = xasprintf("%s/deployments", env);
	int n = count_temp(env) + count_temp(dep);

	free(env);
	free(dep);
	return n;
}

/* d must be version seq of record d->id, for a seq that was begun. */
static bool verify_record(const struct deployment *d, const struct shared *sh,
			  int64_t announced)
{
	struct deployment expect;
	json_t *a, *b;
	int64_t seq;
	bool ok;

	if (d->version == NULL || d->version[0] != 'v' ||
	    strnum_i64(&seq, d->version + 1, 0, announced) != 0) {
		fprintf(stderr, "record %lld: version %s was never written\n",
			(long long)d->id, d->version ? d->version : "(null)");
		return false;
	}
	if (sh->target[seq] != -1 && sh->target[seq] != d->id) {
		fprintf(stderr, "record %lld holds version %lld, written to %lld\n",
			(long long)d->id, (long long)seq,
			(long long)sh->target[seq]);
		return false;
	}
	gen(&expect, seq);
	expect.id = d->id;
	a = deployment_to_json(d);
	b = deployment_to_json(&expect);
	ok = json_equal(a, b);
	if (!ok)
		fprintf(stderr, "record %lld differs from version %lld\n",
			(long long)d->id, (long long)seq);
	json_decref(a);
	json_decref(b);
	deployment_release(&expect);
	return ok;
}

static bool is_release_target(const char *target)
{
	char sha[41], want[64];
	int k;

	for (k = 0; k < NCOMMITS; k++) {
		sha_of(sha, (uint64_t)k);
		snprintf(want, sizeof(want), "releases/%s", sha);
		if (strcmp(target, want) == 0)
			return true;
	}
	return false;
}

/* Loads everything after a kill and checks it is what was written. */
static void verify(const char *root, const struct shared *sh, int round)
{
	int64_t announced = atomic_load(&sh->announced), id, seq;
	struct deployment *h = NULL, latest;
	struct merrs bad = {0};
	char commit[41], sha[41], target[128], *reason = NULL, *link;
	struct state st;
	struct berr err;
	ssize_t len;
	size_t n = 0, i;
	int rc, before = check_failures;

	CHECK_INT(state_open(&st, root, ENV, &err), 0);
	CHECK_INT(temp_files(root), 0);

	CHECK_INT(state_history(&st, &h, &n, &bad, 0, &err), 0);
	CHECK_INT(bad.n, 0);
	for (i = 0; i < bad.n; i++)
		fprintf(stderr, "unreadable: %s\n", bad.items[i]);
	merrs_release(&bad);
	for (i = 0; i < n; i++) {
		CHECK_INT(h[i].id, (int64_t)(n - i)); /* 1..n, no gaps */
		CHECK(verify_record(&h[i], sh, announced));
	}
	rc = state_latest(&st, &latest, &err);
	if (n == 0) {
		CHECK_INT(rc, BERTH_ENOTFOUND);
	} else {
		CHECK_INT(rc, 0);
		CHECK_INT(latest.id, h[0].id);
		deployment_release(&latest);
	}
	state_history_free(h, n);

	rc = state_get_current(&st, commit, &id, &err);
	if (rc == 0) {
		seq = id;
		sha_of(sha, (uint64_t)(seq % NCOMMITS));
		CHECK(seq <= announced && (seq % 10 == 7 || seq % 10 == 8));
		CHECK_STR(commit, sha);
	} else {
		CHECK_INT(rc, BERTH_ENOTFOUND);
		if (rc != BERTH_ENOTFOUND)
			fprintf(stderr, "current: %s\n", err.msg);
	}
	link = state_path(&st, "current");
	len = readlink(link, target, sizeof(target) - 1);
	if (len >= 0) {
		target[len] = '\0';
		CHECK(is_release_target(target));
	} else {
		CHECK_INT(errno, ENOENT);
		CHECK_INT(rc, BERTH_ENOTFOUND); /* json never before the link */
	}
	free(link);

	if (state_frozen(&st, &reason) == 1) {
		long long at = -1;

		CHECK(reason != NULL && sscanf(reason, "frozen at %lld", &at) == 1 &&
		      at <= announced && at % 10 == 9);
		free(reason);
	}
	state_close(&st);
	if (check_failures != before)
		fprintf(stderr, "round %d (announced %lld): state did not load "
				"as written\n", round, (long long)announced);
}

/* Waits until the writer announces start or exits. Returns false (and
 * reaps it) when it exited. */
static bool wait_started(const struct shared *sh, int64_t start, pid_t pid)
{
	int status;

	while (atomic_load(&sh->announced) < start) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			fprintf(stderr, "writer exited before writing (status "
					"%d)\n", status);
			CHECK(false);
			return false;
		}
		usleep(100);
	}
	return true;
}

int main(void)
{
	char *root = check_tempdir("berth-crash");
	unsigned seed = (unsigned)time(NULL);
	int round, leftovers = 0, early = 0;
	struct shared *sh;
	struct state st;
	struct berr err;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		fprintf(stderr, "cannot map shared memory: %s\n", strerror(errno));
		return 1;
	}
	atomic_store(&sh->announced, 0);
	/* The releases `current` switches between. */
	CHECK_INT(state_open(&st, root, ENV, &err), 0);
	for (round = 0; round < NCOMMITS; round++) {
		char sha[41], *rel, *path;

		sha_of(sha, (uint64_t)round);
		rel = xasprintf("releases/%s", sha);
		path = state_path(&st, rel);
		CHECK_INT(fs_mkdir_p(path, 0755, &err), 0);
		free(rel);
		free(path);
	}
	state_close(&st);

	fprintf(stderr, "test_state_crash: seed %u\n", seed);
	srand(seed);
	for (round = 0; round < ROUNDS; round++) {
		int64_t start = atomic_load(&sh->announced) + 1;
		int status;
		pid_t pid;

		pid = fork();
		if (pid < 0) {
			fprintf(stderr, "fork: %s\n", strerror(errno));
			return 1;
		}
		if (pid == 0)
			writer(root, sh, start);
		/* Mostly while it writes: wait until it has begun this round's
		 * first write (however loaded the machine is), then let it run
		 * a random while. Every tenth round it is killed wherever it
		 * is, start-up included. */
		if (round % 10 != 9 && !wait_started(sh, start, pid))
			break;
		usleep((useconds_t)(rand() % 20000));
		kill(pid, SIGKILL);
		CHECK(waitpid(pid, &status, 0) == pid);
		if (!WIFSIGNALED(status)) {
			CHECK(WIFSIGNALED(status));
			fprintf(stderr, "writer exited with status %d\n",
				WEXITSTATUS(status));
			break;
		}
		if (atomic_load(&sh->announced) < start)
			early++;
		leftovers += temp_files(root) > 0;
		verify(root, sh, round);
	}
	fprintf(stderr, "test_state_crash: %d kills, %lld versions written, "
			"%d kills left temporary files, %d before any write\n",
		round, (long long)atomic_load(&sh->announced), leftovers, early);
	CHECK_INT(round, ROUNDS);
	/* The kills must have landed inside writes, or this proved nothing. */
	CHECK(ROUNDS - early >= 200);
	CHECK(leftovers > 0);
	munmap(sh, sizeof(*sh));
	if (fs_remove_tree(root, &err) != 0)
		fprintf(stderr, "%s\n", err.msg);
	free(root);
	return check_done("test_state_crash");
}
