/*
 * api.c — the HTTP routes: health probes, version, products and sales.
 *
 * Every request gets a struct request that lives until its one answer is
 * sent; routes that need the database answer from the query's callback.
 * Bodies in and out are JSON (jansson). Database errors are logged by db.c;
 * clients only learn that the database failed, not how.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "pos.h"

#define API_QUANTITY_MAX 1000
#define API_LOG_URI_MAX  200

struct request {
	struct app *app;            /* borrowed */
	struct evhttp_request *req; /* borrowed from evhttp until answered */
	struct timespec start;      /* CLOCK_MONOTONIC */
	json_int_t product_id;      /* POST /api/sales, for its error message */
};

static const char *api_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

static const char *api_method(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	default:
		return "OTHER";
	}
}

static void api_flushed(struct evhttp_request *req, void *arg)
{
	struct app *app = arg;

	(void)req;
	app->unflushed--;
	pos_check_idle(app);
}

/* Sends the one answer to r and frees r. body is stolen; NULL (out of
 * memory, or a value jansson refused) becomes a 500. */
static void api_reply(struct request *r, int status, json_t *body)
{
	struct app *app = r->app;
	struct evhttp_request *req = r->req;
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
	struct timespec now;
	char uri[API_LOG_URI_MAX + 8];
	char *text = NULL;
	long ms;

	if (body != NULL)
		text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (text == NULL)
		status = 500;
	evbuffer_add_printf(evhttp_request_get_output_buffer(req), "%s\n",
	                    text != NULL ? text
	                                 : "{\"error\":\"internal error\"}");
	free(text);
	evhttp_add_header(headers, "Content-Type", "application/json");
	evhttp_add_header(headers, "Cache-Control", "no-store");
	if (app->stopping)
		evhttp_add_header(headers, "Connection", "close");

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - r->start.tv_sec) * 1000 +
	     (now.tv_nsec - r->start.tv_nsec) / 1000000;
	pos_quote(uri, sizeof(uri), evhttp_request_get_uri(req),
	          API_LOG_URI_MAX);
	pos_log(stdout, "method=%s path=%s status=%d duration_ms=%ld",
	        api_method(evhttp_request_get_command(req)), uri, status, ms);

	/* A client that went away has no connection; evhttp then frees the
	 * request at once and never calls back. */
	if (evhttp_request_get_connection(req) != NULL) {
		app->unflushed++;
		evhttp_request_set_on_complete_cb(req, api_flushed, app);
	}
	evhttp_send_reply(req, status, api_reason(status), NULL);
	free(r);
	app->pending--;
	pos_check_idle(app);
}

static void api_error(struct request *r, int status, const char *message)
{
	api_reply(r, status, json_pack("{s:s}", "error", message));
}

/* Answers a failed query: 503 when the database is out of reach, else 500. */
static void api_db_error(struct request *r, int status)
{
	if (status == DB_EDOWN)
		api_error(r, 503, "database unavailable");
	else
		api_error(r, 500, "database query failed");
}

static void api_query(struct request *r, const char *sql,
                      const char *const *params, int nparams, db_cb done)
{
	if (db_query(r->app->db, sql, params, nparams, done, r) < 0)
		api_error(r, 503, "too many requests waiting for the database");
}

