/*
 * test_http_client.c — http_client.c against real HTTP servers on
 * 127.0.0.1: tests/fixtures/http_receiver.py, a socket that never answers,
 * a closed port, and a unix-socket server forked by the test.
 */
#include <signal.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "berth.h"
#include "check.h"
#include "receiver.h"

static struct receiver rcv;

static void check_no_secret(const char *s)
{
	CHECK(strstr(s, "secret") == NULL);
}

/* GETs path from the receiver, accepting up to max bytes (0: default). */
static int get(struct http_response *res, const char *path, size_t max,
               struct berr *err)
{
	struct http_request req = {0};
	char *url = receiver_url(&rcv, path);
	int rc;

	req.url = url;
	req.max_response = max;
	rc = http_request(res, &req, err);
	free(url);
	return rc;
}

static void test_status_and_body(void)
{
	struct http_response res;
	struct berr err;

	CHECK_INT(get(&res, "/status/200", 0, &err), 0);
	CHECK_INT(res.status, 200);
	CHECK_STR(buf_str(&res.body), "status 200");
	http_response_release(&res);

	/* An HTTP error status is a response, not a failure. */
	CHECK_INT(get(&res, "/status/503", 0, &err), 0);
	CHECK_INT(res.status, 503);
	CHECK_STR(buf_str(&res.body), "status 503");
	http_response_release(&res);

	CHECK_INT(get(&res, "/bytes/300000", 0, &err), 0);
	CHECK_INT(res.status, 200);
	CHECK_INT(res.body.len, 300000);
	CHECK(res.body.len == 300000 && res.body.data[299999] == 'x');
	http_response_release(&res);
}

static void test_max_response(void)
{
	struct http_response res;
	struct berr err;
	char *want;

	want = xasprintf("response from 127.0.0.1:%d exceeds 1000 bytes",
	                 rcv.port);
	/* Refused from Content-Length, before reading the body. */
	CHECK_INT(get(&res, "/bytes/1001", 1000, &err), BERTH_ETOOBIG);
	CHECK_STR(err.msg, want);
	CHECK(res.body.len <= 1000);
	http_response_release(&res);

	/* No Content-Length: stopped while reading. */
	CHECK_INT(get(&res, "/stream/5000", 1000, &err), BERTH_ETOOBIG);
	CHECK_STR(err.msg, want);
	CHECK(res.body.len <= 1000);
	http_response_release(&res);

	CHECK_INT(get(&res, "/bytes/1000", 1000, &err), 0);
	CHECK_INT(res.body.len, 1000);
	http_response_release(&res);
	free(want);
}

static void test_timeout_and_refused(void)
{
	struct http_request req = {0};
	struct http_response res;
	struct berr err;
	int port, fd = silent_listener(&port);
	char *url, *want;

	/* Connected, never answered. */
	url = xasprintf("http://127.0.0.1:%d/health", port);
	want =
	    xasprintf("request to 127.0.0.1:%d timed out after 500 ms", port);
	req.url = url;
	req.timeout_ms = 500;
	CHECK_INT(http_request(&res, &req, &err), -1);
	CHECK_STR(err.msg, want);
	CHECK_INT(res.status, 0);
	http_response_release(&res);
	free(want);
	free(url);
	close(fd);

	/* A handler that never answers. */
	url = receiver_url(&rcv, "/hang");
	want = xasprintf("request to 127.0.0.1:%d timed out after 500 ms",
	                 rcv.port);
	req.url = url;
	CHECK_INT(http_request(&res, &req, &err), -1);
	CHECK_STR(err.msg, want);
	http_response_release(&res);
	free(want);
	free(url);

	port = refused_port();
	url = xasprintf("http://127.0.0.1:%d/", port);
	want = xasprintf("cannot connect to 127.0.0.1:%d: Connection refused",
	                 port);
	req.url = url;
	CHECK_INT(http_request(&res, &req, &err), -1);
	CHECK_STR(err.msg, want);
	http_response_release(&res);
	free(want);
	free(url);

	/* Secrets in the URL stay out of the message. */
	url = xasprintf(
	    "http://user:secretpw@127.0.0.1:%d/secret/path?token=secret", port);
	req.url = url;
	CHECK_INT(http_request(&res, &req, &err), -1);
	check_no_secret(err.msg);
	http_response_release(&res);
	free(url);
}

