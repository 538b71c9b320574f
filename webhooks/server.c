/*
 * server.c — what `berth serve` answers over HTTP (SPEC §7;
 * docs/webhooks.md "The server"): the routes, webhooks and the API. The
 * connections themselves are httpd.c's.
 *
 * Requests that store something (webhooks, API deploys) are answered only
 * once their inbox record is durable. The fsync is shared: handlers append
 * and queue their reply; a commit event, activated by the first of them,
 * runs after every request already read in this turn of the loop, syncs
 * once and sends all those replies (group commit). Everything else is
 * answered at once. Nothing here waits for the network or a child.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/http.h> /* evhttp_parse_query_str, for /api queries */
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "webhooks.h"

#define REPLY_BUDGET_MS 250
#define API_LIMIT_DEFAULT 20
#define API_LIMIT_MAX 1000

struct pending {
	TAILQ_ENTRY(pending) link;
	struct httpd_req *req;      /* borrowed until replied */
	struct intake_result res;
	const char *provider;       /* static: "github", …, "api" */
};

TAILQ_HEAD(pending_list, pending);

#ifndef SERVER_SYNC_SLOTS
#define SERVER_SYNC_SLOTS 2 /* syncs that may run at once */
#endif

/* A sync thread and the job it runs. */
struct sync_slot {
	struct server *s;
	struct syncer *syncer;              /* owned */
	struct inbox_sync sync;             /* what its running job covers */
	int64_t started_ms;
};

struct server {
	struct event_base *base;            /* borrowed */
	struct httpd *http;                 /* owned */
	struct inbox *ib;                   /* borrowed */
	struct metrics *m;                  /* borrowed */
	struct server_ops ops;
	struct server_config sc;
	struct event *commit_ev;            /* owned */
	struct sync_slot slots[SERVER_SYNC_SLOTS];
	size_t nslots;                      /* 0: sync in the loop */
	uint64_t covered;                   /* the newest record a started
					       sync covers */
	struct pending_list pending;
	bool ready, draining;
};

/* ---- replies ---- */

static const char *header_of(void *ctx, const char *name)
{
	return httpd_req_header(ctx, name);
}

static bool method_is(const struct httpd_req *req, const char *m)
{
	return strcmp(httpd_req_head(req)->method, m) == 0;
}

static void send_body(struct server *s, struct httpd_req *req, int status,
		      const char *type, const char *body, size_t len)
{
	int64_t took = strnum_mono_ms() - httpd_req_start_ms(req);

	httpd_reply(req, status, type, body, len);
	metrics_observe(s->m, "berth_http_request_duration_seconds", NULL,
			(double)took / 1000.0);
	if (took > REPLY_BUDGET_MS)
		log_warn("msg=\"slow reply\" status=%d ms=%lld", status,
			 (long long)took);
}

/* Sends j (stolen) as the reply. */
static void send_json(struct server *s, struct httpd_req *req, int status,
		      json_t *j)
{
	const size_t flags = JSON_COMPACT | JSON_ENSURE_ASCII;
	char small[1024], *text = small;
	size_t n = j != NULL ? json_dumpb(j, small, sizeof(small) - 1, flags) : 0;

	/* Most replies are short: formatted on the stack. */
	if (n >= sizeof(small) - 1) {
		text = xmalloc(n + 1);
		if (json_dumpb(j, text, n, flags) != n) {
			free(text);
			n = 0;
		}
	}
	if (n == 0) {
		text = small;
		n = (size_t)snprintf(small, sizeof(small), "{}");
	}
	text[n] = '\n';
	send_body(s, req, status, "application/json", text, n + 1);
	if (text != small)
		free(text);
	json_decref(j);
}

static void send_error(struct server *s, struct httpd_req *req, int status,
		       const char *msg)
{
	send_json(s, req, status, json_pack("{s:s}", "error", msg));
}

static void send_method_not_allowed(struct server *s,
				    struct httpd_req *req,
				    const char *allow)
{
	httpd_req_add_header(req, "Allow", allow);
	send_error(s, req, 405, "method not allowed");
}

