/*
 * server.c — the HTTP side of `berth serve`, on libevent's evhttp (SPEC §7;
 * docs/webhooks.md "The server").
 *
 * Requests that store something (webhooks, API deploys) are answered only
 * once their inbox record is durable. The fsync is shared: handlers append
 * and queue their reply; a commit event, activated by the first of them,
 * runs after every request already read in this turn of the loop, syncs
 * once and sends all those replies (group commit). Everything else is
 * answered at once. Nothing here waits for the network or a child.
 *
 * Connections are counted without touching evhttp's internals beyond its
 * public API: each new connection's bufferevent comes from our bevcb, and
 * an event activated there (it runs before any I/O on the connection)
 * registers a close callback on the evhttp_connection that owns it. At the
 * limit the listener is disabled; the kernel's backlog holds newcomers
 * until a connection closes. The same connection record watches the bytes
 * the client sends ahead of evhttp (an evbuffer callback on the input,
 * which runs before evhttp's read callback), so that a head declaring a
 * body over the limit gets our JSON 413 at once (conn.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>

#include "webhooks.h"

#define REPLY_BUDGET_MS 250
#define API_LIMIT_DEFAULT 20
#define API_LIMIT_MAX 1000

struct server_conn;

struct pending {
	TAILQ_ENTRY(pending) link;
	struct evhttp_request *req; /* borrowed until replied */
	struct intake_result res;
	const char *provider;       /* static: "github", …, "api" */
	int64_t start_ms;
};

TAILQ_HEAD(pending_list, pending);

struct server {
	struct event_base *base;            /* borrowed */
	struct evhttp *http;                /* owned */
	struct evconnlistener *listener;    /* owned by http */
	struct inbox *ib;                   /* borrowed */
	struct metrics *m;                  /* borrowed */
	struct server_ops ops;
	struct server_config sc;
	struct event *commit_ev;            /* owned */
	struct syncer *syncer;              /* owned; NULL: sync in the loop */
	uint64_t sync_seq, sync_appends;    /* what the running sync covers */
	int64_t sync_started_ms;
	struct event *adopt_ev;             /* owned */
	struct pending_list pending;
	struct server_conn *fresh;          /* connections not adopted yet */
	int nconn;
	bool paused;                        /* listener disabled at the cap */
	bool ready, draining;
};

/* ---- replies ---- */

static const char *header_of(void *ctx, const char *name)
{
	return evhttp_find_header(
	    evhttp_request_get_input_headers((struct evhttp_request *)ctx), name);
}

static void count_reply(struct server *s, int status)
{
	char code[8];

	snprintf(code, sizeof(code), "%d", status);
	metrics_add(s->m, "berth_http_requests_total",
		    (const char *[]){"code", code, NULL}, 1);
}

/*
 * Writes a reply evhttp has just queued on bev now rather than on the next
 * turn of the loop, and when it went out whole, lets evhttp finish the
 * request as its own write callback would have (bufferevent_trigger runs
 * that callback, which frees the request and waits for the next one, or
 * closes the connection). This saves a turn of the loop and two epoll_ctl
 * calls per reply, and sends the reply sooner. Only for replies sent from
 * our own events, never from inside evhttp's request callback, which does
 * not expect the connection to be gone when it returns. A reply that did
 * not fit in the socket buffer, or a write that failed, is left to the
 * bufferevent as usual.
 */
static void write_now(struct bufferevent *bev)
{
	struct evbuffer *out = bufferevent_get_output(bev);
	evutil_socket_t fd = bufferevent_getfd(bev);

	if (fd < 0 || evbuffer_get_length(out) == 0)
		return;
	if (evbuffer_write(out, fd) > 0 && evbuffer_get_length(out) == 0)
		bufferevent_trigger(bev, EV_WRITE, 0);
}