static void test_post_body(void)
{
	const char *headers[] = {"X-Berth-Test: yes", NULL};
	struct http_request req = {0};
	struct http_response res;
	struct berr err;
	char body[70000];
	json_t *all, *last;
	char *url;
	size_t i;

	/* Every byte value, NULs included. */
	for (i = 0; i < sizeof(body); i++)
		body[i] = (char)(i * 7 % 256);
	url = receiver_url(&rcv, "/echo");
	req.url = url;
	req.method = "POST";
	req.body = body;
	req.body_len = sizeof(body);
	req.content_type = "application/octet-stream";
	req.headers = headers;
	CHECK_INT(http_request(&res, &req, &err), 0);
	CHECK_INT(res.status, 200);
	CHECK_INT(res.body.len, sizeof(body));
	CHECK(res.body.len == sizeof(body) &&
	      memcmp(res.body.data, body, sizeof(body)) == 0);
	http_response_release(&res);

	all = receiver_requests(&rcv);
	last = json_array_get(all, json_array_size(all) - 1);
	CHECK_STR(json_string_value(json_object_get(last, "method")), "POST");
	CHECK_STR(json_string_value(json_object_get(last, "path")), "/echo");
	last = json_object_get(last, "headers");
	CHECK_STR(json_string_value(json_object_get(last, "content-type")),
	          "application/octet-stream");
	CHECK_STR(json_string_value(json_object_get(last, "user-agent")),
	          "berth/" BERTH_VERSION);
	CHECK_STR(json_string_value(json_object_get(last, "x-berth-test")),
	          "yes");
	CHECK(json_object_get(last, "expect") == NULL);
	json_decref(all);

	/* Other methods. */
	req.method = "PUT";
	req.body = "{}";
	req.body_len = 2;
	CHECK_INT(http_request(&res, &req, &err), 0);
	CHECK_STR(buf_str(&res.body), "{}");
	http_response_release(&res);
	req.method = "DELETE";
	req.body = NULL;
	req.body_len = 0;
	CHECK_INT(http_request(&res, &req, &err), 0);
	http_response_release(&res);
	all = receiver_requests(&rcv);
	last = json_array_get(all, json_array_size(all) - 2);
	CHECK_STR(json_string_value(json_object_get(last, "method")), "PUT");
	CHECK_STR(json_string_value(json_object_get(last, "body")), "{}");
	last = json_array_get(all, json_array_size(all) - 1);
	CHECK_STR(json_string_value(json_object_get(last, "method")), "DELETE");
	json_decref(all);
	free(url);
}

static void test_rejections(void)
{
	const char *bad_headers[] = {"X-A: b\r\nX-Injected: 1", NULL};
	struct http_request req = {0};
	struct http_response res;
	struct berr err;
	char *url = receiver_url(&rcv, "/redirect");

	/* Redirects only when asked. */
	req.url = url;
	CHECK_INT(http_request(&res, &req, &err), 0);
	CHECK_INT(res.status, 302);
	http_response_release(&res);
	req.follow_redirects = true;
	CHECK_INT(http_request(&res, &req, &err), 0);
	CHECK_INT(res.status, 200);
	CHECK_STR(buf_str(&res.body), "status 200");
	http_response_release(&res);
	req.follow_redirects = false;

	req.headers = bad_headers;
	CHECK_INT(http_request(&res, &req, &err), -1);
	CHECK_STR(err.msg, "invalid HTTP header 'X-A'");
	http_response_release(&res);
	req.headers = NULL;

	req.method = "GET /x HTTP/1.1\r\n";
	CHECK_INT(http_request(&res, &req, &err), -1);
	http_response_release(&res);
	req.method = NULL;

	req.url = "file:///etc/passwd";
	CHECK_INT(http_request(&res, &req, &err), -1);
	CHECK_STR(
	    err.msg,
	    "unsupported URL scheme 'file': only http and https are allowed");
	http_response_release(&res);
	req.url = "ftp://127.0.0.1/secret";
	CHECK_INT(http_request(&res, &req, &err), -1);
	CHECK_STR(
	    err.msg,
	    "unsupported URL scheme 'ftp': only http and https are allowed");
	http_response_release(&res);
	free(url);
}

