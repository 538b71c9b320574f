/*
 * webhooks.h — the webhook side of berth (berth_webhooks): signature
 * verification per provider, push parsing, the durable inbox, the HTTP
 * server, API and metrics. It records deliveries and enqueues work; the
 * pipeline runs elsewhere, in child processes the daemon supervises.
 */
#ifndef BERTH_WEBHOOKS_H
#define BERTH_WEBHOOKS_H

#include "berth.h"

/* hmac.c — HMAC-SHA256 and constant-time comparison */

/* Writes the 32-byte HMAC-SHA256 of (data, len) under (key, keylen). */
void hmac_sha256(unsigned char out[32], const void *key, size_t keylen,
		 const void *data, size_t len);
/* Lowercase hex of (p, len) into out, which holds 2*len+1 bytes. */
void hmac_hex(char *out, const unsigned char *p, size_t len);
/* Constant-time equality of two byte strings of possibly different length
 * (a length mismatch is answered without looking at the contents). */
bool hmac_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif /* BERTH_WEBHOOKS_H */
