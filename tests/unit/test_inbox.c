/*
 * test_inbox.c — the durable inbox: records survive a reopen with their
 * dedupe keys and status, a torn last line is skipped, unsynced records
 * can be forgotten, deliveries are done once every environment deployed,
 * segments rotate and expire after three days while queued records are
 * kept; deliveries reach the file in one write per batch, and a batch whose
 * write fails is never made durable; rotating and dropping segments leave
 * their disk work to the next sync, in a safe order, and a large segment
 * is dropped a step at a time; plus the API body and
 * queue file parsers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "berth.h"
#include "check.h"
#include "tmpdir.h"
#include "webhooks.h"

#define T0 1800000000

static uint64_t add(struct inbox *ib, const char *provider, const char *id,
		    enum inbox_status status, const char *const *envs,
		    size_t nenvs, int64_t now)
{
	struct inbox_delivery d = {0};
	struct berr err;
	uint64_t seq = 0;

	d.provider = provider;
	d.delivery = id;
	d.event = "push";
	d.status = status;
	d.branch = "main";
	d.after = "0123456789abcdef0123456789abcdef01234567";
	d.envs = envs;
	d.nenvs = nenvs;
	if (inbox_append(&seq, ib, &d, now, &err) != 0)
		fprintf(stderr, "append: %s\n", err.msg);
	return seq;
}

static void count_queued(const struct inbox_view *v, void *arg)
{
	(void)v;
	(*(int *)arg)++;
}

static int queued_count(struct inbox *ib)
{
	int n = 0;

	inbox_foreach_queued(ib, count_queued, &n);
	return n;
}

static struct inbox *reopen(struct inbox *ib, const char *dir, int64_t now)
{
	struct berr err;

	inbox_close(ib);
	ib = NULL;
	if (inbox_open(&ib, dir, now, &err) != 0) {
		fprintf(stderr, "reopen: %s\n", err.msg);
		exit(1);
	}
	return ib;
}

/* Adds delivery id, syncs, reopens: the record must have survived. */
static struct inbox *add_durably(struct inbox *ib, const char *dir,
				 const char *id)
{
	struct berr err;

	add(ib, "github", id, INBOX_IGNORED, NULL, 0, T0);
	CHECK_INT(inbox_sync(ib, &err), 0);
	ib = reopen(ib, dir, T0);
	CHECK(inbox_seen(ib, "github", id));
	return ib;
}

static void test_roundtrip(const char *dir)
{
	const char *both[] = {"production", "staging"};
	struct inbox *ib = NULL;
	struct berr err;
	uint64_t s1;
	json_t *ev;

	struct inbox *other = NULL;

	CHECK_INT(inbox_open(&ib, dir, T0, &err), 0);
	/* One owner at a time. */
	CHECK_INT(inbox_open(&other, dir, T0, &err), BERTH_ELOCKED);
	CHECK(other == NULL);
	CHECK(strstr(err.msg, "another berth serve") != NULL);
	s1 = add(ib, "github", "d-1", INBOX_QUEUED, both, 2, T0);
	CHECK(s1 > 0);
	CHECK(add(ib, "github", "d-2", INBOX_IGNORED, NULL, 0, T0) > s1);
	CHECK(add(ib, "stripe", "evt_1", INBOX_STORED, NULL, 0, T0) > 0);
	CHECK_INT(add(ib, "github", "d-1", INBOX_QUEUED, both, 2, T0), 0);
	CHECK_INT(inbox_sync(ib, &err), 0);
	ib = reopen(ib, dir, T0 + 10);
	CHECK(inbox_seen(ib, "github", "d-1"));
	CHECK(inbox_seen(ib, "github", "d-2"));
	CHECK(inbox_seen(ib, "stripe", "evt_1"));
	CHECK(!inbox_seen(ib, "gitea", "d-1"));
	CHECK_INT(inbox_count(ib), 3);
	CHECK_INT(queued_count(ib), 1);

	ev = inbox_events_json(ib, "stripe", 10);
	CHECK_INT(json_array_size(ev), 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(ev, 0),
						    "delivery")),
		  "evt_1");
	json_decref(ev);
	ev = inbox_events_json(ib, NULL, 2);
	CHECK_INT(json_array_size(ev), 2);
	CHECK_STR(json_string_value(json_object_get(json_array_get(ev, 0),
						    "provider")),
		  "stripe");
	json_decref(ev);

	/* Done once both environments deployed it. */
	CHECK_INT(inbox_mark_done(ib, "production", s1, &err), 0);
	CHECK_INT(queued_count(ib), 1);
	CHECK_INT(inbox_mark_done(ib, "staging", s1, &err), 0);
	CHECK_INT(queued_count(ib), 0);
	CHECK_INT(inbox_sync(ib, &err), 0);
	ib = reopen(ib, dir, T0 + 20);
	CHECK_INT(queued_count(ib), 0);
	CHECK(inbox_seen(ib, "github", "d-1"));
	inbox_close(ib);
}

