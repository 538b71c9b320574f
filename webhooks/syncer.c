/*
 * syncer.c — one thread that runs fdatasync() for the event loop, so that
 * the loop keeps reading and storing requests while the disk makes the
 * previous batch durable (the inbox's group commit, pipelined). The thread
 * touches nothing but the descriptor it is handed: it never sees libevent,
 * the inbox or a request. It reports back through a pipe that the loop
 * watches. One sync at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "webhooks.h"

struct syncer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int job_fd;        /* -1: no job; the thread closes it when done */
	int result;        /* errno of the last sync, 0 when it succeeded */
	bool quit;
	bool busy;         /* a job was handed out and not reported yet */
	int pipe_r, pipe_w;
	struct event *ev;  /* owned; read event on pipe_r */
	void (*done)(int error, void *arg);
	void *arg;
};

static void *worker(void *p)
{
	struct syncer *s = p;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		int fd, rc;
		char one = 1;

		while (s->job_fd < 0 && !s->quit)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->job_fd < 0)
			break;
		fd = s->job_fd;
		pthread_mutex_unlock(&s->mu);
		rc = fdatasync(fd) == 0 ? 0 : errno;
		close(fd);
		pthread_mutex_lock(&s->mu);
		s->job_fd = -1;
		s->result = rc;
		while (write(s->pipe_w, &one, 1) < 0 && errno == EINTR)
			;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* The loop learns that the sync ended. */
static void on_report(evutil_socket_t fd, short what, void *arg)
{
	struct syncer *s = arg;
	char buf[16];
	int result;

	(void)what;
	if (read(fd, buf, sizeof(buf)) <= 0 || !s->busy)
		return;
	pthread_mutex_lock(&s->mu);
	result = s->result;
	pthread_mutex_unlock(&s->mu);
	s->busy = false;
	s->done(result, s->arg);
}

/* Frees everything but the thread (never started, or joined). */
static void release(struct syncer *s)
{
	if (s->ev != NULL)
		event_free(s->ev);
	close(s->pipe_r);
	close(s->pipe_w);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

struct syncer *syncer_new(struct event_base *base,
			  void (*done)(int error, void *arg), void *arg)
{
	struct syncer *s = xcalloc(1, sizeof(*s));
	int fds[2];

	s->job_fd = -1;
	s->done = done;
	s->arg = arg;
	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
		free(s);
		return NULL;
	}
	s->pipe_r = fds[0];
	s->pipe_w = fds[1];
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->ev = event_new(base, s->pipe_r, EV_READ | EV_PERSIST, on_report, s);
	if (s->ev == NULL || event_add(s->ev, NULL) != 0 ||
	    pthread_create(&s->thread, NULL, worker, s) != 0) {
		release(s);
		return NULL;
	}
	return s;
}

bool syncer_busy(const struct syncer *s)
{
	return s->busy;
}

int syncer_start(struct syncer *s, int fd, struct berr *err)
{
	int copy;

	if (s->busy)
		return berr_set(err, "a sync is already running");
	copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (copy < 0)
		return berr_errno(err, errno, "cannot duplicate a descriptor");
	pthread_mutex_lock(&s->mu);
	s->job_fd = copy;
	s->busy = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

void syncer_wait(struct syncer *s)
{
	while (s->busy) {
		struct pollfd p = {.fd = s->pipe_r, .events = POLLIN};

		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			break;
		if (p.revents & POLLIN)
			on_report(s->pipe_r, EV_READ, s);
	}
}

void syncer_free(struct syncer *s)
{
	if (s == NULL)
		return;
	syncer_wait(s);
	pthread_mutex_lock(&s->mu);
	s->quit = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	release(s);
}
