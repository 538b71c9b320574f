/*
 * proc.c — what Linux's /proc says about processes and sockets: a
 * process's state, group and start time (so that a recorded pid is never
 * mistaken for whatever process got the number later), the boot id, and
 * which process listens on a TCP port.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth.h"

#define PROC_STAT_MAX 4096
/* The LISTEN state in /proc/net/tcp (include/net/tcp_states.h). */
#define PROC_TCP_LISTEN 0x0A

int proc_stat_read(struct proc_stat *out, pid_t pid, struct berr *err)
{
	char path[64], *p, *close_paren;
	struct buf b;
	int rc;
	long ppid, pgrp, session;
	unsigned long long start;

	memset(out, 0, sizeof(*out));
	if (pid <= 0)
		return BERTH_ENOTFOUND;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	buf_init(&b, PROC_STAT_MAX);
	rc = fs_read_file(&b, path, PROC_STAT_MAX, err);
	if (rc != 0) {
		buf_release(&b);
		/* A process that exits while it is read gives ESRCH. */
		snprintf(path, sizeof(path), "/proc/%ld", (long)pid);
		return rc == BERTH_ENOTFOUND || !fs_exists(path)
		           ? BERTH_ENOTFOUND
		           : -1;
	}
	/* "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime cutime cstime priority nice threads
	 * itrealvalue starttime ...": comm may hold spaces and parentheses,
	 * so it ends at the last ')'. */
	p = strchr(b.data, '(');
	close_paren = strrchr(b.data, ')');
	if (p == NULL || close_paren == NULL || close_paren < p ||
	    sscanf(
	        close_paren + 1,
	        " %c %ld %ld %ld %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
	        "%*s %*s %*s %*s %llu",
	        &out->state, &ppid, &pgrp, &session, &start) != 5) {
		buf_release(&b);
		return berr_set(err, "cannot parse '%s'", path);
	}
	snprintf(out->comm, sizeof(out->comm), "%.*s",
	         (int)(close_paren - p - 1), p + 1);
	out->ppid = (pid_t)ppid;
	out->pgrp = (pid_t)pgrp;
	out->session = (pid_t)session;
	out->start_ticks = (uint64_t)start;
	buf_release(&b);
	return 0;
}

void proc_boot_id(char out[40])
{
	struct buf b;
	struct berr err;

	out[0] = '\0';
	buf_init(&b, 64);
	if (fs_read_file(&b, "/proc/sys/kernel/random/boot_id", 64, &err) ==
	    0) {
		b.data[strcspn(b.data, "\n")] = '\0';
		snprintf(out, 40, "%s", b.data);
	}
	buf_release(&b);
}

/* Parses one line of /proc/net/tcp{,6}: "sl local rem st ... inode".
 * Returns true with the local port, state and inode. */
static bool tcp_line(const char *line, unsigned *port, unsigned *state,
                     unsigned long *inode)
{
	const char *colon;
	char local[64];

	/* "  0: 0100007F:0BB8 00000000:0000 0A 00000000:00000000 00:00000000
	 * 00000000  1000        0 12345 ..." */
	if (sscanf(line, " %*s %63s %*s %x %*s %*s %*s %*s %*s %lu", local,
	           state, inode) != 3)
		return false;
	colon = strrchr(local, ':');
	return colon != NULL && sscanf(colon + 1, "%x", port) == 1;
}

static int tcp_file_listeners(unsigned long **inodes, size_t *n,
                              const char *path, int port, struct berr *err)
{
	FILE *f = fopen(path, "re");
	char line[512];

	if (f == NULL) {
		if (errno == ENOENT) /* no IPv6 in this kernel */
			return 0;
		return berr_errno(err, errno, "cannot read '%s'", path);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		unsigned lport, state;
		unsigned long inode;

		if (!tcp_line(line, &lport, &state, &inode) ||
		    state != PROC_TCP_LISTEN || (int)lport != port)
			continue;
		*inodes = xrealloc(*inodes, (*n + 1) * sizeof(**inodes));
		(*inodes)[(*n)++] = inode;
	}
	fclose(f);
	return 0;
}

int proc_tcp_listeners(unsigned long **inodes, size_t *n, int port,
                       struct berr *err)
{
	*inodes = NULL;
	*n = 0;
	if (tcp_file_listeners(inodes, n, "/proc/net/tcp", port, err) < 0 ||
	    tcp_file_listeners(inodes, n, "/proc/net/tcp6", port, err) < 0) {
		free(*inodes);
		*inodes = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

/* The socket inode a /proc/<pid>/fd link names ("socket:[12345]"), or 0. */
static unsigned long socket_inode(int dirfd, const char *name)
{
	char target[64];
	unsigned long inode;
	ssize_t len = readlinkat(dirfd, name, target, sizeof(target) - 1);

	if (len <= 0)
		return 0;
	target[len] = '\0';
	if (sscanf(target, "socket:[%lu]", &inode) != 1)
		return 0;
	return inode;
}

/* Looks through one process's descriptors for the inodes still without an
 * owner. Returns how many it found. */
static size_t scan_fds(pid_t *owners, const unsigned long *inodes, size_t n,
                       pid_t pid)
{
	char path[64];
	struct dirent *e;
	size_t i, found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	d = opendir(path); /* another user's process: EACCES, skipped */
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		unsigned long inode;

		if (e->d_name[0] == '.')
			continue;
		inode = socket_inode(dirfd(d), e->d_name);
		for (i = 0; inode != 0 && i < n; i++) {
			if (owners[i] == 0 && inodes[i] == inode) {
				owners[i] = pid;
				found++;
			}
		}
	}
	closedir(d);
	return found;
}

void proc_socket_owners(pid_t *owners, const unsigned long *inodes, size_t n)
{
	struct dirent *e;
	size_t left = n;
	DIR *d;

	memset(owners, 0, n * sizeof(*owners));
	if (n == 0 || (d = opendir("/proc")) == NULL)
		return;
	while (left > 0 && (e = readdir(d)) != NULL) {
		int pid;

		if (strnum_int(&pid, e->d_name, 1, INT_MAX) != 0)
			continue;
		left -= scan_fds(owners, inodes, n, (pid_t)pid);
	}
	closedir(d);
}