static void test_torn_line(const char *dir)
{
	struct inbox *ib = NULL;
	struct berr err;
	char *path;
	int fd;

	CHECK_INT(inbox_open(&ib, dir, T0, &err), 0);
	add(ib, "github", "whole", INBOX_QUEUED,
	    (const char *[]){"production"}, 1, T0);
	CHECK_INT(inbox_sync(ib, &err), 0);
	inbox_close(ib);
	/* What a crash in the middle of an append leaves. */
	path = xasprintf("%s/seg-%016d.jsonl", dir, 1);
	fd = open(path, O_WRONLY | O_APPEND);
	CHECK(fd >= 0);
	CHECK(write(fd, "{\"seq\":9,\"provider\":\"gith", 25) == 25);
	close(fd);
	free(path);
	CHECK_INT(inbox_open(&ib, dir, T0, &err), 0);
	CHECK(inbox_seen(ib, "github", "whole"));
	CHECK_INT(queued_count(ib), 1);
	/* New records go to a new segment, never after the torn line. */
	ib = add_durably(ib, dir, "after");

	/* Unsynced records can be forgotten after a failed sync. */
	add(ib, "github", "unsynced", INBOX_IGNORED, NULL, 0, T0);
	CHECK(inbox_seen(ib, "github", "unsynced"));
	CHECK_INT(inbox_forget_unsynced(ib, T0, &err), 0);
	CHECK(!inbox_seen(ib, "github", "unsynced"));
	CHECK(inbox_seen(ib, "github", "after"));
	inbox_close(ib);
}

static void test_expiry(const char *dir)
{
	struct inbox *ib = NULL;
	struct berr err;
	int64_t later = T0 + INBOX_KEEP_S + 2 * 86400;
	int i;

	CHECK_INT(inbox_open(&ib, dir, T0, &err), 0);
	add(ib, "github", "old-done", INBOX_IGNORED, NULL, 0, T0);
	add(ib, "github", "old-queued", INBOX_QUEUED,
	    (const char *[]){"production"}, 1, T0);
	CHECK_INT(inbox_sync(ib, &err), 0);
	/* Three days later: rotated, and the old segment deleted, but the
	 * queued record copied forward. */
	CHECK_INT(inbox_maintain(ib, later, &err), 0);
	CHECK_INT(inbox_maintain(ib, later, &err), 0);
	CHECK(!inbox_seen(ib, "github", "old-done"));
	CHECK(inbox_seen(ib, "github", "old-queued"));
	ib = reopen(ib, dir, later);
	CHECK(!inbox_seen(ib, "github", "old-done"));
	CHECK(inbox_seen(ib, "github", "old-queued"));
	CHECK_INT(queued_count(ib), 1);

	/* A full segment rotates. */
	for (i = 0; i < INBOX_SEGMENT_LINES + 5; i++) {
		char id[32];

		snprintf(id, sizeof(id), "bulk-%d", i);
		add(ib, "github", id, INBOX_IGNORED, NULL, 0, later);
	}
	CHECK_INT(inbox_maintain(ib, later, &err), 0);
	CHECK_INT(inbox_sync(ib, &err), 0);
	ib = reopen(ib, dir, later);
	CHECK(inbox_seen(ib, "github", "bulk-0"));
	CHECK(inbox_seen(ib, "github", "bulk-20004"));
	CHECK_INT(inbox_count(ib), INBOX_SEGMENT_LINES + 6);
	inbox_close(ib);
}

