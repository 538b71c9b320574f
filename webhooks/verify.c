/*
 * verify.c — is this delivery authentic? One function per signature scheme
 * of SPEC §7, each working on the raw body bytes and comparing through
 * hmac_equal (CRYPTO_memcmp), and the dedupe key each provider offers.
 * Nothing here parses the body: push.c does that once a request passed.
 *
 * Every header value is bounded (VERIFY_HEADER_MAX) before it is looked at,
 * and every rejection says which header and why, never what was expected.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "webhooks.h"

#define MAC_LEN 32
#define KEY_MAX 256 /* largest Standard Webhooks key, decoded */

static const char *const status_names[] = {
	[VERIFY_OK] = "ok",
	[VERIFY_NO_SECRET] = "no_secret",
	[VERIFY_MISSING_HEADER] = "missing_header",
	[VERIFY_MALFORMED_HEADER] = "malformed_header",
	[VERIFY_BAD_SIGNATURE] = "bad_signature",
	[VERIFY_TIMESTAMP] = "timestamp",
};

const char *verify_status_name(enum verify_status s)
{
	if ((size_t)s >= BERTH_ARRAY_LEN(status_names))
		return "unknown";
	return status_names[s];
}

static int reject(struct verify_result *out, enum verify_status status,
		  const char *header, struct berr *err, const char *fmt, ...)
    BERTH_PRINTF(5, 6);

/* Records why out was turned away. Returns -1. */
static int reject(struct verify_result *out, enum verify_status status,
		  const char *header, struct berr *err, const char *fmt, ...)
{
	char msg[sizeof(err->msg)];
	va_list ap;

	out->status = status;
	out->header = header;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return berr_set(err, "%s", msg);
}

int verify_header(const char **value, size_t *len,
		  const struct wh_request *req, const char *name)
{
	const char *v = req->header(req->ctx, name);
	size_t n;

	if (v == NULL)
		return 0;
	n = strnlen(v, VERIFY_HEADER_MAX + 1);
	if (n > VERIFY_HEADER_MAX)
		return BERTH_ETOOBIG;
	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	*value = v;
	*len = n;
	return 1;
}

/* Fetches a header the scheme cannot do without. Returns 0, or -1 having
 * rejected the request. */
static int need_header(const char **v, size_t *len, struct verify_result *out,
		       const struct wh_request *req, const char *name,
		       struct berr *err)
{
	int rc = verify_header(v, len, req, name);

	if (rc == 0)
		return reject(out, VERIFY_MISSING_HEADER, name, err,
			      "missing '%s' header", name);
	if (rc < 0)
		return reject(out, VERIFY_MALFORMED_HEADER, name, err,
			      "'%s' is longer than %d bytes", name,
			      VERIFY_HEADER_MAX);
	if (*len == 0)
		return reject(out, VERIFY_MALFORMED_HEADER, name, err,
			      "'%s' is empty", name);
	return 0;
}

static bool has_header(const struct wh_request *req, const char *name)
{
	const char *v;
	size_t n;

	return verify_header(&v, &n, req, name) != 0;
}

