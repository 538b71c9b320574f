/*
 * fuzz_webhook.h — the driver behind the fuzz_webhook_<provider> targets:
 * signature headers and payloads as a peer would send them.
 *
 * An input is one flags byte, then "Name: value" header lines, an empty
 * line and the body (the framing of tests/unit/wh_headers.h):
 *   bit 0  sign the request first, as the provider would with the fuzz
 *          secret, so that what follows a good signature (timestamps,
 *          delivery ids, dedupe keys) is reached too; generic, gitlab's
 *          signing token and stripe sign the id and timestamp the input
 *          carries;
 *   bit 1  gitlab: the shared token instead of the signing token;
 *          gitea: the Forgejo header instead of Gitea's.
 * Then push_parse reads the body as if it had been verified, so that
 * payload parsing is fuzzed without forging an HMAC.
 */
#ifndef BERTH_FUZZ_WEBHOOK_H
#define BERTH_FUZZ_WEBHOOK_H

#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>

#include "../unit/wh_headers.h"

#define FUZZ_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define FUZZ_TOKEN "fuzz-token"
#define FUZZ_NOW 1614265330

static void fuzz_sign_hex(struct wh_headers *h, const char *name,
			  const char *prefix, const unsigned char *key,
			  size_t keylen, const struct buf *content)
{
	unsigned char mac[32];
	char hex[65], value[80];

	hmac_sha256(mac, key, keylen, content->data, content->len);
	hmac_hex(hex, mac, sizeof(mac));
	snprintf(value, sizeof(value), "%s%s", prefix, hex);
	wh_headers_set(h, name, value);
}

/* Appends header name's value to b as verify_header sees it (without
 * surrounding blanks). Returns false when there is no such header. */
static bool fuzz_put_header(struct buf *b, struct wh_headers *h,
			    const char *name)
{
	struct wh_request req = {wh_headers_get, h, NULL, 0, 0};
	const char *v;
	size_t n;

	if (verify_header(&v, &n, &req, name) != 1)
		return false;
	buf_append(b, v, n);
	return true;
}

/* Standard Webhooks over the id and timestamp the input carries; the
 * signature goes in front of whatever list the input has. */
static void fuzz_sign_standard(struct wh_headers *h, const struct buf *body)
{
	const char *old = wh_headers_get(h, "webhook-signature");
	unsigned char key[64], mac[32], b64[64];
	struct buf content, value;
	int keylen;

	keylen = EVP_DecodeBlock(key, (const unsigned char *)FUZZ_SECRET + 6,
				 (int)strlen(FUZZ_SECRET) - 6);
	buf_init(&content, 0);
	buf_init(&value, 0);
	if (!fuzz_put_header(&content, h, "webhook-id") ||
	    buf_putc(&content, '.') != 0 ||
	    !fuzz_put_header(&content, h, "webhook-timestamp"))
		goto out;
	buf_putc(&content, '.');
	buf_append(&content, body->data, body->len);
	/* The key decodes to 24 bytes, without base64 padding to drop. */
	hmac_sha256(mac, key, (size_t)keylen, content.data, content.len);
	EVP_EncodeBlock(b64, mac, sizeof(mac));
	buf_printf(&value, "v1,%s%s%s", (const char *)b64, old ? " " : "",
		   old ? old : "");
	wh_headers_set(h, "webhook-signature", buf_str(&value));
out:
	buf_release(&content);
	buf_release(&value);
}

/* Stripe over the t= the input's header carries; ",v1=…" is appended. */
static void fuzz_sign_stripe(struct wh_headers *h, const struct buf *body)
{
	const char *old = wh_headers_get(h, "Stripe-Signature"), *t, *end;
	struct buf content, value;
	unsigned char mac[32];
	char hex[65];

	if (old == NULL || (t = strstr(old, "t=")) == NULL)
		return;
	t += 2;
	end = strchr(t, ',');
	buf_init(&content, 0);
	buf_init(&value, 0);
	buf_append(&content, t, end ? (size_t)(end - t) : strlen(t));
	buf_putc(&content, '.');
	buf_append(&content, body->data, body->len);
	hmac_sha256(mac, FUZZ_SECRET, strlen(FUZZ_SECRET), content.data,
		    content.len);
	hmac_hex(hex, mac, sizeof(mac));
	buf_printf(&value, "%s,v1=%s", old, hex);
	wh_headers_set(h, "Stripe-Signature", buf_str(&value));
	buf_release(&content);
	buf_release(&value);
}

static void fuzz_sign(struct wh_headers *h, enum webhook_provider p,
		      unsigned flags, const struct buf *body)
{
	const unsigned char *key = (const unsigned char *)FUZZ_SECRET;
	size_t keylen = strlen(FUZZ_SECRET);

	switch (p) {
	case PROVIDER_GITHUB:
		fuzz_sign_hex(h, "X-Hub-Signature-256", "sha256=", key, keylen,
			      body);
		break;
	case PROVIDER_BITBUCKET:
		fuzz_sign_hex(h, "X-Hub-Signature", "sha256=", key, keylen,
			      body);
		break;
	case PROVIDER_GITEA:
		fuzz_sign_hex(h, flags & 2 ? "X-Forgejo-Signature"
					   : "X-Gitea-Signature", "", key,
			      keylen, body);
		break;
	case PROVIDER_SENTRY:
		fuzz_sign_hex(h, "Sentry-Hook-Signature", "", key, keylen, body);
		break;
	case PROVIDER_GITLAB:
		if (flags & 2)
			wh_headers_set(h, "X-Gitlab-Token", FUZZ_TOKEN);
		else
			fuzz_sign_standard(h, body);
		break;
	case PROVIDER_GENERIC:
		fuzz_sign_standard(h, body);
		break;
	case PROVIDER_STRIPE:
		fuzz_sign_stripe(h, body);
		break;
	case PROVIDER_COUNT:
		break;
	}
}

static int fuzz_webhook_run(enum webhook_provider p, const uint8_t *data,
			    size_t size)
{
	struct verify_secrets s = {FUZZ_SECRET, strlen(FUZZ_SECRET), NULL, 0,
				   300};
	struct wh_headers h = {0};
	struct verify_result vr;
	struct push_event ev;
	struct wh_request req;
	struct buf body;
	struct berr err;
	unsigned flags;
	size_t off;

	if (size == 0)
		return 0;
	flags = data[0];
	off = wh_headers_parse(&h, (const char *)data + 1, size - 1);
	/* A copy, so that the body's end is where ASan can see it. */
	buf_init(&body, 0);
	buf_append(&body, data + 1 + off, size - 1 - off);
	if (flags & 1)
		fuzz_sign(&h, p, flags, &body);
	if (p == PROVIDER_GITLAB && (flags & 2)) {
		s.secret = NULL;
		s.secret_len = 0;
		s.token = FUZZ_TOKEN;
		s.token_len = strlen(FUZZ_TOKEN);
	}
	wh_request_init(&req, &h, body.data, body.len, FUZZ_NOW);
	if (verify_request(&vr, p, &req, &s, &err) != 0) {
		memset(&vr, 0, sizeof(vr));
		vr.provider = p;
		snprintf(vr.delivery, sizeof(vr.delivery), "fuzz");
	}
	push_parse(&ev, &vr, &req, &err);
	wh_headers_release(&h);
	buf_release(&body);
	return 0;
}

#endif