static void send_body(struct server *s, struct evhttp_request *req, int status,
		      const char *type, const char *body, size_t len,
		      int64_t start_ms, bool now)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	int64_t took = strnum_mono_ms() - start_ms;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev =
		now && evcon != NULL ? evhttp_connection_get_bufferevent(evcon)
				     : NULL;

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	evhttp_send_reply(req, status, NULL, NULL);
	if (bev != NULL)
		write_now(bev);
	count_reply(s, status);
	metrics_observe(s->m, "berth_http_request_duration_seconds", NULL,
			(double)took / 1000.0);
	if (took > REPLY_BUDGET_MS)
		log_warn("msg=\"slow reply\" status=%d ms=%lld", status,
			 (long long)took);
}

/* Sends j (stolen) as the reply; now: see write_now. */
static void send_json_reply(struct server *s, struct evhttp_request *req,
			    int status, json_t *j, int64_t start_ms, bool now)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	size_t n;

	if (text == NULL)
		text = xstrdup("{}");
	n = strlen(text);
	text = xrealloc(text, n + 2);
	text[n] = '\n';
	text[n + 1] = '\0';
	send_body(s, req, status, "application/json", text, n + 1, start_ms,
		  now);
	free(text);
	json_decref(j);
}

static void send_json(struct server *s, struct evhttp_request *req, int status,
		      json_t *j, int64_t start_ms)
{
	send_json_reply(s, req, status, j, start_ms, false);
}

static void send_error(struct server *s, struct evhttp_request *req, int status,
		       const char *msg, int64_t start_ms)
{
	send_json(s, req, status, json_pack("{s:s}", "error", msg), start_ms);
}

static void send_method_not_allowed(struct server *s,
				    struct evhttp_request *req,
				    const char *allow, int64_t start_ms)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	send_error(s, req, 405, "method not allowed", start_ms);
}

static void log_result(const struct intake_result *r, const char *provider)
{
	struct buf line;
	size_t i;

	buf_init(&line, 8192);
	log_kv(&line, "provider", provider);
	log_kv(&line, "delivery", r->delivery[0] ? r->delivery : "-");
	log_kv(&line, "result", r->result);
	for (i = 0; i < r->njobs; i++)
		log_kv(&line, "env", r->jobs[i].env);
	log_info("msg=\"delivery\" status=%d%s", r->status, buf_str(&line));
	buf_release(&line);
}