/* Decodes exactly outlen bytes from 2*outlen hex digits of either case. */
static bool hex_decode(unsigned char *out, size_t outlen, const char *s,
		       size_t slen)
{
	size_t i;

	if (slen != 2 * outlen)
		return false;
	for (i = 0; i < outlen; i++) {
		int hi = strnum_hex_digit(s[2 * i]);
		int lo = strnum_hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decodes standard base64 (s, slen), '=' padding optional but correct when
 * present, into out, which has room for cap bytes. Sets *outlen. Returns 0,
 * or -1 when s is not base64 or holds more than cap bytes.
 */
static int b64_decode(size_t *outlen, unsigned char *out, size_t cap,
		      const char *s, size_t slen)
{
	unsigned int acc = 0;
	size_t i, n = 0, pad = 0;
	int bits = 0;

	while (slen > 0 && s[slen - 1] == '=' && pad < 2) {
		slen--;
		pad++;
	}
	if (slen % 4 == 1 || (pad > 0 && (slen + pad) % 4 != 0))
		return -1;
	for (i = 0; i < slen; i++) {
		int v = b64_value(s[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6 | (unsigned int)v) & 0xffffu;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == cap)
				return -1;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	*outlen = n;
	return 0;
}

/* The Standard Webhooks key: the secret's base64 after "whsec_", decoded
 * into key (KEY_MAX bytes). Returns 0 or -1. */
static int standard_key(size_t *keylen, unsigned char *key,
			const struct verify_secrets *s)
{
	const char *p = s->secret;
	size_t n = s->secret_len;

	if (p == NULL || n == 0)
		return -1;
	if (n > 6 && memcmp(p, "whsec_", 6) == 0) {
		p += 6;
		n -= 6;
	}
	if (b64_decode(keylen, key, KEY_MAX, p, n) != 0 || *keylen == 0)
		return -1;
	return 0;
}

int verify_check_secrets(enum webhook_provider p,
			 const struct verify_secrets *s, struct berr *err)
{
	bool secret = s->secret != NULL && s->secret_len > 0;
	bool token = s->token != NULL && s->token_len > 0;
	unsigned char key[KEY_MAX];
	size_t keylen;
	int rc;

	if ((unsigned)p >= PROVIDER_COUNT)
		return berr_set(err, "unknown webhook provider %d", (int)p);
	if (p == PROVIDER_GITLAB && !secret && !token)
		return berr_set(err, "no token or signing token configured");
	if (p != PROVIDER_GITLAB && !secret)
		return berr_set(err, "no secret configured");
	if (!secret || (p != PROVIDER_GENERIC && p != PROVIDER_GITLAB))
		return 0;
	rc = standard_key(&keylen, key, s);
	OPENSSL_cleanse(key, sizeof(key));
	if (rc != 0)
		return berr_set(err, "the signing secret is not 'whsec_' "
				     "followed by base64 of at most %d bytes",
				KEY_MAX);
	return 0;
}

/* Whole decimal seconds, as the timestamp headers carry them. */
static int parse_time(int64_t *t, const char *s, size_t len)
{
	char tmp[16];
	size_t i;

	if (len == 0 || len > 12)
		return -1;
	for (i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return -1;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	return strnum_i64(t, tmp, 0, INT64_MAX);
}

/* Rejects a signed timestamp further than the tolerance from now, in
 * either direction. Written so that no value of now can overflow. */
static int check_time(struct verify_result *out, int64_t ts,
		      const struct wh_request *req,
		      const struct verify_secrets *s, const char *header,
		      struct berr *err)
{
	int64_t tol = s->tolerance_s > 0 ? s->tolerance_s
					 : VERIFY_TOLERANCE_DEFAULT;

	out->timestamp = ts;
	if (req->now > ts + tol)
		return reject(out, VERIFY_TIMESTAMP, header, err,
			      "'%s' was signed %lld s ago, more than the %lld s "
			      "allowed", header, (long long)(req->now - ts),
			      (long long)tol);
	if (req->now < ts - tol)
		return reject(out, VERIFY_TIMESTAMP, header, err,
			      "'%s' is %lld s in the future, more than the "
			      "%lld s allowed", header,
			      (long long)(ts - req->now), (long long)tol);
	return 0;
}

/* HMAC-SHA256 of prefix followed by the body: Standard Webhooks and
 * Stripe sign a few header bytes in front of the body. */
static void mac_prefixed(unsigned char out[MAC_LEN], const void *key,
			 size_t keylen, const struct buf *prefix,
			 const struct wh_request *req)
{
	struct buf content;

	buf_init(&content, prefix->len + req->len + 1);
	buf_append(&content, prefix->data, prefix->len);
	buf_append(&content, req->body, req->len);
	hmac_sha256(out, key, keylen, content.data, content.len);
	buf_release(&content);
}

/* One hex signature, after an optional prefix ("sha256="), over the body
 * with the secret as key: GitHub, Gitea/Forgejo, Bitbucket, Sentry. */
static int verify_hex(struct verify_result *out, const struct wh_request *req,
		      const struct verify_secrets *s, const char *name,
		      const char *prefix, struct berr *err)
{
	unsigned char want[MAC_LEN], got[MAC_LEN];
	size_t n, plen = prefix ? strlen(prefix) : 0;
	const char *v;
	int rc;

	if (need_header(&v, &n, out, req, name, err) != 0)
		return -1;
	if (plen > 0) {
		if (n < plen || strncasecmp(v, prefix, plen) != 0)
			return reject(out, VERIFY_MALFORMED_HEADER, name, err,
				      "'%s' does not start with '%s'", name,
				      prefix);
		v += plen;
		n -= plen;
	}
	if (!hex_decode(got, MAC_LEN, v, n))
		return reject(out, VERIFY_MALFORMED_HEADER, name, err,
			      "'%s' is not %d hex digits%s%s", name,
			      2 * MAC_LEN, plen ? " after " : "",
			      plen ? prefix : "");
	hmac_sha256(want, s->secret, s->secret_len, req->body, req->len);
	rc = 0;
	if (!hmac_equal(want, MAC_LEN, got, MAC_LEN))
		rc = reject(out, VERIFY_BAD_SIGNATURE, name, err,
			    "'%s' does not match the body", name);
	OPENSSL_cleanse(want, sizeof(want));
	return rc;
}

static int verify_github(struct verify_result *out,
			 const struct wh_request *req,
			 const struct verify_secrets *s, struct berr *err)
{
	static const char name[] = "X-Hub-Signature-256";

	if (!has_header(req, name) && has_header(req, "X-Hub-Signature"))
		return reject(out, VERIFY_MISSING_HEADER, name, err,
			      "missing '%s' header (the SHA-1 "
			      "'X-Hub-Signature' is not accepted)", name);
	return verify_hex(out, req, s, name, "sha256=", err);
}

static int verify_gitea(struct verify_result *out,
			const struct wh_request *req,
			const struct verify_secrets *s, struct berr *err)
{
	if (has_header(req, "X-Forgejo-Signature"))
		return verify_hex(out, req, s, "X-Forgejo-Signature", NULL,
				  err);
	if (has_header(req, "X-Gitea-Signature"))
		return verify_hex(out, req, s, "X-Gitea-Signature", NULL, err);
	return reject(out, VERIFY_MISSING_HEADER, "X-Gitea-Signature", err,
		      "missing 'X-Gitea-Signature' or 'X-Forgejo-Signature' "
		      "header");
}

/* GitLab's shared token, compared as SHA-256 digests so that neither its
 * contents nor its length show in the time taken. */
static int verify_gitlab_token(struct verify_result *out,
			       const struct wh_request *req,
			       const struct verify_secrets *s, struct berr *err)
{
	static const char name[] = "X-Gitlab-Token";
	unsigned char want[MAC_LEN], got[MAC_LEN];
	const char *v;
	size_t n;
	int rc = 0;

	if (need_header(&v, &n, out, req, name, err) != 0)
		return -1;
	sha256_raw(got, v, n);
	sha256_raw(want, s->token, s->token_len);
	if (!hmac_equal(want, MAC_LEN, got, MAC_LEN))
		rc = reject(out, VERIFY_BAD_SIGNATURE, name, err,
			    "'%s' does not match the configured token", name);
	OPENSSL_cleanse(want, sizeof(want));
	return rc;
}

static bool id_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > VERIFY_ID_MAX)
		return false;
	for (i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr("._:@+={}-", c) != NULL) ||
		    c == '\0')
			return false;
	}
	return true;
}