/* Bytes of lines in the inbox's segment files (up to the zeros a segment
 * is prepared with), the files' total size into *files and the number of
 * lines into *lines (each when not NULL). */
static off_t inbox_bytes_in(const char *dir, off_t *files, size_t *lines)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	off_t total = 0;
	size_t i, len;

	CHECK(d != NULL);
	if (files != NULL)
		*files = 0;
	if (lines != NULL)
		*lines = 0;
	while (d != NULL && (de = readdir(d)) != NULL) {
		struct buf data;
		struct berr err;
		char *path;

		if (strncmp(de->d_name, "seg-", 4) != 0)
			continue;
		path = fs_join(dir, de->d_name);
		buf_init(&data, 0);
		CHECK_INT(fs_read_file(&data, path, (size_t)64 << 20, &err), 0);
		len = data.len > 0 ? strnlen(data.data, data.len) : 0;
		total += (off_t)len;
		for (i = 0; lines != NULL && i < len; i++)
			*lines += data.data[i] == '\n';
		if (files != NULL)
			*files += (off_t)data.len;
		buf_release(&data);
		free(path);
	}
	if (d != NULL)
		closedir(d);
	return total;
}

static off_t inbox_bytes(const char *dir)
{
	return inbox_bytes_in(dir, NULL, NULL);
}

/* A daemon that dies leaves its current segment with the zeros it was
 * prepared with: the records before them are all read back. */
static void test_zeros_after_crash(const char *dir)
{
	struct inbox *ib = NULL;
	struct berr err;
	off_t text, files;
	pid_t pid;
	int status;

	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		if (inbox_open(&ib, dir, T0, &err) != 0)
			_exit(2);
		add(ib, "github", "z-1", INBOX_QUEUED,
		    (const char *[]){"production"}, 1, T0);
		add(ib, "github", "z-2", INBOX_IGNORED, NULL, 0, T0);
		_exit(inbox_sync(ib, &err) == 0 ? 0 : 3);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	text = inbox_bytes_in(dir, &files, NULL);
	CHECK(text > 0);
	CHECK(files > text);
	CHECK_INT(inbox_open(&ib, dir, T0, &err), 0);
	CHECK(inbox_seen(ib, "github", "z-1"));
	CHECK(inbox_seen(ib, "github", "z-2"));
	CHECK_INT(queued_count(ib), 1);
	ib = add_durably(ib, dir, "z-3");
	CHECK_INT(inbox_count(ib), 3);
	inbox_close(ib);
}

