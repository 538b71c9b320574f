/*
 * git.c — the bare mirror of the deployed repository, and berth's only use of
 * libgit2. Everything Git that berth does goes through here: fetching (with
 * force-push detection), resolving revisions, reading files at a commit and
 * exporting a commit's tree into a release directory. libgit2 types and error
 * codes never leave this file; its errors are translated once, here, into
 * messages that name what failed and why, and never carry a secret.
 *
 * The mirror maps the remote's branches and tags (refs/heads/, refs/tags/)
 * one to one (forced, pruned), like `git clone --mirror`. Objects are never
 * deleted, so a commit that was deployed stays readable after a force-push
 * removed it from every branch.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <openssl/evp.h>

#include "berth.h"

#define MIRROR_LOCK_FILE "berth-fetch.lock"
#define DEFAULT_LOCK_TIMEOUT_MS 60000
#define ZERO_SHA "0000000000000000000000000000000000000000"

struct git_mirror {
	git_repository *repo; /* owned */
	char *dir;            /* owned */
	char *url;            /* owned; as configured, may hold a password */
	char *url_safe;       /* owned; url without userinfo, for messages */
	char *url_password;   /* owned secret (from the url), or NULL */
	char *token;          /* owned secret, wiped on close, or NULL */
	char *ssh_key;        /* owned path, or NULL */
	char *ssh_pubkey;     /* owned path (ssh_key + ".pub" if present) */
	int lock_timeout_ms;
};

/* State shared with libgit2's callbacks during one connection. */
struct net_ctx {
	struct git_mirror *gm; /* borrowed */
	int key_tries;
	int key_errno;      /* the ssh key file could not be read */
	bool token_sent;    /* the token went with every request */
	bool rejected;      /* credentials were offered and refused */
	bool missing;       /* the server asked; nothing suitable configured */
	bool hostkey_bad;   /* the ssh host key check refused the host */
	struct berr hostkey; /* why, when hostkey_bad */
	char *auth_header;  /* owned secret "Authorization: Basic …", or NULL */
	git_strarray headers; /* custom headers: auth_header, if any */
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_init_rc;

static void lib_init(void)
{
	const char *file = getenv("SSL_CERT_FILE");
	const char *dir = getenv("SSL_CERT_DIR");

	lib_init_rc = git_libgit2_init();
	if (lib_init_rc < 0)
		return;
	/* The mirror is state: fsync what libgit2 writes into it. */
	git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
	/* Debian's libgit2 uses mbedTLS with a fixed CA bundle; honour the
	 * variables OpenSSL, curl and git honour. */
	if (file != NULL && *file == '\0')
		file = NULL;
	if (dir != NULL && *dir == '\0')
		dir = NULL;
	if (file != NULL || dir != NULL)
		git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, file, dir);
}

/* libgit2 is initialised once per process and never shut down, so that
 * opening and closing mirrors any number of times is cheap and safe. */
static int lib_ensure(struct berr *err)
{
	pthread_once(&lib_once, lib_init);
	if (lib_init_rc < 0)
		return berr_set(err, "cannot initialise libgit2");
	return 0;
}

static void wipe_free(char *secret)
{
	if (secret != NULL) {
		explicit_bzero(secret, strlen(secret));
		free(secret);
	}
}

const char *git_mirror_lib_version(void)
{
	static char version[32];
	int major = 0, minor = 0, rev = 0;

	if (version[0] == '\0') {
		git_libgit2_version(&major, &minor, &rev);
		snprintf(version, sizeof(version), "libgit2 %d.%d.%d", major,
			 minor, rev);
	}
	return version;
}

/* URLs */

/* The authority of a "scheme://" URL: start (after any userinfo) and end. */
static bool url_authority(const char *url, const char **start,
			  const char **end, const char **userinfo)
{
	const char *sep = strstr(url, "://"), *p;

	if (sep == NULL || strcspn(url, "/") < (size_t)(sep - url))
		return false;
	*userinfo = NULL;
	*start = sep + 3;
	*end = *start + strcspn(*start, "/?#");
	for (p = *start; p < *end; p++)
		if (*p == '@')
			*userinfo = p;
	if (*userinfo != NULL) {
		const char *ui = *start;

		*start = *userinfo + 1;
		*userinfo = ui;
	}
	return true;
}

char *git_mirror_redact_url(const char *url)
{
	const char *start, *end, *userinfo;

	if (!url_authority(url, &start, &end, &userinfo) || userinfo == NULL)
		return xstrdup(url);
	return xasprintf("%.*s%s", (int)(userinfo - url), url, start);
}

/* The password of a "scheme://user:password@host" URL, or NULL. */
static char *url_password(const char *url)
{
	const char *start, *end, *userinfo, *colon;

	if (!url_authority(url, &start, &end, &userinfo) || userinfo == NULL)
		return NULL;
	colon = memchr(userinfo, ':', (size_t)(start - 1 - userinfo));
	if (colon == NULL || colon + 1 == start - 1)
		return NULL;
	return xstrndup(colon + 1, (size_t)(start - 1 - (colon + 1)));
}

/* Whether two URLs name the same host and port (case-insensitive). The token
 * is only ever sent to the host the configuration names, not to a host an
 * HTTP redirect points at. */
static bool url_same_authority(const char *a, const char *b)
{
	const char *as, *ae, *au, *bs, *be, *bu;

	if (!url_authority(a, &as, &ae, &au) ||
	    !url_authority(b, &bs, &be, &bu))
		return false;
	return ae - as == be - bs && strncasecmp(as, bs, (size_t)(ae - as)) == 0;
}

/* Host and port of an ssh remote: ssh://[user@]host[:port]/path (also
 * ssh+git:// and git+ssh://) or scp-like [user@]host:path. */
static bool ssh_host_port(const char *url, char *host, size_t size, int *port)
{
	const char *start, *end, *userinfo, *h, *hend, *colon;

	*port = 22;
	if (url_authority(url, &start, &end, &userinfo)) {
		if (strncmp(url, "ssh://", 6) != 0 &&
		    strncmp(url, "ssh+git://", 10) != 0 &&
		    strncmp(url, "git+ssh://", 10) != 0)
			return false;
		h = start;
		if (*h == '[') {
			h++;
			hend = memchr(h, ']', (size_t)(end - h));
			if (hend == NULL)
				return false;
			colon = hend + 1 < end && hend[1] == ':' ? hend + 1 : NULL;
		} else {
			colon = memchr(h, ':', (size_t)(end - h));
			hend = colon ? colon : end;
		}
		if (colon != NULL) {
			char digits[8];

			if ((size_t)(end - colon - 1) >= sizeof(digits))
				return false;
			memcpy(digits, colon + 1, (size_t)(end - colon - 1));
			digits[end - colon - 1] = '\0';
			if (strnum_int(port, digits, 1, 65535) != 0)
				return false;
		}
	} else {
		/* scp-like: a ':' before any '/' */
		colon = strchr(url, ':');
		if (colon == NULL || strcspn(url, "/") < (size_t)(colon - url))
			return false;
		h = memchr(url, '@', (size_t)(colon - url));
		h = h ? h + 1 : url;
		hend = colon;
	}
	if (hend == h || (size_t)(hend - h) >= size)
		return false;
	memcpy(host, h, (size_t)(hend - h));
	host[hend - h] = '\0';
	return true;
}

/* Errors */

/* Replaces every occurrence of secret in b with "***". */
static void mask(struct buf *b, const char *secret)
{
	struct buf out;
	const char *p, *hit;
	size_t n;

	if (secret == NULL || *secret == '\0' || b->data == NULL)
		return;
	n = strlen(secret);
	buf_init(&out, 0);
	for (p = b->data; (hit = strstr(p, secret)) != NULL; p = hit + n) {
		buf_append(&out, p, (size_t)(hit - p));
		buf_puts(&out, "***");
	}
	buf_puts(&out, p);
	buf_reset(b);
	buf_puts(b, buf_str(&out));
	buf_release(&out);
}