/* One entry of a webhook-signature list: "v1,<base64>" matching want.
 * Other versions (v1a, ...) and undecodable values match nothing. */
static bool standard_entry_matches(bool *is_v1, const char *e, size_t n,
				   const unsigned char want[MAC_LEN])
{
	unsigned char got[MAC_LEN];
	size_t glen;

	*is_v1 = n >= 3 && memcmp(e, "v1,", 3) == 0;
	if (!*is_v1 || b64_decode(&glen, got, sizeof(got), e + 3, n - 3) != 0)
		return false;
	return hmac_equal(want, MAC_LEN, got, glen);
}

/*
 * Standard Webhooks (generic, and gitlab with a signing token): webhook-id,
 * webhook-timestamp and a space-separated webhook-signature list; the HMAC
 * is over "id.timestamp.body" keyed with the decoded secret.
 */
static int verify_standard(struct verify_result *out,
			   const struct wh_request *req,
			   const struct verify_secrets *s, struct berr *err)
{
	unsigned char key[KEY_MAX], want[MAC_LEN];
	const char *id, *ts, *sig, *p, *end;
	size_t keylen = 0, idn, tsn, sign;
	struct buf prefix;
	int64_t t;
	int rc = -1, nsig = 0, nv1 = 0;
	bool match = false;

	buf_init(&prefix, 2 * VERIFY_HEADER_MAX + 2);
	if (standard_key(&keylen, key, s) != 0) {
		reject(out, VERIFY_NO_SECRET, NULL, err,
		       "the signing secret is not 'whsec_' followed by base64");
		goto out;
	}
	if (need_header(&id, &idn, out, req, "webhook-id", err) != 0 ||
	    need_header(&ts, &tsn, out, req, "webhook-timestamp", err) != 0 ||
	    need_header(&sig, &sign, out, req, "webhook-signature", err) != 0)
		goto out;
	if (!id_valid(id, idn)) {
		reject(out, VERIFY_MALFORMED_HEADER, "webhook-id", err,
		       "'webhook-id' is not 1 to %d characters of "
		       "[A-Za-z0-9._:@+={}-]", VERIFY_ID_MAX);
		goto out;
	}
	if (parse_time(&t, ts, tsn) != 0) {
		reject(out, VERIFY_MALFORMED_HEADER, "webhook-timestamp", err,
		       "'webhook-timestamp' is not a unix time in seconds");
		goto out;
	}
	buf_append(&prefix, id, idn);
	buf_putc(&prefix, '.');
	buf_append(&prefix, ts, tsn);
	buf_putc(&prefix, '.');
	mac_prefixed(want, key, keylen, &prefix, req);

	for (p = sig, end = sig + sign; p < end;) {
		const char *e;
		bool is_v1;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		for (e = p; e < end && *e != ' ' && *e != '\t'; e++)
			;
		if (++nsig > VERIFY_SIGS_MAX) {
			reject(out, VERIFY_MALFORMED_HEADER, "webhook-signature",
			       err, "'webhook-signature' has more than %d "
				    "signatures", VERIFY_SIGS_MAX);
			goto out;
		}
		if (standard_entry_matches(&is_v1, p, (size_t)(e - p), want))
			match = true;
		nv1 += is_v1;
		p = e;
	}
	if (nv1 == 0) {
		reject(out, VERIFY_MALFORMED_HEADER, "webhook-signature", err,
		       "'webhook-signature' has no v1 signature");
		goto out;
	}
	if (!match) {
		reject(out, VERIFY_BAD_SIGNATURE, "webhook-signature", err,
		       "'webhook-signature' does not match the body");
		goto out;
	}
	if (check_time(out, t, req, s, "webhook-timestamp", err) != 0)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(want, sizeof(want));
	buf_release(&prefix);
	return rc;
}

