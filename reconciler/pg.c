/*
 * pg.c — berth's PostgreSQL client: connections, statements, queries and
 * table statistics through libpq. The only file that includes <libpq-fe.h>;
 * libpq's types and error texts are translated here, once. libpq is loaded
 * when first needed (pq_load), not when berth starts.
 *
 * A database URL may carry a password, so nothing derived from the URL or
 * from libpq's parsing of it reaches a message unfiltered: messages name the
 * database by pg_url_display(), and a libpq message that contains the
 * password is withheld.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "berth.h"

/* libpq, loaded on first use (lazylib.c): the functions berth calls. */
#define PQ_FUNCTIONS(X) \
	X(PQclear) \
	X(PQconnectdbParams) \
	X(PQconninfoFree) \
	X(PQconninfoParse) \
	X(PQerrorMessage) \
	X(PQexecParams) \
	X(PQfinish) \
	X(PQfreemem) \
	X(PQgetCopyData) \
	X(PQgetResult) \
	X(PQgetisnull) \
	X(PQgetvalue) \
	X(PQlibVersion) \
	X(PQnfields) \
	X(PQntuples) \
	X(PQparameterStatus) \
	X(PQputCopyEnd) \
	X(PQresultErrorField) \
	X(PQresultErrorMessage) \
	X(PQresultStatus) \
	X(PQsendQuery) \
	X(PQserverVersion) \
	X(PQsetNoticeReceiver) \
	X(PQstatus) \
	X(PQtransactionStatus)

static struct {
	struct lazylib lib;
#define X(f) __typeof__(f) *f;
	PQ_FUNCTIONS(X)
#undef X
} pq;

/* Loads the library once; every later call returns the first result. */
static int pq_load(struct berr *err)
{
	const struct lazylib_fn fns[] = {
#define X(f) {#f, &pq.f, sizeof(pq.f)},
		PQ_FUNCTIONS(X)
#undef X
	};

	return lazylib_load(&pq.lib, "libpq.so.5", "libpq5", fns,
			    sizeof(fns) / sizeof(fns[0]), err);
}

#define PG_DEFAULT_CONNECT_TIMEOUT_S 10

struct pg_conn {
	PGconn *conn;        /* owned */
	bool bytes_position; /* the server counts error positions in bytes */
	struct pg_error last;
};

/* Notices (RAISE NOTICE, "relation already exists, skipping") would go to
 * stderr through libpq's default receiver; keep them in the debug log. */
static void on_notice(void *arg, const PGresult *res)
{
	const char *msg = pq.PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	(void)arg;
	if (msg != NULL)
		log_debug("postgres notice: %s", msg);
}

static void error_clear(struct pg_conn *c)
{
	c->last.sqlstate[0] = '\0';
	c->last.offset = -1;
	c->last.statement = -1;
}

/* Copies msg into b with every run of whitespace made one space, or "; "
 * when it holds a line break: libpq's messages end in newlines and put
 * their hints on lines of their own. */
static void put_tidy(struct buf *b, const char *msg)
{
	bool space = false, newline = false;

	for (; *msg != '\0'; msg++) {
		if (isspace((unsigned char)*msg)) {
			space = true;
			newline = newline || *msg == '\n';
			continue;
		}
		if (space && b->len > 0)
			buf_puts(b, newline ? "; " : " ");
		space = newline = false;
		buf_putc(b, *msg);
	}
}

/* The last line of a server CONTEXT: the outermost place of the error. */
static void put_last_line(struct buf *b, const char *text)
{
	const char *end = text + strlen(text), *start;

	while (end > text && isspace((unsigned char)end[-1]))
		end--;
	start = end;
	while (start > text && start[-1] != '\n')
		start--;
	buf_append(b, start, (size_t)(end - start));
}

/* Byte offset of the 1-based character position pos in sql, or -1. */
static long position_offset(const struct pg_conn *c, const char *sql, long pos)
{
	size_t i, len = strlen(sql);
	long chars = 0;

	if (pos < 1)
		return -1;
	if (c->bytes_position)
		return (size_t)pos <= len ? pos - 1 : -1;
	for (i = 0; i < len; i++) {
		if (((unsigned char)sql[i] & 0xC0) == 0x80)
			continue; /* a UTF-8 continuation byte */
		if (++chars == pos)
			return (long)i;
	}
	return -1;
}

