/*
 * db.c — the one PostgreSQL connection, driven by the event loop.
 *
 * Queries wait in a queue and go out one at a time through libpq's
 * asynchronous API, so a request never blocks the loop. The connection opens
 * on the first query and again after it is lost. While idle its socket stays
 * watched: a server that closes the connection (a restart, a stop) is noticed
 * at once, and the next query reconnects instead of failing. Every connect and
 * every query has a deadline; a server that misses it is taken as down.
 * This is the only file that includes libpq-fe.h.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <libpq-fe.h>

#include "pos.h"

#define DB_QUEUE_MAX 256 /* queries waiting; more are refused */

enum db_state {
	DB_CLOSED,     /* no connection */
	DB_CONNECTING, /* PQconnectPoll in progress */
	DB_IDLE,       /* connected, nothing in flight */
	DB_BUSY,       /* the queue's head is in flight */
};

struct db_query {
	struct db_query *next;
	const char *sql;             /* borrowed */
	char *params[DB_MAX_PARAMS]; /* owned */
	int nparams;
	db_cb cb;
	void *arg;
};

struct db_rows {
	PGresult *res; /* borrowed */
};

struct db {
	struct event_base *base; /* borrowed */
	char *url;             /* owned; never logged: it may hold a password */
	int timeout_s;         /* deadline of a connect, or of one query */
	PGconn *conn;          /* owned; NULL while DB_CLOSED */
	struct event *io;      /* owned; on the connection's socket, or NULL */
	evutil_socket_t io_fd; /* what io watches */
	short io_what;
	struct event *deadline; /* owned; armed while connecting or busy */
	struct event *kick;     /* owned; made active to start queued work */
	enum db_state state;
	bool down;             /* the last attempt failed (logged once) */
	PGresult *res;         /* owned; first result of the query in flight */
	struct db_query *head; /* owned list, oldest first */
	struct db_query *tail; /* borrowed: last of that list */
	size_t queued;
};

static void db_io_cb(evutil_socket_t fd, short what, void *arg);
static void db_kick_cb(evutil_socket_t fd, short what, void *arg);

static void db_query_free(struct db_query *q)
{
	int i;

	for (i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q);
}

/* Takes the oldest query off the queue. */
static struct db_query *db_pop(struct db *db)
{
	struct db_query *q = db->head;

	db->head = q->next;
	if (db->head == NULL)
		db->tail = NULL;
	db->queued--;
	return q;
}

static void db_finish(struct db_query *q, int status, PGresult *res)
{
	struct db_rows rows = {res};

	q->cb(status, status == DB_OK ? &rows : NULL, q->arg);
	db_query_free(q);
}

/* libpq's messages end in a newline and may span lines: keep the first. */
static void db_log_error(const char *what, const char *detail)
{
	char quoted[512];

	pos_quote(quoted, sizeof(quoted), detail, strcspn(detail, "\n"));
	pos_log(stderr, "level=error msg=\"%s\" error=%s", what, quoted);
}

static void db_close(struct db *db)
{
	if (db->io != NULL)
		event_free(db->io);
	db->io = NULL;
	event_del(db->deadline);
	PQclear(db->res);
	db->res = NULL;
	PQfinish(db->conn);
	db->conn = NULL;
	db->state = DB_CLOSED;
}

/* Every queued query gets DB_EDOWN. The queue is detached first, so a
 * callback that queues again cannot keep this loop going. */
static void db_fail_all(struct db *db)
{
	struct db_query *q = db->head, *next;

	db->head = db->tail = NULL;
	db->queued = 0;
	for (; q != NULL; q = next) {
		next = q->next;
		db_finish(q, DB_EDOWN, NULL);
	}
}

/* The database cannot be reached: log it (once until it comes back), drop
 * the connection and fail everything queued. */
static void db_unreachable(struct db *db, const char *what)
{
	if (!db->down)
		db_log_error(what, db->conn != NULL ? PQerrorMessage(db->conn)
		                                    : "out of memory");
	db->down = true;
	db_close(db);
	db_fail_all(db);
}

/* An established connection broke. The query in flight, if any, fails; the
 * rest wait for a new connection. */
