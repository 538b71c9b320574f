/*
 * test_syncer.c — sync jobs and the thread that runs them: steps run in
 * order on duplicates of the caller's descriptors and stop at the first
 * failure; a job handed to the thread reports back in the event loop with
 * its result; a second one while it runs is refused and left to the
 * caller; a bad descriptor reports its errno; freeing waits for a running
 * job.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "berth.h"
#include "check.h"
#include "tmpdir.h"
#include "webhooks.h"

static int reports, last_error;

static void done(int error, void *arg)
{
	struct event_base *base = arg;

	reports++;
	last_error = error;
	event_base_loopbreak(base);
}

/* A job of one step of op on fd. */
static struct sync_job one(enum sync_op op, int fd)
{
	struct sync_job job = {.nsteps = 0};
	struct berr err;

	CHECK_INT(sync_job_add(&job, op, fd, 0, NULL, &err), 0);
	return job;
}

/* Steps run in order and stop at the first failure; every descriptor the
 * job holds is its own duplicate, closed when it ends. */
static void test_steps(void)
{
	char *file = fs_join(tmpdir, "steps"), *gone = fs_join(tmpdir, "gone");
	struct sync_job job = {.nsteps = 0};
	struct berr err;
	struct stat st;
	int fd, dir, pipefd[2];
	size_t i;

	fd = open(file, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	dir = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0 && dir >= 0);
	CHECK(write(fd, "abcdef", 6) == 6);
	CHECK_INT(fs_write_atomic(gone, "x", 1, 0600, &err), 0);

	CHECK_INT(sync_job_add(&job, SYNC_TRUNCATE, fd, 2, NULL, &err), 0);
	CHECK_INT(sync_job_add(&job, SYNC_DATA, fd, 0, NULL, &err), 0);
	CHECK_INT(sync_job_add(&job, SYNC_FULL, dir, 0, NULL, &err), 0);
	CHECK_INT(sync_job_add(&job, SYNC_UNLINK, -1, 0, gone, &err), 0);
	CHECK_INT(sync_job_add(&job, SYNC_UNLINK, -1, 0, gone, &err), 0);
	CHECK(job.steps[0].fd != fd && job.steps[0].fd >= 0);
	CHECK_INT(sync_job_run(&job), 0);
	CHECK_INT(job.nsteps, 0);
	CHECK(stat(file, &st) == 0 && st.st_size == 2);
	CHECK(!fs_exists(gone)); /* and deleting it twice was no failure */
	CHECK(fcntl(fd, F_GETFD) >= 0); /* the caller's own stay open */

	/* fdatasync of a pipe fails: what follows is not run. */
	CHECK_INT(fs_write_atomic(gone, "x", 1, 0600, &err), 0);
	CHECK(pipe(pipefd) == 0);
	CHECK_INT(sync_job_add(&job, SYNC_DATA, pipefd[0], 0, NULL, &err), 0);
	CHECK_INT(sync_job_add(&job, SYNC_UNLINK, -1, 0, gone, &err), 0);
	CHECK_INT(sync_job_run(&job), EINVAL);
	CHECK(fs_exists(gone));

	/* A full job refuses more; released, it holds nothing. */
	for (i = 0; i < SYNC_STEPS_MAX; i++)
		CHECK_INT(sync_job_add(&job, SYNC_DATA, fd, 0, NULL, &err), 0);
	CHECK_INT(sync_job_add(&job, SYNC_DATA, fd, 0, NULL, &err), -1);
	CHECK(strstr(err.msg, "too many steps") != NULL);
	sync_job_release(&job);
	CHECK_INT(job.nsteps, 0);
	CHECK_INT(sync_job_add(&job, SYNC_DATA, 999, 0, NULL, &err), -1);
	CHECK(strstr(err.msg, "cannot duplicate") != NULL);
	sync_job_release(&job);

	close(pipefd[0]);
	close(pipefd[1]);
	close(fd);
	close(dir);
	free(file);
	free(gone);
}

int main(void)
{
	struct event_base *base = event_base_new();
	struct syncer *s;
	struct sync_job job;
	struct berr err;
	char *path;
	int fd, pipefd[2];

	tmpdir_make("syncer");
	test_steps();
	path = fs_join(tmpdir, "file");
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, "x\n", 2) == 2);
	s = syncer_new(base, done, base);
	CHECK(s != NULL);

	CHECK(!syncer_busy(s));
	job = one(SYNC_DATA, fd);
	CHECK_INT(syncer_start(s, &job, &err), 0);
	CHECK_INT(job.nsteps, 0); /* taken */
	CHECK(syncer_busy(s));
	job = one(SYNC_DATA, fd);
	CHECK_INT(syncer_start(s, &job, &err), -1);
	CHECK_INT(job.nsteps, 1); /* left to the caller */
	sync_job_release(&job);
	event_base_dispatch(base);
	CHECK_INT(reports, 1);
	CHECK_INT(last_error, 0);
	CHECK(!syncer_busy(s));

	/* fdatasync of a pipe fails with EINVAL, reported as such. */
	CHECK(pipe(pipefd) == 0);
	job = one(SYNC_DATA, pipefd[0]);
	CHECK_INT(syncer_start(s, &job, &err), 0);
	event_base_dispatch(base);
	CHECK_INT(reports, 2);
	CHECK_INT(last_error, EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);

	/* Freed while a sync runs: it waits for the report. */
	job = one(SYNC_DATA, fd);
	CHECK_INT(syncer_start(s, &job, &err), 0);
	syncer_free(s);
	CHECK_INT(reports, 3);

	close(fd);
	free(path);
	event_base_free(base);
	tmpdir_remove();
	return check_done("syncer");
}