/* libgit2's last error message, secrets masked, into b. */
static void last_error(struct buf *b, const struct git_mirror *gm)
{
	const git_error *e = git_error_last();
	size_t i;

	buf_puts(b, e != NULL && e->message != NULL ? e->message
						    : "unknown libgit2 error");
	if (gm != NULL) {
		mask(b, gm->token);
		mask(b, gm->url_password);
	}
	while (b->len > 0 && (b->data[b->len - 1] == '\n' ||
			      b->data[b->len - 1] == '.'))
		b->data[--b->len] = '\0';
	/* One line: mbedTLS lists certificate problems one per line. */
	for (i = 0; i < b->len; i++)
		if (b->data[i] == '\n' || b->data[i] == '\r')
			b->data[i] = ' ';
}

/* Sets err to "<what>: <libgit2's message>". Returns -1. */
static int git_fail(struct berr *err, const struct git_mirror *gm,
		    const char *fmt, ...) BERTH_PRINTF(3, 4);

static int git_fail(struct berr *err, const struct git_mirror *gm,
		    const char *fmt, ...)
{
	char what[384];
	struct buf msg;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	buf_init(&msg, 4096);
	last_error(&msg, gm);
	berr_set(err, "%s: %s", what, buf_str(&msg));
	buf_release(&msg);
	return -1;
}

static bool contains(const char *haystack, const char *needle)
{
	return strcasestr(haystack, needle) != NULL;
}

/* Whether url is a local path or file:// URL naming nothing (libgit2 then
 * says "unsupported URL protocol"). */
static bool local_remote_missing(const char *url)
{
	char host[256];
	int port;

	if (strncmp(url, "file://", 7) == 0)
		return !fs_exists(url + 7);
	if (strstr(url, "://") != NULL ||
	    ssh_host_port(url, host, sizeof(host), &port))
		return false;
	return !fs_exists(url);
}

/*
 * Turns a failed network operation into one of a few messages a user can act
 * on: host key refused, credentials refused or missing, repository not
 * found, remote unreachable, mirror locked, or libgit2's own words.
 * Returns -1, or BERTH_ELOCKED when the mirror is locked.
 */
static int net_fail(struct net_ctx *ctx, int rc, const char *what,
		    struct berr *err)
{
	struct git_mirror *gm = ctx->gm;
	const git_error *e = git_error_last();
	int klass = e != NULL ? e->klass : GIT_ERROR_NONE;
	struct buf msg;
	const char *m;
	int ret = -1;

	buf_init(&msg, 4096);
	last_error(&msg, gm);
	m = buf_str(&msg);
	if (ctx->hostkey_bad) {
		berr_set(err, "%s '%s': %s", what, gm->url_safe,
			 ctx->hostkey.msg);
	} else if (ctx->key_errno != 0) {
		berr_set(err, "%s '%s': cannot read the ssh key '%s': %s",
			 what, gm->url_safe, gm->ssh_key,
			 strerror(ctx->key_errno));
	} else if (ctx->rejected && ctx->key_tries > 0) {
		berr_set(err, "%s '%s': authentication failed: the ssh key "
			 "'%s' was rejected", what, gm->url_safe, gm->ssh_key);
	} else if (ctx->rejected) {
		berr_set(err, "%s '%s': authentication failed: the token was "
			 "rejected", what, gm->url_safe);
	} else if (rc == GIT_EAUTH || ctx->missing || contains(m, "401") ||
		   contains(m, "authenticat")) {
		berr_set(err, "%s '%s': authentication failed: %s", what,
			 gm->url_safe,
			 ctx->missing ? "the server asks for credentials and "
					"none that it accepts are configured"
				      : m);
	} else if (rc == GIT_ECERTIFICATE || klass == GIT_ERROR_SSL ||
		   contains(m, "certificate")) {
		berr_set(err, "%s '%s': the server's TLS certificate is not "
			 "trusted (%s)", what, gm->url_safe, m);
	} else if (ctx->token_sent && contains(m, "redirect")) {
		berr_set(err, "%s '%s': the server redirects to another URL, "
			 "which berth does not follow when it sends a token: "
			 "configure the final URL (%s)", what, gm->url_safe, m);
	} else if (rc == GIT_ELOCKED) {
		berr_set(err, "mirror '%s' is locked: %s", gm->dir, m);
		ret = BERTH_ELOCKED;
	} else if (local_remote_missing(gm->url) || rc == GIT_ENOTFOUND ||
		   contains(m, "404") ||
		   contains(m, "not found") || contains(m, "not a git repo") ||
		   contains(m, "does not appear to be a git") ||
		   contains(m, "could not find repository") ||
		   contains(m, "not a valid repository") ||
		   contains(m, "no such file or directory")) {
		berr_set(err, "%s '%s': repository not found (%s)", what,
			 gm->url_safe, m);
	} else if (klass == GIT_ERROR_NET || klass == GIT_ERROR_OS ||
		   klass == GIT_ERROR_SSH || klass == GIT_ERROR_SSL ||
		   contains(m, "connect") || contains(m, "resolve")) {
		berr_set(err, "%s '%s': remote unreachable (%s)", what,
			 gm->url_safe, m);
	} else {
		berr_set(err, "%s '%s': %s", what, gm->url_safe, m);
	}
	buf_release(&msg);
	return ret;
}

/* Network callbacks */

static int cb_credentials(git_credential **out, const char *url,
			  const char *user, unsigned int allowed, void *payload)
{
	struct net_ctx *ctx = payload;
	struct git_mirror *gm = ctx->gm;

	if ((allowed & GIT_CREDENTIAL_SSH_KEY) && gm->ssh_key != NULL) {
		if (access(gm->ssh_key, R_OK) != 0) {
			ctx->key_errno = errno;
			return GIT_EAUTH;
		}
		if (ctx->key_tries++ > 0) {
			ctx->rejected = true;
			return GIT_EAUTH;
		}
		return git_credential_ssh_key_new(out, user ? user : "git",
						  gm->ssh_pubkey, gm->ssh_key,
						  NULL);
	}
	if ((allowed & GIT_CREDENTIAL_USERNAME) && gm->ssh_key != NULL)
		return git_credential_username_new(out, user ? user : "git");
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) &&
	    ctx->auth_header != NULL && url_same_authority(url, gm->url)) {
		/* The token went with the request: being asked means it was
		 * refused. Not replaying also avoids libgit2 1.5 misreading
		 * the body of a 401 on a kept-alive connection. */
		ctx->rejected = true;
		return GIT_EAUTH;
	}
	ctx->missing = true;
	return GIT_PASSTHROUGH;
}

static int cb_certificate(git_cert *cert, int valid, const char *host,
			  void *payload)
{
	struct net_ctx *ctx = payload;
	const git_cert_hostkey *hk;
	const char *home = getenv("HOME");
	char *user_file = NULL, name[256];
	const char *files[3];
	int port, rc;

	(void)valid;
	/* TLS: keep libgit2's verdict. Only GIT_PASSTHROUGH does that; any
	 * other value, positive included, would accept a bad certificate. */
	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
		return GIT_PASSTHROUGH;
	/* git_cert is the first member of git_cert_hostkey. */
	hk = (const git_cert_hostkey *)(const void *)cert;
	if (!ssh_host_port(ctx->gm->url, name, sizeof(name), &port)) {
		snprintf(name, sizeof(name), "%s", host);
		port = 22;
	}
	if (home != NULL && *home != '\0')
		user_file = fs_join(home, ".ssh/known_hosts");
	files[0] = "/etc/ssh/ssh_known_hosts";
	files[1] = user_file;
	files[2] = NULL;
	if (!(hk->type & GIT_CERT_SSH_RAW)) {
		berr_set(&ctx->hostkey, "host key of '%s' cannot be checked",
			 name);
		rc = -1;
	} else {
		rc = known_hosts_check(files, name, port, hk->hostkey,
				       hk->hostkey_len, &ctx->hostkey);
	}
	free(user_file);
	if (rc == 0)
		return 0;
	ctx->hostkey_bad = true;
	git_error_set_str(GIT_ERROR_SSH, ctx->hostkey.msg);
	return GIT_ECERTIFICATE;
}

