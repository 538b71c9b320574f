/*
 * config_check.c — syntax checks of the values config.json holds: repository
 * URLs, listen addresses, branch, environment and variable names, paths;
 * and quoting of values for error messages. Pure functions of their input:
 * nothing here touches the file system.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

static const char *const url_expected =
    "a local path or a file://, https://, ssh:// or user@host:path URL";

bool config_check_printable(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

/* No spaces either: URLs and host names. */
static bool no_space(const char *s, size_t len)
{
	return config_check_printable(s, len) && memchr(s, ' ', len) == NULL;
}

static bool all_digits(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return len > 0;
}

/* A port number of 1 to 5 digits, at most 65535. */
static bool port_parse(int *port, const char *s, size_t len)
{
	int v = 0;
	size_t i;

	if (len == 0 || len > 5 || !all_digits(s, len))
		return false;
	for (i = 0; i < len; i++)
		v = v * 10 + (s[i] - '0');
	if (v > 65535)
		return false;
	*port = v;
	return true;
}

static bool is_ip(int af, const char *s, size_t len)
{
	char tmp[64];
	unsigned char addr[16];

	if (len >= sizeof(tmp))
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return inet_pton(af, tmp, addr) == 1;
}

/* A DNS name (letters, digits, '-', dots between labels) or an IPv4
 * literal; a name made only of digits and dots must be a valid IPv4
 * address, so that "999.1.1.1" is refused. */
static bool host_valid(const char *s, size_t len)
{
	size_t i, label = 0;
	bool numeric = true;

	if (len == 0 || len > 253)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-' && c != '_')
			return false;
		if (!isdigit((unsigned char)c))
			numeric = false;
		if (label == 0 && c == '-')
			return false;
		if (++label > 63)
			return false;
	}
	if (label == 0 || s[len - 1] == '-')
		return false;
	return !numeric || is_ip(AF_INET, s, len);
}

static bool host_is_loopback(const char *host, size_t len, bool v6)
{
	unsigned char addr[16];
	char tmp[64];

	if (v6)
		return len == 3 && memcmp(host, "::1", 3) == 0;
	if (len == 9 && strncasecmp(host, "localhost", 9) == 0)
		return true;
	if (len >= sizeof(tmp))
		return false;
	memcpy(tmp, host, len);
	tmp[len] = '\0';
	return inet_pton(AF_INET, tmp, addr) == 1 && addr[0] == 127;
}

/*
 * Checks the authority of a scheme://authority/path URL: [user@]host[:port]
 * with host a name, an IPv4 literal or [IPv6]. Sets *loopback. Returns 0 or
 * -1 with *why.
 */
static int check_authority(bool *loopback, const char **why, const char *a,
			   size_t len)
{
	const char *at = NULL, *host, *end = a + len;
	const char *port = NULL;
	size_t hlen, i;
	bool v6 = false;
	int portnum;

	for (i = 0; i < len; i++)
		if (a[i] == '@')
			at = a + i;
	if (at != NULL && memchr(a, ':', (size_t)(at - a)) != NULL) {
		*why = "a URL without a password (put the token in token_env "
		       "or token_file)";
		return -1;
	}
	host = at ? at + 1 : a;
	if (host < end && *host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));

		if (close == NULL)
			goto bad;
		v6 = true;
		host++;
		hlen = (size_t)(close - host);
		if (!is_ip(AF_INET6, host, hlen))
			goto bad;
		if (close + 1 < end) {
			if (close[1] != ':')
				goto bad;
			port = close + 2;
		}
	} else {
		const char *colon = memchr(host, ':', (size_t)(end - host));

		hlen = (size_t)((colon ? colon : end) - host);
		if (!host_valid(host, hlen))
			goto bad;
		if (colon != NULL)
			port = colon + 1;
	}
	if (port != NULL &&
	    (!port_parse(&portnum, port, (size_t)(end - port)) || portnum == 0))
		goto bad;
	*loopback = host_is_loopback(host, hlen, v6);
	return 0;
