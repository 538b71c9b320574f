/*
 * pos.c — pos-backend's main: reads its configuration from the environment,
 * listens, and stops gracefully on SIGTERM or SIGINT (stop accepting, answer
 * what was asked, close the database, exit 0).
 *
 *   PORT          required, 1-65535
 *   DATABASE_URL  required, a libpq connection URI or string
 *   APP_VERSION   optional; else the first line of ./VERSION; else "dev"
 *   BIND          optional listen address, default 127.0.0.1
 *   DB_TIMEOUT_S  optional, 1-3600, default 5: deadline of a database connect
 *                 or query
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>

#include "pos.h"

#define POS_GRACE_S     5     /* wait for answers past DB_TIMEOUT_S */
#define POS_BODY_MAX    65536 /* request body limit */
#define POS_HEADERS_MAX 16384 /* request headers limit */
#define POS_IDLE_S      30    /* read/write timeout per connection */

struct config {
	int port;
	int db_timeout_s;
	const char *bind;         /* borrowed from the environment */
	const char *database_url; /* borrowed from the environment */
};

void pos_log(FILE *out, const char *fmt, ...)
{
	char line[1024];
	struct tm tm;
	time_t now = time(NULL);
	va_list ap;
	size_t n, i;

	gmtime_r(&now, &tm);
	n = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%SZ ", &tm);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	for (i = n; line[i] != '\0'; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	fprintf(out, "%s\n", line);
}

void pos_quote(char *dst, size_t size, const char *src, size_t len)
{
	size_t n = 0, i;

	dst[n++] = '"';
	for (i = 0; i < len && src[i] != '\0' && n + 4 < size; i++) {
		if (src[i] == '"' || src[i] == '\\')
			dst[n++] = '\\';
		dst[n++] = src[i];
	}
	dst[n++] = '"';
	dst[n] = '\0';
}

void pos_check_idle(struct app *app)
{
	if (app->stopping && app->pending == 0 && app->unflushed == 0)
		event_base_loopexit(app->base, NULL);
}

static void pos_startup_error(const char *fmt, ...) POS_PRINTF(1, 2);

