/*
 * http_client.c — HTTP requests for health checks, smoke tests, notifiers
 * and (over a unix socket) the Docker Engine API. The only file that
 * includes <curl/curl.h>: libcurl's types and error codes stop here.
 * libcurl is loaded when first needed (curl_load), not when berth starts.
 *
 * Every handle is set up the same strict way: no signals (the resolver's
 * alarm would fight the daemon's signal handling), a connect and a total
 * timeout, a cap on the response body, http and https only, no redirect
 * unless the caller asks. URLs may carry tokens (a Slack webhook's path, a
 * query string, user:password@), so messages name only the host and port.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Called through pointers (libcurl is loaded on first use), so curl.h's
 * type-checking wrappers, which call the functions by name, are off. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include "berth.h"

/* libcurl, loaded on first use (lazylib.c): the functions berth calls. */
#define CURL_FUNCTIONS(X) \
	X(curl_easy_cleanup) \
	X(curl_easy_getinfo) \
	X(curl_easy_init) \
	X(curl_easy_perform) \
	X(curl_easy_setopt) \
	X(curl_easy_strerror) \
	X(curl_global_init) \
	X(curl_slist_append) \
	X(curl_slist_free_all) \
	X(curl_version_info)

static struct {
	struct lazylib lib;
#define X(f) __typeof__(f) *f;
	CURL_FUNCTIONS(X)
#undef X
} lc;

/* Loads the library once; every later call returns the first result. */
static int curl_load(struct berr *err)
{
	const struct lazylib_fn fns[] = {
#define X(f) {#f, &lc.f, sizeof(lc.f)},
		CURL_FUNCTIONS(X)
#undef X
	};

	return lazylib_load(&lc.lib, "libcurl.so.4", "libcurl4", fns,
			    sizeof(fns) / sizeof(fns[0]), err);
}

#define HTTP_TIMEOUT_MS         30000
#define HTTP_CONNECT_TIMEOUT_MS 10000
#define HTTP_MAX_RESPONSE       ((size_t)1 << 20)
#define HTTP_MAX_REDIRECTS      5

static struct {
	bool ready;
	bool failed;
} http_global;

int http_client_init(void)
{
	if (!http_global.ready && !http_global.failed) {
		if (curl_load(NULL) == 0 &&
		    lc.curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK)
			http_global.ready = true;
		else
			http_global.failed = true;
	}
	return http_global.ready ? 0 : -1;
}

const char *http_client_lib_version(void)
{
	if (curl_load(NULL) != 0)
		return "not installed";
	return lc.curl_version_info(CURLVERSION_NOW)->version;
}

/* The parts of a URL that are safe to print. */
struct url_parts {
	const char *scheme; /* up to "://" */
	size_t scheme_len;
	const char *host; /* host[:port], userinfo removed */
	size_t host_len;
	const char *path; /* up to '?' or '#' */
	size_t path_len;
};

static bool url_split(struct url_parts *u, const char *url)
{
	const char *sep = strstr(url, "://");
	const char *auth, *auth_end, *at, *p;

	memset(u, 0, sizeof(*u));
	if (sep == NULL || sep == url)
		return false;
	for (p = url; p < sep; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (p > url && ((*p >= '0' && *p <= '9') || *p == '+' ||
		                   *p == '-' || *p == '.'))))
			return false;
	u->scheme = url;
	u->scheme_len = (size_t)(sep - url);
	auth = sep + 3;
	auth_end = auth + strcspn(auth, "/?#");
	/* userinfo ends at the last '@' of the authority: a password may
	 * itself hold an (unencoded) '@'. */
	for (at = NULL, p = auth; p < auth_end; p++)
		if (*p == '@')
			at = p;
	u->host = at ? at + 1 : auth;
	u->host_len = (size_t)(auth_end - u->host);
	if (u->host_len == 0)
		return false;
	u->path = auth_end;
	u->path_len = strcspn(auth_end, "?#");
	return true;
}

char *http_redact_url(const char *url, bool keep_path)
{
	struct url_parts u;
	const char *path = "";
	int path_len = 0;

	if (url == NULL || !url_split(&u, url))
		return xstrdup("(invalid URL)");
	if (keep_path) {
		path = u.path;
		path_len = (int)u.path_len;
	} else if (u.path_len > 1) {
		path = "/…";
		path_len = (int)strlen(path);
	}
	return xasprintf("%.*s://%.*s%.*s", (int)u.scheme_len, u.scheme,
	                 (int)u.host_len, u.host, path_len, path);
}

