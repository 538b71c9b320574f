/*
 * test_git_net.c — the bare mirror over the network, against real servers
 * on 127.0.0.1: `git http-backend` behind HTTP Basic auth (a token right,
 * wrong, missing, or asked for by the host a redirect leads to) and OpenSSH's
 * sshd (key accepted or rejected, host key unknown, changed or known, plain
 * or hashed). No secret may appear in any message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <time.h>

#include "git_fixture.h"

#define TOKEN "tok-right-9f8e7d6c5b"
#define WRONG_TOKEN "tok-wrong-1a2b3c4d5e"

static char head[64];

static int free_port(void)
{
	struct sockaddr_in a = {0};
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(s, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	if (s >= 0)
		close(s);
	return port;
}

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Waits until something accepts connections on 127.0.0.1:port. */
static bool wait_port(int port)
{
	int i;

	for (i = 0; i < 300; i++) {
		struct sockaddr_in a = {0};
		int s = socket(AF_INET, SOCK_STREAM, 0), rc;

		a.sin_family = AF_INET;
		a.sin_port = htons((uint16_t)port);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		rc = connect(s, (struct sockaddr *)&a, sizeof(a));
		close(s);
		if (rc == 0)
			return true;
		pause_ms(50);
	}
	return false;
}

/* Reads the port an HTTP server wrote into portfile. */
static int wait_portfile(const char *portfile)
{
	struct berr err;
	struct buf b;
	int port = -1, i;

	for (i = 0; i < 300 && port < 0; i++) {
		buf_init(&b, 64);
		if (fs_read_file(&b, portfile, 64, &err) == 0 &&
		    strnum_int(&port, buf_str(&b), 1, 65535) != 0)
			port = -1;
		buf_release(&b);
		if (port < 0)
			pause_ms(50);
	}
	return port;
}

/* Opens a fresh mirror named name for url; fetches; returns the fetch's
 * result with its message in err. */
static int fetch_into(const char *name, const char *url,
		      const struct git_auth *auth, struct berr *err)
{
	struct git_mirror *gm = NULL;
	char dir[400], sha[41];
	int rc;

	snprintf(dir, sizeof(dir), "%s/%s", fx_dir, name);
	if (git_mirror_open(&gm, dir, url, auth, err) != 0)
		return -100;
	rc = git_mirror_fetch(gm, NULL, NULL, err);
	if (rc == 0) {
		CHECK_INT(git_mirror_resolve(gm, "main", sha, err), 0);
		CHECK_STR(sha, head);
	}
	git_mirror_close(gm);
	if (rc != 0)
		fprintf(stderr, "%s: %s\n", name, err->msg);
	return rc;
}

static void check_no_secrets(const char *msg)
{
	CHECK_NO_SECRET(msg, TOKEN);
	CHECK_NO_SECRET(msg, WRONG_TOKEN);
}

/* Starts tests/unit/git_http_server.py serving srv/; redirect and tls (the
 * name of a certificate made by make_certs) may be NULL. */
static pid_t start_http(const char *log, const char *portfile,
			const char *redirect, const char *tls)
{
	char root[400], cert[400], key[400];
	const char *argv[] = {"python3", "tests/unit/git_http_server.py", root,
			      portfile, NULL};
	pid_t pid;

	snprintf(root, sizeof(root), "%s/srv", fx_dir);
	/* The token travels in the environment, never in argv. */
	setenv("BERTH_TEST_HTTP_TOKEN", TOKEN, 1);
	if (redirect != NULL)
		setenv("BERTH_TEST_HTTP_REDIRECT", redirect, 1);
	else
		unsetenv("BERTH_TEST_HTTP_REDIRECT");
	if (tls != NULL) {
		snprintf(cert, sizeof(cert), "%s/tls/%s.crt", fx_dir, tls);
		snprintf(key, sizeof(key), "%s/tls/%s.key", fx_dir, tls);
		setenv("BERTH_TEST_HTTP_CERT", cert, 1);
		setenv("BERTH_TEST_HTTP_KEY", key, 1);
	}
	pid = fx_spawn(argv, log);
	unsetenv("BERTH_TEST_HTTP_TOKEN");
	unsetenv("BERTH_TEST_HTTP_REDIRECT");
	unsetenv("BERTH_TEST_HTTP_CERT");
	unsetenv("BERTH_TEST_HTTP_KEY");
	return pid;
}