/* The v1 values of a Stripe-Signature header and its timestamp. */
struct stripe_sig {
	const char *t;
	size_t tlen;
	int64_t ts;
	const char *v1[VERIFY_SIGS_MAX];
	size_t v1len[VERIFY_SIGS_MAX];
	int nv1;
};

/* Splits "t=…,v1=…,v0=…" into sig; v0 and unknown keys are skipped. */
static int stripe_split(struct stripe_sig *sig, struct verify_result *out,
			const char *v, size_t n, struct berr *err)
{
	static const char name[] = "Stripe-Signature";
	const char *p = v, *end = v + n;

	memset(sig, 0, sizeof(*sig));
	while (p < end) {
		const char *e, *eq, *val;
		size_t klen, vlen;

		for (e = p; e < end && *e != ','; e++)
			;
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		klen = (size_t)(e - p);
		while (klen > 0 && (p[klen - 1] == ' ' || p[klen - 1] == '\t'))
			klen--;
		if (klen > 0) {
			eq = memchr(p, '=', klen);
			if (eq == NULL)
				return reject(out, VERIFY_MALFORMED_HEADER, name,
					      err, "'%s' has an item that is "
						   "not key=value", name);
			val = eq + 1;
			vlen = klen - (size_t)(val - p);
			klen = (size_t)(eq - p);
			if (klen == 1 && *p == 't') {
				if (sig->t != NULL)
					return reject(out,
						      VERIFY_MALFORMED_HEADER,
						      name, err, "'%s' has more "
						      "than one timestamp", name);
				if (parse_time(&sig->ts, val, vlen) != 0)
					return reject(out,
						      VERIFY_MALFORMED_HEADER,
						      name, err, "'%s' timestamp "
						      "is not a unix time in "
						      "seconds", name);
				sig->t = val;
				sig->tlen = vlen;
			} else if (klen == 2 && memcmp(p, "v1", 2) == 0) {
				if (sig->nv1 == VERIFY_SIGS_MAX)
					return reject(out,
						      VERIFY_MALFORMED_HEADER,
						      name, err, "'%s' has more "
						      "than %d v1 signatures",
						      name, VERIFY_SIGS_MAX);
				sig->v1[sig->nv1] = val;
				sig->v1len[sig->nv1++] = vlen;
			}
		}
		p = e + (e < end);
	}
	if (sig->t == NULL)
		return reject(out, VERIFY_MALFORMED_HEADER, name, err,
			      "'%s' has no timestamp 't='", name);
	if (sig->nv1 == 0)
		return reject(out, VERIFY_MALFORMED_HEADER, name, err,
			      "'%s' has no v1 signature", name);
	return 0;
}