/* Answers an intake result now, or once the inbox is synced. */
static void finish_intake(struct server *s, struct evhttp_request *req,
			  struct intake_result *res, const char *provider,
			  int64_t start_ms)
{
	struct pending *p;

	if (!res->durable) {
		metrics_add(s->m, "berth_webhooks_total",
			    (const char *[]){"provider", provider, "result",
					     res->result, NULL},
			    1);
		if (res->status != 401)
			log_result(res, provider);
		send_json(s, req, res->status, res->body, start_ms);
		res->body = NULL;
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->req = req;
	p->res = *res;
	res->body = NULL;
	res->jobs = NULL;
	res->njobs = 0;
	p->provider = provider;
	p->start_ms = start_ms;
	if (TAILQ_EMPTY(&s->pending))
		event_active(s->commit_ev, EV_TIMEOUT, 0);
	TAILQ_INSERT_TAIL(&s->pending, p, link);
}

/* Answers the pending requests whose records are durable (seq <= upto),
 * or every pending request with 503 when the sync failed. */
static void answer_pending(struct server *s, uint64_t upto, bool failed)
{
	int64_t now = strnum_now_ms() / 1000;
	struct pending *p;
	struct berr err;
	size_t n = 0;

	log_hold();
	if (failed) {
		log_error("msg=\"inbox sync failed: answering 503\"");
		if (inbox_forget_unsynced(s->ib, now, &err) != 0)
			log_error("msg=\"inbox: cannot start a new segment\" "
				  "error=\"%s\"", err.msg);
	}
	while ((p = TAILQ_FIRST(&s->pending)) != NULL &&
	       (failed || p->res.seq <= upto)) {
		size_t i;

		TAILQ_REMOVE(&s->pending, p, link);
		n++;
		if (failed) {
			json_decref(p->res.body);
			p->res.body = json_pack("{s:s}", "error",
						"cannot store the delivery; "
						"retry later");
			p->res.status = 503;
			p->res.result = "store_failed";
			p->res.njobs = 0;
		}
		metrics_add(s->m, "berth_webhooks_total",
			    (const char *[]){"provider", p->provider, "result",
					     p->res.result, NULL},
			    1);
		log_result(&p->res, p->provider);
		send_json_reply(s, p->req, p->res.status, p->res.body,
				p->start_ms, true);
		p->res.body = NULL;
		for (i = 0; i < p->res.njobs; i++)
			s->ops.enqueue(&p->res.jobs[i], s->ops.arg);
		intake_result_release(&p->res);
		free(p);
	}
	log_release();
	metrics_observe(s->m, "berth_inbox_batch_size", NULL, (double)n);
	metrics_set(s->m, "berth_inbox_entries", NULL,
		    (double)inbox_count(s->ib));
	if (!failed && inbox_maintain(s->ib, now, &err) != 0)
		log_error("msg=\"inbox maintenance failed\" error=\"%s\"", err.msg);
}

/* The syncer finished the sync on_commit started. */
static void on_synced(int error, void *arg)
{
	struct server *s = arg;

	metrics_observe(s->m, "berth_inbox_sync_seconds", NULL,
			(double)(strnum_mono_ms() - s->sync_started_ms) / 1000.0);
	if (error == 0)
		inbox_synced(s->ib, s->sync_seq, s->sync_appends);
	else
		log_error("msg=\"inbox fdatasync failed\" error=\"%s\"",
			  strerror(error));
	answer_pending(s, s->sync_seq, error != 0);
	/* Requests stored while it ran: their own sync. */
	if (!TAILQ_EMPTY(&s->pending))
		event_active(s->commit_ev, EV_TIMEOUT, 0);
}

/*
 * The group commit, activated by the first request of a batch: it runs
 * after every request read in this turn of the loop. With the syncer, the
 * fdatasync runs on its thread while the loop goes on storing the next
 * batch (one sync at a time: a batch that arrives meanwhile is synced as
 * soon as the running one reports). Without it, the loop syncs itself.
 */
static void on_commit(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	int64_t t0 = strnum_mono_ms();
	struct berr err;
	int rc;

	(void)fd;
	(void)what;
	if (TAILQ_EMPTY(&s->pending))
		return;
	if (s->syncer != NULL) {
		if (syncer_busy(s->syncer))
			return; /* on_synced comes back here */
		if (inbox_flush(s->ib, &err) != 0) {
			log_error("msg=\"inbox write failed\" error=\"%s\"",
				  err.msg);
			answer_pending(s, 0, true);
			return;
		}
		s->sync_seq = inbox_last_seq(s->ib);
		s->sync_appends = inbox_appends(s->ib);
		s->sync_started_ms = t0;
		if (syncer_start(s->syncer, inbox_fd(s->ib), &err) == 0)
			return;
		log_warn("msg=\"inbox sync in the loop\" error=\"%s\"", err.msg);
	}
	rc = inbox_sync(s->ib, &err);
	metrics_observe(s->m, "berth_inbox_sync_seconds", NULL,
			(double)(strnum_mono_ms() - t0) / 1000.0);
	if (rc != 0)
		log_error("msg=\"inbox sync failed\" error=\"%s\"", err.msg);
	answer_pending(s, inbox_last_seq(s->ib), rc != 0);
}

struct server_reply {
	struct server *s;
	struct evhttp_request *req;
	int64_t start_ms;
};

void server_reply_json(struct server_reply *r, int status, json_t *j)
{
	send_json(r->s, r->req, status, j, r->start_ms);
	free(r);
}

/* ---- endpoints ---- */

static void fill_request(struct wh_request *wr, struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);

	memset(wr, 0, sizeof(*wr));
	wr->header = header_of;
	wr->ctx = req;
	wr->len = evbuffer_get_length(in);
	wr->body = wr->len ? evbuffer_pullup(in, -1) : NULL;
	wr->now = strnum_now_ms() / 1000;
}