/* An intake result's reply (every path sets one; "{}" just in case). */
static void send_intake(struct server *s, struct httpd_req *req,
			const struct intake_result *r)
{
	if (r->body.len == 0)
		send_body(s, req, r->status, "application/json", "{}\n", 3);
	else
		send_body(s, req, r->status, "application/json", r->body.data,
			  r->body.len);
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
static void finish_intake(struct server *s, struct httpd_req *req,
			  struct intake_result *res, const char *provider)
{
	struct pending *p;

	if (!res->durable) {
		metrics_add(s->m, "berth_webhooks_total",
			    (const char *[]){"provider", provider, "result",
					     res->result, NULL},
			    1);
		if (res->status != 401)
			log_result(res, provider);
		send_intake(s, req, res);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->req = req;
	p->res = *res;
	memset(&res->body, 0, sizeof(res->body));
	res->jobs = NULL;
	res->njobs = 0;
	p->provider = provider;
	/* The first request no running sync covers starts a batch. */
	if (TAILQ_EMPTY(&s->pending) ||
	    TAILQ_LAST(&s->pending, pending_list)->res.seq <= s->covered)
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
			intake_reply_error(&p->res, 503, "store_failed",
					   "cannot store the delivery; retry "
					   "later");
			p->res.njobs = 0;
		}
		metrics_add(s->m, "berth_webhooks_total",
			    (const char *[]){"provider", p->provider, "result",
					     p->res.result, NULL},
			    1);
		log_result(&p->res, p->provider);
		send_intake(s, p->req, &p->res);
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

/* A syncer finished the sync on_commit started. */
static void on_synced(int error, void *arg)
{
	struct sync_slot *slot = arg;
	struct server *s = slot->s;

	metrics_observe(s->m, "berth_inbox_sync_seconds", NULL,
			(double)(strnum_mono_ms() - slot->started_ms) / 1000.0);
	inbox_sync_done(s->ib, &slot->sync, error);
	if (error != 0)
		log_error("msg=\"inbox sync failed\" error=\"%s\"",
			  strerror(error));
	/* Everything written before its job started is durable: that covers
	 * every record up to its upto_seq, whatever another sync still
	 * running was started for. */
	answer_pending(s, slot->sync.upto_seq, error != 0);
	/* Requests stored while it ran: their own sync. */
	if (!TAILQ_EMPTY(&s->pending))
		event_active(s->commit_ev, EV_TIMEOUT, 0);
}

/* An idle sync slot, or NULL. */
static struct sync_slot *idle_slot(struct server *s)
{
	size_t i;

	for (i = 0; i < s->nslots; i++)
		if (!syncer_busy(s->slots[i].syncer))
			return &s->slots[i];
	return NULL;
}

/*
 * The group commit, activated by the first request of a batch: it runs
 * after every request read in this turn of the loop. With sync threads,
 * the fdatasync runs on one of them while the loop goes on storing the
 * next batch, which gets a sync of its own on another thread at once (up
 * to SERVER_SYNC_SLOTS at a time; beyond that, as soon as one reports).
 * Without them, the loop syncs itself.
 */
static void on_commit(evutil_socket_t fd, short what, void *arg)
{
	struct server *s = arg;
	int64_t t0 = strnum_mono_ms();
	struct sync_slot *slot;
	struct pending *last;
	struct berr err;
	int rc;

	(void)fd;
	(void)what;
	if (TAILQ_EMPTY(&s->pending))
		return;
	if (s->nslots > 0) {
		/* Nothing stored since the newest sync started: it covers
		 * every request still waiting. */
		last = TAILQ_LAST(&s->pending, pending_list);
		if (last->res.seq <= s->covered)
			return;
		if ((slot = idle_slot(s)) == NULL)
			return; /* on_synced comes back here */
		if (inbox_sync_prepare(s->ib, &slot->sync, &err) != 0) {
			log_error("msg=\"inbox write failed\" error=\"%s\"",
				  err.msg);
			answer_pending(s, 0, true);
			return;
		}
		slot->started_ms = t0;
		s->covered = slot->sync.upto_seq;
		if (syncer_start(slot->syncer, &slot->sync.job, &err) == 0)
			return;
		sync_job_release(&slot->sync.job);
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
	struct httpd_req *req;
};

void server_reply_json(struct server_reply *r, int status, json_t *j)
{
	send_json(r->s, r->req, status, j);
	free(r);
}

/* ---- endpoints ---- */

static void fill_request(struct wh_request *wr, struct httpd_req *req)
{
	memset(wr, 0, sizeof(*wr));
	wr->header = header_of;
	wr->ctx = req;
	wr->body = httpd_req_body(req, &wr->len);
	wr->now = strnum_now_ms() / 1000;
}

static void handle_hook(struct server *s, struct httpd_req *req,
			const char *name)
{
	enum webhook_provider p;
	struct intake_result res;
	struct wh_request wr;

	if (config_provider_parse(&p, name) != 0) {
		metrics_add(s->m, "berth_webhooks_total",
			    (const char *[]){"provider", "unknown", "result",
					     "not_found", NULL},
			    1);
		send_error(s, req, 404, "unknown webhook provider");
		return;
	}
	if (!method_is(req, "POST")) {
		send_method_not_allowed(s, req, "POST");
		return;
	}
	if (s->draining) {
		send_error(s, req, 503, "shutting down");
		return;
	}
	fill_request(&wr, req);
	intake_webhook(&res, &s->sc, s->ib, p, &wr);
	finish_intake(s, req, &res, config_provider_name(p));
	intake_result_release(&res);
}

static bool api_authorized(const struct server *s, struct httpd_req *req)
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

static void api_deployments(struct server *s, struct httpd_req *req,
			    const struct evkeyvalq *q)
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
		send_error(s, req, 404, "no such environment");
		return;
	}
	if (state_open(&st, s->sc.cfg->state_dir, env, &err) != 0 ||
	    state_history(&st, &d, &n, NULL, query_limit(q), &err) != 0) {
		log_error("msg=\"cannot read deployments\" env=%s error=\"%s\"",
			  env, err.msg);
		state_close(&st);
		send_error(s, req, 500, "cannot read the deployment journal");
		return;
	}
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(arr, deployment_to_json(&d[i]));
	state_history_free(d, n);
	state_close(&st);
	send_json(s, req, 200, json_pack("{s:s, s:o}", "env", env, "deployments",
					 arr));
}

/* GET /api/drift[?env=ENV]: each environment's open drift findings and
 * its last scheduled check, from envs/<env>/drift.json. */
static void api_drift(struct server *s, struct httpd_req *req,
		      const struct evkeyvalq *q)
{
	const char *only = evhttp_find_header(q, "env");
	const struct config *cfg = s->sc.cfg;
	json_t *arr = json_array();
	size_t i;

	if (only != NULL && config_env(cfg, only) == NULL) {
		json_decref(arr);
		send_error(s, req, 404, "no such environment");
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
	send_json(s, req, 200, json_pack("{s:o}", "environments", arr));
}

static void handle_api(struct server *s, struct httpd_req *req,
		       const char *what, const char *query)
{
	bool get = method_is(req, "GET") || method_is(req, "HEAD");
	bool post_ep = strcmp(what, "deploy") == 0 || strcmp(what, "rollback") == 0;
	bool get_ep = strcmp(what, "status") == 0 ||
		      strcmp(what, "deployments") == 0 ||
		      strcmp(what, "drift") == 0 ||
		      strcmp(what, "events") == 0;
	struct evkeyvalq q;

	if (!post_ep && !get_ep) {
		send_error(s, req, 404, "not found");
		return;
	}
	if (s->sc.api_token == NULL) {
		send_error(s, req, 404,
			   "the API is disabled: no api token is configured");
		return;
	}
	if (post_ep ? !method_is(req, "POST") : !get) {
		send_method_not_allowed(s, req, post_ep ? "POST" : "GET, HEAD");
		return;
	}
	if (!api_authorized(s, req)) {
		httpd_req_add_header(req, "WWW-Authenticate",
				     "Bearer realm=\"berth\"");
		metrics_add(s->m, "berth_webhooks_total",
			    (const char *[]){"provider", "api", "result",
					     "unauthorized", NULL},
			    1);
		send_error(s, req, 401, "unauthorized");
		return;
	}
	if (post_ep) {
		struct intake_result res;
		struct wh_request wr;

		if (s->draining) {
			send_error(s, req, 503, "shutting down");
			return;
		}
		fill_request(&wr, req);
		intake_api(&res, &s->sc, s->ib,
			   strcmp(what, "rollback") == 0 ? QUEUED_ROLLBACK
							 : QUEUED_DEPLOY,
			   &wr);
		finish_intake(s, req, &res, "api");
		intake_result_release(&res);
		return;
	}
	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) != 0) {
		send_error(s, req, 400, "malformed query string");
		return;
	}
	if (strcmp(what, "status") == 0) {
		struct server_reply *r = xcalloc(1, sizeof(*r));

		r->s = s;
		r->req = req;
		s->ops.status(r, s->ops.arg);
	} else if (strcmp(what, "deployments") == 0) {
		api_deployments(s, req, &q);
	} else if (strcmp(what, "drift") == 0) {
		api_drift(s, req, &q);
	} else {
		const char *provider = evhttp_find_header(&q, "provider");

		send_json(s, req, 200,
			  json_pack("{s:o}", "events",
				    inbox_events_json(s->ib, provider,
						      query_limit(&q))));
	}
	evhttp_clear_headers(&q);
}

