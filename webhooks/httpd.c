/*
 * httpd.c — the HTTP/1.1 connections of `berth serve`, on libevent's event
 * loop: accepting (with a cap), reading requests (http.c parses them),
 * enforcing every limit, and writing replies. The server (server.c)
 * decides what to answer; a request may be answered at once or later (a
 * webhook once its inbox record is synced), exactly once.
 *
 * Built for the one workload that matters, many small POSTs on keep-alive
 * connections: a request costs one read and one send, nothing more. The
 * read event stays registered while a request is being answered (no
 * epoll_ctl per request); bytes that arrive meanwhile wait in the
 * connection's buffer (pipelining), up to IN_HOLD, after which reading
 * pauses. Replies are written as soon as they are made; only what does
 * not fit in the socket goes through a write event.
 *
 * Every reply, including the refusals made here (400, 408, 413, 417, 431,
 * 501, 505), is JSON. A request the server refuses before reading its body
 * is answered, the connection's write side shut, and whatever the client
 * still sends discarded for LINGER_MS, so that the client reads the answer
 * rather than a reset; then it is closed.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "webhooks.h"

#define IN_CHUNK 16384            /* read size, and the first buffer */
#define IN_HOLD (64 * 1024)       /* buffered while a request is answered */
#define OUT_KEEP (64 * 1024)      /* reply buffer kept between requests */
#define BODY_KEEP (64 * 1024)     /* body buffer kept between requests */
#define LINGER_MS 2000

enum conn_state {
	C_HEAD,     /* reading a request head */
	C_BODY,     /* reading a Content-Length body */
	C_CHUNKED,  /* reading a chunked body */
	C_ANSWER,   /* the server has the request: waiting for its reply */
	C_LINGER,   /* answered, write side shut: discarding, then close */
};

struct httpd_req {
	struct httpd_conn *c;
	struct buf head;           /* the head's bytes, parsed in place */
	struct http_head h;        /* points into head */
	struct buf body;
	struct http_chunked chunked;
	struct buf extra;          /* reply header lines the server added */
	int64_t start_ms;          /* when the whole request was in */
};

struct httpd_conn {
	struct httpd *d;
	LIST_ENTRY(httpd_conn) link;
	int fd;                    /* owned; -1 once closed */
	struct event *rev, *wev;   /* owned */
	char *in;                  /* owned; in_len bytes read and not yet
				      used start at in + in_off */
	size_t in_off, in_len, in_cap, scanned;
	struct buf out;            /* reply bytes; out_off of them sent */
	size_t out_off;
	enum conn_state state;
	struct httpd_req req;
	int64_t head_since_ms;     /* first byte of the head being read */
	int64_t linger_until_ms;
	bool eof;                  /* the client shut its side */
	bool close_after;          /* close once out is written */
	bool paused;               /* rev removed: IN_HOLD reached */
	bool writing;              /* wev added */
	bool advancing;            /* inside conn_advance */
	bool dead;                 /* closed; freed when req is answered */
};

LIST_HEAD(conn_list, httpd_conn);

struct httpd {
	struct event_base *base;   /* borrowed */
	struct metrics *m;         /* borrowed */
	struct httpd_limits lim;
	httpd_handler handler;
	void *arg;
	struct evconnlistener *listener; /* owned */
	struct conn_list conns;
	int nconn;
	bool paused;               /* listener disabled at the cap */
	time_t date_sec;
	char date[40];             /* Date header value for date_sec */
};

static void conn_advance(struct httpd_conn *c);

static const char *reason_phrase(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return status < 400 ? "OK" : "Error";
	}
}

static struct timeval tv_of_s(int s)
{
	struct timeval tv = {s, 0};

	return tv;
}

static void count_reply(struct httpd *d, int status)
{
	char code[8];

	snprintf(code, sizeof(code), "%d", status);
	metrics_add(d->m, "berth_http_requests_total",
		    (const char *[]){"code", code, NULL}, 1);
}

static const char *date_now(struct httpd *d)
{
	time_t now = time(NULL);
	struct tm tm;

	if (now != d->date_sec && gmtime_r(&now, &tm) != NULL) {
		strftime(d->date, sizeof(d->date), "%a, %d %b %Y %H:%M:%S GMT",
			 &tm);
		d->date_sec = now;
	}
	return d->date;
}

/* ---- connections ---- */

static void req_release(struct httpd_req *r)
{
	buf_release(&r->head);
	buf_release(&r->body);
	buf_release(&r->extra);
}