static void handle_hook(struct server *s, struct evhttp_request *req,
			const char *name, int64_t start_ms)
{
	enum webhook_provider p;
	struct intake_result res;
	struct wh_request wr;

	if (config_provider_parse(&p, name) != 0) {
		metrics_add(s->m, "berth_webhooks_total",
			    (const char *[]){"provider", "unknown", "result",
					     "not_found", NULL},
			    1);
		send_error(s, req, 404, "unknown webhook provider", start_ms);
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		send_method_not_allowed(s, req, "POST", start_ms);
		return;
	}
	if (s->draining) {
		send_error(s, req, 503, "shutting down", start_ms);
		return;
	}
	fill_request(&wr, req);
	intake_webhook(&res, &s->sc, s->ib, p, &wr);
	finish_intake(s, req, &res, config_provider_name(p), start_ms);
	intake_result_release(&res);
}

static bool api_authorized(const struct server *s, struct evhttp_request *req)
{
	const char *h = header_of(req, "Authorization");

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	return hmac_equal(h, strlen(h), s->sc.api_token, s->sc.api_token_len);
}

/* ?limit= between 1 and API_LIMIT_MAX, else the default. */
static size_t query_limit(const struct evkeyvalq *q)
{
	const char *v = evhttp_find_header(q, "limit");
	int n;

	if (v == NULL || strnum_int(&n, v, 1, API_LIMIT_MAX) != 0)
		return API_LIMIT_DEFAULT;
	return (size_t)n;
}

static void api_deployments(struct server *s, struct evhttp_request *req,
			    const struct evkeyvalq *q, int64_t start_ms)
{
	const char *env = evhttp_find_header(q, "env");
	struct deployment *d = NULL;
	struct state st;
	struct berr err;
	size_t n = 0, i;
	json_t *arr;

	if (env == NULL)
		env = "production";
	if (config_env(s->sc.cfg, env) == NULL) {
		send_error(s, req, 404, "no such environment", start_ms);
		return;
	}
	if (state_open(&st, s->sc.cfg->state_dir, env, &err) != 0 ||
	    state_history(&st, &d, &n, NULL, query_limit(q), &err) != 0) {
		log_error("msg=\"cannot read deployments\" env=%s error=\"%s\"",
			  env, err.msg);
		state_close(&st);
		send_error(s, req, 500, "cannot read the deployment journal",
			   start_ms);
		return;
	}
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, deployment_to_json(&d[i]));
	state_history_free(d, n);
	state_close(&st);
	send_json(s, req, 200, json_pack("{s:s, s:o}", "env", env, "deployments",
					 arr),
		  start_ms);
}

/* GET /api/drift[?env=ENV]: each environment's open drift findings and
 * its last scheduled check, from envs/<env>/drift.json. */
static void api_drift(struct server *s, struct evhttp_request *req,
		      const struct evkeyvalq *q, int64_t start_ms)
{
	const char *only = evhttp_find_header(q, "env");
	const struct config *cfg = s->sc.cfg;
	json_t *arr = json_array();
	size_t i;

	if (only != NULL && config_env(cfg, only) == NULL) {
		json_decref(arr);
		send_error(s, req, 404, "no such environment", start_ms);
		return;
	}
	for (i = 0; i < cfg->nenvs; i++) {
		const char *env = cfg->envs[i].name;
		struct drift_state ds;
		struct state st;
		struct berr err;
		int rc;

		if (only != NULL && strcmp(only, env) != 0)
			continue;
		memset(&ds, 0, sizeof(ds));
		rc = state_open(&st, cfg->state_dir, env, &err);
		if (rc == 0)
			rc = drift_state_load(&ds, &st, &err);
		if (rc == 0 || rc == BERTH_ENOTFOUND) {
			json_array_append_new(arr, drift_state_to_json(&ds, env));
		} else {
			log_error("msg=\"cannot read drift state\" env=%s "
				  "error=\"%s\"", env, err.msg);
			json_array_append_new(
			    arr, json_pack("{s:s, s:s}", "env", env, "error",
					   "cannot read the drift state"));
		}
		drift_state_release(&ds);
		state_close(&st);
	}
	send_json(s, req, 200, json_pack("{s:o}", "environments", arr),
		  start_ms);
}

