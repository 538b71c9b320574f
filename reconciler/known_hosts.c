/*
 * known_hosts.c — checks the key an ssh server presents against OpenSSH
 * known_hosts files. libgit2 1.5 accepts any ssh host key unless its caller
 * checks it, which would make key authentication worthless against a
 * man-in-the-middle; git.c calls this from its certificate callback.
 *
 * Understood: plain and hashed (|1|salt|hash) host names, "[host]:port",
 * comma-separated patterns with * ? wildcards and ! negation, @revoked.
 * Lines marked @cert-authority are ignored (no certificate support).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "berth.h"

/* What the lines for one host say about the presented key. */
struct kh_verdict {
	bool match;    /* a line lists this very key */
	bool revoked;  /* an @revoked line lists it */
	bool mismatch; /* a line lists another key of the same type */
};

/* Decodes base64 text (no whitespace) into a new buffer; NULL when invalid. */
static unsigned char *b64_decode(const char *s, size_t len, size_t *outlen)
{
	unsigned char *out;
	int n;

	if (len == 0 || len % 4 != 0 || len > 65536)
		return NULL;
	out = xmalloc(len / 4 * 3 + 1);
	n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
	if (n < 0) {
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts the bytes the padding stands for. */
	if (s[len - 1] == '=')
		n--;
	if (s[len - 2] == '=')
		n--;
	*outlen = (size_t)n;
	return out;
}

/* "|1|base64(salt)|base64(HMAC-SHA1(salt, name))" */
static bool hashed_match(const char *pat, const char *name)
{
	const char *salt64 = pat + 3, *bar = strchr(salt64, '|');
	unsigned char *salt = NULL, *hash = NULL, mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t saltlen = 0, hashlen = 0;
	bool ok = false;

	if (bar == NULL)
		return false;
	salt = b64_decode(salt64, (size_t)(bar - salt64), &saltlen);
	hash = b64_decode(bar + 1, strlen(bar + 1), &hashlen);
	if (salt == NULL || hash == NULL)
		goto out;
	if (HMAC(EVP_sha1(), salt, (int)saltlen, (const unsigned char *)name,
		 strlen(name), mac, &maclen) == NULL)
		goto out;
	ok = maclen == hashlen && memcmp(mac, hash, hashlen) == 0;
out:
	free(salt);
	free(hash);
	return ok;
}

/* OpenSSH's host pattern match: '*' any run, '?' any one character; every
 * other character (including '[' of "[host]:port") stands for itself. */
static bool pattern_match(const char *pat, const char *s)
{
	const char *star = NULL, *resume = NULL;

	while (*s != '\0') {
		if (*pat == '*') {
			star = pat++;
			resume = s;
		} else if (*pat == '?' || *pat == *s) {
			pat++;
			s++;
		} else if (star != NULL) {
			pat = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

/* Whether a comma-separated host field names `name` (lower case). A negated
 * pattern that matches excludes the line whatever the others say. */
static bool hosts_match(const char *field, const char *name)
{
	bool matched = false;
	char *copy = xstrdup(field), *p = copy, *next;

	for (; p != NULL; p = next) {
		bool negate = false;
		char *c;

		next = strchr(p, ',');
		if (next != NULL)
			*next++ = '\0';
		if (*p == '!') {
			negate = true;
			p++;
		}
		if (strncmp(p, "|1|", 3) == 0) {
			if (!hashed_match(p, name))
				continue;
		} else {
			for (c = p; *c != '\0'; c++)
				*c = (char)tolower((unsigned char)*c);
			if (!pattern_match(p, name))
				continue;
		}
		if (negate) {
			matched = false;
			break;
		}
		matched = true;
	}
	free(copy);
	return matched;
}

/* The key type a raw SSH public key blob starts with ("ssh-ed25519"). */
static bool blob_type(const unsigned char *blob, size_t len, char *out,
		      size_t size)
{
	size_t n;

	if (len < 4)
		return false;
	n = (size_t)blob[0] << 24 | (size_t)blob[1] << 16 |
	    (size_t)blob[2] << 8 | blob[3];
	if (n == 0 || n > len - 4 || n >= size)
		return false;
	memcpy(out, blob + 4, n);
	out[n] = '\0';
	return true;
}

/* Splits off the next whitespace-separated field of *p, NUL-terminating it. */
static char *next_field(char **p)
{
	char *s = *p, *start;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0')
		return NULL;
	start = s;
	while (*s != '\0' && *s != ' ' && *s != '\t')
		s++;
	if (*s != '\0')
		*s++ = '\0';
	*p = s;
	return start;
}

static void check_line(struct kh_verdict *v, char *line, const char *name,
		       const char *type, const void *key, size_t keylen)
{
	char *p = line, *field, *hosts, *ktype, *k64;
	unsigned char *blob;
	size_t bloblen = 0;
	bool revoked = false;

	field = next_field(&p);
	if (field == NULL || field[0] == '#')
		return;
	if (field[0] == '@') {
		if (strcmp(field, "@revoked") != 0)
			return; /* @cert-authority: certificates unsupported */
		revoked = true;
		field = next_field(&p);
	}
	hosts = field;
	ktype = next_field(&p);
	k64 = next_field(&p);
	if (hosts == NULL || ktype == NULL || k64 == NULL)
		return;
	if (!hosts_match(hosts, name) || strcmp(ktype, type) != 0)
		return;
	blob = b64_decode(k64, strlen(k64), &bloblen);
	if (blob == NULL)
		return;
	if (bloblen == keylen && memcmp(blob, key, keylen) == 0) {
		if (revoked)
			v->revoked = true;
		else
			v->match = true;
	} else if (!revoked) {
		v->mismatch = true;
	}
	free(blob);
}

static int check_file(struct kh_verdict *v, const char *path,
		      const char *name, const char *type, const void *key,
		      size_t keylen, struct berr *err)
{
	struct buf text;
	char *line, *next;
	int rc;

	buf_init(&text, (size_t)16 << 20);
	rc = fs_read_file(&text, path, (size_t)16 << 20, err);
	if (rc == BERTH_ENOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc != 0 || text.data == NULL)
		goto out;
	for (line = text.data; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		line[strcspn(line, "\r")] = '\0';
		check_line(v, line, name, type, key, keylen);
	}
out:
	buf_release(&text);
	return rc;
}

int known_hosts_check(const char *const *files, const char *host, int port,
		      const void *key, size_t keylen, struct berr *err)
{
	struct kh_verdict v = {0};
	char name[300], type[64];
	struct buf where;
	size_t i;
	int rc = -1;

	buf_init(&where, 4096);
	if (port == 22 || port <= 0)
		snprintf(name, sizeof(name), "%s", host);
	else if (snprintf(name, sizeof(name), "[%s]:%d", host, port) >=
		 (int)sizeof(name))
		return berr_set(err, "host name '%.64s…' is too long", host);
	for (i = 0; name[i] != '\0'; i++)
		name[i] = (char)tolower((unsigned char)name[i]);
	if (!blob_type(key, keylen, type, sizeof(type)))
		return berr_set(err, "host '%s' sent a malformed host key",
				name);
	for (i = 0; files[i] != NULL; i++) {
		if (check_file(&v, files[i], name, type, key, keylen, err) != 0)
			goto out;
		buf_printf(&where, "%s'%s'", i ? " or " : "", files[i]);
	}
	if (v.revoked)
		berr_set(err, "host key of '%s' (%s) is marked @revoked in "
			 "known_hosts: refusing to connect", name, type);
	else if (v.match)
		rc = 0;
	else if (v.mismatch)
		berr_set(err, "host key of '%s' (%s) does not match the one in "
			 "known_hosts: refusing to connect (the host's key "
			 "changed, or someone is intercepting the connection)",
			 name, type);
	else
		berr_set(err, "host key of '%s' (%s) is unknown: add it to %s "
			 "(for example with ssh-keyscan)", name, type,
			 buf_str(&where));
out:
	buf_release(&where);
	return rc;
}