static void handle_probe(struct server *s, struct httpd_req *req,
			 const char *path)
{
	if (!method_is(req, "GET") && !method_is(req, "HEAD")) {
		send_method_not_allowed(s, req, "GET, HEAD");
		return;
	}
	if (strcmp(path, "/health") == 0) {
		send_json(s, req, 200, json_pack("{s:s}", "status", "ok"));
	} else if (strcmp(path, "/live") == 0) {
		send_json(s, req, 200, json_pack("{s:s}", "status", "alive"));
	} else if (strcmp(path, "/ready") == 0) {
		if (s->ready && !s->draining)
			send_json(s, req, 200, json_pack("{s:s}", "status", "ready"));
		else
			send_json(s, req, 503,
				  json_pack("{s:s}", "status",
					    s->draining ? "stopping" : "starting"));
	} else {
		struct buf b;

		buf_init(&b, 0);
		metrics_set(s->m, "berth_http_connections", NULL,
			    httpd_connections(s->http));
		metrics_render(&b, s->m);
		send_body(s, req, 200, "text/plain; version=0.0.4", buf_str(&b),
			  b.len);
		buf_release(&b);
	}
}

static void on_request(struct httpd_req *req, void *arg)
{
	struct server *s = arg;
	const struct http_head *h = httpd_req_head(req);
	const char *path = h->path;

	if (strncmp(path, "/hooks/", 7) == 0)
		handle_hook(s, req, path + 7);
	else if (strncmp(path, "/api/", 5) == 0)
		handle_api(s, req, path + 5, h->query);
	else if (strcmp(path, "/health") == 0 || strcmp(path, "/ready") == 0 ||
		 strcmp(path, "/live") == 0 || strcmp(path, "/metrics") == 0)
		handle_probe(s, req, path);
	else
		send_error(s, req, 404, "not found");
}