/* Length of the URL's scheme, 0 when it has none. */
static size_t scheme_len(const char *url)
{
	size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyz"
	                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");

	return strncmp(url + n, "://", 3) == 0 ? n : 0;
}

/* "host:port" of the request for messages, or the socket path. New. */
static char *request_target(const struct http_request *req)
{
	struct url_parts u;

	if (req->unix_socket != NULL)
		return xasprintf("'%s'", req->unix_socket);
	if (!url_split(&u, req->url))
		return xstrdup("(invalid URL)");
	return xstrndup(u.host, u.host_len);
}

struct sink {
	struct buf *body;
	bool toobig;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;

	/* size is 1 by contract; a short count aborts the transfer. */
	if (buf_append(s->body, p, size * n) != 0) {
		s->toobig = true;
		return 0;
	}
	return size * n;
}

static bool method_valid(const char *m)
{
	if (*m == '\0')
		return false;
	for (; *m; m++)
		if (*m < 'A' || *m > 'Z')
			return false;
	return true;
}

/* Builds the header list; rejects line breaks, which would let a value
 * forge further headers. Never prints a value: it may be a token. */
static int header_add(struct curl_slist **l, const char *line, struct berr *err)
{
	struct curl_slist *n = lc.curl_slist_append(*l, line);

	if (n == NULL)
		return berr_set(err, "out of memory building HTTP headers");
	*l = n;
	return 0;
}

static int build_headers(struct curl_slist **out,
                         const struct http_request *req, struct berr *err)
{
	struct curl_slist *l = NULL;
	const char *const *h;
	char *ct = NULL;
	int rc = -1;

	for (h = req->headers; h != NULL && *h != NULL; h++)
		if (strpbrk(*h, "\r\n") != NULL || strchr(*h, ':') == NULL)
			return berr_set(err, "invalid HTTP header '%.*s'",
			                (int)strcspn(*h, ":\r\n"), *h);
	if (req->content_type != NULL &&
	    strpbrk(req->content_type, "\r\n") != NULL)
		return berr_set(err, "invalid content type");
	/* "Expect:" stops curl from waiting for a 100 Continue that small
	 * servers never send. */
	if (header_add(&l, "Expect:", err) < 0)
		goto out;
	if (req->content_type != NULL) {
		ct = xasprintf("Content-Type: %s", req->content_type);
		if (header_add(&l, ct, err) < 0)
			goto out;
	}
	for (h = req->headers; h != NULL && *h != NULL; h++)
		if (header_add(&l, *h, err) < 0)
			goto out;
	*out = l;
	l = NULL;
	rc = 0;
out:
	free(ct);
	lc.curl_slist_free_all(l);
	return rc;
}

static int total_timeout(const struct http_request *req)
{
	return req->timeout_ms > 0 ? req->timeout_ms : HTTP_TIMEOUT_MS;
}

static int connect_timeout(const struct http_request *req)
{
	int t = req->connect_timeout_ms > 0 ? req->connect_timeout_ms
	                                    : HTTP_CONNECT_TIMEOUT_MS;

	return t < total_timeout(req) ? t : total_timeout(req);
}

static size_t max_response(const struct http_request *req)
{
	return req->max_response ? req->max_response : HTTP_MAX_RESPONSE;
}