/* Stripe: HMAC over "t.body" keyed with the whole secret string; any v1
 * may match; the timestamp within the tolerance both ways. */
static int verify_stripe(struct verify_result *out,
			 const struct wh_request *req,
			 const struct verify_secrets *s, struct berr *err)
{
	static const char name[] = "Stripe-Signature";
	unsigned char want[MAC_LEN], got[MAC_LEN];
	struct stripe_sig sig;
	struct buf prefix;
	const char *v;
	size_t n;
	bool match = false;
	int i, rc = -1;

	buf_init(&prefix, 32);
	if (need_header(&v, &n, out, req, name, err) != 0 ||
	    stripe_split(&sig, out, v, n, err) != 0)
		goto out;
	buf_append(&prefix, sig.t, sig.tlen);
	buf_putc(&prefix, '.');
	mac_prefixed(want, s->secret, s->secret_len, &prefix, req);
	for (i = 0; i < sig.nv1; i++)
		if (hex_decode(got, MAC_LEN, sig.v1[i], sig.v1len[i]) &&
		    hmac_equal(want, MAC_LEN, got, MAC_LEN))
			match = true;
	OPENSSL_cleanse(want, sizeof(want));
	if (!match) {
		reject(out, VERIFY_BAD_SIGNATURE, name, err,
		       "'%s' does not match the body", name);
		goto out;
	}
	rc = check_time(out, sig.ts, req, s, name, err);
out:
	buf_release(&prefix);
	return rc;
}

static void key_from_body(struct verify_result *out, const char *label,
			  size_t labellen, const struct wh_request *req)
{
	unsigned char digest[MAC_LEN];
	char hex[2 * MAC_LEN + 1];

	sha256_raw(digest, req->body, req->len);
	hmac_hex(hex, digest, sizeof(digest));
	snprintf(out->delivery, sizeof(out->delivery), "%.*s:%s",
		 (int)labellen, label, hex);
}

/* Sentry sends no delivery id: the key is the resource and the body's
 * hash, so that a retry of the same event is recognised. */
static int sentry_key(struct verify_result *out, const struct wh_request *req,
		      struct berr *err)
{
	static const char name[] = "Sentry-Hook-Resource";
	const char *v;
	size_t n, i;
	int rc = verify_header(&v, &n, req, name);