/* Starts a server named name (logging to NAME.log) and returns its port,
 * or -1 with a failed check; *pid is for fx_stop. */
static int serve(pid_t *pid, const char *name, const char *redirect,
		 const char *tls)
{
	char log[400], portfile[400];
	int port;

	snprintf(log, sizeof(log), "%s/%s.log", fx_dir, name);
	snprintf(portfile, sizeof(portfile), "%s/%s.port", fx_dir, name);
	*pid = start_http(log, portfile, redirect, tls);
	port = *pid > 0 ? wait_portfile(portfile) : -1;
	if (port <= 0) {
		CHECK(!"the git http server did not start (python3 and git "
		       "http-backend are needed); its log follows");
		fx_sh("cat '%s' >&2", log);
	}
	return port;
}

/* Whether the server named name logged s. */
static bool server_logged(const char *name, const char *s)
{
	struct berr err;
	struct buf text;
	char log[400];
	bool found;

	snprintf(log, sizeof(log), "%s/%s.log", fx_dir, name);
	buf_init(&text, 0);
	CHECK_INT(fs_read_file(&text, log, (size_t)1 << 20, &err), 0);
	found = strstr(buf_str(&text), s) != NULL;
	check_no_secrets(buf_str(&text));
	buf_release(&text);
	return found;
}

static void test_http(void)
{
	struct git_auth right = {TOKEN, NULL}, wrong = {WRONG_TOKEN, NULL};
	char url[400], base[200], sha[41], dir[400];
	struct git_mirror *gm = NULL;
	struct berr err = {""};
	pid_t pid, pid2 = -1;
	int port, port2;

	if ((port = serve(&pid, "http", NULL, NULL)) <= 0) {
		fx_stop(pid);
		return;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/app.git", port);

	CHECK_INT(fetch_into("h-right.git", url, &right, &err), 0);

	CHECK_INT(fetch_into("h-wrong.git", url, &wrong, &err), -1);
	CHECK(strstr(err.msg, "authentication failed: the token was "
			      "rejected") != NULL);
	check_no_secrets(err.msg);

	CHECK_INT(fetch_into("h-none.git", url, NULL, &err), -1);
	CHECK(strstr(err.msg, "authentication failed: the server asks for "
			      "credentials") != NULL);

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/nope.git", port);
	CHECK_INT(fetch_into("h-nope.git", url, &right, &err), -1);
	CHECK(strstr(err.msg, "repository not found") != NULL);
	check_no_secrets(err.msg);

	/* A user name in the URL is used; the token stays the password. */
	snprintf(url, sizeof(url), "http://deploy@127.0.0.1:%d/app.git", port);
	CHECK_INT(fetch_into("h-user.git", url, &right, &err), 0);

	/* ls-remote with the token, and with the wrong one. */
	snprintf(dir, sizeof(dir), "%s/h-right.git", fx_dir);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/app.git", port);
	CHECK_INT(git_mirror_open(&gm, dir, url, &right, &err), 0);
	if (gm != NULL) {
		CHECK_INT(git_mirror_ls_remote(sha, gm, "main", &err), 0);
		CHECK_STR(sha, head);
		git_mirror_close(gm);
	}
	CHECK_INT(git_mirror_open(&gm, dir, url, &wrong, &err), 0);
	if (gm != NULL) {
		CHECK_INT(git_mirror_ls_remote(sha, gm, "main", &err), -1);
		CHECK(strstr(err.msg, "cannot list branches of") != NULL);
		CHECK(strstr(err.msg, "the token was rejected") != NULL);
		check_no_secrets(err.msg);
		git_mirror_close(gm);
	}

	/* A redirect to another host (localhost is the same server, under
	 * another name): not followed, so the token never goes there. */
	snprintf(base, sizeof(base), "http://localhost:%d", port);
	if ((port2 = serve(&pid2, "http-redirect", base, NULL)) > 0) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/app.git", port2);
		CHECK_INT(fetch_into("h-redirect.git", url, &right, &err), -1);
		CHECK(strstr(err.msg, "redirects to another URL") != NULL);
		check_no_secrets(err.msg);
		/* Without a token, redirects are followed as git does. */
		CHECK_INT(fetch_into("h-redirect2.git", url, NULL, &err), -1);
		CHECK(strstr(err.msg, "authentication failed: the server asks "
				      "for credentials") != NULL);
	}
	fx_stop(pid2);
	fx_stop(pid);

	/* The server saw the default user name and the one from the URL. */
	CHECK(server_logged("http", "user=x-access-token ok=True"));
	CHECK(server_logged("http", "user=deploy ok=True"));
}

