/*
 * pos.h — pos-backend, the example point-of-sale backend that berth's
 * quickstart and integration tests deploy. An HTTP server (libevent) over a
 * PostgreSQL database (libpq), configured from the environment only.
 *
 * Conventions follow berth's: functions that can fail return int (0 ok, -1 or
 * a named negative code), constructors return NULL, free functions accept
 * NULL, and every pointer field says who owns it.
 */
#ifndef POS_H
#define POS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#if defined(__GNUC__)
#define POS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define POS_PRINTF(f, a)
#endif

struct event;
struct event_base;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;

#define POS_VERSION_MAX 64 /* longest APP_VERSION / VERSION accepted */

/* pos.c — startup, configuration, signals, logging */

/* The whole process's state; lives in main(). */
struct app {
	struct event_base *base;              /* owned */
	struct evhttp *http;                  /* owned */
	struct evhttp_bound_socket *listener; /* http's; NULL once closed */
	struct db *db;                        /* owned */
	struct event *sigterm;                /* owned */
	struct event *sigint;                 /* owned */
	struct event *grace; /* owned; bounds a graceful stop */
	char version[POS_VERSION_MAX + 1];
	int grace_s;            /* longest wait for answers when stopping */
	bool stopping;          /* a stop signal came: answer, then exit */
	unsigned int pending;   /* requests accepted and not yet answered */
	unsigned int unflushed; /* answers handed to evhttp, not yet written */
};

/* Writes one line "ts=<UTC ISO-8601> <formatted text>" to out. Control
 * characters in the text become '?', so a peer cannot forge a line. Lines
 * longer than about 1 KiB are cut. */
void pos_log(FILE *out, const char *fmt, ...) POS_PRINTF(2, 3);

/* Writes src[0..len) (stopping early at a NUL) to dst as a double-quoted
 * log value: quotes and backslashes escaped, cut to fit size (at least 3),
 * always NUL-terminated. */
void pos_quote(char *dst, size_t size, const char *src, size_t len);

/* Ends the event loop once a stop was asked for and every request has been
 * answered and its answer written. Call after pending or unflushed drops. */
void pos_check_idle(struct app *app);

/* api.c — the HTTP routes */

/* The evhttp generic callback (arg: the struct app). Every request ends in
 * exactly one answer, logged as one line on stdout. While app->stopping it
 * answers 503 and closes the connection. */
void api_request(struct evhttp_request *req, void *arg);

/* db.c — the PostgreSQL connection */

/* Outcome codes passed to a query's callback. */
#define DB_OK     0
#define DB_EDOWN  (-2) /* no connection, it dropped, or no answer in time */
#define DB_EQUERY (-3) /* the server answered with an error */

#define DB_MAX_PARAMS 4

struct db;
struct db_rows;

/* Called exactly once per query. rows is non-NULL only when status is DB_OK
 * and is borrowed for the duration of the call. */
typedef void (*db_cb)(int status, const struct db_rows *rows, void *arg);

/* Returns 0 when url is a connection string or URI libpq accepts, else -1.
 * Says nothing about why: the string may hold a password. */
int db_url_check(const char *url);

/* A connection manager on base for url (copied; never logged). Connects on
 * the first query, and again whenever the connection was lost. A connect or
 * a query that takes over timeout_s seconds fails every queued query with
 * DB_EDOWN. Returns NULL when out of memory. */
struct db *db_new(struct event_base *base, const char *url, int timeout_s);

/* Closes the connection; queries still queued get DB_EDOWN first. */
void db_free(struct db *db);

/* Queues the SQL text sql (borrowed: must outlive the query, e.g. a string
 * literal) with nparams text parameters (copied). cb(…, arg) runs later,
 * from the event loop, never from inside db_query. Returns 0 when queued,
 * -1 when the queue is full or nparams is over DB_MAX_PARAMS (cb never
 * runs then). */
int db_query(struct db *db, const char *sql, const char *const *params,
             int nparams, db_cb cb, void *arg);

/* Queries queued or in flight. */
size_t db_pending(const struct db *db);

/* Rows in a result, and one value as text (borrowed, valid for the duration
 * of the callback; NULL for SQL NULL or out of range). */
int db_rows_count(const struct db_rows *rows);
const char *db_rows_value(const struct db_rows *rows, int row, int col);

#endif