static void handle_api(struct server *s, struct evhttp_request *req,
		       const char *what, const char *query, int64_t start_ms)
{
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	bool get = method == EVHTTP_REQ_GET || method == EVHTTP_REQ_HEAD;
	bool post_ep = strcmp(what, "deploy") == 0 || strcmp(what, "rollback") == 0;
	bool get_ep = strcmp(what, "status") == 0 ||
		      strcmp(what, "deployments") == 0 ||
		      strcmp(what, "drift") == 0 ||
		      strcmp(what, "events") == 0;
	struct evkeyvalq q;

	if (!post_ep && !get_ep) {
		send_error(s, req, 404, "not found", start_ms);
		return;
	}
	if (s->sc.api_token == NULL) {
		send_error(s, req, 404,
			   "the API is disabled: no api token is configured",
			   start_ms);
		return;
	}
	if (post_ep ? method != EVHTTP_REQ_POST : !get) {
		send_method_not_allowed(s, req, post_ep ? "POST" : "GET, HEAD",
					start_ms);
		return;
	}
	if (!api_authorized(s, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "WWW-Authenticate", "Bearer realm=\"berth\"");
		metrics_add(s->m, "berth_webhooks_total",
			    (const char *[]){"provider", "api", "result",
					     "unauthorized", NULL},
			    1);
		send_error(s, req, 401, "unauthorized", start_ms);
		return;
	}
	if (post_ep) {
		struct intake_result res;
		struct wh_request wr;

		if (s->draining) {
			send_error(s, req, 503, "shutting down", start_ms);
			return;
		}
		fill_request(&wr, req);
		intake_api(&res, &s->sc, s->ib,
			   strcmp(what, "rollback") == 0 ? QUEUED_ROLLBACK
							 : QUEUED_DEPLOY,
			   &wr);
		finish_intake(s, req, &res, "api", start_ms);
		intake_result_release(&res);
		return;
	}
	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) != 0) {
		send_error(s, req, 400, "malformed query string", start_ms);
		return;
	}
	if (strcmp(what, "status") == 0) {
		struct server_reply *r = xcalloc(1, sizeof(*r));

		r->s = s;
		r->req = req;
		r->start_ms = start_ms;
		s->ops.status(r, s->ops.arg);
	} else if (strcmp(what, "deployments") == 0) {
		api_deployments(s, req, &q, start_ms);
	} else if (strcmp(what, "drift") == 0) {
		api_drift(s, req, &q, start_ms);
	} else {
		const char *provider = evhttp_find_header(&q, "provider");

		send_json(s, req, 200,
			  json_pack("{s:o}", "events",
				    inbox_events_json(s->ib, provider,
						      query_limit(&q))),
			  start_ms);
	}
	evhttp_clear_headers(&q);
}