bad:
	*why = "a URL with a valid host[:port]";
	return -1;
}

int config_check_url(enum config_url_kind *kind, const char **why,
		     const char *url)
{
	const char *sep = strstr(url, "://");
	const char *colon, *slash, *rest, *path;
	size_t len = strlen(url), slen;
	bool loopback = false;

	*why = url_expected;
	if (len == 0 || !config_check_printable(url, len))
		return -1;
	if (sep != NULL) {
		slen = (size_t)(sep - url);
		rest = sep + 3;
		if (!no_space(url, len))
			return -1;
		if (slen == 4 && memcmp(url, "file", 4) == 0) {
			if (rest[0] != '/' || rest[1] == '\0') {
				*why = "a file:///absolute/path URL";
				return -1;
			}
			*kind = CONFIG_URL_FILE;
			return 0;
		}
		if (slen == 5 && memcmp(url, "https", 5) == 0)
			*kind = CONFIG_URL_HTTPS;
		else if (slen == 4 && memcmp(url, "http", 4) == 0)
			*kind = CONFIG_URL_HTTP;
		else if (slen == 3 && memcmp(url, "ssh", 3) == 0)
			*kind = CONFIG_URL_SSH;
		else
			return -1;
		path = rest + strcspn(rest, "/?#");
		if (check_authority(&loopback, why, rest,
				    (size_t)(path - rest)) != 0)
			return -1;
		if (path[0] != '/' || path[1] == '\0') {
			*why = "a URL with a repository path";
			return -1;
		}
		if (*kind == CONFIG_URL_HTTP && !loopback) {
			*why = "an https:// URL (http:// is only accepted for "
			       "a loopback host, for tests)";
			return -1;
		}
		return 0;
	}
	/* Git's rule: a colon before any slash makes it scp-like. */
	colon = strchr(url, ':');
	slash = strchr(url, '/');
	if (colon != NULL && (slash == NULL || colon < slash)) {
		const char *at = memchr(url, '@', (size_t)(colon - url));
		const char *host = at ? at + 1 : url;

		if (!no_space(url, len) || colon[1] == '\0' ||
		    !host_valid(host, (size_t)(colon - host)) ||
		    (at != NULL && at == url))
			return -1;
		*kind = CONFIG_URL_SCP;
		return 0;
	}
	*kind = CONFIG_URL_LOCAL;
	return 0;
}

const char *config_check_url_kind_name(enum config_url_kind kind)
{
	switch (kind) {
	case CONFIG_URL_LOCAL:
		return "a local path";
	case CONFIG_URL_FILE:
		return "a file:// URL";
	case CONFIG_URL_HTTPS:
		return "an https:// URL";
	case CONFIG_URL_HTTP:
		return "an http:// URL";
	case CONFIG_URL_SSH:
		return "an ssh:// URL";
	case CONFIG_URL_SCP:
		return "an scp-like user@host:path URL";
	}
	return "a URL";
}

char *config_check_redact_url(const char *url)
{
	const char *sep = strstr(url, "://"), *auth, *end, *at = NULL, *colon;
	const char *p;

	if (sep == NULL)
		return xstrdup(url);
	auth = sep + 3;
	end = auth + strcspn(auth, "/?#");
	for (p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (at == NULL)
		return xstrdup(url);
	colon = memchr(auth, ':', (size_t)(at - auth));
	if (colon == NULL)
		return xstrdup(url);
	return xasprintf("%.*s:***%s", (int)(colon - url), url, at);
}

int config_check_listen(char **host, int *port, const char *s)
{
	const char *h, *portstr;
	size_t hlen;
	int v;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		h = s + 1;
		hlen = (size_t)(close - h);
		if (!is_ip(AF_INET6, h, hlen))
			return -1;
		portstr = close + 2;
	} else {
		const char *colon = strrchr(s, ':');

		if (colon == NULL)
			return -1;
		h = s;
		hlen = (size_t)(colon - s);
		if (memchr(h, ':', hlen) != NULL || !host_valid(h, hlen))
			return -1;
		portstr = colon + 1;
	}
	if (!port_parse(&v, portstr, strlen(portstr)))
		return -1;
	*host = xstrndup(h, hlen);
	*port = v;
	return 0;
}