static void limits_of(struct httpd_limits *lim, const struct config *c)
{
	lim->max_body = c->server.max_body_bytes;
	lim->max_header = c->server.max_header_bytes;
	lim->read_timeout_s = c->server.read_timeout_s;
	lim->write_timeout_s = c->server.write_timeout_s;
	lim->max_connections = c->server.max_connections;
}

struct server *server_new(struct event_base *base, struct inbox *ib,
			  struct metrics *m, const struct server_ops *ops,
			  const struct server_config *sc)
{
	struct server *s = xcalloc(1, sizeof(*s));
	struct httpd_limits lim;

	s->base = base;
	s->ib = ib;
	s->m = m;
	s->ops = *ops;
	s->sc = *sc;
	TAILQ_INIT(&s->pending);
	limits_of(&lim, sc->cfg);
	s->http = httpd_new(base, m, &lim, on_request, s);
	s->commit_ev = event_new(base, -1, 0, on_commit, s);
	if (s->commit_ev == NULL)
		fatal("cannot create the HTTP server's events");
	while (s->nslots < SERVER_SYNC_SLOTS) {
		struct sync_slot *slot = &s->slots[s->nslots];

		slot->s = s;
		slot->syncer = syncer_new(base, on_synced, slot);
		if (slot->syncer == NULL)
			break;
		s->nslots++;
	}
	if (s->nslots == 0)
		log_warn("msg=\"no sync thread: the inbox is synced in the loop\"");
	return s;
}

int server_listen(struct server *s, const char *host, int port,
		  int *bound_port, struct berr *err)
{
	return httpd_listen(s->http, host, port, bound_port, err);
}

void server_set_config(struct server *s, const struct server_config *sc)
{
	struct httpd_limits lim;

	s->sc = *sc;
	limits_of(&lim, sc->cfg);
	httpd_set_limits(s->http, &lim);
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
	size_t i;

	if (s == NULL)
		return;
	/* Answer what is waiting: the running syncs, then one in the loop. */
	for (i = 0; i < s->nslots; i++)
		syncer_wait(s->slots[i].syncer);
	for (i = 0; i < s->nslots; i++)
		syncer_free(s->slots[i].syncer);
	s->nslots = 0;
	on_commit(-1, 0, s);
	while ((p = TAILQ_FIRST(&s->pending)) != NULL) {
		TAILQ_REMOVE(&s->pending, p, link);
		intake_result_release(&p->res);
		free(p);
	}
	httpd_free(s->http);
	event_free(s->commit_ev);
	free(s);
}