	if (rc == 0) {
		key_from_body(out, "sha256", 6, req);
		return 0;
	}
	for (i = 0; rc > 0 && i < n; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || v[i] == '_'))
			rc = -1;
	if (rc < 0 || n == 0 || n > 64)
		return reject(out, VERIFY_MALFORMED_HEADER, name, err,
			      "'%s' is not 1 to 64 characters of [a-z_]", name);
	key_from_body(out, v, n, req);
	return 0;
}

/* The dedupe key from the first of names present; the body's hash when
 * none is. Returns 0, or -1 rejecting a present but unusable value. */
static int header_key(struct verify_result *out, const struct wh_request *req,
		      const char *const *names, struct berr *err)
{
	const char *v;
	size_t n;
	int rc;

	for (; *names != NULL; names++) {
		rc = verify_header(&v, &n, req, *names);
		if (rc == 0)
			continue;
		if (rc < 0 || !id_valid(v, n))
			return reject(out, VERIFY_MALFORMED_HEADER, *names, err,
				      "'%s' is not 1 to %d characters of "
				      "[A-Za-z0-9._:@+={}-]", *names,
				      VERIFY_ID_MAX);
		memcpy(out->delivery, v, n);
		out->delivery[n] = '\0';
		return 0;
	}
	key_from_body(out, "sha256", 6, req);
	return 0;
}

static int delivery_key(struct verify_result *out, enum webhook_provider p,
			const struct wh_request *req, struct berr *err)
{
	static const char *const github[] = {"X-GitHub-Delivery", NULL};
	static const char *const gitlab[] = {"Idempotency-Key",
					     "X-Gitlab-Event-UUID",
					     "webhook-id", NULL};
	static const char *const gitea[] = {"X-Forgejo-Delivery",
					    "X-Gitea-Delivery", NULL};
	static const char *const bitbucket[] = {"X-Request-UUID",
						"X-Request-Id", NULL};
	static const char *const generic[] = {"webhook-id", NULL};

	switch (p) {
	case PROVIDER_GITHUB:
		return header_key(out, req, github, err);
	case PROVIDER_GITLAB:
		return header_key(out, req, gitlab, err);
	case PROVIDER_GITEA:
		return header_key(out, req, gitea, err);
	case PROVIDER_BITBUCKET:
		return header_key(out, req, bitbucket, err);
	case PROVIDER_GENERIC:
		return header_key(out, req, generic, err);
	case PROVIDER_SENTRY:
		return sentry_key(out, req, err);
	case PROVIDER_STRIPE:
	case PROVIDER_COUNT:
		break;
	}
	return 0;
}

int verify_request(struct verify_result *out, enum webhook_provider p,
		   const struct wh_request *req,
		   const struct verify_secrets *s, struct berr *err)
{
	int rc = -1;

	memset(out, 0, sizeof(*out));
	out->status = VERIFY_OK;
	out->provider = p;
	if (verify_check_secrets(p, s, err) != 0) {
		out->status = VERIFY_NO_SECRET;
		return -1;
	}
	switch (p) {
	case PROVIDER_GITHUB:
		rc = verify_github(out, req, s, err);
		break;
	case PROVIDER_GITLAB:
		rc = 0;
		if (s->token != NULL && s->token_len > 0)
			rc = verify_gitlab_token(out, req, s, err);
		if (rc == 0 && s->secret != NULL && s->secret_len > 0)
			rc = verify_standard(out, req, s, err);
		break;
	case PROVIDER_GITEA:
		rc = verify_gitea(out, req, s, err);
		break;
	case PROVIDER_BITBUCKET:
		rc = verify_hex(out, req, s, "X-Hub-Signature", "sha256=", err);
		break;
	case PROVIDER_GENERIC:
		rc = verify_standard(out, req, s, err);
		break;
	case PROVIDER_STRIPE:
		rc = verify_stripe(out, req, s, err);
		break;
	case PROVIDER_SENTRY:
		rc = verify_hex(out, req, s, "Sentry-Hook-Signature", NULL, err);
		break;
	case PROVIDER_COUNT:
		break;
	}
	if (rc != 0)
		return -1;
	return delivery_key(out, p, req, err);
}