static void test_batched_writes(const char *dir)
{
	struct inbox *ib = NULL;
	struct berr err;
	struct rlimit lim, saved;
	off_t before, files;

	CHECK_INT(inbox_open(&ib, dir, T0, &err), 0);
	add(ib, "github", "first", INBOX_IGNORED, NULL, 0, T0);
	CHECK_INT(inbox_sync(ib, &err), 0);
	before = inbox_bytes(dir);
	CHECK(before > 0);

	/* A batch waits in memory until it is flushed, then goes out whole. */
	add(ib, "github", "b-1", INBOX_IGNORED, NULL, 0, T0);
	add(ib, "github", "b-2", INBOX_QUEUED, (const char *[]){"production"},
	    1, T0);
	CHECK(inbox_bytes(dir) == before);
	CHECK_INT(inbox_flush(ib, &err), 0);
	CHECK(inbox_bytes(dir) > before);
	CHECK_INT(inbox_sync(ib, &err), 0);

	/* Unanswered deliveries still waiting at close are written. */
	add(ib, "github", "at-close", INBOX_IGNORED, NULL, 0, T0);
	ib = reopen(ib, dir, T0);
	CHECK(inbox_seen(ib, "github", "b-1"));
	CHECK(inbox_seen(ib, "github", "b-2"));
	CHECK(inbox_seen(ib, "github", "at-close"));

	/* The write of a batch fails part-way (the file size limit stands in
	 * for a full disk): neither the flush nor a sync succeeds until the
	 * batch is forgotten, and what is written afterwards is readable. */
	CHECK_INT(inbox_sync(ib, &err), 0);
	before = inbox_bytes(dir);
	CHECK_INT(getrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, SIG_IGN);
	add(ib, "github", "lost-1", INBOX_IGNORED, NULL, 0, T0);
	add(ib, "github", "lost-2", INBOX_IGNORED, NULL, 0, T0);
	lim = saved;
	lim.rlim_cur = 100; /* each segment's first 100 bytes only */
	CHECK_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
	CHECK_INT(inbox_flush(ib, &err), -1);
	CHECK(strstr(err.msg, "cannot append to") != NULL);
	CHECK_INT(inbox_sync(ib, &err), -1);
	CHECK_INT(setrlimit(RLIMIT_FSIZE, &saved), 0);
	signal(SIGXFSZ, SIG_DFL);
	CHECK_INT(inbox_forget_unsynced(ib, T0, &err), 0);
	CHECK(!inbox_seen(ib, "github", "lost-1"));
	CHECK(!inbox_seen(ib, "github", "lost-2"));
	add(ib, "github", "after-failure", INBOX_IGNORED, NULL, 0, T0);
	CHECK_INT(inbox_sync(ib, &err), 0);
	ib = reopen(ib, dir, T0);
	CHECK(!inbox_seen(ib, "github", "lost-1"));
	CHECK(!inbox_seen(ib, "github", "lost-2"));
	CHECK(inbox_seen(ib, "github", "after-failure"));
	CHECK(inbox_seen(ib, "github", "at-close"));
	inbox_close(ib);
	/* Closed segments are cut to their lines: no zeros are left behind,
	 * not even after the failed write. */
	CHECK(inbox_bytes_in(dir, &files, NULL) == files);
}