/*
 * Records the error of res (or of the connection when res carries none) in
 * c->last and err: "MESSAGE[: DETAIL][ (CONTEXT)]". statement is the index
 * of the failing statement in sql when known, else -1. Returns -1.
 */
static int set_error(struct pg_conn *c, const PGresult *res, const char *sql,
                     long statement, struct berr *err)
{
	const char *primary = NULL, *detail = NULL, *context = NULL;
	const char *state = NULL, *pos = NULL;
	struct buf b;
	int64_t p;

	error_clear(c);
	c->last.statement = statement;
	if (res != NULL) {
		primary = pq.PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		detail = pq.PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		context = pq.PQresultErrorField(res, PG_DIAG_CONTEXT);
		state = pq.PQresultErrorField(res, PG_DIAG_SQLSTATE);
		pos = pq.PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
	}
	if (state != NULL && strlen(state) == 5)
		memcpy(c->last.sqlstate, state, 6);
	if (pos != NULL && sql != NULL &&
	    strnum_i64(&p, pos, 1, INT32_MAX) == 0)
		c->last.offset = position_offset(c, sql, (long)p);

	buf_init(&b, sizeof(err->msg));
	if (primary != NULL)
		put_tidy(&b, primary);
	else if (res != NULL && *pq.PQresultErrorMessage(res) != '\0')
		put_tidy(&b, pq.PQresultErrorMessage(res));
	else
		put_tidy(&b, pq.PQerrorMessage(c->conn));
	if (b.len == 0)
		buf_puts(&b, "unknown error");
	if (detail != NULL) {
		buf_puts(&b, ": ");
		put_tidy(&b, detail);
		if (b.len > 0 && b.data[b.len - 1] == '.')
			b.data[--b.len] = '\0';
	}
	if (context != NULL) {
		buf_puts(&b, " (");
		put_last_line(&b, context);
		buf_putc(&b, ')');
	}
	berr_set(err, "%s", buf_str(&b));
	buf_release(&b);
	return -1;
}

/* The URL's parts as libpq parses them; NULL when it cannot. */
static PQconninfoOption *parse_url(const char *url)
{
	char *errmsg = NULL;
	PQconninfoOption *opts;

	if (pq_load(NULL) != 0)
		return NULL;
	opts = pq.PQconninfoParse(url, &errmsg);
	pq.PQfreemem(errmsg);
	return opts;
}

static const char *option(const PQconninfoOption *opts, const char *key)
{
	for (; opts != NULL && opts->keyword != NULL; opts++)
		if (strcmp(opts->keyword, key) == 0)
			return opts->val != NULL && *opts->val ? opts->val
			                                       : NULL;
	return NULL;
}

/* Display form of a URL libpq cannot parse: its host and path, cut out by
 * hand; anything else is not shown. */
