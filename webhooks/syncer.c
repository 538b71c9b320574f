/*
 * syncer.c — one thread that runs the inbox's sync jobs for the event loop
 * (fdatasync of the segments written to, fsync of the directory after a
 * segment was created, deleting old segments), so that the loop keeps
 * reading and storing requests while the disk makes the previous batch
 * durable (the inbox's group commit, pipelined). The thread touches
 * nothing but the descriptors and paths of the job it is handed: it never
 * sees libevent, the inbox or a request. It reports back through a pipe
 * that the loop watches. One job at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "webhooks.h"

struct syncer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sync_job job; /* the thread's while has_job */
	bool has_job;
	int result;        /* errno of the last job, 0 when it succeeded */
	bool quit;
	bool busy;         /* a job was handed out and not reported yet */
	int pipe_r, pipe_w;
	struct event *ev;  /* owned; read event on pipe_r */
	void (*done)(int error, void *arg);
	void *arg;
};

int sync_job_add(struct sync_job *job, enum sync_op op, int fd, off_t len,
		 const char *path, struct berr *err)
{
	struct sync_step *st;

	if (job->nsteps == SYNC_STEPS_MAX)
		return berr_set(err, "too many steps in one sync");
	st = &job->steps[job->nsteps];
	memset(st, 0, sizeof(*st));
	st->op = op;
	st->fd = -1;
	st->len = len;
	if (fd >= 0 && (st->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) < 0)
		return berr_errno(err, errno, "cannot duplicate a descriptor");
	st->path = path != NULL ? xstrdup(path) : NULL;
	job->nsteps++;
	return 0;
}

void sync_job_release(struct sync_job *job)
{
	size_t i;

	for (i = 0; i < job->nsteps; i++) {
		if (job->steps[i].fd >= 0)
			close(job->steps[i].fd);
		free(job->steps[i].path);
	}
	job->nsteps = 0;
}

static int run_step(const struct sync_step *st)
{
	switch (st->op) {
	case SYNC_TRUNCATE:
		(void)ftruncate(st->fd, st->len);
		return 0;
	case SYNC_DATA:
		return fdatasync(st->fd) == 0 ? 0 : errno;
	case SYNC_FULL:
		return fsync(st->fd) == 0 ? 0 : errno;
	case SYNC_UNLINK:
		return unlink(st->path) == 0 || errno == ENOENT ? 0 : errno;
	}
	return EINVAL;
}

int sync_job_run(struct sync_job *job)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < job->nsteps && rc == 0; i++)
		rc = run_step(&job->steps[i]);
	sync_job_release(job);
	return rc;
}

static void *worker(void *p)
{
	struct syncer *s = p;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct sync_job job;
		int rc;
		char one = 1;

		while (!s->has_job && !s->quit)
			pthread_cond_wait(&s->cv, &s->mu);
		if (!s->has_job)
			break;
		job = s->job;
		pthread_mutex_unlock(&s->mu);
		rc = sync_job_run(&job);
		pthread_mutex_lock(&s->mu);
		s->has_job = false;
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

int syncer_start(struct syncer *s, struct sync_job *job, struct berr *err)
{
	if (s->busy)
		return berr_set(err, "a sync is already running");
	pthread_mutex_lock(&s->mu);
	s->job = *job;
	job->nsteps = 0;
	s->has_job = true;
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