static void handle_probe(struct server *s, struct evhttp_request *req,
			 const char *path, int64_t start_ms)
{
	enum evhttp_cmd_type method = evhttp_request_get_command(req);

	if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
		send_method_not_allowed(s, req, "GET, HEAD", start_ms);
		return;
	}
	if (strcmp(path, "/health") == 0) {
		send_json(s, req, 200, json_pack("{s:s}", "status", "ok"), start_ms);
	} else if (strcmp(path, "/live") == 0) {
		send_json(s, req, 200, json_pack("{s:s}", "status", "alive"),
			  start_ms);
	} else if (strcmp(path, "/ready") == 0) {
		if (s->ready && !s->draining)
			send_json(s, req, 200, json_pack("{s:s}", "status", "ready"),
				  start_ms);
		else
			send_json(s, req, 503,
				  json_pack("{s:s}", "status",
					    s->draining ? "stopping" : "starting"),
				  start_ms);
	} else {
		struct buf b;

		buf_init(&b, 0);
		metrics_set(s->m, "berth_http_connections", NULL, s->nconn);
		metrics_render(&b, s->m);
		send_body(s, req, 200, "text/plain; version=0.0.4", buf_str(&b),
			  b.len, start_ms, false);
		buf_release(&b);
	}
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct server *s = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	int64_t start_ms = strnum_mono_ms();

	if (path == NULL || path[0] == '\0')
		path = "/";
	if (strncmp(path, "/hooks/", 7) == 0)
		handle_hook(s, req, path + 7, start_ms);
	else if (strncmp(path, "/api/", 5) == 0)
		handle_api(s, req, path + 5, evhttp_uri_get_query(uri), start_ms);
	else if (strcmp(path, "/health") == 0 || strcmp(path, "/ready") == 0 ||
		 strcmp(path, "/live") == 0 || strcmp(path, "/metrics") == 0)
		handle_probe(s, req, path, start_ms);
	else
		send_error(s, req, 404, "not found", start_ms);
}

/* ---- connections ---- */

#define REFUSE_LINGER_MS 2000

/* One client connection, from the bufferevent we make for it until evhttp
 * closes it. */
struct server_conn {
	struct server *s;
	struct bufferevent *bev;            /* borrowed: evhttp frees it */
	struct evbuffer_cb_entry *watch;    /* our callback on its input */
	struct evhttp_connection *evcon;    /* NULL until adopted */
	struct server_conn *next_fresh;     /* the list not adopted yet */
	struct conn_scan scan;
	struct event *linger;               /* owned; after a refusal */
	bool refused;                       /* answered 413 by us */
	bool closed;                        /* evhttp closed it */
};

static void conn_free(struct server_conn *c)
{
	conn_scan_release(&c->scan);
	if (c->linger != NULL)
		event_free(c->linger);
	free(c);
}

static void on_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct server_conn *c = arg;
	struct server *s = c->s;

	(void)evcon;
	if (c->closed)
		return;
	c->closed = true;
	evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->watch);
	if (s->nconn > 0)
		s->nconn--;
	if (s->paused && s->nconn < s->sc.cfg->server.max_connections) {
		evconnlistener_enable(s->listener);
		s->paused = false;
	}
	/* A lingering refusal frees it when its timer fires. */
	if (c->linger == NULL || !event_pending(c->linger, EV_TIMEOUT, NULL))
		conn_free(c);
}

/* The end of a refusal: the client had time to read the 413. */
static void on_linger_done(evutil_socket_t fd, short what, void *arg)
{
	struct server_conn *c = arg;
	struct evhttp_connection *evcon = c->evcon;

	(void)fd;
	(void)what;
	if (c->closed) {
		conn_free(c);
		return;
	}
	/* Count it closed and free it ourselves, then let evhttp close. */
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	on_conn_closed(evcon, c);
	evhttp_connection_free(evcon);
}

/* A head declared a body over the limit: answer 413 in JSON ourselves,
 * write nothing more, discard what the client still sends for a moment
 * (so that it reads the answer rather than a reset), then close. */