static void db_lost(struct db *db)
{
	bool busy = db->state == DB_BUSY;

	db_log_error("database connection lost", PQerrorMessage(db->conn));
	db_close(db);
	if (busy)
		db_finish(db_pop(db), DB_EDOWN, NULL);
	if (db->head != NULL)
		event_active(db->kick, EV_TIMEOUT, 0);
}

/* Points db->io at the connection's socket for the events in what. The
 * socket can change while connecting (libpq tries each address in turn). */
static int db_watch(struct db *db, short what)
{
	evutil_socket_t fd = PQsocket(db->conn);

	if (db->io != NULL && db->io_fd == fd && db->io_what == what &&
	    event_pending(db->io, EV_READ | EV_WRITE, NULL))
		return 0;
	if (db->io != NULL)
		event_free(db->io);
	db->io_fd = fd;
	db->io_what = what;
	db->io = event_new(db->base, fd, what, db_io_cb, db);
	if (db->io == NULL || event_add(db->io, NULL) < 0)
		return -1;
	return 0;
}

static void db_arm_deadline(struct db *db)
{
	struct timeval tv = {db->timeout_s, 0};

	event_add(db->deadline, &tv);
}

static void db_connect(struct db *db)
{
	static const char *const keys[] = {"dbname", "application_name",
	                                   "client_encoding", NULL};
	const char *values[] = {db->url, "pos-backend", "UTF8", NULL};

	/* The URL is expanded first, the later keys override it. */
	db->conn = PQconnectStartParams(keys, values, 1);
	if (db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD) {
		db_unreachable(db, "cannot connect to the database");
		return;
	}
	db->state = DB_CONNECTING;
	db_arm_deadline(db);
	/* libpq: after PQconnectStart, poll as if it had said WRITING. */
	if (db_watch(db, EV_WRITE) < 0)
		db_unreachable(db, "cannot watch the database socket");
}

static void db_connect_step(struct db *db)
{
	switch (PQconnectPoll(db->conn)) {
	case PGRES_POLLING_READING:
		if (db_watch(db, EV_READ) < 0)
			db_unreachable(db, "cannot watch the database socket");
		return;
	case PGRES_POLLING_WRITING:
		if (db_watch(db, EV_WRITE) < 0)
			db_unreachable(db, "cannot watch the database socket");
		return;
	case PGRES_POLLING_OK:
		break;
	default:
		db_unreachable(db, "cannot connect to the database");
		return;
	}
	event_del(db->deadline);
	if (PQsetnonblocking(db->conn, 1) < 0 ||
	    db_watch(db, EV_READ | EV_PERSIST) < 0) {
		db_unreachable(db, "cannot set up the database connection");
		return;
	}
	db->state = DB_IDLE;
	if (db->down)
		pos_log(stderr, "level=info msg=\"database reachable again\"");
	db->down = false;
	event_active(db->kick, EV_TIMEOUT, 0);
}

/* Sends what libpq still buffers; watches for writability until done. */
static void db_flush(struct db *db)
{
	int r = PQflush(db->conn);

	if (r < 0) {
		db_lost(db);
		return;
	}
	if (db_watch(db, EV_READ | EV_PERSIST | (r == 1 ? EV_WRITE : 0)) < 0)
		db_lost(db);
}

static void db_send(struct db *db)
{
	struct db_query *q = db->head;

	if (!PQsendQueryParams(db->conn, q->sql, q->nparams, NULL,
	                       (const char *const *)q->params, NULL, NULL, 0)) {
		db->state = DB_BUSY; /* so that db_lost fails this query */
		db_lost(db);
		return;
	}
	db->state = DB_BUSY;
	db_arm_deadline(db);
	db_flush(db);
}

/* The query in flight has all its results. */
static void db_done(struct db *db)
{
	struct db_query *q;
	PGresult *res = db->res;
	int status = DB_OK;

	if (PQstatus(db->conn) == CONNECTION_BAD) {
		db_lost(db);
		return;
	}
	event_del(db->deadline);
	db->res = NULL;
	db->state = DB_IDLE;
	q = db_pop(db);
	if (res == NULL || (PQresultStatus(res) != PGRES_TUPLES_OK &&
	                    PQresultStatus(res) != PGRES_COMMAND_OK)) {
		db_log_error("database query failed",
		             res != NULL ? PQresultErrorMessage(res)
		                         : "no result");
		status = DB_EQUERY;
	}
	db_finish(q, status, res);
	PQclear(res);
	event_active(db->kick, EV_TIMEOUT, 0);
}

