/*
 * test_syncer.c — the fsync thread: a sync handed to it reports back in
 * the event loop with its result; a second one while it runs is refused;
 * a bad descriptor reports its errno; freeing waits for a running sync.
 */
#include <errno.h>
#include <fcntl.h>
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

int main(void)
{
	struct event_base *base = event_base_new();
	struct syncer *s;
	struct berr err;
	char *path;
	int fd, pipefd[2];

	tmpdir_make("syncer");
	path = fs_join(tmpdir, "file");
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK(write(fd, "x\n", 2) == 2);
	s = syncer_new(base, done, base);
	CHECK(s != NULL);

	CHECK(!syncer_busy(s));
	CHECK_INT(syncer_start(s, fd, &err), 0);
	CHECK(syncer_busy(s));
	CHECK_INT(syncer_start(s, fd, &err), -1);
	event_base_dispatch(base);
	CHECK_INT(reports, 1);
	CHECK_INT(last_error, 0);
	CHECK(!syncer_busy(s));

	/* fdatasync of a pipe fails with EINVAL, reported as such. */
	CHECK(pipe(pipefd) == 0);
	CHECK_INT(syncer_start(s, pipefd[0], &err), 0);
	event_base_dispatch(base);
	CHECK_INT(reports, 2);
	CHECK_INT(last_error, EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);

	/* Freed while a sync runs: it waits for the report. */
	CHECK_INT(syncer_start(s, fd, &err), 0);
	syncer_free(s);
	CHECK_INT(reports, 3);

	close(fd);
	free(path);
	event_base_free(base);
	tmpdir_remove();
	return check_done("syncer");
}