/* Two self-signed certificates for 127.0.0.1: "trusted" (the only one in
 * SSL_CERT_FILE, set before libgit2 initialises) and "stranger". */
static int make_certs(void)
{
	if (fx_sh("mkdir -p tls; cd tls; for n in trusted stranger; do "
		  "openssl req -x509 -newkey ec "
		  "-pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
		  "-subj /CN=127.0.0.1 "
		  "-addext subjectAltName=DNS:127.0.0.1,IP:127.0.0.1 "
		  "-keyout $n.key -out $n.crt 2>/dev/null; done") != 0)
		return -1;
	return 0;
}

static void test_https(void)
{
	struct git_auth right = {TOKEN, NULL}, wrong = {WRONG_TOKEN, NULL};
	struct berr err = {""};
	char url[400];
	pid_t pid;
	int port;

	/* A certificate the client trusts: the token works over TLS. */
	if ((port = serve(&pid, "https", NULL, "trusted")) > 0) {
		snprintf(url, sizeof(url), "https://127.0.0.1:%d/app.git", port);
		CHECK_INT(fetch_into("t-right.git", url, &right, &err), 0);
		CHECK_INT(fetch_into("t-wrong.git", url, &wrong, &err), -1);
		CHECK(strstr(err.msg, "the token was rejected") != NULL);
		check_no_secrets(err.msg);
	}
	fx_stop(pid);

	/* A certificate nobody vouches for: refused before any request, so
	 * the token is never sent. */
	if ((port = serve(&pid, "https-stranger", NULL, "stranger")) > 0) {
		snprintf(url, sizeof(url), "https://127.0.0.1:%d/app.git", port);
		CHECK_INT(fetch_into("t-stranger.git", url, &right, &err), -1);
		CHECK(strstr(err.msg, "TLS certificate is not trusted") != NULL);
		check_no_secrets(err.msg);
	}
	fx_stop(pid);
	CHECK(!server_logged("https-stranger", "auth user="));
}

static pid_t start_sshd(int port, const char *user)
{
	char cfg[400], log[400];
	const char *argv[] = {"/usr/sbin/sshd", "-D", "-e", "-f", cfg, NULL};
	pid_t pid;

	(void)user;
	snprintf(cfg, sizeof(cfg), "%s/ssh/sshd_config", fx_dir);
	snprintf(log, sizeof(log), "%s/ssh/sshd.log", fx_dir);
	if (fx_sh("cd ssh; "
		  "ssh-keygen -q -t ed25519 -N '' -C host -f host_key; "
		  "ssh-keygen -q -t ed25519 -N '' -C other -f other_host_key; "
		  "ssh-keygen -q -t ed25519 -N '' -C user -f id_user; "
		  "ssh-keygen -q -t ed25519 -N '' -C stranger -f id_stranger; "
		  "cp id_user.pub authorized_keys; "
		  "printf '%%s\\n' 'Port %d' 'ListenAddress 127.0.0.1' "
		  "\"HostKey $PWD/host_key\" \"PidFile $PWD/sshd.pid\" "
		  "\"AuthorizedKeysFile $PWD/authorized_keys\" "
		  "'StrictModes no' 'UsePAM no' 'PasswordAuthentication no' "
		  "'KbdInteractiveAuthentication no' 'PubkeyAuthentication yes' "
		  "'PermitRootLogin prohibit-password' 'LogLevel VERBOSE' "
		  "> sshd_config; "
		  "if [ \"$(id -u)\" = 0 ]; then mkdir -p /run/sshd; fi",
		  port) != 0)
		return -1;
	pid = fx_spawn(argv, log);
	if (pid > 0 && !wait_port(port)) {
		fx_stop(pid);
		return -1;
	}
	return pid;
}