/* A one-request HTTP server on a unix socket, in a child process. */
static void test_unix_socket(void)
{
	struct sockaddr_un sa;
	struct http_request req = {0};
	struct http_response res;
	struct berr err;
	char *path = fs_join(rcv.dir, "engine.sock");
	int fd, status;
	pid_t pid;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	CHECK(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(fd >= 0);
	CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_INT(listen(fd, 1), 0);
	pid = fork();
	if (pid == 0) {
		const char reply[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n"
		                     "Connection: close\r\n\r\n{\"Version\":1}";
		char in[4096];
		int c = accept(fd, NULL, NULL);

		if (c < 0 || read(c, in, sizeof(in)) <= 0 ||
		    write(c, reply, sizeof(reply) - 1) < 0)
			_exit(1);
		close(c);
		_exit(0);
	}
	close(fd);
	req.url = "http://localhost/version";
	req.unix_socket = path;
	req.timeout_ms = 10000;
	CHECK_INT(http_request(&res, &req, &err), 0);
	CHECK_INT(res.status, 200);
	CHECK_STR(buf_str(&res.body), "{\"Version\":1}");
	http_response_release(&res);
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(path);
}

static void test_redact(void)
{
	static const struct {
		const char *url, *with_path, *host_only;
	} cases[] = {
	    {"https://user:pa@ss@hooks.example.com:8443/services/T/B/"
	     "X?token=abc#f",
	     "https://hooks.example.com:8443/services/T/B/X",
	     "https://hooks.example.com:8443/…"},
	    {"http://127.0.0.1:3000/health", "http://127.0.0.1:3000/health",
	     "http://127.0.0.1:3000/…"},
	    {"http://host", "http://host", "http://host"},
	    {"http://host/", "http://host/", "http://host"},
	    {"http://host?key=secret", "http://host", "http://host"},
	    {"http://host#frag", "http://host", "http://host"},
	    {"HTTP://[::1]:8080/a?b", "HTTP://[::1]:8080/a",
	     "HTTP://[::1]:8080/…"},
	    {"not a url", "(invalid URL)", "(invalid URL)"},
	    {"://host/x", "(invalid URL)", "(invalid URL)"},
	    {"http://", "(invalid URL)", "(invalid URL)"},
	    {"http://user:pw@/x", "(invalid URL)", "(invalid URL)"},
	    {"1http://host/x", "(invalid URL)", "(invalid URL)"},
	};
	size_t i;

	for (i = 0; i < BERTH_ARRAY_LEN(cases); i++) {
		char *a = http_redact_url(cases[i].url, true);
		char *b = http_redact_url(cases[i].url, false);

		CHECK_STR(a, cases[i].with_path);
		CHECK_STR(b, cases[i].host_only);
		free(a);
		free(b);
	}
	{
		char *n = http_redact_url(NULL, true);

		CHECK_STR(n, "(invalid URL)");
		free(n);
	}
}

int main(void)
{
	const char *v;

	signal(SIGPIPE, SIG_IGN);
	CHECK_INT(http_client_init(), 0);
	v = http_client_lib_version();
	CHECK(v != NULL && v[0] >= '7' && v[0] <= '9');

	receiver_start(&rcv);
	test_status_and_body();
	test_max_response();
	test_timeout_and_refused();
	test_post_body();
	test_rejections();
	test_unix_socket();
	test_redact();
	receiver_stop(&rcv);
	return check_done("test_http_client");
}