static void conn_refuse(struct server_conn *c)
{
	static const char fmt[] =
	    "HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
	    "Cache-Control: no-store\r\nConnection: close\r\n"
	    "Content-Length: %zu\r\n\r\n%s";
	struct timeval tv = {REFUSE_LINGER_MS / 1000,
			     (REFUSE_LINGER_MS % 1000) * 1000};
	char body[128], reply[512];
	int fd = bufferevent_getfd(c->bev), n;

	c->refused = true;
	snprintf(body, sizeof(body),
		 "{\"error\":\"request body over the limit of %zu bytes\"}\n",
		 c->scan.max_body);
	n = snprintf(reply, sizeof(reply), fmt, strlen(body), body);
	if (fd >= 0) {
		(void)send(fd, reply, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
		shutdown(fd, SHUT_WR);
	}
	count_reply(c->s, 413);
	log_warn("msg=\"request body over the limit: refused\" limit=%zu",
		 c->scan.max_body);
	c->linger = event_new(c->s->base, -1, 0, on_linger_done, c);
	if (c->linger == NULL)
		fatal("cannot create a timer");
	event_add(c->linger, &tv);
}

/* Sees every byte the client sends before evhttp does. */
static void on_input(struct evbuffer *in, const struct evbuffer_cb_info *info,
		     void *arg)
{
	struct server_conn *c = arg;
	struct evbuffer_ptr ptr;
	size_t len = evbuffer_get_length(in), left = info->n_added;
	char chunk[4096];

	if (c->refused) {
		if (len > 0)
			evbuffer_drain(in, len);
		return;
	}
	if (left == 0 || c->scan.verdict != CONN_OK || c->evcon == NULL ||
	    left > len)
		return;
	evbuffer_ptr_set(in, &ptr, len - left, EVBUFFER_PTR_SET);
	while (left > 0 && c->scan.verdict == CONN_OK) {
		size_t n = left < sizeof(chunk) ? left : sizeof(chunk);

		if (evbuffer_copyout_from(in, &ptr, chunk, n) != (ev_ssize_t)n)
			break;
		conn_scan_feed(&c->scan, chunk, n);
		evbuffer_ptr_set(in, &ptr, n, EVBUFFER_PTR_ADD);
		left -= n;
	}
	if (c->scan.verdict == CONN_TOO_BIG) {
		conn_refuse(c);
		evbuffer_drain(in, evbuffer_get_length(in));
	}
}

static struct bufferevent *on_new_bev(struct event_base *base, void *arg)
{
	struct server *s = arg;
	struct bufferevent *bev = bufferevent_socket_new(base, -1,
							 BEV_OPT_CLOSE_ON_FREE);
	struct server_conn *c;

	if (bev == NULL)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->s = s;
	c->bev = bev;
	conn_scan_init(&c->scan, s->sc.cfg->server.max_body_bytes,
		       s->sc.cfg->server.max_header_bytes);
	c->watch = evbuffer_add_cb(bufferevent_get_input(bev), on_input, c);
	c->next_fresh = s->fresh;
	s->fresh = c;
	event_active(s->adopt_ev, EV_TIMEOUT, 0);
	s->nconn++;
	if (s->nconn >= s->sc.cfg->server.max_connections && !s->paused &&
	    s->listener != NULL) {
		evconnlistener_disable(s->listener);
		s->paused = true;
		metrics_add(s->m, "berth_http_connections_refused_total", NULL, 1);
		log_warn("msg=\"connection limit reached: not accepting until "
			 "one closes\" limit=%d", s->sc.cfg->server.max_connections);
	}
	return bev;
}

/* Runs before any I/O of the connections made since it was activated:
 * evhttp has made each one's evhttp_connection, the owner of the
 * bufferevent's callbacks. */
static void on_adopt(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	struct timeval rd = {s->sc.cfg->server.read_timeout_s, 0};
	struct timeval wr = {s->sc.cfg->server.write_timeout_s, 0};
	struct server_conn *c, *next;

	(void)fd;
	(void)what;
	for (c = s->fresh; c != NULL; c = next) {
		void *owner = NULL;

		next = c->next_fresh;
		bufferevent_getcb(c->bev, NULL, NULL, NULL, &owner);
		if (owner == NULL) {
			/* evhttp could not take it (out of memory); its
			 * watch stays inert without an evcon. */
			if (s->nconn > 0)
				s->nconn--;
			continue;
		}
		c->evcon = owner;
		evhttp_connection_set_closecb(owner, on_conn_closed, c);
		bufferevent_set_timeouts(c->bev, &rd, &wr);
	}
	s->fresh = NULL;
}

static void apply_limits(struct server *s)
{
	const struct config *c = s->sc.cfg;

	evhttp_set_max_body_size(s->http, (ev_ssize_t)c->server.max_body_bytes);
	evhttp_set_max_headers_size(s->http,
				    (ev_ssize_t)c->server.max_header_bytes);
	evhttp_set_timeout(s->http, c->server.read_timeout_s);
	/* Wrong methods on known paths get a JSON 405; methods evhttp does
	 * not know at all get its own 400. */
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
						    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
						    EVHTTP_REQ_DELETE |
						    EVHTTP_REQ_OPTIONS |
						    EVHTTP_REQ_PATCH);
	if (s->paused && s->nconn < c->server.max_connections) {
		evconnlistener_enable(s->listener);
		s->paused = false;
	}
}