/* An in-memory remote for gm->url: nothing about it is stored in the
 * mirror. url.<base>.insteadOf rewriting is skipped: the configured URL is
 * the one used (and libgit2 1.5 leaks memory in that lookup). */
static int remote_new(git_remote **out, struct git_mirror *gm)
{
	git_remote_create_options opts;

	git_remote_create_options_init(&opts,
				       GIT_REMOTE_CREATE_OPTIONS_VERSION);
	opts.repository = gm->repo;
	opts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF |
		     GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	return git_remote_create_with_opts(out, gm->url, &opts);
}

/* "Authorization: Basic base64(user:token)", new secret string; the user
 * from the URL, else "x-access-token". */
static char *basic_auth_header(const struct git_mirror *gm)
{
	const char *start, *end, *userinfo;
	char *user, *plain, *b64, *header;
	size_t len;

	if (url_authority(gm->url, &start, &end, &userinfo) &&
	    userinfo != NULL)
		user = xstrndup(userinfo, strcspn(userinfo, ":@"));
	else
		user = xstrdup("x-access-token");
	plain = xasprintf("%s:%s", user, gm->token);
	len = strlen(plain);
	b64 = xmalloc(4 * ((len + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)plain,
			(int)len);
	header = xasprintf("Authorization: Basic %s", b64);
	wipe_free(b64);
	wipe_free(plain);
	free(user);
	return header;
}

/*
 * Prepares the options of one connection. Over http(s) with a token, the
 * token is sent with the first request (no 401 round trip) and redirects
 * are not followed, so that it never reaches another host. ssh keys and
 * missing credentials go through the callback.
 */
static void net_init(struct net_ctx *ctx, struct git_mirror *gm,
		     git_remote_connect_options *co)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->gm = gm;
	git_remote_connect_options_init(co, GIT_REMOTE_CONNECT_OPTIONS_VERSION);
	co->callbacks.credentials = cb_credentials;
	co->callbacks.certificate_check = cb_certificate;
	co->callbacks.payload = ctx;
	co->proxy_opts.type = GIT_PROXY_AUTO;
	if (gm->token != NULL && (strncasecmp(gm->url, "https://", 8) == 0 ||
				  strncasecmp(gm->url, "http://", 7) == 0)) {
		ctx->auth_header = basic_auth_header(gm);
		ctx->headers.strings = &ctx->auth_header;
		ctx->headers.count = 1;
		ctx->token_sent = true;
		co->follow_redirects = GIT_REMOTE_REDIRECT_NONE;
		co->custom_headers = ctx->headers;
	}
}

/* Connects remote for fetching (ls-remote). */
static int net_connect(struct net_ctx *ctx, git_remote *remote,
		       git_remote_connect_options *co)
{
	net_init(ctx, ctx->gm, co);
	return git_remote_connect_ext(remote, GIT_DIRECTION_FETCH, co);
}

static void net_release(struct net_ctx *ctx)
{
	wipe_free(ctx->auth_header);
	ctx->auth_header = NULL;
}

/* Opening */

static bool is_hex(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (strchr("0123456789abcdefABCDEF", s[i]) == NULL ||
		    s[i] == '\0')
			return false;
	return true;
}

/* Whether path is a directory with nothing in it. */
static bool dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool empty = d != NULL;

	while (d != NULL && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			empty = false;
	if (d != NULL)
		closedir(d);
	return empty;
}

/* Creates the bare repository in a temporary sibling and renames it into
 * place, so that a crash never leaves a half-made mirror at dir. */
