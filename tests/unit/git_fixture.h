/*
 * git_fixture.h — real Git repositories for the git.c tests, built with the
 * git CLI in a temporary directory, and helpers to run the servers the
 * network tests talk to. Everything runs with a fixed identity, HOME in the
 * temporary directory and no system or user Git configuration.
 */
#ifndef BERTH_GIT_FIXTURE_H
#define BERTH_GIT_FIXTURE_H

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth.h"
#include "check.h"

static char fx_dir[256];

/* Creates the temporary directory and the environment every git command and
 * libgit2 itself see (libgit2 reads HOME once, at its initialisation). */
static inline void fx_setup(const char *name)
{
	char home[300];

	snprintf(fx_dir, sizeof(fx_dir), "/tmp/berth-%s-XXXXXX", name);
	if (mkdtemp(fx_dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(home, sizeof(home), "%s/home", fx_dir);
	mkdir(home, 0700);
	setenv("HOME", home, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CONFIG_GLOBAL", "/dev/null", 1);
	setenv("GIT_CONFIG_COUNT", "2", 1);
	setenv("GIT_CONFIG_KEY_0", "init.defaultBranch", 1);
	setenv("GIT_CONFIG_VALUE_0", "main", 1);
	setenv("GIT_CONFIG_KEY_1", "advice.detachedHead", 1);
	setenv("GIT_CONFIG_VALUE_1", "false", 1);
	setenv("GIT_AUTHOR_NAME", "berth-test", 1);
	setenv("GIT_AUTHOR_EMAIL", "test@berth.invalid", 1);
	setenv("GIT_COMMITTER_NAME", "berth-test", 1);
	setenv("GIT_COMMITTER_EMAIL", "test@berth.invalid", 1);
	unsetenv("http_proxy");
	unsetenv("https_proxy");
	unsetenv("HTTP_PROXY");
	unsetenv("HTTPS_PROXY");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
}

static inline void fx_teardown(void)
{
	if (getenv("BERTH_KEEP_TMP") != NULL) {
		fprintf(stderr, "kept %s\n", fx_dir);
		return;
	}
	fs_remove_tree(fx_dir, NULL);
}

static inline void fx_vcmd(char *cmd, size_t size, const char *fmt,
			   va_list ap) BERTH_PRINTF(3, 0);
static inline void fx_vcmd(char *cmd, size_t size, const char *fmt,
			   va_list ap)
{
	int n = snprintf(cmd, size, "set -e; cd '%s'; ", fx_dir);

	vsnprintf(cmd + n, size - (size_t)n, fmt, ap);
}

/* Runs a shell script (in fx_dir, with set -e); returns its exit status. */
static inline int fx_sh(const char *fmt, ...) BERTH_PRINTF(1, 2);
static inline int fx_sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	fx_vcmd(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc != 0)
		fprintf(stderr, "fixture command failed (%d): %s\n", rc, cmd);
	return rc == 0 ? 0 : -1;
}

/* Runs a shell script and stores the first line of its output in out. */
static inline int fx_out(char *out, size_t size, const char *fmt, ...)
    BERTH_PRINTF(3, 4);
static inline int fx_out(char *out, size_t size, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	FILE *f;
	int rc;

	va_start(ap, fmt);
	fx_vcmd(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	out[0] = '\0';
	f = popen(cmd, "r");
	if (f == NULL)
		return -1;
	if (fgets(out, (int)size, f) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	rc = pclose(f);
	if (rc != 0)
		fprintf(stderr, "fixture command failed (%d): %s\n", rc, cmd);
	return rc == 0 ? 0 : -1;
}

/* Starts argv[0] (searched in PATH) in the background with its output
 * appended to logfile. Returns its pid, or -1. */
static inline pid_t fx_spawn(const char *const argv[], const char *logfile)
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, logfile,
					 O_WRONLY | O_CREAT | O_APPEND, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv,
			  environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		fprintf(stderr, "cannot start '%s': %s\n", argv[0],
			strerror(rc));
		return -1;
	}
	return pid;
}

static inline void fx_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* Asserts that a message names no secret. */
#define CHECK_NO_SECRET(msg, secret)                                           \
	do {                                                                   \
		CHECK(strstr((msg), (secret)) == NULL);                        \
	} while (0)

#endif