static void test_ssh(void)
{
	struct passwd *pw = getpwuid(getuid());
	char url[600], key[400], stranger[400];
	struct git_auth auth = {NULL, key}, bad = {NULL, stranger};
	struct berr err = {""};
	char expect[600];
	int port = free_port();
	pid_t pid;

	if (access("/usr/sbin/sshd", X_OK) != 0) {
		CHECK(!"/usr/sbin/sshd is missing: install openssh-server "
		       "(contrib/test.sh does)");
		return;
	}
	CHECK(pw != NULL);
	if (pw == NULL)
		return;
	CHECK_INT(fx_sh("mkdir -p ssh home/.ssh"), 0);
	pid = start_sshd(port, pw->pw_name);
	CHECK(pid > 0);
	if (pid <= 0) {
		CHECK(!"sshd did not start; its log follows");
		fx_sh("cat ssh/sshd.log >&2");
		return;
	}
	snprintf(key, sizeof(key), "%s/ssh/id_user", fx_dir);
	snprintf(stranger, sizeof(stranger), "%s/ssh/id_stranger", fx_dir);
	snprintf(url, sizeof(url), "ssh://%s@127.0.0.1:%d%s/srv/app.git",
		 pw->pw_name, port, fx_dir);

	/* Unknown host: refused before any key is offered. */
	CHECK_INT(fx_sh(": > home/.ssh/known_hosts"), 0);
	CHECK_INT(fetch_into("s-unknown.git", url, &auth, &err), -1);
	snprintf(expect, sizeof(expect),
		 "host key of '[127.0.0.1]:%d' (ssh-ed25519) is unknown", port);
	CHECK(strstr(err.msg, expect) != NULL);

	/* Another key on record for this host: a possible interception. */
	CHECK_INT(fx_sh("printf '[127.0.0.1]:%d %%s\\n' "
			"\"$(cut -d' ' -f1,2 ssh/other_host_key.pub)\" "
			"> home/.ssh/known_hosts", port), 0);
	CHECK_INT(fetch_into("s-changed.git", url, &auth, &err), -1);
	CHECK(strstr(err.msg, "does not match the one in known_hosts") != NULL);

	/* The right key, hashed the way ssh-keygen -H writes it. */
	CHECK_INT(fx_sh("printf '[127.0.0.1]:%d %%s\\n' "
			"\"$(cut -d' ' -f1,2 ssh/host_key.pub)\" "
			"> home/.ssh/known_hosts; "
			"ssh-keygen -q -H -f home/.ssh/known_hosts >/dev/null 2>&1; "
			"! grep -q 127.0.0.1 home/.ssh/known_hosts", port), 0);
	CHECK_INT(fetch_into("s-ok.git", url, &auth, &err), 0);

	/* A key the server does not accept, and no key at all. */
	CHECK_INT(fetch_into("s-bad.git", url, &bad, &err), -1);
	snprintf(expect, sizeof(expect),
		 "authentication failed: the ssh key '%s' was rejected",
		 stranger);
	CHECK(strstr(err.msg, expect) != NULL);
	CHECK_INT(fetch_into("s-none.git", url, NULL, &err), -1);
	CHECK(strstr(err.msg, "authentication failed") != NULL);
	snprintf(stranger, sizeof(stranger), "%s/ssh/no_such_key", fx_dir);
	CHECK_INT(fetch_into("s-nokey.git", url, &bad, &err), -1);
	snprintf(expect, sizeof(expect), "cannot read the ssh key '%s': No "
		 "such file or directory", stranger);
	CHECK(strstr(err.msg, expect) != NULL);

	/* A repository the server does not have. */
	snprintf(url, sizeof(url), "ssh://%s@127.0.0.1:%d%s/srv/nope.git",
		 pw->pw_name, port, fx_dir);
	CHECK_INT(fetch_into("s-nope.git", url, &auth, &err), -1);
	CHECK(strstr(err.msg, "repository not found") != NULL);
	fx_stop(pid);
}

int main(void)
{
	char certs[400];

	fx_setup("test-git-net");
	if (make_certs() != 0)
		CHECK(!"cannot make test certificates (is openssl installed?)");
	snprintf(certs, sizeof(certs), "%s/tls/trusted.crt", fx_dir);
	setenv("SSL_CERT_FILE", certs, 1);
	if (fx_sh("mkdir srv; git init -q --bare srv/app.git; "
		  "git clone -q srv/app.git work 2>/dev/null; cd work; "
		  "echo hello > hello.txt; git add hello.txt; "
		  "git commit -q -m hello; git push -q origin main 2>/dev/null") != 0 ||
	    fx_out(head, sizeof(head), "git -C work rev-parse main") != 0) {
		CHECK(!"cannot build the fixture repository (is git installed?)");
		fx_teardown();
		return check_done("test_git_net");
	}
	test_http();
	test_https();
	test_ssh();
	fx_teardown();
	return check_done("test_git_net");
}