bool config_check_branch(const char *s)
{
	size_t len = strlen(s), i;

	if (len == 0 || len > 255 || s[0] == '-' || s[0] == '/' ||
	    s[0] == '.' || s[len - 1] == '/' || s[len - 1] == '.' ||
	    strcmp(s, "@") == 0 || strcmp(s, "HEAD") == 0)
		return false;
	if (len >= 5 && strcmp(s + len - 5, ".lock") == 0)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c == 0x7f || strchr("~^:?*[\\", c) != NULL)
			return false;
		if (c == '.' && s[i + 1] == '.')
			return false;
		if (c == '@' && s[i + 1] == '{')
			return false;
		if (c == '/' && (s[i + 1] == '/' || s[i + 1] == '.'))
			return false;
		if (c == '/' && i >= 5 && memcmp(s + i - 5, ".lock", 5) == 0)
			return false;
	}
	return true;
}

bool config_check_env_name(const char *s)
{
	size_t i;

	if (!islower((unsigned char)s[0]) && !isdigit((unsigned char)s[0]))
		return false;
	for (i = 1; s[i] != '\0'; i++)
		if (!islower((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return i <= 64;
}

bool config_check_var_name(const char *s)
{
	size_t i;

	if (!isalpha((unsigned char)s[0]) && s[0] != '_')
		return false;
	for (i = 1; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return i <= 255;
}

bool config_check_repo_path(const char *s)
{
	const char *comp = s;
	size_t len = strlen(s);

	if (len == 0 || s[0] == '/' || s[len - 1] == '/' ||
	    !config_check_printable(s, len))
		return false;
	for (;;) {
		size_t n = strcspn(comp, "/");

		if (n == 0 || (n == 1 && comp[0] == '.') ||
		    (n == 2 && comp[0] == '.' && comp[1] == '.'))
			return false;
		if (comp[n] == '\0')
			return true;
		comp += n + 1;
	}
}

char *config_check_resolve(const char *base_dir, const char *path)
{
	char *full = path[0] == '/' ? xstrdup(path) : fs_join(base_dir, path);
	char *out = xmalloc(strlen(full) + 2);
	const char *comp = full;
	size_t o = 0;

	while (*comp != '\0') {
		size_t n = strcspn(comp, "/");

		if (n > 0 && !(n == 1 && comp[0] == '.')) {
			out[o++] = '/';
			memcpy(out + o, comp, n);
			o += n;
		}
		comp += n;
		if (*comp == '/')
			comp++;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = '\0';
	free(full);
	return out;
}

void config_check_quote(char *out, size_t size, const char *s, size_t len)
{
	size_t o = 0, i;

	if (size < 8) {
		if (size > 0)
			out[0] = '\0';
		return;
	}
	out[o++] = '"';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		int n;

		if (c == '"' || c == '\\')
			n = snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c == '\n')
			n = snprintf(esc, sizeof(esc), "\\n");
		else if (c == '\t')
			n = snprintf(esc, sizeof(esc), "\\t");
		else if (c < 0x20 || c == 0x7f)
			n = snprintf(esc, sizeof(esc), "\\u%04x", c);
		else
			n = snprintf(esc, sizeof(esc), "%c", c);
		/* Room for this, then "...", the quote and the NUL. */
		if (o + (size_t)n + 5 > size) {
			/* Do not leave half a UTF-8 character behind. */
			while (o > 1 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
				o--;
			if (o > 1 && ((unsigned char)out[o - 1] & 0x80))
				o--;
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, esc, (size_t)n);
		o += (size_t)n;
	}
	out[o++] = '"';
	out[o] = '\0';
}