static void db_read(struct db *db)
{
	PGresult *res;

	if (!PQconsumeInput(db->conn)) {
		db_lost(db);
		return;
	}
	while (!PQisBusy(db->conn)) {
		res = PQgetResult(db->conn);
		if (res == NULL) {
			db_done(db);
			return;
		}
		/* One statement per query: keep the first result only. */
		if (db->res == NULL)
			db->res = res;
		else
			PQclear(res);
	}
}

static void db_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db *db = arg;

	(void)fd;
	switch (db->state) {
	case DB_CONNECTING:
		db_connect_step(db);
		break;
	case DB_IDLE:
		/* Nothing asked, yet the server spoke: a notice, or goodbye. */
		if (!PQconsumeInput(db->conn) ||
		    PQstatus(db->conn) != CONNECTION_OK)
			db_lost(db);
		break;
	case DB_BUSY:
		if (what & EV_WRITE) {
			db_flush(db);
			if (db->state != DB_BUSY)
				break;
		}
		if (what & EV_READ)
			db_read(db);
		break;
	case DB_CLOSED:
		break;
	}
}

static void db_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db *db = arg;

	(void)fd;
	(void)what;
	/* A server that does not answer one query will not answer the next:
	 * fail them all rather than make each wait its turn. */
	if (!db->down)
		pos_log(
		    stderr,
		    "level=error msg=\"database did not answer within %ds\"",
		    db->timeout_s);
	db->down = true;
	db_close(db);
	db_fail_all(db);
}

static void db_kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db *db = arg;

	(void)fd;
	(void)what;
	if (db->head == NULL)
		return;
	if (db->state == DB_CLOSED)
		db_connect(db);
	else if (db->state == DB_IDLE)
		db_send(db);
}

int db_url_check(const char *url)
{
	PQconninfoOption *opts;
	char *errmsg = NULL;

	opts = PQconninfoParse(url, &errmsg);
	PQfreemem(errmsg);
	if (opts == NULL)
		return -1;
	PQconninfoFree(opts);
	return 0;
}

struct db *db_new(struct event_base *base, const char *url, int timeout_s)
{
	struct db *db;

	db = calloc(1, sizeof(*db));
	if (db == NULL)
		return NULL;
	db->base = base;
	db->timeout_s = timeout_s;
	db->state = DB_CLOSED;
	db->url = strdup(url);
	db->deadline = evtimer_new(base, db_deadline_cb, db);
	db->kick = event_new(base, -1, 0, db_kick_cb, db);
	if (db->url == NULL || db->deadline == NULL || db->kick == NULL) {
		db_free(db);
		return NULL;
	}
	return db;
}

void db_free(struct db *db)
{
	if (db == NULL)
		return;
	db_close(db);
	db_fail_all(db);
	if (db->deadline != NULL)
		event_free(db->deadline);
	if (db->kick != NULL)
		event_free(db->kick);
	free(db->url);
	free(db);
}

int db_query(struct db *db, const char *sql, const char *const *params,
             int nparams, db_cb cb, void *arg)
{
	struct db_query *q;
	int i;

	if (db->queued >= DB_QUEUE_MAX || nparams < 0 ||
	    nparams > DB_MAX_PARAMS)
		return -1;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return -1;
	q->sql = sql;
	q->cb = cb;
	q->arg = arg;
	for (i = 0; i < nparams; i++) {
		q->params[i] = strdup(params[i]);
		if (q->params[i] == NULL) {
			db_query_free(q);
			return -1;
		}
		q->nparams++;
	}
	if (db->tail != NULL)
		db->tail->next = q;
	else
		db->head = q;
	db->tail = q;
	db->queued++;
	event_active(db->kick, EV_TIMEOUT, 0);
	return 0;
}

size_t db_pending(const struct db *db)
{
	return db->queued;
}

int db_rows_count(const struct db_rows *rows)
{
	return PQntuples(rows->res);
}

const char *db_rows_value(const struct db_rows *rows, int row, int col)
{
	if (row < 0 || row >= PQntuples(rows->res) || col < 0 ||
	    col >= PQnfields(rows->res) || PQgetisnull(rows->res, row, col))
		return NULL;
	return PQgetvalue(rows->res, row, col);
}