static char *display_raw(const char *url)
{
	const char *p, *auth, *end, *at, *path_end;
	struct buf b;

	if (strncmp(url, "postgresql://", 13) == 0)
		p = url + 13;
	else if (strncmp(url, "postgres://", 11) == 0)
		p = url + 11;
	else
		return xstrdup("the database connection string");
	auth = p;
	end = auth + strcspn(auth, "/?#");
	at = NULL;
	for (p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (at != NULL)
		auth = at + 1;
	buf_init(&b, 0);
	buf_puts(&b, "postgresql://");
	buf_append(&b, auth, (size_t)(end - auth));
	if (*end == '/') {
		path_end = end + strcspn(end, "?#");
		buf_append(&b, end, (size_t)(path_end - end));
	}
	return buf_detach(&b);
}

char *pg_url_display(const char *url)
{
	PQconninfoOption *opts = parse_url(url);
	const char *host, *port, *db;
	struct buf b;

	if (opts == NULL)
		return display_raw(url);
	host = option(opts, "host");
	if (host == NULL)
		host = option(opts, "hostaddr");
	port = option(opts, "port");
	db = option(opts, "dbname");
	buf_init(&b, 0);
	buf_puts(&b, "postgresql://");
	buf_puts(&b, host != NULL ? host : "localhost");
	if (port != NULL)
		buf_printf(&b, ":%s", port);
	buf_printf(&b, "/%s", db != NULL ? db : "");
	pq.PQconninfoFree(opts);
	return buf_detach(&b);
}

/* Quoted parts of libpq's parse errors that are URL syntax, not URL text. */
static bool syntax_quote(const char *q, size_t n)
{
	return n == 1 && strchr("=]:/", q[0]) != NULL;
}

/* libpq's reason for refusing a connection string. Its quoted parts may
 * echo the URL, password included: all but punctuation become "...", and a
 * trailing quote of the whole URL is dropped. */
static void parse_reason(struct buf *b, const char *url)
{
	char *errmsg = NULL;
	PQconninfoOption *opts;
	const char *p, *close;
	size_t start = b->len;

	if (pq_load(NULL) != 0) {
		buf_puts(b, pq.lib.err.msg);
		return;
	}
	opts = pq.PQconninfoParse(url, &errmsg);
	pq.PQconninfoFree(opts);
	if (errmsg == NULL) {
		buf_puts(b, "libpq cannot parse it");
		return;
	}
	for (p = errmsg; *p != '\0' && *p != '\n';) {
		if (*p != '"' || (close = strchr(p + 1, '"')) == NULL) {
			buf_putc(b, *p++);
			continue;
		}
		if (syntax_quote(p + 1, (size_t)(close - p - 1)))
			buf_append(b, p, (size_t)(close - p + 1));
		else
			buf_puts(b, "\"...\"");
		p = close + 1;
	}
	pq.PQfreemem(errmsg);
	if (b->len - start > 7 &&
	    strcmp(b->data + b->len - 7, ": \"...\"") == 0) {
		b->len -= 7;
		b->data[b->len] = '\0';
	}
}

int pg_url_env(struct kvlist *env, const char *url, struct berr *err)
{
	PQconninfoOption *opts, *o;
	char *where;
	struct buf msg;

	if (pq_load(err) != 0)
		return -1;
	opts = parse_url(url);
	if (opts == NULL) {
		where = pg_url_display(url);
		buf_init(&msg, sizeof(err->msg));
		parse_reason(&msg, url);
		berr_set(err, "cannot parse the database URL '%s': %s", where,
		         buf_str(&msg));
		buf_release(&msg);
		free(where);
		return -1;
	}
	/* libpq names the variable each of its parameters falls back to;
	 * the few without one (keepalives, replication) only tune the
	 * connection. */
	for (o = opts; o->keyword != NULL; o++)
		if (o->val != NULL && o->envvar != NULL)
			kvlist_set(env, o->envvar, o->val);
	pq.PQconninfoFree(opts);
	return 0;
}

int pg_connect(struct pg_conn **out, const char *url, int connect_timeout_s,
               struct berr *err)
{
	PQconninfoOption *opts = NULL;
	const char *keys[5], *vals[5], *password;
	char timeout[16], *where = NULL;
	struct pg_conn *c = NULL;
	const char *enc;
	struct buf msg;
	int rc = -1;

	*out = NULL;
	if (pq_load(err) != 0)
		return -1;
	buf_init(&msg, sizeof(err->msg));
	where = pg_url_display(url);
	opts = parse_url(url);
	if (opts == NULL) {
		parse_reason(&msg, url);
		if (strstr(url, "://") == NULL)
			berr_set(err,
			         "cannot parse the database connection "
			         "string: %s",
			         buf_str(&msg));
		else
			berr_set(err, "cannot parse the database URL '%s': %s",
			         where, buf_str(&msg));
		goto out;
	}
	password = option(opts, "password");

	if (connect_timeout_s <= 0)
		connect_timeout_s = PG_DEFAULT_CONNECT_TIMEOUT_S;
	snprintf(timeout, sizeof(timeout), "%d", connect_timeout_s);
	/* The URL is expanded in place of "dbname"; entries after it override
	 * what it says, except the application name, which it may set. */
	keys[0] = "dbname", vals[0] = url;
	keys[1] = "connect_timeout", vals[1] = timeout;
	keys[2] = "client_encoding", vals[2] = "UTF8";
	keys[3] = "fallback_application_name", vals[3] = "berth";
	keys[4] = NULL, vals[4] = NULL;

	c = xcalloc(1, sizeof(*c));
	error_clear(c);
	c->conn = pq.PQconnectdbParams(keys, vals, 1);
	if (c->conn == NULL) {
		berr_set(err, "cannot connect to %s: out of memory", where);
		goto out;
	}
	if (pq.PQstatus(c->conn) != CONNECTION_OK) {
		put_tidy(&msg, pq.PQerrorMessage(c->conn));
		if (password != NULL &&
		    strstr(buf_str(&msg), password) != NULL) {
			buf_reset(&msg);
			buf_puts(&msg, "libpq's message is withheld because it "
			               "contains the password");
		}
		berr_set(err, "cannot connect to %s: %s", where, buf_str(&msg));
		goto out;
	}
	pq.PQsetNoticeReceiver(c->conn, on_notice, NULL);
	enc = pq.PQparameterStatus(c->conn, "server_encoding");
	c->bytes_position = enc != NULL && strcmp(enc, "SQL_ASCII") == 0;
	*out = c;
	c = NULL;
	rc = 0;
out:
	pg_close(c);
	pq.PQconninfoFree(opts);
	buf_release(&msg);
	free(where);
	return rc;
}

void pg_close(struct pg_conn *c)
{
	if (c == NULL)
		return;
	if (c->conn != NULL)
		pq.PQfinish(c->conn);
	free(c);
}

/* Ends a COPY the server started in the middle of a pg_exec text. */
static void end_copy(struct pg_conn *c, ExecStatusType st)
{
	char *data;

	if (st == PGRES_COPY_IN) {
		pq.PQputCopyEnd(c->conn, "COPY FROM STDIN is not supported here");
		return;
	}
	while (pq.PQgetCopyData(c->conn, &data, 0) > 0)
		pq.PQfreemem(data);
}

int pg_exec(struct pg_conn *c, const char *sql, struct berr *err)
{
	PGresult *res, *failed = NULL;
	long done = 0, failed_at = -1;
	ExecStatusType st;
	int rc = 0;

	error_clear(c);
	if (!pq.PQsendQuery(c->conn, sql))
		return set_error(c, NULL, NULL, -1, err);
	/* One result per statement until the first error; always drain them
	 * all so the connection is ready for the next call. */
	while ((res = pq.PQgetResult(c->conn)) != NULL) {
		st = pq.PQresultStatus(res);
		if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
			end_copy(c, st);
		} else if (st == PGRES_FATAL_ERROR) {
			if (failed == NULL) {
				failed = res;
				failed_at = done;
				res = NULL;
			}
		} else if (st == PGRES_BAD_RESPONSE ||
		           st == PGRES_NONFATAL_ERROR) {
			if (failed == NULL) {
				failed = res;
				failed_at = -1;
				res = NULL;
			}
		} else {
			done++;
		}
		pq.PQclear(res);
	}
	if (failed != NULL)
		rc = set_error(c, failed, sql, failed_at, err);
	else if (pq.PQstatus(c->conn) != CONNECTION_OK)
		rc = set_error(c, NULL, NULL, -1, err);
	pq.PQclear(failed);
	return rc;
}