static int mirror_create(struct git_mirror *gm, struct berr *err)
{
	git_repository_init_options opts;
	git_repository *repo = NULL;
	char *tmp = xasprintf("%s.tmp.%ld", gm->dir, (long)getpid());
	char *parent = NULL, *slash;
	int rc = -1;

	parent = xstrdup(gm->dir);
	slash = strrchr(parent, '/');
	if (slash != NULL && slash != parent) {
		*slash = '\0';
		if (fs_mkdir_p(parent, 0755, err) != 0)
			goto out;
	}
	if (fs_remove_tree(tmp, err) != 0)
		goto out;
	git_repository_init_options_init(&opts,
					 GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKDIR;
	opts.initial_head = "main";
	if (git_repository_init_ext(&repo, tmp, &opts) < 0) {
		git_fail(err, gm, "cannot create mirror '%s'", gm->dir);
		goto out;
	}
	git_repository_free(repo);
	repo = NULL;
	if (rename(tmp, gm->dir) != 0 && errno != EEXIST &&
	    errno != ENOTEMPTY) {
		berr_errno(err, errno, "cannot create mirror '%s'", gm->dir);
		goto out;
	}
	/* On EEXIST another process created it first: use theirs. */
	if (slash != NULL && slash != parent && fs_fsync_dir(parent, err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0 || fs_exists(tmp))
		fs_remove_tree(tmp, NULL);
	free(parent);
	free(tmp);
	return rc;
}

int git_mirror_open(struct git_mirror **out, const char *dir, const char *url,
		    const struct git_auth *auth, struct berr *err)
{
	struct git_mirror *gm;
	size_t i;
	int rc = -1;

	*out = NULL;
	if (lib_ensure(err) != 0)
		return -1;
	if (dir == NULL || *dir == '\0' || url == NULL || *url == '\0')
		return berr_set(err, "mirror directory and repository url "
				     "must not be empty");
	gm = xcalloc(1, sizeof(*gm));
	gm->dir = xstrdup(dir);
	while (strlen(gm->dir) > 1 && gm->dir[strlen(gm->dir) - 1] == '/')
		gm->dir[strlen(gm->dir) - 1] = '\0';
	gm->url = xstrdup(url);
	gm->url_safe = git_mirror_redact_url(url);
	gm->url_password = url_password(url);
	gm->lock_timeout_ms = DEFAULT_LOCK_TIMEOUT_MS;
	if (auth != NULL && auth->token != NULL && *auth->token != '\0') {
		for (i = 0; auth->token[i] != '\0'; i++)
			if ((unsigned char)auth->token[i] < 0x20 ||
			    auth->token[i] == 0x7f) {
				berr_set(err, "the token for '%s' contains "
					 "control characters", gm->url_safe);
				goto out;
			}
		gm->token = xstrdup(auth->token);
	}
	if (auth != NULL && auth->ssh_key_file != NULL &&
	    *auth->ssh_key_file != '\0') {
		char *pub = xasprintf("%s.pub", auth->ssh_key_file);

		gm->ssh_key = xstrdup(auth->ssh_key_file);
		if (fs_exists(pub))
			gm->ssh_pubkey = pub;
		else
			free(pub);
	}
	/* An empty directory (made ahead by an installer) counts as none. */
	if (dir_is_empty(gm->dir) && rmdir(gm->dir) != 0 && errno != ENOTEMPTY) {
		berr_errno(err, errno, "cannot use '%s' as the mirror", gm->dir);
		goto out;
	}
	if (!fs_exists(gm->dir) && mirror_create(gm, err) != 0)
		goto out;
	if (git_repository_open_bare(&gm->repo, gm->dir) < 0) {
		git_fail(err, gm, "cannot open mirror '%s'", gm->dir);
		berr_prefix(err, "mirror '%s' is corrupt or not a bare "
				 "repository (it is a cache: remove it and "
				 "berth fetches it again)", gm->dir);
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		git_mirror_close(gm);
	else
		*out = gm;
	return rc;
}

int git_mirror_open_env(struct git_mirror **out, struct berr *err)
{
	const char *git_dir = getenv("GIT_DIR");
	struct git_mirror *gm;
	const char *path;
	int rc;

	*out = NULL;
	if (lib_ensure(err) != 0)
		return -1;
	if (git_dir == NULL || *git_dir == '\0')
		return berr_set(err, "not running as a Git hook: GIT_DIR is not "
				     "set");
	gm = xcalloc(1, sizeof(*gm));
	gm->lock_timeout_ms = DEFAULT_LOCK_TIMEOUT_MS;
	/* FROM_ENV: GIT_DIR, and GIT_OBJECT_DIRECTORY with
	 * GIT_ALTERNATE_OBJECT_DIRECTORIES, which is how git hands a
	 * pre-receive hook the quarantine of objects not yet accepted. */
	rc = git_repository_open_ext(&gm->repo, NULL,
				     GIT_REPOSITORY_OPEN_FROM_ENV, NULL);
	if (rc < 0) {
		git_fail(err, NULL, "cannot open the repository '%s' of the "
			 "hook", git_dir);
		git_mirror_close(gm);
		return -1;
	}
	path = git_repository_path(gm->repo);
	gm->dir = xstrdup(path != NULL ? path : git_dir);
	while (strlen(gm->dir) > 1 && gm->dir[strlen(gm->dir) - 1] == '/')
		gm->dir[strlen(gm->dir) - 1] = '\0';
	*out = gm;
	return 0;
}

int git_bare_hooks_dir(char **hooks_dir, const char *path, struct berr *err)
{
	git_repository *repo = NULL;
	git_config *cfg = NULL;
	git_buf value = {0};
	const char *dir;
	int rc;

	*hooks_dir = NULL;
	if (lib_ensure(err) != 0)
		return -1;
	rc = git_repository_open_ext(&repo, path,
				     GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (rc == GIT_ENOTFOUND) {
		berr_set(err, "'%s' is not a Git repository", path);
		return BERTH_ENOTFOUND;
	}
	if (rc < 0)
		return git_fail(err, NULL, "cannot open repository '%s'", path);
	if (!git_repository_is_bare(repo)) {
		rc = berr_set(err, "'%s' is not a bare repository (it has a "
			      "working tree): install the hooks into the "
			      "repository that pushes go to, made with 'git "
			      "init --bare'", path);
		goto out;
	}
	dir = git_repository_path(repo);
	/* git runs hooks from core.hooksPath when set; relative to the
	 * repository of a bare one. */
	if (git_repository_config_snapshot(&cfg, repo) == 0 &&
	    git_config_get_path(&value, cfg, "core.hooksPath") == 0 &&
	    value.ptr != NULL && value.ptr[0] != '\0') {
		*hooks_dir = value.ptr[0] == '/' ? xstrdup(value.ptr)
						 : fs_join(dir, value.ptr);
	} else {
		*hooks_dir = fs_join(dir, "hooks");
	}
	git_error_clear();
	rc = 0;
out:
	git_buf_dispose(&value);
	git_config_free(cfg);
	git_repository_free(repo);
	return rc;
}

void git_mirror_set_lock_timeout(struct git_mirror *gm, int timeout_ms)
{
	gm->lock_timeout_ms = timeout_ms < 0 ? 0 : timeout_ms;
}

void git_mirror_close(struct git_mirror *gm)
{
	if (gm == NULL)
		return;
	git_repository_free(gm->repo);
	free(gm->dir);
	wipe_free(gm->url);
	free(gm->url_safe);
	wipe_free(gm->url_password);
	wipe_free(gm->token);
	free(gm->ssh_key);
	free(gm->ssh_pubkey);
	free(gm);
}

/* Fetch lock */

/* Removes Git lock files under dir/sub that an interrupted fetch left: with
 * the fetch lock held, no other berth process writes the mirror, so every
 * *.lock file there is stale and would otherwise block every later fetch. */
static void remove_stale_locks(const char *dir, const char *sub)
{
	char *path = sub ? fs_join(dir, sub) : xstrdup(dir);
	DIR *d = opendir(path);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		struct stat st;
		char *child;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, MIRROR_LOCK_FILE) == 0)
			continue;
		child = fs_join(path, de->d_name);
		if (n > 5 && strcmp(de->d_name + n - 5, ".lock") == 0) {
			struct buf kv;

			buf_init(&kv, 4096);
			log_kv(&kv, "file", child);
			if (unlink(child) == 0)
				log_warn("msg=\"removed a lock file left by an "
					 "interrupted fetch\"%s", buf_str(&kv));
			buf_release(&kv);
		} else if (sub != NULL && lstat(child, &st) == 0 &&
			   S_ISDIR(st.st_mode)) {
			remove_stale_locks(path, de->d_name);
		}
		free(child);
	}
	if (d != NULL)
		closedir(d);
	free(path);
}

/* Takes the mirror's fetch lock (a flock: the kernel drops it when its holder
 * dies), waiting up to the lock timeout. Returns the fd to close, or -1 /
 * BERTH_ELOCKED with err set. */
static int mirror_lock(struct git_mirror *gm, int *fd, struct berr *err)
{
	char *path = fs_join(gm->dir, MIRROR_LOCK_FILE);
	int64_t deadline = strnum_mono_ms() + gm->lock_timeout_ms;
	int rc = -1;

	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (*fd < 0) {
		berr_errno(err, errno, "cannot open '%s'", path);
		goto out;
	}
	while (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
		struct timespec ts = {0, 50 * 1000 * 1000};

		if (errno != EWOULDBLOCK && errno != EINTR) {
			berr_errno(err, errno, "cannot lock '%s'", path);
			goto out;
		}
		if (strnum_mono_ms() >= deadline) {
			berr_set(err, "mirror '%s' is locked: another fetch "
				 "has held '%s' for more than %d ms", gm->dir,
				 MIRROR_LOCK_FILE, gm->lock_timeout_ms);
			rc = BERTH_ELOCKED;
			goto out;
		}
		nanosleep(&ts, NULL);
	}
	remove_stale_locks(gm->dir, "refs");
	remove_stale_locks(gm->dir, NULL);
	rc = 0;
out:
	if (rc != 0 && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	free(path);
	return rc;
}

/* Fetch */

struct refent {
	char *name; /* owned */
	git_oid oid;
};

struct refsnap {
	struct refent *v; /* owned, sorted by name */
	size_t n;
};

static int refent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct refent *)a)->name,
		      ((const struct refent *)b)->name);
}

static void refsnap_release(struct refsnap *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i].name);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* The mirror's branches and tags with what they point at. */
static int refsnap_take(struct refsnap *s, struct git_mirror *gm,
			struct berr *err)
{
	git_reference_iterator *it = NULL;
	git_reference *ref = NULL;
	size_t cap = 0;
	int rc;

	s->v = NULL;
	s->n = 0;
	if (git_reference_iterator_new(&it, gm->repo) < 0)
		return git_fail(err, gm, "cannot list refs of mirror '%s'",
				gm->dir);
	while ((rc = git_reference_next(&ref, it)) == 0) {
		const char *name = git_reference_name(ref);

		if (git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
		    (strncmp(name, "refs/heads/", 11) == 0 ||
		     strncmp(name, "refs/tags/", 10) == 0)) {
			if (s->n == cap) {
				cap = cap ? cap * 2 : 64;
				s->v = xrealloc(s->v, cap * sizeof(*s->v));
			}
			s->v[s->n].name = xstrdup(name);
			git_oid_cpy(&s->v[s->n].oid, git_reference_target(ref));
			s->n++;
		}
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
	if (rc != GIT_ITEROVER) {
		refsnap_release(s);
		return git_fail(err, gm, "cannot list refs of mirror '%s'",
				gm->dir);
	}
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), refent_cmp);
	return 0;
}