static void pos_startup_error(const char *fmt, ...)
{
	va_list ap;

	fputs("pos-backend: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A version is 1 to POS_VERSION_MAX printable ASCII characters, no spaces:
 * it goes into JSON and log lines as it is. */
static int pos_version_ok(const char *v)
{
	size_t n = strlen(v), i;

	if (n == 0 || n > POS_VERSION_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (v[i] <= ' ' || v[i] > '~')
			return 0;
	return 1;
}

/* Fills app->version from APP_VERSION, else ./VERSION, else "dev". */
static int pos_load_version(struct app *app)
{
	const char *env = getenv("APP_VERSION");
	char line[POS_VERSION_MAX + 2] = "";
	size_t n;
	FILE *f;

	if (env != NULL && *env != '\0') {
		if (!pos_version_ok(env)) {
			pos_startup_error(
			    "APP_VERSION must be 1 to %d printable"
			    " characters without spaces",
			    POS_VERSION_MAX);
			return -1;
		}
		snprintf(app->version, sizeof(app->version), "%s", env);
		return 0;
	}
	f = fopen("VERSION", "r");
	if (f == NULL) {
		if (errno != ENOENT) {
			pos_startup_error("cannot open 'VERSION': %s",
			                  strerror(errno));
			return -1;
		}
		snprintf(app->version, sizeof(app->version), "dev");
		return 0;
	}
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	while (n > 0 && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	line[n] = '\0';
	if (!pos_version_ok(line)) {
		pos_startup_error(
		    "cannot use 'VERSION': its first line must be"
		    " 1 to %d printable characters without spaces",
		    POS_VERSION_MAX);
		return -1;
	}
	snprintf(app->version, sizeof(app->version), "%.*s", POS_VERSION_MAX,
	         line);
	return 0;
}

/* Reads the environment variable name as a number in [min, max] into *out;
 * when it is unset, *out = def, or an error if def < 0. */
static int pos_env_int(int *out, const char *name, int min, int max, int def)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (s == NULL || *s == '\0') {
		if (def < 0) {
			pos_startup_error("%s is not set", name);
			return -1;
		}
		*out = def;
		return 0;
	}
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		pos_startup_error("%s must be a number from %d to %d, got"
		                  " '%.32s'",
		                  name, min, max, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int pos_load_config(struct config *cfg)
{
	if (pos_env_int(&cfg->port, "PORT", 1, 65535, -1) < 0 ||
	    pos_env_int(&cfg->db_timeout_s, "DB_TIMEOUT_S", 1, 3600, 5) < 0)
		return -1;
	cfg->database_url = getenv("DATABASE_URL");
	if (cfg->database_url == NULL || *cfg->database_url == '\0') {
		pos_startup_error("DATABASE_URL is not set");
		return -1;
	}
	/* Not quoted back: the URL may hold a password. */
	if (db_url_check(cfg->database_url) < 0) {
		pos_startup_error("DATABASE_URL is not a valid PostgreSQL"
		                  " connection URI");
		return -1;
	}
	cfg->bind = getenv("BIND");
	if (cfg->bind == NULL || *cfg->bind == '\0')
		cfg->bind = "127.0.0.1";
	return 0;
}

/* libevent's own warnings, as our log lines. */
static void pos_event_log(int severity, const char *msg)
{
	char quoted[512];

	pos_quote(quoted, sizeof(quoted), msg, strlen(msg));
	pos_log(stderr, "level=%s msg=libevent detail=%s",
	        severity >= EVENT_LOG_ERR ? "error" : "warn", quoted);
}

static void pos_grace_over(evutil_socket_t fd, short what, void *arg)
{
	struct app *app = arg;

	(void)fd;
	(void)what;
	pos_log(stderr,
	        "level=warn msg=\"stopping without waiting further\""
	        " unanswered=%u",
	        app->pending);
	event_base_loopbreak(app->base);
}

static void pos_signal(evutil_socket_t sig, short what, void *arg)
{
	struct app *app = arg;
	struct timeval grace = {app->grace_s, 0};

	(void)what;
	if (app->stopping)
		return;
	pos_log(stderr, "level=info msg=stopping signal=%s pending=%u",
	        sig == SIGTERM ? "TERM" : "INT", app->pending);
	app->stopping = true;
	evhttp_del_accept_socket(app->http, app->listener);
	app->listener = NULL;
	evtimer_add(app->grace, &grace);
	pos_check_idle(app);
}

static int pos_setup(struct app *app, const struct config *cfg)
{
	event_set_log_callback(pos_event_log);
	app->base = event_base_new();
	if (app->base == NULL) {
		pos_startup_error("cannot create the event loop");
		return -1;
	}
	app->db = db_new(app->base, cfg->database_url, cfg->db_timeout_s);
	/* A query in flight ends within the database deadline; past that
	 * only a client that does not read its answer keeps us waiting. */
	app->grace_s = cfg->db_timeout_s + POS_GRACE_S;
	app->http = evhttp_new(app->base);
	app->sigterm = evsignal_new(app->base, SIGTERM, pos_signal, app);
	app->sigint = evsignal_new(app->base, SIGINT, pos_signal, app);
	app->grace = evtimer_new(app->base, pos_grace_over, app);
	if (app->db == NULL || app->http == NULL || app->sigterm == NULL ||
	    app->sigint == NULL || app->grace == NULL ||
	    event_add(app->sigterm, NULL) < 0 ||
	    event_add(app->sigint, NULL) < 0) {
		pos_startup_error("cannot set up the server: out of memory");
		return -1;
	}
	evhttp_set_max_body_size(app->http, POS_BODY_MAX);
	evhttp_set_max_headers_size(app->http, POS_HEADERS_MAX);
	evhttp_set_timeout(app->http, POS_IDLE_S);
	/* More than the routes use, so that a wrong method gets a JSON 405
	 * from api.c; evhttp answers anything else itself with 501. */
	evhttp_set_allowed_methods(
	    app->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
	                   EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	                   EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(app->http, api_request, app);
	app->listener = evhttp_bind_socket_with_handle(app->http, cfg->bind,
	                                               (ev_uint16_t)cfg->port);
	if (app->listener == NULL) {
		/* errno is 0 when the address did not resolve. */
		pos_startup_error("cannot listen on '%s' port %d: %s",
		                  cfg->bind, cfg->port,
		                  errno != 0 ? strerror(errno)
		                             : "cannot resolve the address");
		return -1;
	}
	return 0;
}

static void pos_teardown(struct app *app)
{
	/* Queries still queued are answered (503) before the server goes. */
	db_free(app->db);
	if (app->http != NULL)
		evhttp_free(app->http);
	if (app->grace != NULL)
		event_free(app->grace);
	if (app->sigint != NULL)
		event_free(app->sigint);
	if (app->sigterm != NULL)
		event_free(app->sigterm);
	if (app->base != NULL)
		event_base_free(app->base);
}

int main(void)
{
	struct app app = {0};
	struct config cfg = {0};
	int status = EXIT_FAILURE;

	/* stdout may be a pipe to berth or a file: a line at a time. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (pos_load_config(&cfg) < 0 || pos_load_version(&app) < 0)
		goto out;
	if (pos_setup(&app, &cfg) < 0)
		goto out;
	pos_log(stderr, "level=info msg=listening bind=%s port=%d version=%s",
	        cfg.bind, cfg.port, app.version);
	if (event_base_dispatch(app.base) < 0) {
		pos_log(stderr, "level=error msg=\"event loop failed\"");
		goto out;
	}
	status = app.stopping ? EXIT_SUCCESS : EXIT_FAILURE;
out:
	pos_teardown(&app);
	if (app.stopping)
		pos_log(stderr, "level=info msg=stopped");
	return status;
}