/* Runs one statement with the extended protocol; *resp is the result (or
 * NULL) for the caller to PQclear. Returns 0 or -1. */
static int exec_one(PGresult **resp, struct pg_conn *c, const char *sql,
                    int nparams, const char *const *params, struct berr *err)
{
	PGresult *res;
	ExecStatusType st;

	error_clear(c);
	*resp = NULL;
	res = pq.PQexecParams(c->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (res == NULL)
		return set_error(c, NULL, NULL, -1, err);
	st = pq.PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		set_error(c, res, sql, st == PGRES_FATAL_ERROR ? 0 : -1, err);
		pq.PQclear(res);
		return -1;
	}
	*resp = res;
	return 0;
}

int pg_exec_params(struct pg_conn *c, const char *sql, int nparams,
                   const char *const *params, struct berr *err)
{
	PGresult *res;
	int rc = exec_one(&res, c, sql, nparams, params, err);

	pq.PQclear(res);
	return rc;
}

int pg_query(struct pg_rows *out, struct pg_conn *c, const char *sql,
             int nparams, const char *const *params, struct berr *err)
{
	PGresult *res;
	size_t r, k;

	memset(out, 0, sizeof(*out));
	if (exec_one(&res, c, sql, nparams, params, err) != 0)
		return -1;
	out->nrows = (size_t)pq.PQntuples(res);
	out->ncols = (size_t)pq.PQnfields(res);
	if (out->nrows > 0 && out->ncols > 0)
		out->cells = xcalloc(out->nrows * out->ncols, sizeof(char *));
	for (r = 0; r < out->nrows; r++)
		for (k = 0; k < out->ncols; k++)
			if (!pq.PQgetisnull(res, (int)r, (int)k))
				out->cells[r * out->ncols + k] =
				    xstrdup(pq.PQgetvalue(res, (int)r, (int)k));
	pq.PQclear(res);
	return 0;
}