/* Whether moving a ref from old to new rewrote history. A branch update is
 * forced unless new descends from old; a tag that moves is always forced. */
static bool update_forced(struct git_mirror *gm, const char *name,
			  const git_oid *old, const git_oid *new)
{
	git_object *o = NULL, *n = NULL;
	bool forced = true;

	if (strncmp(name, "refs/heads/", 11) != 0)
		return true;
	if (git_object_lookup(&o, gm->repo, old, GIT_OBJECT_ANY) < 0 ||
	    git_object_lookup(&n, gm->repo, new, GIT_OBJECT_ANY) < 0)
		goto out;
	forced = git_graph_descendant_of(gm->repo, new, old) != 1;
out:
	git_object_free(o);
	git_object_free(n);
	return forced;
}

static void update_add(struct git_ref_update **v, size_t *n,
		       const char *name, const git_oid *old,
		       const git_oid *new, bool forced)
{
	struct git_ref_update *u;

	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	u = &(*v)[(*n)++];
	u->ref = xstrdup(name);
	if (old != NULL)
		git_oid_tostr(u->old_sha, sizeof(u->old_sha), old);
	else
		snprintf(u->old_sha, sizeof(u->old_sha), "%s", ZERO_SHA);
	if (new != NULL)
		git_oid_tostr(u->new_sha, sizeof(u->new_sha), new);
	else
		snprintf(u->new_sha, sizeof(u->new_sha), "%s", ZERO_SHA);
	u->forced = forced;
}

/* The differences between two sorted snapshots, as updates. */
static void refsnap_diff(struct git_mirror *gm, const struct refsnap *a,
			 const struct refsnap *b, struct git_ref_update **v,
			 size_t *n)
{
	size_t i = 0, j = 0;

	while (i < a->n || j < b->n) {
		int c = i == a->n   ? 1
			: j == b->n ? -1
				    : strcmp(a->v[i].name, b->v[j].name);

		if (c < 0) {
			update_add(v, n, a->v[i].name, &a->v[i].oid, NULL,
				   false);
			i++;
		} else if (c > 0) {
			update_add(v, n, b->v[j].name, NULL, &b->v[j].oid,
				   false);
			j++;
		} else {
			if (!git_oid_equal(&a->v[i].oid, &b->v[j].oid))
				update_add(v, n, a->v[i].name, &a->v[i].oid,
					   &b->v[j].oid,
					   update_forced(gm, a->v[i].name,
							 &a->v[i].oid,
							 &b->v[j].oid));
			i++;
			j++;
		}
	}
}

int git_mirror_fetch(struct git_mirror *gm, struct git_ref_update **updates,
		     size_t *nupdates, struct berr *err)
{
	char heads[] = "+refs/heads/*:refs/heads/*";
	char tags[] = "+refs/tags/*:refs/tags/*";
	char *specs[] = {heads, tags};
	const git_strarray refspecs = {specs, BERTH_ARRAY_LEN(specs)};
	git_remote_connect_options co;
	git_fetch_options opts;
	struct refsnap before = {0}, after = {0};
	git_remote *remote = NULL;
	struct net_ctx ctx = {.gm = gm};
	int lockfd = -1, rc, ret = -1;

	if (updates != NULL)
		*updates = NULL;
	if (nupdates != NULL)
		*nupdates = 0;
	if (gm->url == NULL)
		return berr_set(err, "repository '%s' has no remote to fetch "
				"from", gm->dir);
	if ((ret = mirror_lock(gm, &lockfd, err)) != 0)
		return ret;
	ret = -1;
	if (refsnap_take(&before, gm, err) != 0)
		goto out;
	if (remote_new(&remote, gm) < 0) {
		git_fail(err, gm, "cannot fetch from '%s'", gm->url_safe);
		goto out;
	}
	/* git_remote_fetch() rather than connect + download: in libgit2
	 * 1.5.1, git_remote_download() on a connected remote leaks a copy of
	 * the custom headers, which hold the token. */
	net_init(&ctx, gm, &co);
	git_fetch_options_init(&opts, GIT_FETCH_OPTIONS_VERSION);
	opts.callbacks = co.callbacks;
	opts.proxy_opts = co.proxy_opts;
	opts.follow_redirects = co.follow_redirects;
	opts.custom_headers = co.custom_headers;
	opts.prune = GIT_FETCH_PRUNE;
	opts.update_fetchhead = 0;
	opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	rc = git_remote_fetch(remote, &refspecs, &opts, "berth: fetch");
	net_release(&ctx);
	if (rc < 0) {
		ret = net_fail(&ctx, rc, "cannot fetch from", err);
		goto out;
	}
	if (refsnap_take(&after, gm, err) != 0)
		goto out;
	if (updates != NULL && nupdates != NULL)
		refsnap_diff(gm, &before, &after, updates, nupdates);
	ret = 0;
out:
	git_remote_free(remote);
	refsnap_release(&before);
	refsnap_release(&after);
	if (lockfd >= 0)
		close(lockfd);
	return ret;
}

void git_mirror_updates_free(struct git_ref_update *u, size_t n)
{
	size_t i;

	if (u == NULL)
		return;
	for (i = 0; i < n; i++)
		free(u[i].ref);
	free(u);
}

char *git_mirror_update_describe(const struct git_ref_update *u)
{
	const char *kind = "ref", *name = u->ref;

	if (strncmp(name, "refs/heads/", 11) == 0)
		kind = "branch", name += 11;
	else if (strncmp(name, "refs/tags/", 10) == 0)
		kind = "tag", name += 10;
	if (strcmp(u->old_sha, ZERO_SHA) == 0)
		return xasprintf("%s '%s' created at %.7s", kind, name,
				 u->new_sha);
	if (strcmp(u->new_sha, ZERO_SHA) == 0)
		return xasprintf("%s '%s' deleted (was %.7s)", kind, name,
				 u->old_sha);
	if (u->forced)
		return xasprintf("%s '%s' was force-pushed: %.7s -> %.7s (not "
				 "a fast-forward)", kind, name, u->old_sha,
				 u->new_sha);
	return xasprintf("%s '%s' updated: %.7s -> %.7s", kind, name,
			 u->old_sha, u->new_sha);
}

/* ls-remote */

static bool branch_name_valid(const char *branch)
{
	char *ref = xasprintf("refs/heads/%s", branch);
	int valid = 0;

	if (git_reference_name_is_valid(&valid, ref) < 0)
		valid = 0;
	free(ref);
	return valid != 0;
}

int git_mirror_ls_remote(char sha[41], struct git_mirror *gm,
			 const char *branch, struct berr *err)
{
	git_remote_connect_options co;
	const git_remote_head **heads;
	git_remote *remote = NULL;
	struct net_ctx ctx = {.gm = gm};
	char *ref = NULL;
	size_t i, nheads = 0;
	int rc, ret = -1;

	sha[0] = '\0';
	if (gm->url == NULL)
		return berr_set(err, "repository '%s' has no remote", gm->dir);
	if (strncmp(branch, "refs/heads/", 11) == 0)
		branch += 11;
	if (!branch_name_valid(branch))
		return berr_set(err, "invalid branch name '%s'", branch);
	ref = xasprintf("refs/heads/%s", branch);
	if (remote_new(&remote, gm) < 0) {
		git_fail(err, gm, "cannot list branches of '%s'",
			 gm->url_safe);
		goto out;
	}
	rc = net_connect(&ctx, remote, &co);
	if (rc >= 0)
		rc = git_remote_ls(&heads, &nheads, remote);
	net_release(&ctx);
	if (rc < 0) {
		ret = net_fail(&ctx, rc, "cannot list branches of", err);
		goto out;
	}
	for (i = 0; i < nheads; i++) {
		if (strcmp(heads[i]->name, ref) == 0) {
			git_oid_tostr(sha, 41, &heads[i]->oid);
			ret = 0;
			goto out;
		}
	}
	berr_set(err, "branch '%s' not found in '%s'", branch, gm->url_safe);
	ret = BERTH_ENOTFOUND;
out:
	if (remote != NULL)
		git_remote_disconnect(remote);
	git_remote_free(remote);
	free(ref);
	return ret;
}