/* The path of the segment named by first_seq. */
static char *seg_path(const char *dir, uint64_t first_seq)
{
	char name[64];

	snprintf(name, sizeof(name), "seg-%016llu.jsonl",
		 (unsigned long long)first_seq);
	return fs_join(dir, name);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* The ops of a job's steps as letters: T truncate, D fdatasync, F fsync,
 * U unlink. */
static void job_ops(char *out, const struct sync_job *job)
{
	size_t i;

	for (i = 0; i < job->nsteps; i++)
		out[i] = "TDFU"[job->steps[i].op];
	out[i] = '\0';
}

/*
 * Rotating and dropping a segment wait for nothing: the disk work goes to
 * the next sync job, in an order that loses no record, also when the
 * process dies before that job ran.
 */
static void test_deferred(const char *dir)
{
	int64_t day = T0 + 86400, later = T0 + INBOX_KEEP_S + 2 * 86400;
	struct inbox *ib = NULL;
	struct inbox_sync is;
	struct berr err;
	char ops[SYNC_STEPS_MAX + 1], *first;
	off_t zeroed;
	pid_t pid;
	int status, fd;

	CHECK_INT(inbox_open(&ib, dir, T0, &err), 0);
	first = seg_path(dir, 1);
	add(ib, "github", "old-done", INBOX_IGNORED, NULL, 0, T0);
	add(ib, "github", "old-queued", INBOX_QUEUED,
	    (const char *[]){"production"}, 1, T0);
	CHECK_INT(inbox_sync(ib, &err), 0);
	zeroed = file_size(first);
	CHECK(zeroed > inbox_bytes(dir)); /* prepared with zeros */

	/* A day later the segment rotates: nothing synced, nothing cut yet. */
	CHECK_INT(inbox_maintain(ib, day, &err), 0);
	CHECK(file_size(first) == zeroed);
	CHECK_INT(inbox_sync_prepare(ib, &is, &err), 0);
	job_ops(ops, &is.job);
	/* The old segment cut and synced, then the new name made durable. */
	CHECK_STR(ops, "TDF");
	CHECK(file_size(first) == zeroed);
	/* An inline sync may settle the same segment first; the job's own
	 * report must then close nothing of anyone else's. */
	CHECK_INT(inbox_sync(ib, &err), 0);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK_INT(sync_job_run(&is.job), 0);
	inbox_sync_done(ib, &is, 0);
	CHECK(fcntl(fd, F_GETFD) >= 0);
	close(fd);
	CHECK_INT(file_size(first), inbox_bytes_in(dir, NULL, NULL));
	CHECK_INT(inbox_sync_prepare(ib, &is, &err), 0);
	CHECK_INT(is.job.nsteps, 0); /* nothing left to do */
	inbox_close(ib);

	/* Dropped by a process that dies before its next sync: the old
	 * file is still there and reads back; the queued record stays. */
	pid = fork();
	if (pid == 0) {
		ib = NULL;
		if (inbox_open(&ib, dir, day + 10, &err) != 0 ||
		    inbox_maintain(ib, later, &err) != 0)
			_exit(2);
		_exit(inbox_seen(ib, "github", "old-done") ? 3 : 0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(file_size(first) > 0);
	ib = NULL;
	CHECK_INT(inbox_open(&ib, dir, day + 20, &err), 0);
	CHECK(inbox_seen(ib, "github", "old-done"));
	CHECK_INT(queued_count(ib), 1);

	/* Dropped in a live process: the file goes with the next sync, after
	 * the copy of the queued record is durable. */
	CHECK_INT(inbox_maintain(ib, later, &err), 0);
	CHECK(!inbox_seen(ib, "github", "old-done"));
	CHECK(inbox_seen(ib, "github", "old-queued"));
	CHECK(file_size(first) > 0);
	CHECK_INT(inbox_sync_prepare(ib, &is, &err), 0);
	job_ops(ops, &is.job);
	CHECK(strncmp(ops, "D", 1) == 0 && strstr(ops, "UF") != NULL &&
	      ops[strlen(ops) - 1] == 'F');
	CHECK_INT(sync_job_run(&is.job), 0);
	inbox_sync_done(ib, &is, 0);
	CHECK_INT(file_size(first), -1);
	ib = reopen(ib, dir, later);
	CHECK(!inbox_seen(ib, "github", "old-done"));
	CHECK_INT(queued_count(ib), 1);

	/* A job that failed leaves everything for the next one. */
	add(ib, "github", "after-fail", INBOX_IGNORED, NULL, 0, later);
	CHECK_INT(inbox_maintain(ib, later + 86400, &err), 0);
	CHECK_INT(inbox_sync_prepare(ib, &is, &err), 0);
	job_ops(ops, &is.job);
	CHECK_STR(ops, "TDDF");
	sync_job_release(&is.job);
	inbox_sync_done(ib, &is, EIO);
	CHECK_INT(inbox_sync_prepare(ib, &is, &err), 0);
	job_ops(ops, &is.job);
	CHECK_STR(ops, "TDDF");
	CHECK_INT(sync_job_run(&is.job), 0);
	inbox_sync_done(ib, &is, 0);
	inbox_close(ib);
	free(first);
}

/* Lines in the inbox's segment files (up to their zeros). */
static size_t count_lines(const char *dir)
{
	size_t lines;

	inbox_bytes_in(dir, NULL, &lines);
	return lines;
}

/* A large segment is dropped a step at a time: no call forgets more than
 * INBOX_DROP_STEP records, the queued one among them is copied once, and
 * the file goes with the sync after the last step. */
static void test_drop_in_steps(const char *dir)
{
	int64_t later = T0 + INBOX_KEEP_S + 2 * 86400;
	size_t n = 3 * INBOX_DROP_STEP + 10, i, calls = 1, before;
	struct inbox *ib = NULL;
	struct berr err;
	char id[32], *first;

	CHECK_INT(inbox_open(&ib, dir, T0, &err), 0);
	first = seg_path(dir, 1);
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "old-%zu", i);
		if (i == n / 2)
			add(ib, "github", id, INBOX_QUEUED,
			    (const char *[]){"production"}, 1, T0);
		else
			add(ib, "github", id, INBOX_IGNORED, NULL, 0, T0);
	}
	CHECK_INT(inbox_sync(ib, &err), 0);
	CHECK_INT(count_lines(dir), n);

	CHECK_INT(inbox_maintain(ib, later, &err), 0);
	CHECK_INT(inbox_count(ib), n - INBOX_DROP_STEP);
	CHECK(!inbox_seen(ib, "github", "old-0"));
	CHECK(inbox_seen(ib, "github", "old-3000"));
	snprintf(id, sizeof(id), "old-%zu", n - 1);
	while (inbox_seen(ib, "github", id) && calls < 100) {
		before = inbox_count(ib);
		CHECK_INT(inbox_maintain(ib, later, &err), 0);
		CHECK(before - inbox_count(ib) <= INBOX_DROP_STEP);
		CHECK(file_size(first) > 0);
		calls++;
	}
	CHECK_INT(calls, 4);
	CHECK_INT(inbox_count(ib), 1);
	snprintf(id, sizeof(id), "old-%zu", n / 2);
	CHECK(inbox_seen(ib, "github", id));
	CHECK(file_size(first) > 0);
	CHECK_INT(inbox_sync(ib, &err), 0);
	CHECK_INT(file_size(first), -1);
	CHECK_INT(count_lines(dir), 1); /* the one copy */
	ib = reopen(ib, dir, later);
	CHECK_INT(inbox_count(ib), 1);
	CHECK_INT(queued_count(ib), 1);
	inbox_close(ib);
	free(first);
}

static void test_parsers(void)
{
	struct api_request ar;
	struct inbox_line l;
	struct queued q;
	struct berr err;
	const char *good = "{\"env\":\"production\",\"commit\":\"abc123\"}";

	CHECK_INT(intake_parse_api(&ar, good, strlen(good), &err), 0);
	CHECK_STR(ar.env, "production");
	CHECK_STR(ar.rev, "abc123");
	CHECK_INT(intake_parse_api(&ar, "{\"env\":\"p\",\"x\":1}", 17, &err), -1);
	CHECK_INT(intake_parse_api(&ar, "{\"env\":\"p\",\"commit\":\"-x\"}", 25, &err), -1);
	CHECK_INT(intake_parse_api(&ar, "[]", 2, &err), -1);
	CHECK_INT(intake_parse_api(&ar, "{\"env\":\"../x\"}", 14, &err), -1);

	CHECK_INT(inbox_line_parse(&l, "{\"seq\":3,\"status\":\"done\"}", 25, &err), 0);
	CHECK(l.update);
	inbox_line_release(&l);
	CHECK_INT(inbox_line_parse(&l, "{\"seq\":0,\"status\":\"done\"}", 25, &err), -1);
	inbox_line_release(&l);

	CHECK_INT(queued_parse(&q, "{\"kind\":\"deploy\",\"trigger\":\"poll\"}", 34, &err), 0);
	CHECK_STR(q.trigger, "poll");
	queued_release(&q);
	CHECK_INT(queued_parse(&q, "{\"kind\":\"nuke\"}", 15, &err), -1);
}

int main(void)
{
	char *a, *b, *c, *d, *e, *f, *g;

	tmpdir_make("inbox");
	a = fs_join(tmpdir, "a");
	b = fs_join(tmpdir, "b");
	c = fs_join(tmpdir, "c");
	d = fs_join(tmpdir, "d");
	e = fs_join(tmpdir, "e");
	f = fs_join(tmpdir, "f");
	g = fs_join(tmpdir, "g");
	test_roundtrip(a);
	test_torn_line(b);
	test_expiry(c);
	test_batched_writes(d);
	test_zeros_after_crash(e);
	test_deferred(f);
	test_drop_in_steps(g);
	test_parsers();
	free(a);
	free(b);
	free(c);
	free(d);
	free(e);
	free(f);
	free(g);
	tmpdir_remove();
	return check_done("inbox");
}
