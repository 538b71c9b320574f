/*
 * receiver.h — a real HTTP server on 127.0.0.1 for unit tests:
 * tests/fixtures/http_receiver.py run as a detached service, plus a socket
 * that accepts connections and never answers. Include after berth.h.
 */
#ifndef BERTH_RECEIVER_H
#define BERTH_RECEIVER_H

#include <arpa/inet.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct receiver {
	char dir[PATH_MAX]; /* temporary directory of this receiver */
	char *port_file;
	char *record_file;
	char *log_file;
	pid_t pgid;
	int port;
};

/* Starts the receiver; exits the test with a message when it cannot. */
static inline void receiver_start(struct receiver *r)
{
	const char *const argv[] = {
	    "python3", "tests/fixtures/http_receiver.py", NULL, NULL, NULL};
	const char *args[BERTH_ARRAY_LEN(argv)];
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct timespec ts = {0, 20 * 1000000L};
	struct kvlist env;
	struct buf b = {0};
	struct berr err;
	int i;

	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "/tmp/berth-test-receiver-XXXXXX");
	if (mkdtemp(r->dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	r->port_file = fs_join(r->dir, "port");
	r->record_file = fs_join(r->dir, "requests.jsonl");
	r->log_file = fs_join(r->dir, "receiver.log");
	memcpy(args, argv, sizeof(args));
	args[2] = r->port_file;
	args[3] = r->record_file;
	kvlist_init(&env);
	spawn_env_base(&env);
	o.argv = args;
	o.env = &env;
	if (spawn_detached(&r->pgid, &o, r->log_file, &err) < 0) {
		fprintf(stderr,
		        "FAIL: cannot start the test HTTP receiver "
		        "(python3 is needed): %s\n",
		        err.msg);
		exit(1);
	}
	kvlist_release(&env);
	for (i = 0; i < 1000 && r->port == 0 && spawn_group_alive(r->pgid);
	     i++) {
		buf_reset(&b);
		if (fs_read_file(&b, r->port_file, 64, &err) == 0) {
			b.data[strcspn(b.data, "\n")] = '\0';
			strnum_int(&r->port, b.data, 1, 65535);
		} else {
			nanosleep(&ts, NULL);
		}
	}
	buf_release(&b);
	if (r->port == 0) {
		fs_read_file(&b, r->log_file, 1 << 16, &err);
		fprintf(stderr,
		        "FAIL: the test HTTP receiver did not start; its "
		        "log:\n%s\n",
		        buf_str(&b));
		exit(1);
	}
}

static inline void receiver_stop(struct receiver *r)
{
	struct berr err;
	bool killed;

	if (spawn_stop_group(r->pgid, 5000, &killed, &err) < 0)
		fprintf(stderr, "stopping the receiver: %s\n", err.msg);
	fs_remove_tree(r->dir, &err);
	free(r->port_file);
	free(r->record_file);
	free(r->log_file);
}

/* "http://127.0.0.1:PORT" + path, new. */
static inline char *receiver_url(const struct receiver *r, const char *path)
{
	return xasprintf("http://127.0.0.1:%d%s", r->port, path);
}

/* The requests received so far, oldest first: a new JSON array. */
static inline json_t *receiver_requests(const struct receiver *r)
{
	json_t *all = json_array();
	struct buf b = {0};
	struct berr err;
	char *line, *save = NULL;

	fs_read_file(&b, r->record_file, 16 << 20, &err);
	for (line = strtok_r(b.data, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		json_t *one = json_loads(line, JSON_ALLOW_NUL, NULL);

		if (one == NULL) {
			fprintf(stderr,
			        "FAIL: the receiver recorded bad JSON: %s\n",
			        line);
			exit(1);
		}
		json_array_append_new(all, one);
	}
	buf_release(&b);
	return all;
}

/* A socket on 127.0.0.1 that the kernel accepts connections for and that
 * never answers. Returns the fd; *port is its port. */
static inline int silent_listener(int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 16) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		perror("silent listener");
		exit(1);
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A port on 127.0.0.1 with nothing listening (bound, then released). */
static inline int refused_port(void)
{
	int port, fd = silent_listener(&port);

	close(fd);
	return port;
}

#endif