/* Objects */

/* The commit a full 40-hex sha names. Returns BERTH_ENOTFOUND when the
 * mirror does not have it. */
static int lookup_commit(git_commit **out, struct git_mirror *gm,
			 const char *sha, struct berr *err)
{
	git_object *obj = NULL;
	git_oid oid;
	int rc;

	*out = NULL;
	if (sha == NULL || strlen(sha) != 40 || !is_hex(sha, 40) ||
	    git_oid_fromstr(&oid, sha) < 0)
		return berr_set(err, "invalid commit id '%s': expected 40 hex "
				     "digits", sha ? sha : "");
	rc = git_object_lookup(&obj, gm->repo, &oid, GIT_OBJECT_ANY);
	if (rc == GIT_ENOTFOUND) {
		berr_set(err, "commit '%s' not found in mirror '%s'", sha,
			 gm->dir);
		return BERTH_ENOTFOUND;
	}
	if (rc < 0)
		return git_fail(err, gm, "cannot read commit '%s'", sha);
	if (git_object_type(obj) != GIT_OBJECT_COMMIT) {
		berr_set(err, "'%s' is a %s, not a commit", sha,
			 git_object_type2string(git_object_type(obj)));
		git_object_free(obj);
		return -1;
	}
	*out = (git_commit *)obj;
	return 0;
}

/* One interpretation of a revision: the commit a ref or an id leads to. */
static int peel_to_commit(git_oid *out, struct git_mirror *gm,
			  git_object *obj, const char *what, struct berr *err)
{
	git_object *commit = NULL;

	if (git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) < 0)
		return git_fail(err, gm, "%s does not point to a commit",
				what);
	git_oid_cpy(out, git_object_id(commit));
	git_object_free(commit);
	return 0;
}

/* Looks up ref `name`; 1 with its commit in *out, 0 when absent. */
static int resolve_ref(git_oid *out, struct git_mirror *gm, const char *name,
		       struct berr *err)
{
	git_reference *ref = NULL;
	git_object *obj = NULL;
	int valid = 0, rc;

	if (git_reference_name_is_valid(&valid, name) < 0 || !valid)
		return 0;
	rc = git_reference_lookup(&ref, gm->repo, name);
	if (rc == GIT_ENOTFOUND)
		return 0;
	if (rc < 0)
		return git_fail(err, gm, "cannot read '%s'", name);
	rc = git_reference_peel(&obj, ref, GIT_OBJECT_ANY);
	git_reference_free(ref);
	if (rc < 0)
		return git_fail(err, gm, "cannot read '%s'", name);
	rc = peel_to_commit(out, gm, obj, name, err);
	git_object_free(obj);
	return rc < 0 ? -1 : 1;
}

int git_mirror_resolve(struct git_mirror *gm, const char *rev, char sha[41],
		       struct berr *err)
{
	const char *kinds[3] = {"branch", "tag", "commit"};
	git_oid found[3], oid;
	bool have[3] = {false, false, false};
	git_object *obj = NULL;
	size_t len, i, first = 3;
	char *ref;
	int rc;

	sha[0] = '\0';
	len = rev != NULL ? strlen(rev) : 0;
	if (len == 0 || len > 1024)
		return berr_set(err, "invalid revision '%.64s'",
				rev ? rev : "");
	if (strncmp(rev, "refs/", 5) == 0) {
		rc = resolve_ref(&found[0], gm, rev, err);
		if (rc < 0)
			return -1;
		have[0] = rc == 1;
	} else {
		for (i = 0; i < 2; i++) {
			ref = xasprintf(i == 0 ? "refs/heads/%s"
					       : "refs/tags/%s", rev);
			rc = resolve_ref(&found[i], gm, ref, err);
			free(ref);
			if (rc < 0)
				return -1;
			have[i] = rc == 1;
		}
	}
	if (len >= 4 && len <= 40 && is_hex(rev, len)) {
		if (git_oid_fromstrn(&oid, rev, len) < 0)
			return git_fail(err, gm, "invalid revision '%s'", rev);
		rc = git_object_lookup_prefix(&obj, gm->repo, &oid, len,
					      GIT_OBJECT_ANY);
		if (rc == GIT_EAMBIGUOUS)
			return berr_set(err, "abbreviated commit id '%s' is "
					"ambiguous: several objects start with "
					"it; give more digits%s", rev,
					have[0] || have[1]
					    ? ", or name the branch or tag in "
					      "full (refs/heads/..., "
					      "refs/tags/...)"
					    : "");
		if (rc < 0 && rc != GIT_ENOTFOUND)
			return git_fail(err, gm, "cannot look up '%s'", rev);
		if (rc == 0) {
			/* An id of a blob or tree competes with a branch or
			 * tag of the same name only if it leads to a commit. */
			rc = peel_to_commit(&found[2], gm, obj, rev, err);
			git_object_free(obj);
			if (rc < 0 && !have[0] && !have[1])
				return -1;
			have[2] = rc == 0;
		}
	}
	for (i = 0; i < 3; i++) {
		if (!have[i])
			continue;
		if (first == 3) {
			first = i;
		} else if (!git_oid_equal(&found[first], &found[i])) {
			char a[41], b[41];

			git_oid_tostr(a, sizeof(a), &found[first]);
			git_oid_tostr(b, sizeof(b), &found[i]);
			return berr_set(err, "revision '%s' is ambiguous: %s "
					"'%s' is %.7s but %s '%s' is %.7s; "
					"name it in full (refs/heads/..., "
					"refs/tags/... or a 40-digit id)",
					rev, kinds[first], rev, a, kinds[i],
					rev, b);
		}
	}
	if (first == 3) {
		berr_set(err, "unknown revision '%s': no branch, tag or commit "
			 "of mirror '%s' matches it", rev, gm->dir);
		return BERTH_ENOTFOUND;
	}
	git_oid_tostr(sha, 41, &found[first]);
	return 0;
}

int git_mirror_tree_id(struct git_mirror *gm, const char *sha, char tree[41],
		       struct berr *err)
{
	git_commit *c = NULL;
	int rc;

	tree[0] = '\0';
	if ((rc = lookup_commit(&c, gm, sha, err)) != 0)
		return rc;
	git_oid_tostr(tree, 41, git_commit_tree_id(c));
	git_commit_free(c);
	return 0;
}

int git_mirror_trees_equal(bool *equal, struct git_mirror *gm, const char *a,
			   const char *b, struct berr *err)
{
	git_commit *ca = NULL, *cb = NULL;
	int rc;

	*equal = false;
	if ((rc = lookup_commit(&ca, gm, a, err)) != 0)
		goto out;
	if ((rc = lookup_commit(&cb, gm, b, err)) != 0)
		goto out;
	*equal = git_oid_equal(git_commit_tree_id(ca), git_commit_tree_id(cb));
out:
	git_commit_free(ca);
	git_commit_free(cb);
	return rc;
}

int git_mirror_is_ancestor(bool *yes, struct git_mirror *gm,
			   const char *ancestor, const char *descendant,
			   struct berr *err)
{
	git_commit *ca = NULL, *cd = NULL;
	int rc;