struct server *server_new(struct event_base *base, struct inbox *ib,
			  struct metrics *m, const struct server_ops *ops,
			  const struct server_config *sc)
{
	struct server *s = xcalloc(1, sizeof(*s));

	s->base = base;
	s->ib = ib;
	s->m = m;
	s->ops = *ops;
	s->sc = *sc;
	TAILQ_INIT(&s->pending);
	s->http = evhttp_new(base);
	if (s->http == NULL)
		fatal("cannot create the HTTP server");
	s->commit_ev = event_new(base, -1, 0, on_commit, s);
	s->adopt_ev = event_new(base, -1, 0, on_adopt, s);
	if (s->commit_ev == NULL || s->adopt_ev == NULL)
		fatal("cannot create the HTTP server's events");
	s->syncer = syncer_new(base, on_synced, s);
	if (s->syncer == NULL)
		log_warn("msg=\"no sync thread: the inbox is synced in the loop\"");
	evhttp_set_gencb(s->http, on_request, s);
	evhttp_set_bevcb(s->http, on_new_bev, s);
	apply_limits(s);
	return s;
}

int server_listen(struct server *s, const char *host, int port,
		  int *bound_port, struct berr *err)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	bs = evhttp_bind_socket_with_handle(s->http, host, (ev_uint16_t)port);
	if (bs == NULL)
		return berr_set(err, "cannot listen on %s:%d: %s", host, port,
				evutil_socket_error_to_string(
				    EVUTIL_SOCKET_ERROR()));
	s->listener = evhttp_bound_socket_get_listener(bs);
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss,
			&sl) != 0)
		return berr_errno(err, errno, "cannot read the bound address");
	if (ss.ss_family == AF_INET6)
		*bound_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	else
		*bound_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return 0;
}

void server_set_config(struct server *s, const struct server_config *sc)
{
	s->sc = *sc;
	apply_limits(s);
}

void server_set_ready(struct server *s, bool ready)
{
	s->ready = ready;
}

void server_drain(struct server *s)
{
	s->draining = true;
}

void server_free(struct server *s)
{
	struct pending *p;

	if (s == NULL)
		return;
	/* Answer what is waiting: the running sync, then one in the loop. */
	if (s->syncer != NULL)
		syncer_wait(s->syncer);
	syncer_free(s->syncer);
	s->syncer = NULL;
	on_commit(-1, 0, s);
	while ((p = TAILQ_FIRST(&s->pending)) != NULL) {
		TAILQ_REMOVE(&s->pending, p, link);
		intake_result_release(&p->res);
		free(p);
	}
	evhttp_free(s->http);
	event_free(s->commit_ev);
	event_free(s->adopt_ev);
	free(s);
}