const char *pg_rows_get(const struct pg_rows *r, size_t row, size_t col)
{
	if (r->cells == NULL || row >= r->nrows || col >= r->ncols)
		return NULL;
	return r->cells[row * r->ncols + col];
}

void pg_rows_release(struct pg_rows *r)
{
	size_t i;

	if (r == NULL)
		return;
	if (r->cells != NULL)
		for (i = 0; i < r->nrows * r->ncols; i++)
			free(r->cells[i]);
	free(r->cells);
	memset(r, 0, sizeof(*r));
}

const struct pg_error *pg_last_error(const struct pg_conn *c)
{
	return &c->last;
}

bool pg_in_transaction(const struct pg_conn *c)
{
	PGTransactionStatusType st = pq.PQtransactionStatus(c->conn);

	return st == PQTRANS_INTRANS || st == PQTRANS_INERROR;
}

int pg_server_version(const struct pg_conn *c)
{
	return pq.PQserverVersion(c->conn);
}

const char *pg_lib_version(void)
{
	static char version[32];
	int v;

	if (pq_load(NULL) != 0)
		return "not installed";
	v = pq.PQlibVersion();

	/* Since PostgreSQL 10: major * 10000 + minor. */
	snprintf(version, sizeof(version), "%d.%d", v / 10000, v % 10000);
	return version;
}

int pg_table_stats(struct pg_table_stats *out, struct pg_conn *c,
                   struct berr *err)
{
	static const char sql[] =
	    "SELECT format('%I.%I', schemaname, relname),"
	    " n_tup_ins + n_tup_upd + n_tup_del, n_live_tup"
	    " FROM pg_stat_user_tables"
	    " ORDER BY schemaname COLLATE \"C\", relname COLLATE \"C\"";
	struct pg_rows rows;
	size_t i;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (pg_query(&rows, c, sql, 0, NULL, err) != 0) {
		berr_prefix(err, "cannot read pg_stat_user_tables");
		goto out;
	}
	if (rows.nrows > 0)
		out->tables = xcalloc(rows.nrows, sizeof(*out->tables));
	for (i = 0; i < rows.nrows; i++) {
		struct pg_table_stat *t = &out->tables[i];
		const char *name = pg_rows_get(&rows, i, 0);
		const char *w = pg_rows_get(&rows, i, 1);
		const char *live = pg_rows_get(&rows, i, 2);

		out->n++;
		t->name = xstrdup(name != NULL ? name : "");
		if (w == NULL || live == NULL ||
		    strnum_i64(&t->writes, w, 0, INT64_MAX) != 0 ||
		    strnum_i64(&t->live_rows, live, 0, INT64_MAX) != 0) {
			berr_set(err,
			         "pg_stat_user_tables: unexpected counters "
			         "for '%s'",
			         t->name);
			goto out;
		}
	}
	rc = 0;
out:
	pg_rows_release(&rows);
	if (rc != 0)
		pg_table_stats_release(out);
	return rc;
}

void pg_table_stats_release(struct pg_table_stats *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->n; i++)
		free(s->tables[i].name);
	free(s->tables);
	memset(s, 0, sizeof(*s));
}