/* Ready for the next request, keeping modest allocations. */
static void req_reset(struct httpd_req *r)
{
	buf_reset(&r->head);
	buf_reset(&r->extra);
	if (r->body.cap > BODY_KEEP)
		buf_release(&r->body);
	buf_reset(&r->body);
	memset(&r->h, 0, sizeof(r->h));
}

static void conn_free(struct httpd_conn *c)
{
	LIST_REMOVE(c, link);
	req_release(&c->req);
	buf_release(&c->out);
	free(c->in);
	free(c);
}

/* Closes the socket; the record goes too unless the server still has its
 * request, in which case the reply frees it. */
static void conn_drop(struct httpd_conn *c)
{
	struct httpd *d = c->d;

	if (!c->dead) {
		event_free(c->rev);
		event_free(c->wev);
		c->rev = c->wev = NULL;
		close(c->fd);
		c->fd = -1;
		c->dead = true;
		if (d->nconn > 0)
			d->nconn--;
		if (d->paused && d->nconn < d->lim.max_connections &&
		    d->listener != NULL) {
			evconnlistener_enable(d->listener);
			d->paused = false;
		}
	}
	if (c->state != C_ANSWER && !c->advancing)
		conn_free(c);
}

/* The reply is out and the connection is to close: shut the write side
 * and discard what the client still sends until it closes or LINGER_MS
 * pass. Returns -1 (c may be gone). */
static int conn_linger(struct httpd_conn *c)
{
	struct timeval tv = {LINGER_MS / 1000, (LINGER_MS % 1000) * 1000};

	if (c->eof) {
		conn_drop(c);
		return -1;
	}
	shutdown(c->fd, SHUT_WR);
	c->state = C_LINGER;
	c->in_len = c->in_off = 0;
	c->linger_until_ms = strnum_mono_ms() + LINGER_MS;
	c->paused = false;
	event_add(c->rev, &tv);
	return -1;
}

/* Writes what is queued. Returns 0 when the connection goes on (all
 * written, or the rest waits for the write event), -1 when it was closed
 * or is closing. */
static int conn_flush(struct httpd_conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_off,
				 c->out.len - c->out_off, MSG_NOSIGNAL);

		if (n > 0) {
			c->out_off += (size_t)n;
		} else if (n < 0 && errno == EINTR) {
			continue;
		} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct timeval tv = tv_of_s(c->d->lim.write_timeout_s);

			/* The timeout counts from the last progress. */
			if (!c->writing)
				event_add(c->wev, &tv);
			c->writing = true;
			return 0;
		} else {
			conn_drop(c);
			return -1;
		}
	}
	if (c->out.cap > OUT_KEEP)
		buf_release(&c->out);
	buf_reset(&c->out);
	c->out_off = 0;
	if (c->writing) {
		event_del(c->wev);
		c->writing = false;
	}
	if (c->close_after && c->state != C_ANSWER)
		return conn_linger(c);
	return 0;
}

/* After a reply went out: answer what was pipelined behind it, and read
 * again if reading paused. */
static void conn_resume(struct httpd_conn *c)
{
	if (c->writing || c->state != C_HEAD)
		return;
	conn_advance(c);
}

/* Formats a reply to the request c is reading or answering into c->out. */
static void queue_reply(struct httpd_conn *c, int status, const char *type,
			const char *body, size_t len)
{
	struct httpd_req *r = &c->req;
	bool head_only = r->h.method != NULL && strcmp(r->h.method, "HEAD") == 0;

	if (!r->h.keep_alive || c->eof)
		c->close_after = true;
	/* Pieces rather than one printf: this runs for every request. */
	buf_puts(&c->out, "HTTP/1.1 ");
	buf_put_u64(&c->out, (uint64_t)status);
	buf_putc(&c->out, ' ');
	buf_puts(&c->out, reason_phrase(status));
	buf_puts(&c->out, "\r\nDate: ");
	buf_puts(&c->out, date_now(c->d));
	buf_puts(&c->out, "\r\nContent-Type: ");
	buf_puts(&c->out, type);
	buf_puts(&c->out, "\r\nCache-Control: no-store\r\nContent-Length: ");
	buf_put_u64(&c->out, len);
	buf_puts(&c->out, "\r\n");
	if (c->close_after)
		buf_puts(&c->out, "Connection: close\r\n");
	else if (r->h.minor == 0)
		buf_puts(&c->out, "Connection: keep-alive\r\n");
	buf_append(&c->out, r->extra.data, r->extra.len);
	buf_puts(&c->out, "\r\n");
	if (!head_only)
		buf_append(&c->out, body, len);
	req_reset(r);
	c->state = C_HEAD;
	c->head_since_ms = 0;
}

