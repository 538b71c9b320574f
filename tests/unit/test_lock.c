/*
 * test_lock.c — the environment lock: taken once across processes, its
 * holder described, released by the kernel when the holder is killed, and
 * never carried into a command berth runs.
 *
 * Run as `test_lock --check-fd FD` it is the exec'd child of
 * test_not_inherited: it exits 0 when FD is not open.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth.h"
#include "check.h"

static void remove_root(char *root)
{
	struct berr err;

	if (fs_remove_tree(root, &err) != 0)
		fprintf(stderr, "%s\n", err.msg);
	free(root);
}

static void holder_init(struct lock_holder *h, int64_t id, const char *trigger)
{
	memset(h, 0, sizeof(*h));
	h->deployment_id = id;
	h->pid = (int)getpid();
	h->started_at = 1767614400;
	snprintf(h->trigger, sizeof(h->trigger), "%s", trigger);
}

static void test_acquire_release(void)
{
	char *root = check_tempdir("berth-lock"), *path = fs_join(root, "lock");
	struct lock_holder me, other, seen;
	struct berr err;
	struct buf b;
	bool locked;
	int fd, fd2;
	char expect[256];

	CHECK_INT(lock_peek(&locked, &seen, path, &err), 0);
	CHECK(!locked);

	holder_init(&me, 0, "webhook:github:abc");
	CHECK_INT(lock_acquire(&fd, path, &me, NULL, &err), 0);
	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);

	/* Another open of the same file, even in this process, is refused
	 * and told who holds the lock. */
	holder_init(&other, 0, "cli");
	CHECK_INT(lock_acquire(&fd2, path, &other, &seen, &err), BERTH_ELOCKED);
	CHECK_INT(fd2, -1);
	CHECK_INT(seen.pid, getpid());
	CHECK_INT(seen.deployment_id, 0);
	CHECK_INT(seen.started_at, 1767614400);
	CHECK_STR(seen.trigger, "webhook:github:abc");
	snprintf(expect, sizeof(expect),
		 "'%s' is held by pid %d, trigger webhook:github:abc, since "
		 "2026-01-05T12:00:00Z", path, (int)getpid());
	CHECK_STR(err.msg, expect);
	CHECK_INT(lock_acquire(&fd2, path, &other, NULL, &err), BERTH_ELOCKED);

	/* The holder names its deployment once it exists. */
	me.deployment_id = 17;
	CHECK_INT(lock_update(fd, &me, &err), 0);
	CHECK_INT(lock_peek(&locked, &seen, path, &err), 0);
	CHECK(locked);
	CHECK_INT(seen.deployment_id, 17);
	CHECK_STR(seen.trigger, "webhook:github:abc");
	lock_describe(expect, sizeof(expect), &seen);
	CHECK(strstr(expect, ", deployment 17, ") != NULL);
	/* Closing the descriptor a peek opened does not drop the lock (as it
	 * would with a process-wide POSIX lock). */
	CHECK_INT(lock_acquire(&fd2, path, &other, NULL, &err), BERTH_ELOCKED);

	/* Peeking never takes the lock: the holder can still release, and
	 * another can take it right after a peek. */
	lock_release(fd);
	CHECK_INT(lock_peek(&locked, &seen, path, &err), 0);
	CHECK(!locked);
	CHECK_INT(seen.pid, 0);
	buf_init(&b, 0);
	CHECK_INT(fs_read_file(&b, path, 4096, &err), 0);
	CHECK_INT(b.len, 0); /* released: no holder left in the file */
	buf_release(&b);
	CHECK_INT(lock_acquire(&fd2, path, &other, NULL, &err), 0);
	lock_release(fd2);
	lock_release(-1);

	/* A shorter description replaces a longer one cleanly. */
	holder_init(&me, 123456789, "webhook:gitlab:0123456789abcdef");
	CHECK_INT(lock_acquire(&fd, path, &me, NULL, &err), 0);
	holder_init(&me, 2, "cli");
	CHECK_INT(lock_update(fd, &me, &err), 0);
	CHECK_INT(lock_peek(&locked, &seen, path, &err), 0);
	CHECK_INT(seen.deployment_id, 2);
	CHECK_STR(seen.trigger, "cli");
	lock_release(fd);

	free(path);
	remove_root(root);
}

/* A holder killed with SIGKILL releases the lock; its description stays
 * until lock_clear (berth unlock) or the next holder. */