	*yes = false;
	if ((rc = lookup_commit(&ca, gm, ancestor, err)) != 0)
		goto out;
	if ((rc = lookup_commit(&cd, gm, descendant, err)) != 0)
		goto out;
	if (git_oid_equal(git_commit_id(ca), git_commit_id(cd))) {
		*yes = true;
		goto out;
	}
	rc = git_graph_descendant_of(gm->repo, git_commit_id(cd),
				     git_commit_id(ca));
	if (rc < 0) {
		rc = git_fail(err, gm, "cannot compare '%.7s' and '%.7s'",
			      ancestor, descendant);
		goto out;
	}
	*yes = rc == 1;
	rc = 0;
out:
	git_commit_free(ca);
	git_commit_free(cd);
	return rc;
}

int git_mirror_ahead_behind(size_t *ahead, size_t *behind,
			    struct git_mirror *gm, const char *local,
			    const char *upstream, struct berr *err)
{
	git_commit *cl = NULL, *cu = NULL;
	int rc;

	*ahead = *behind = 0;
	if ((rc = lookup_commit(&cl, gm, local, err)) != 0)
		goto out;
	if ((rc = lookup_commit(&cu, gm, upstream, err)) != 0)
		goto out;
	if (git_graph_ahead_behind(ahead, behind, gm->repo, git_commit_id(cl),
				   git_commit_id(cu)) < 0)
		rc = git_fail(err, gm, "cannot count commits between '%.7s' "
				       "and '%.7s'", local, upstream);
out:
	git_commit_free(cl);
	git_commit_free(cu);
	return rc;
}

int git_mirror_commit_subject(char **subject, struct git_mirror *gm,
			      const char *sha, struct berr *err)
{
	git_commit *c = NULL;
	const char *msg;
	char *s;
	size_t len, i;
	int rc;

	*subject = NULL;
	if ((rc = lookup_commit(&c, gm, sha, err)) != 0)
		return rc;
	msg = git_commit_message(c);
	if (msg == NULL)
		msg = "";
	len = strcspn(msg, "\n");
	while (len > 0 && (msg[len - 1] == '\r' || msg[len - 1] == ' ' ||
			   msg[len - 1] == '\t'))
		len--;
	s = xstrndup(msg, len);
	/* A subject ends up in terminals and logs: no control characters. */
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = '?';
	*subject = s;
	git_commit_free(c);
	return 0;
}

/* Files at a commit */

/* Checks a path inside the repository: relative, no "..", no empty
 * components. "" and "." name the root when allow_root. */
static int check_repo_path(const char *path, bool allow_root,
			   struct berr *err)
{
	const char *p = path;

	if (path == NULL)
		return berr_set(err, "missing path");
	if (allow_root && (*path == '\0' || strcmp(path, ".") == 0))
		return 0;
	if (*path == '\0' || *path == '/')
		return berr_set(err, "invalid path '%s': expected a relative "
				     "path inside the repository", path);
	while (*p != '\0') {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return berr_set(err, "invalid path '%s': empty, '.' or "
					     "'..' component", path);
		p += n;
		if (*p == '/')
			p++;
	}
	return 0;
}

/* The tree entry at path in a commit. BERTH_ENOTFOUND when absent. */
static int lookup_entry(git_tree_entry **out, git_tree **tree,
			struct git_mirror *gm, const char *sha,
			const char *path, struct berr *err)
{
	git_commit *c = NULL;
	int rc;

	*out = NULL;
	*tree = NULL;
	if ((rc = lookup_commit(&c, gm, sha, err)) != 0)
		return rc;
	if (git_commit_tree(tree, c) < 0) {
		rc = git_fail(err, gm, "cannot read the tree of '%.7s'", sha);
		goto out;
	}
	if (path == NULL)
		goto out;
	rc = git_tree_entry_bypath(out, *tree, path);
	if (rc == GIT_ENOTFOUND) {
		berr_set(err, "'%s' not found in commit %.7s", path, sha);
		rc = BERTH_ENOTFOUND;
	} else if (rc < 0) {
		rc = git_fail(err, gm, "cannot look up '%s' in commit %.7s",
			      path, sha);
	}
out:
	git_commit_free(c);
	return rc;
}

static const char *mode_noun(git_filemode_t mode)
{
	switch (mode) {
	case GIT_FILEMODE_TREE:
		return "a directory";
	case GIT_FILEMODE_LINK:
		return "a symbolic link";
	case GIT_FILEMODE_COMMIT:
		return "a submodule";
	default:
		return "a file";
	}
}

static bool mode_is_file(git_filemode_t mode)
{
	return mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE;
}

int git_mirror_read_file(struct buf *out, struct git_mirror *gm,
			 const char *sha, const char *path, size_t max,
			 struct berr *err)
{
	git_tree_entry *entry = NULL;
	git_tree *tree = NULL;
	git_blob *blob = NULL;
	git_object_size_t size;
	int rc;

	if ((rc = check_repo_path(path, false, err)) != 0)
		return rc;
	if ((rc = lookup_entry(&entry, &tree, gm, sha, path, err)) != 0)
		goto out;
	if (!mode_is_file(git_tree_entry_filemode(entry))) {
		rc = berr_set(err, "'%s' in commit %.7s is %s, not a file",
			      path, sha,
			      mode_noun(git_tree_entry_filemode(entry)));
		goto out;
	}
	if (git_blob_lookup(&blob, gm->repo, git_tree_entry_id(entry)) < 0) {
		rc = git_fail(err, gm, "cannot read '%s' in commit %.7s", path,
			      sha);
		goto out;
	}
	size = git_blob_rawsize(blob);
	if (size > max ||
	    buf_append(out, git_blob_rawcontent(blob), (size_t)size) != 0) {
		berr_set(err, "'%s' in commit %.7s is %llu bytes, over the "
			 "limit of %zu", path, sha, (unsigned long long)size,
			 max);
		rc = BERTH_ETOOBIG;
		goto out;
	}
	rc = 0;
out:
	git_blob_free(blob);
	git_tree_entry_free(entry);
	git_tree_free(tree);
	return rc;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int git_mirror_list_dir(struct strv *names, struct git_mirror *gm,
			const char *sha, const char *dir, struct berr *err)
{
	git_tree_entry *entry = NULL;
	git_tree *root = NULL, *sub = NULL, *tree;
	const char **list = NULL;
	size_t i, n = 0, count;
	bool is_root;
	int rc;

	if ((rc = check_repo_path(dir, true, err)) != 0)
		return rc;
	is_root = *dir == '\0' || strcmp(dir, ".") == 0;
	rc = lookup_entry(&entry, &root, gm, sha, is_root ? NULL : dir, err);
	if (rc != 0)
		goto out;
	tree = root;
	if (!is_root) {
		if (git_tree_entry_filemode(entry) != GIT_FILEMODE_TREE) {
			rc = berr_set(err, "'%s' in commit %.7s is %s, not a "
				      "directory", dir, sha,
				      mode_noun(git_tree_entry_filemode(entry)));
			goto out;
		}
		if (git_tree_lookup(&sub, gm->repo,
				    git_tree_entry_id(entry)) < 0) {
			rc = git_fail(err, gm, "cannot read '%s' in commit "
				      "%.7s", dir, sha);
			goto out;
		}
		tree = sub;
	}
	count = git_tree_entrycount(tree);
	list = xcalloc(count + 1, sizeof(*list));
	for (i = 0; i < count; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(tree, i);

		if (mode_is_file(git_tree_entry_filemode(e)))
			list[n++] = git_tree_entry_name(e);
	}
	qsort(list, n, sizeof(*list), name_cmp);
	for (i = 0; i < n; i++)
		strv_push(names, list[i]);
	rc = 0;
out:
	free(list);
	git_tree_free(sub);
	git_tree_entry_free(entry);
	git_tree_free(root);
	return rc;
}

/* Export */

struct export {
	struct git_mirror *gm; /* borrowed */
	const char *sha;       /* borrowed */
	struct buf path;       /* the path being written, under the tmp dir */
	size_t root_len;       /* length of the tmp dir's path in path */
};

/* An entry name that is safe to create: git itself never writes these, so a
 * tree holding one was crafted; ".git" would plant a repository (with a
 * config git obeys) inside the release. */
static bool entry_name_safe(const char *name)
{
	return *name != '\0' && strchr(name, '/') == NULL &&
	       strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
	       strcasecmp(name, ".git") != 0;
}

static void path_truncate(struct buf *b, size_t len)
{
	b->len = len;
	b->data[len] = '\0';
}

static int write_file(const char *path, const void *data, size_t len,
		      mode_t mode, struct berr *err)
{
	const char *p = data;
	int fd, rc = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  mode);
	if (fd < 0)
		return berr_errno(err, errno, "cannot create '%s'", path);
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = berr_errno(err, errno, "cannot write '%s'", path);
			break;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd) != 0 && rc == 0)
		rc = berr_errno(err, errno, "cannot write '%s'", path);
	return rc;
}