/* A refusal made here: JSON, counted, and the connection closes after. */
static void refuse(struct httpd_conn *c, int status, const char *why)
{
	char body[256];
	int n;

	if (status == 413)
		n = snprintf(body, sizeof(body),
			     "{\"error\":\"request body over the limit of %zu "
			     "bytes\"}\n",
			     c->d->lim.max_body);
	else
		n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}\n", why);
	c->close_after = true;
	count_reply(c->d, status);
	log_warn("msg=\"request refused\" status=%d reason=\"%s\"", status,
		 status == 413 ? "body over the limit" : why);
	queue_reply(c, status, "application/json", body, (size_t)n);
	c->in_len = c->in_off = 0;
}

/* The first unused byte read. */
static char *in_data(struct httpd_conn *c)
{
	return c->in + c->in_off;
}

static void consume(struct httpd_conn *c, size_t n)
{
	c->in_off += n;
	c->in_len -= n;
	if (c->in_len == 0)
		c->in_off = 0;
	c->scanned = 0;
}

static bool known_method(const char *m)
{
	static const char *const known[] = {"GET",    "HEAD",    "POST",
					    "PUT",    "DELETE",  "OPTIONS",
					    "PATCH",  "TRACE",   "CONNECT"};
	size_t i;

	for (i = 0; i < BERTH_ARRAY_LEN(known); i++)
		if (strcmp(m, known[i]) == 0)
			return true;
	return false;
}

/* The head is complete in c->in[0..end): parse it and choose how the
 * body is read. Returns 0 or the status of a refusal. */