static int setup(CURL *h, const struct http_request *req, const char *method,
                 struct curl_slist *headers, struct sink *sink, char *errbuf)
{
	CURLcode c = CURLE_OK;
#define SET(opt, val)                                                          \
	do {                                                                   \
		if (c == CURLE_OK)                                             \
			c = lc.curl_easy_setopt(h, opt, val);                     \
	} while (0)
	SET(CURLOPT_URL, req->url);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_TIMEOUT_MS, (long)total_timeout(req));
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)connect_timeout(req));
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, req->follow_redirects ? 1L : 0L);
	SET(CURLOPT_MAXREDIRS, (long)HTTP_MAX_REDIRECTS);
	SET(CURLOPT_USERAGENT, "berth/" BERTH_VERSION);
	/* A proxy from the environment must never see loopback traffic. */
	SET(CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_response(req));
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, sink);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_HTTPHEADER, headers);
	if (req->unix_socket != NULL)
		SET(CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
	if (strcmp(method, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (req->body != NULL) {
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		SET(CURLOPT_POSTFIELDS, req->body);
	} else if (strcmp(method, "POST") == 0) {
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		SET(CURLOPT_POSTFIELDS, "");
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
	    strcmp(method, "POST") != 0)
		SET(CURLOPT_CUSTOMREQUEST, method);
#undef SET
	return c == CURLE_OK ? 0 : -1;
}

/* Turns a libcurl failure into berth's words. */
static int translate(CURL *h, CURLcode code, const struct http_request *req,
                     const char *method, bool toobig, const char *errbuf,
                     struct berr *err)
{
	char *target = request_target(req);
	curl_off_t connected_us = 0;
	long os_errno = 0;
	int rc = -1;

	lc.curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
	switch (code) {
	case CURLE_FILESIZE_EXCEEDED:
	case CURLE_WRITE_ERROR:
		if (code == CURLE_FILESIZE_EXCEEDED || toobig) {
			berr_set(err, "response from %s exceeds %zu bytes",
			         target, max_response(req));
			rc = BERTH_ETOOBIG;
			break;
		}
		berr_set(err, "%s request to %s failed: %s", method, target,
		         lc.curl_easy_strerror(code));
		break;
	case CURLE_COULDNT_CONNECT:
		if (os_errno != 0)
			berr_errno(err, (int)os_errno, "cannot connect to %s",
			           target);
		else
			berr_set(err, "cannot connect to %s", target);
		break;
	case CURLE_OPERATION_TIMEDOUT:
		lc.curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected_us);
		if (connected_us == 0)
			berr_set(err,
			         "cannot connect to %s: timed out after %d ms",
			         target, connect_timeout(req));
		else
			berr_set(err, "request to %s timed out after %d ms",
			         target, total_timeout(req));
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
		berr_set(err, "cannot resolve host %s", target);
		break;
	case CURLE_UNSUPPORTED_PROTOCOL:
		berr_set(err,
		         "unsupported URL scheme '%.*s': only http and https "
		         "are allowed",
		         (int)scheme_len(req->url), req->url);
		break;
	case CURLE_URL_MALFORMAT:
		berr_set(err, "invalid URL for %s", target);
		break;
	case CURLE_TOO_MANY_REDIRECTS:
		berr_set(err, "too many redirects from %s", target);
		break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		/* TLS messages name certificates and hosts, not the URL. */
		berr_set(err, "TLS with %s failed: %s", target,
		         errbuf[0] ? errbuf : lc.curl_easy_strerror(code));
		break;
	default:
		berr_set(err, "%s request to %s failed: %s", method, target,
		         lc.curl_easy_strerror(code));
		break;
	}
	free(target);
	return rc;
}

int http_request(struct http_response *res, const struct http_request *req,
                 struct berr *err)
{
	const char *method = req->method ? req->method : "GET";
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *headers = NULL;
	struct sink sink;
	CURL *h = NULL;
	CURLcode code;
	int64_t start;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	buf_init(&res->body, max_response(req));
	sink.body = &res->body;
	sink.toobig = false;
	if (req->url == NULL)
		return berr_set(err, "no URL given");
	if (!method_valid(method))
		return berr_set(err, "invalid HTTP method '%s'", method);
	if (curl_load(err) != 0)
		return -1;
	if (http_client_init() < 0)
		return berr_set(err, "cannot initialise libcurl");
	if (build_headers(&headers, req, err) < 0)
		return -1;
	h = lc.curl_easy_init();
	if (h == NULL) {
		berr_set(err, "cannot create a libcurl handle");
		goto out;
	}
	if (setup(h, req, method, headers, &sink, errbuf) < 0) {
		berr_set(err, "cannot set up the HTTP request");
		goto out;
	}
	start = strnum_mono_ms();
	code = lc.curl_easy_perform(h);
	res->duration_ms = strnum_mono_ms() - start;
	if (code != CURLE_OK) {
		rc = translate(h, code, req, method, sink.toobig, errbuf, err);
		goto out;
	}
	lc.curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
	rc = 0;
out:
	if (h != NULL)
		lc.curl_easy_cleanup(h);
	lc.curl_slist_free_all(headers);
	return rc;
}

void http_response_release(struct http_response *res)
{
	if (res == NULL)
		return;
	buf_release(&res->body);
}