static int export_blob(struct export *x, const git_tree_entry *e,
		       struct berr *err)
{
	git_filemode_t mode = git_tree_entry_filemode(e);
	const char *path = buf_str(&x->path);
	git_blob *blob = NULL;
	char *target = NULL;
	size_t size;
	int rc = -1;

	if (git_blob_lookup(&blob, x->gm->repo, git_tree_entry_id(e)) < 0)
		return git_fail(err, x->gm, "cannot read '%s' of commit %.7s",
				path + x->root_len + 1, x->sha);
	size = (size_t)git_blob_rawsize(blob);
	if (mode == GIT_FILEMODE_LINK) {
		target = xstrndup(git_blob_rawcontent(blob), size);
		if (strlen(target) != size || size == 0 || size >= PATH_MAX) {
			berr_set(err, "symbolic link '%s' of commit %.7s has "
				 "an invalid target", path + x->root_len + 1,
				 x->sha);
			goto out;
		}
		if (symlink(target, path) != 0) {
			berr_errno(err, errno, "cannot create symbolic link "
				   "'%s'", path);
			goto out;
		}
	} else if (write_file(path, git_blob_rawcontent(blob), size,
			      mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755
								   : 0644,
			      err) != 0) {
		goto out;
	}
	rc = 0;
out:
	free(target);
	git_blob_free(blob);
	return rc;
}

/* Writes tree's entries under x->path, recursively. */
static int export_tree(struct export *x, const git_tree *tree,
		       struct berr *err)
{
	size_t i, count = git_tree_entrycount(tree), base = x->path.len;
	int rc = 0;

	for (i = 0; i < count && rc == 0; i++) {
		const git_tree_entry *e = git_tree_entry_byindex(tree, i);
		const char *name = git_tree_entry_name(e);
		const char *rel;
		git_tree *sub = NULL;

		if (!entry_name_safe(name))
			return berr_set(err, "commit %.7s holds an unsafe path "
					"'%s' under '%s': refusing to export",
					x->sha, name,
					base > x->root_len
					    ? buf_str(&x->path) + x->root_len + 1
					    : ".");
		if (buf_printf(&x->path, "/%s", name) != 0)
			return berr_set(err, "a path in commit %.7s is longer "
					"than %d bytes", x->sha, PATH_MAX);
		rel = buf_str(&x->path) + x->root_len + 1;
		switch (git_tree_entry_filemode(e)) {
		case GIT_FILEMODE_TREE:
			if (mkdir(buf_str(&x->path), 0755) != 0) {
				rc = berr_errno(err, errno, "cannot create "
						"directory '%s'",
						buf_str(&x->path));
				break;
			}
			if (git_tree_lookup(&sub, x->gm->repo,
					    git_tree_entry_id(e)) < 0) {
				rc = git_fail(err, x->gm, "cannot read '%s' "
					      "of commit %.7s", rel, x->sha);
				break;
			}
			rc = export_tree(x, sub, err);
			git_tree_free(sub);
			break;
		case GIT_FILEMODE_BLOB:
		case GIT_FILEMODE_BLOB_EXECUTABLE:
		case GIT_FILEMODE_LINK:
			rc = export_blob(x, e, err);
			break;
		case GIT_FILEMODE_COMMIT: {
			struct buf kv;

			buf_init(&kv, 4096);
			log_kv(&kv, "path", rel);
			log_kv(&kv, "commit", x->sha);
			log_warn("msg=\"submodule not exported: berth does "
				 "not fetch submodules\"%s", buf_str(&kv));
			buf_release(&kv);
			break;
		}
		default:
			rc = berr_set(err, "'%s' of commit %.7s has an unknown "
				      "file mode %o", rel, x->sha,
				      (unsigned)git_tree_entry_filemode(e));
			break;
		}
		path_truncate(&x->path, base);
	}
	return rc;
}

/* Renames tmp to dest unless dest exists (RENAME_NOREPLACE where the file
 * system supports it). */
static int rename_noreplace(const char *tmp, const char *dest,
			    struct berr *err)
{
	struct stat st;

	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dest, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EEXIST)
		return berr_set(err, "cannot export into '%s': it already "
				     "exists", dest);
	if (errno != EINVAL && errno != ENOSYS)
		return berr_errno(err, errno, "cannot rename '%s' to '%s'",
				  tmp, dest);
	if (lstat(dest, &st) == 0)
		return berr_set(err, "cannot export into '%s': it already "
				     "exists", dest);
	if (rename(tmp, dest) != 0)
		return berr_errno(err, errno, "cannot rename '%s' to '%s'",
				  tmp, dest);
	return 0;
}

int git_mirror_export(struct git_mirror *gm, const char *sha,
		      const char *dest, struct berr *err)
{
	struct export x = {gm, sha, {0}, 0};
	git_commit *c = NULL;
	git_tree *tree = NULL;
	char *target = NULL, *tmp = NULL, *parent = NULL, *slash;
	struct stat st;
	int fd, rc;

	if ((rc = lookup_commit(&c, gm, sha, err)) != 0)
		return rc;
	rc = -1;
	target = xstrdup(dest);
	while (strlen(target) > 1 && target[strlen(target) - 1] == '/')
		target[strlen(target) - 1] = '\0';
	if (lstat(target, &st) == 0) {
		berr_set(err, "cannot export into '%s': it already exists",
			 target);
		goto out;
	}
	parent = xstrdup(strchr(target, '/') ? target : ".");
	slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = '\0';
	else if (slash != NULL)
		*slash = '\0';
	tmp = xasprintf("%s.tmp.%ld", target, (long)getpid());
	if (fs_remove_tree(tmp, err) != 0)
		goto out;
	if (mkdir(tmp, 0755) != 0) {
		berr_errno(err, errno, "cannot create directory '%s'", tmp);
		goto out;
	}
	if (git_commit_tree(&tree, c) < 0) {
		git_fail(err, gm, "cannot read the tree of commit %.7s", sha);
		goto out;
	}
	buf_init(&x.path, PATH_MAX - 1);
	buf_puts(&x.path, tmp);
	x.root_len = x.path.len;
	if (export_tree(&x, tree, err) != 0)
		goto out;
	/* One syncfs instead of an fsync per file: the release must be on
	 * disk before its name says it is complete. */
	fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) != 0) {
		berr_errno(err, errno, "cannot sync '%s'", tmp);
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	if (rename_noreplace(tmp, target, err) != 0 ||
	    fs_fsync_dir(parent, err) != 0)
		goto out;
	rc = 0;
out:
	if (rc != 0 && tmp != NULL)
		fs_remove_tree(tmp, NULL);
	buf_release(&x.path);
	git_tree_free(tree);
	git_commit_free(c);
	free(parent);
	free(tmp);
	free(target);
	return rc;
}