static int take_head(struct httpd_conn *c, size_t end, const char **why)
{
	struct httpd_req *r = &c->req;
	int rc;

	buf_reset(&r->head);
	buf_append(&r->head, in_data(c), end);
	consume(c, end);
	rc = http_head_parse(&r->h, r->head.data, r->head.len, why);
	if (rc != 0)
		return rc;
	if (!known_method(r->h.method)) {
		*why = "method not implemented";
		return 501;
	}
	if (r->h.has_length && r->h.length > c->d->lim.max_body)
		return 413;
	if (r->h.chunked) {
		http_chunked_init(&r->chunked, c->d->lim.max_header);
		c->state = C_CHUNKED;
	} else {
		c->state = r->h.length > 0 ? C_BODY : C_ANSWER;
	}
	if (c->state != C_ANSWER && r->h.expect_continue &&
	    (r->h.chunked || c->in_len < r->h.length))
		buf_puts(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
	return 0;
}

/* Moves body bytes from c->in to the request. Returns 1 when the body is
 * complete, 0 when more is needed, or a refusal's status. */
static int take_body(struct httpd_conn *c, const char **why)
{
	struct httpd_req *r = &c->req;
	size_t used;
	int rc;

	if (c->state == C_BODY) {
		size_t want = (size_t)r->h.length - r->body.len;

		used = c->in_len < want ? c->in_len : want;
		r->body.max = c->d->lim.max_body;
		if (buf_append(&r->body, in_data(c), used) != 0) {
			*why = "body over the limit";
			return 413;
		}
		consume(c, used);
		return r->body.len == r->h.length ? 1 : 0;
	}
	r->body.max = c->d->lim.max_body;
	rc = http_chunked_feed(&r->chunked, &r->body, c->d->lim.max_body,
			       in_data(c), c->in_len, &used, why);
	consume(c, used);
	return rc;
}

/* Reads requests from what the connection has buffered and hands each
 * complete one to the server, in order, until one is answered later, one
 * is incomplete, or IN_HOLD bytes of replies are queued. Returns true in
 * that last case: there may be more to do once they are written. */
static bool advance_some(struct httpd_conn *c)
{
	struct httpd *d = c->d;
	const char *why = NULL;
	int rc = 0;

	while (!c->close_after) {
		if (c->out.len - c->out_off >= IN_HOLD)
			return true;
		if (c->state == C_HEAD) {
			size_t end;

			if (c->in_len == 0)
				break;
			if (c->head_since_ms == 0)
				c->head_since_ms = strnum_mono_ms();
			/* Empty lines before a request line are skipped here,
			 * once, not searched again with every read. */
			while (c->in_len > 0 && (in_data(c)[0] == '\r' ||
						 in_data(c)[0] == '\n'))
				consume(c, 1);
			if (c->in_len == 0)
				break;
			end = http_head_end(in_data(c), c->in_len, c->scanned);
			if (end == 0 || end > d->lim.max_header) {
				c->scanned = c->in_len;
				if (c->in_len <= d->lim.max_header && end == 0)
					break;
				refuse(c, 431, "request head over the limit");
				break;
			}
			if ((rc = take_head(c, end, &why)) != 0) {
				refuse(c, rc, why);
				break;
			}
		}
		if (c->state == C_BODY || c->state == C_CHUNKED) {
			rc = take_body(c, &why);
			if (rc == 0)
				break;
			if (rc != 1) {
				refuse(c, rc, why);
				break;
			}
			c->state = C_ANSWER;
		}
		if (c->state == C_ANSWER) {
			c->req.start_ms = strnum_mono_ms();
			d->handler(&c->req, d->arg);
			if (c->state == C_ANSWER)
				break; /* answered later */
		}
	}
	return false;
}

/* Answers what the connection has buffered, writes the replies, and
 * reads again when it had paused and there is room. */
static void conn_advance(struct httpd_conn *c)
{
	bool more;

	do {
		c->advancing = true;
		more = advance_some(c);
		c->advancing = false;
		if (c->dead) {
			if (c->state != C_ANSWER)
				conn_free(c);
			return;
		}
		if (conn_flush(c) != 0)
			return;
	} while (more && !c->writing);
	if (c->writing || c->state == C_ANSWER)
		return;
	if (c->eof) {
		conn_drop(c); /* the client left mid-request */
		return;
	}
	if (c->paused && c->in_len < IN_HOLD) {
		struct timeval tv = tv_of_s(c->d->lim.read_timeout_s);

		event_add(c->rev, &tv);
		c->paused = false;
	}
}

static void on_timeout(struct httpd_conn *c)
{
	if (c->state == C_ANSWER || c->writing)
		return; /* the server's turn, or write_timeout_s's */
	if (c->state == C_LINGER || (c->state == C_HEAD && c->in_len == 0 &&
				     c->head_since_ms == 0)) {
		conn_drop(c);
		return;
	}
	refuse(c, 408, "request timeout");
	if (conn_flush(c) == 0 && !c->dead)
		conn_drop(c); /* it does not even read */
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct httpd_conn *c = arg;
	int64_t timeout_ms = (int64_t)c->d->lim.read_timeout_s * 1000;
	ssize_t n;

	if (what & EV_TIMEOUT) {
		on_timeout(c);
		return;
	}
	if (c->state == C_LINGER) {
		char sink[IN_CHUNK];

		n = recv(fd, sink, sizeof(sink), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
		    strnum_mono_ms() >= c->linger_until_ms)
			conn_drop(c);
		return;
	}
	if (c->in_len >= IN_HOLD) {
		/* Not used up: a request being answered, or replies the
		 * client does not read. conn_advance reads again. */
		event_del(c->rev);
		c->paused = true;
		return;
	}
	if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, c->in_len);
		c->in_off = 0;
	}
	if (c->in_cap - c->in_len < IN_CHUNK) {
		c->in_cap = c->in_len + IN_CHUNK;
		c->in = xrealloc(c->in, c->in_cap);
	}
	n = recv(fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_drop(c);
		return;
	}
	if (n == 0) {
		c->eof = true;
		event_del(c->rev);
		if (c->state == C_ANSWER) {
			c->close_after = true;
			return;
		}
		if (c->in_len == 0 || c->state != C_HEAD) {
			conn_drop(c);
			return;
		}
	}
	c->in_len += (size_t)n;
	if (c->state == C_HEAD && c->head_since_ms != 0 &&
	    strnum_mono_ms() - c->head_since_ms > timeout_ms) {
		on_timeout(c); /* a head trickling in */
		return;
	}
	if (c->state != C_ANSWER)
		conn_advance(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct httpd_conn *c = arg;

	(void)fd;
	if (what & EV_TIMEOUT) {
		log_warn("msg=\"client does not read its reply: closing\"");
		conn_drop(c);
		return;
	}
	if (conn_flush(c) == 0)
		conn_resume(c);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct httpd *d = arg;
	struct httpd_conn *c = xcalloc(1, sizeof(*c));
	struct timeval tv = tv_of_s(d->lim.read_timeout_s);
	int one = 1;

	(void)sa;
	(void)salen;
	/* Replies go out whole in one send; Nagle would only hold back the
	 * second of two (a 100 Continue, then the answer) for an ACK. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->d = d;
	c->fd = fd;
	c->req.c = c;
	buf_init(&c->out, 0);
	c->rev = event_new(d->base, fd, EV_READ | EV_PERSIST, on_read, c);
	c->wev = event_new(d->base, fd, EV_WRITE | EV_PERSIST, on_write, c);
	if (c->rev == NULL || c->wev == NULL)
		fatal("cannot create a connection's events");
	LIST_INSERT_HEAD(&d->conns, c, link);
	event_add(c->rev, &tv);
	d->nconn++;
	if (d->nconn >= d->lim.max_connections && !d->paused) {
		evconnlistener_disable(l);
		d->paused = true;
		metrics_add(d->m, "berth_http_connections_refused_total", NULL, 1);
		log_warn("msg=\"connection limit reached: not accepting until "
			 "one closes\" limit=%d", d->lim.max_connections);
	}
}

/* ---- the server's side ---- */

struct httpd *httpd_new(struct event_base *base, struct metrics *m,
			const struct httpd_limits *lim, httpd_handler handler,
			void *arg)
{
	struct httpd *d = xcalloc(1, sizeof(*d));

	d->base = base;
	d->m = m;
	d->lim = *lim;
	d->handler = handler;
	d->arg = arg;
	LIST_INIT(&d->conns);
	return d;
}

int httpd_listen(struct httpd *d, const char *host, int port, int *bound_port,
		 struct berr *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char service[16];
	int rc, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0)
		return berr_set(err, "cannot listen on %s:%d: %s", host, port,
				gai_strerror(rc));
	for (ai = res; ai != NULL && d->listener == NULL; ai = ai->ai_next) {
		d->listener = evconnlistener_new_bind(
		    d->base, on_accept, d,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
			LEV_OPT_REUSEABLE,
		    -1, ai->ai_addr, (int)ai->ai_addrlen);
		if (d->listener == NULL)
			saved = errno;
	}
	freeaddrinfo(res);
	if (d->listener == NULL)
		return berr_errno(err, saved, "cannot listen on %s:%d", host,
				  port);
	if (getsockname(evconnlistener_get_fd(d->listener),
			(struct sockaddr *)&ss, &sl) != 0)
		return berr_errno(err, errno, "cannot read the bound address");
	if (ss.ss_family == AF_INET6)
		*bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		*bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

void httpd_set_limits(struct httpd *d, const struct httpd_limits *lim)
{
	d->lim = *lim;
	if (d->paused && d->nconn < lim->max_connections) {
		evconnlistener_enable(d->listener);
		d->paused = false;
	}
}

int httpd_connections(const struct httpd *d)
{
	return d->nconn;
}

void httpd_free(struct httpd *d)
{
	struct httpd_conn *c;

	if (d == NULL)
		return;
	while ((c = LIST_FIRST(&d->conns)) != NULL) {
		c->state = C_HEAD; /* nobody answers any more */
		conn_drop(c);
	}
	if (d->listener != NULL)
		evconnlistener_free(d->listener);
	free(d);
}

const struct http_head *httpd_req_head(const struct httpd_req *r)
{
	return &r->h;
}

const char *httpd_req_header(const struct httpd_req *r, const char *name)
{
	return http_head_field(&r->h, name);
}

const unsigned char *httpd_req_body(const struct httpd_req *r, size_t *len)
{
	*len = r->body.len;
	return r->body.len ? (const unsigned char *)r->body.data : NULL;
}

int64_t httpd_req_start_ms(const struct httpd_req *r)
{
	return r->start_ms;
}

void httpd_req_add_header(struct httpd_req *r, const char *name,
			  const char *value)
{
	buf_printf(&r->extra, "%s: %s\r\n", name, value);
}

void httpd_reply(struct httpd_req *r, int status, const char *type,
		 const char *body, size_t len)
{
	struct httpd_conn *c = r->c;

	if (c->state != C_ANSWER)
		fatal("httpd: a reply to a request not being answered");
	if (c->dead) {
		c->state = C_HEAD;
		conn_free(c);
		return;
	}
	count_reply(c->d, status);
	queue_reply(c, status, type, body, len);
	if (c->advancing)
		return; /* conn_advance writes it */
	if (conn_flush(c) == 0)
		conn_resume(c);
}