/* Parses a whole decimal integer that the database sent. */
static int api_int(json_int_t *out, const char *s)
{
	char *end;
	long long v;

	if (s == NULL)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static void api_live(struct request *r)
{
	api_reply(r, 200, json_pack("{s:s}", "status", "alive"));
}

static void api_version(struct request *r)
{
	api_reply(r, 200, json_pack("{s:s}", "version", r->app->version));
}

static void api_health_done(int status, const struct db_rows *rows, void *arg)
{
	struct request *r = arg;
	bool ok = status == DB_OK;

	(void)rows;
	api_reply(r, ok ? 200 : 503,
	          json_pack("{s:s, s:s, s:s}", "status", ok ? "ok" : "error",
	                    "version", r->app->version, "database",
	                    ok ? "ok" : "unavailable"));
}

static void api_health(struct request *r)
{
	api_query(r, "SELECT 1", NULL, 0, api_health_done);
}

static void api_ready_done(int status, const struct db_rows *rows, void *arg)
{
	struct request *r = arg;
	const char *v;

	if (status != DB_OK) {
		api_reply(r, 503,
		          json_pack("{s:s, s:s}", "status", "not ready",
		                    "reason", "database unavailable"));
		return;
	}
	v = db_rows_value(rows, 0, 0);
	if (v == NULL || strcmp(v, "t") != 0) {
		api_reply(r, 503,
		          json_pack("{s:s, s:s}", "status", "not ready",
		                    "reason", "migrations not applied"));
		return;
	}
	api_reply(r, 200, json_pack("{s:s}", "status", "ready"));
}

static void api_ready(struct request *r)
{
	api_query(r,
	          "SELECT to_regclass('products') IS NOT NULL"
	          " AND to_regclass('sales') IS NOT NULL",
	          NULL, 0, api_ready_done);
}

static void api_products_done(int status, const struct db_rows *rows, void *arg)
{
	struct request *r = arg;
	json_t *list, *product;
	json_int_t id, price;
	int i;

	if (status != DB_OK) {
		api_db_error(r, status);
		return;
	}
	list = json_array();
	for (i = 0; list != NULL && i < db_rows_count(rows); i++) {
		if (api_int(&id, db_rows_value(rows, i, 0)) < 0 ||
		    api_int(&price, db_rows_value(rows, i, 2)) < 0) {
			json_decref(list);
			api_error(r, 500, "unexpected product row");
			return;
		}
		/* NULL for a name that is not UTF-8: the reply becomes a 500.
		 */
		product =
		    json_pack("{s:I, s:s, s:I}", "id", id, "name",
		              db_rows_value(rows, i, 1), "price_cents", price);
		if (json_array_append_new(list, product) < 0) {
			json_decref(list);
			list = NULL;
		}
	}
	api_reply(r, 200,
	          list != NULL ? json_pack("{s:o}", "products", list) : NULL);
}

static void api_products(struct request *r)
{
	api_query(r, "SELECT id, name, price_cents FROM products ORDER BY id",
	          NULL, 0, api_products_done);
}

static void api_sale_done(int status, const struct db_rows *rows, void *arg)
{
	struct request *r = arg;
	json_int_t id, total;
	char msg[64];

	if (status != DB_OK) {
		api_db_error(r, status);
		return;
	}
	if (db_rows_count(rows) == 0) {
		snprintf(msg, sizeof(msg),
		         "unknown product %" JSON_INTEGER_FORMAT,
		         r->product_id);
		api_error(r, 400, msg);
		return;
	}
	if (api_int(&id, db_rows_value(rows, 0, 0)) < 0 ||
	    api_int(&total, db_rows_value(rows, 0, 1)) < 0) {
		api_error(r, 500, "unexpected sale row");
		return;
	}
	api_reply(r, 201,
	          json_pack("{s:I, s:I}", "id", id, "total_cents", total));
}

/* Reads a body member that must be an integer in [1, max]. */
static int api_field(json_int_t *out, json_t *doc, const char *key,
                     json_int_t max)
{
	json_t *v = json_object_get(doc, key);

	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > max)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

/* POST /api/sales {"product_id": N, "quantity": N}. The price is read and
 * the sale written in one statement: no row back means no such product. */
static void api_sale(struct request *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	const char *data = (const char *)evbuffer_pullup(in, -1);
	char pid[24], qty[24], msg[128];
	const char *params[2] = {pid, qty};
	json_int_t quantity;
	json_error_t jerr;
	const char *key;
	json_t *doc, *v;

	doc = json_loadb(data != NULL ? data : "", len, JSON_REJECT_DUPLICATES,
	                 &jerr);
	if (doc == NULL) {
		snprintf(msg, sizeof(msg),
		         "body is not valid JSON (line %d, column %d)",
		         jerr.line, jerr.column);
		api_error(r, 400, msg);
		return;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		api_error(r, 400, "body must be a JSON object");
		return;
	}
	json_object_foreach(doc, key, v)
	{
		if (strcmp(key, "product_id") != 0 &&
		    strcmp(key, "quantity") != 0) {
			json_decref(doc);
			api_error(r, 400,
			          "body may only have product_id and"
			          " quantity");
			return;
		}
	}
	if (api_field(&r->product_id, doc, "product_id", INT32_MAX) < 0) {
		json_decref(doc);
		api_error(r, 400, "product_id must be a positive integer");
		return;
	}
	if (api_field(&quantity, doc, "quantity", API_QUANTITY_MAX) < 0) {
		json_decref(doc);
		snprintf(msg, sizeof(msg),
		         "quantity must be an integer from 1 to %d",
		         API_QUANTITY_MAX);
		api_error(r, 400, msg);
		return;
	}
	json_decref(doc);
	snprintf(pid, sizeof(pid), "%" JSON_INTEGER_FORMAT, r->product_id);
	snprintf(qty, sizeof(qty), "%" JSON_INTEGER_FORMAT, quantity);
	api_query(r,
	          "INSERT INTO sales (product_id, quantity, total_cents)"
	          " SELECT id, $2::integer, price_cents::bigint * $2::integer"
	          " FROM products WHERE id = $1::integer"
	          " RETURNING id, total_cents",
	          params, 2, api_sale_done);
}

static void api_sales_count_done(int status, const struct db_rows *rows,
                                 void *arg)
{
	struct request *r = arg;
	json_int_t count;

	if (status != DB_OK) {
		api_db_error(r, status);
		return;
	}
	if (api_int(&count, db_rows_value(rows, 0, 0)) < 0) {
		api_error(r, 500, "unexpected count");
		return;
	}
	api_reply(r, 200, json_pack("{s:I}", "count", count));
}

static void api_sales_count(struct request *r)
{
	api_query(r, "SELECT count(*) FROM sales", NULL, 0,
	          api_sales_count_done);
}

static const struct route {
	const char *path;
	enum evhttp_cmd_type method; /* GET routes answer HEAD too */
	void (*handle)(struct request *r);
} routes[] = {
    {"/health", EVHTTP_REQ_GET, api_health},
    {"/ready", EVHTTP_REQ_GET, api_ready},
    {"/live", EVHTTP_REQ_GET, api_live},
    {"/version", EVHTTP_REQ_GET, api_version},
    {"/api/products", EVHTTP_REQ_GET, api_products},
    {"/api/sales", EVHTTP_REQ_POST, api_sale},
    {"/api/sales/count", EVHTTP_REQ_GET, api_sales_count},
};

void api_request(struct evhttp_request *req, void *arg)
{
	struct app *app = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const char *path;
	struct request *r;
	size_t i;

	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		evhttp_send_error(req, 503, NULL);
		return;
	}
	r->app = app;
	r->req = req;
	clock_gettime(CLOCK_MONOTONIC, &r->start);
	app->pending++;
	if (app->stopping) {
		api_error(r, 503, "shutting down");
		return;
	}
	if (cmd == EVHTTP_REQ_HEAD)
		cmd = EVHTTP_REQ_GET;
	path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	for (i = 0; path != NULL && i < sizeof(routes) / sizeof(routes[0]);
	     i++) {
		if (strcmp(path, routes[i].path) != 0)
			continue;
		if (cmd != routes[i].method) {
			evhttp_add_header(
			    evhttp_request_get_output_headers(req), "Allow",
			    routes[i].method == EVHTTP_REQ_GET ? "GET, HEAD"
			                                       : "POST");
			api_error(r, 405, "method not allowed");
			return;
		}
		routes[i].handle(r);
		return;
	}
	api_error(r, 404, "not found");
}