static void test_released_on_death(void)
{
	char *root = check_tempdir("berth-lock"), *path = fs_join(root, "lock");
	struct lock_holder me, seen;
	struct berr err;
	int pipefd[2], fd, status;
	bool locked, cleared;
	pid_t child;
	char c = 0;

	CHECK_INT(pipe(pipefd), 0);
	child = fork();
	if (child == 0) {
		int cfd;

		close(pipefd[0]);
		holder_init(&me, 9, "poll");
		if (lock_acquire(&cfd, path, &me, NULL, &err) != 0) {
			fprintf(stderr, "child: %s\n", err.msg);
			_exit(1);
		}
		if (write(pipefd[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	CHECK_INT(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);

	holder_init(&me, 0, "cli");
	CHECK_INT(lock_acquire(&fd, path, &me, &seen, &err), BERTH_ELOCKED);
	CHECK_INT(seen.pid, child);
	CHECK_INT(seen.deployment_id, 9);
	CHECK_STR(seen.trigger, "poll");
	CHECK_INT(lock_clear(&cleared, &seen, path, &err), BERTH_ELOCKED);
	CHECK(!cleared);
	CHECK_INT(seen.pid, child);
	CHECK(strstr(err.msg, "cannot unlock: a live process holds the lock: ") == err.msg);

	kill(child, SIGKILL);
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	CHECK_INT(lock_peek(&locked, &seen, path, &err), 0);
	CHECK(!locked);
	CHECK_INT(lock_clear(&cleared, &seen, path, &err), 0);
	CHECK(cleared);
	CHECK_INT(seen.pid, child);
	CHECK_INT(seen.deployment_id, 9);
	CHECK_INT(lock_clear(&cleared, &seen, path, &err), 0);
	CHECK(!cleared);

	CHECK_INT(lock_acquire(&fd, path, &me, &seen, &err), 0);
	lock_release(fd);

	/* Killed without clearing, the next holder simply takes over. */
	child = fork();
	if (child == 0) {
		int cfd;

		holder_init(&me, 10, "drift");
		if (lock_acquire(&cfd, path, &me, NULL, &err) != 0)
			_exit(1);
		raise(SIGKILL);
	}
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFSIGNALED(status));
	holder_init(&me, 11, "cli");
	CHECK_INT(lock_acquire(&fd, path, &me, &seen, &err), 0);
	CHECK_INT(lock_peek(&locked, &seen, path, &err), 0);
	CHECK(locked);
	CHECK_INT(seen.deployment_id, 11);
	lock_release(fd);

	CHECK_INT(lock_clear(&cleared, &seen, "/nonexistent/lock", &err), 0);
	CHECK(!cleared);
	free(path);
	remove_root(root);
}

/* A command berth runs (fork + exec) does not get the lock's descriptor, so
 * it cannot keep the lock alive after berth dies. */
static void test_not_inherited(void)
{
	char *root = check_tempdir("berth-lock"), *path = fs_join(root, "lock");
	struct lock_holder me;
	struct berr err;
	int fd, fd2, status, gate[2], execed[2];
	pid_t child, sleeper;
	char arg[16], c;

	holder_init(&me, 1, "cli");
	CHECK_INT(lock_acquire(&fd, path, &me, NULL, &err), 0);
	snprintf(arg, sizeof(arg), "%d", fd);
	child = fork();
	if (child == 0) {
		execl("/proc/self/exe", "test_lock", "--check-fd", arg,
		      (char *)NULL);
		_exit(127);
	}
	CHECK(waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* A long-running command outlives the descriptor it did not get:
	 * once berth's last descriptor closes (as when berth dies), the lock
	 * is free although the command still runs. */
	CHECK_INT(pipe(gate), 0);
	CHECK_INT(pipe2(execed, O_CLOEXEC), 0);
	sleeper = fork();
	if (sleeper == 0) {
		close(gate[1]);
		close(execed[0]);
		if (dup2(gate[0], 0) < 0)
			_exit(126);
		execl("/bin/cat", "cat", (char *)NULL);
		_exit(127);
	}
	close(gate[0]);
	/* Until exec, the forked child shares the descriptor; the exec
	 * closes its end of `execed` too, which is how we know it happened. */
	close(execed[1]);
	CHECK_INT(read(execed[0], &c, 1), 0);
	close(execed[0]);
	close(fd); /* not lock_release: no explicit unlock, as on a crash */
	CHECK_INT(lock_acquire(&fd2, path, &me, NULL, &err), 0);
	lock_release(fd2);
	close(gate[1]);
	CHECK(waitpid(sleeper, &status, 0) == sleeper);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(path);
	remove_root(root);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--check-fd") == 0) {
		int fd;

		if (strnum_int(&fd, argv[2], 0, INT32_MAX) != 0)
			return 2;
		return fcntl(fd, F_GETFD) == -1 && errno == EBADF ? 0 : 1;
	}
	test_acquire_release();
	test_released_on_death();
	test_not_inherited();
	return check_done("test_lock");
}
