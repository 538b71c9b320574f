/*
 * hmac.c — HMAC-SHA256 through OpenSSL, and the constant-time compare every
 * signature check goes through.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "webhooks.h"

void hmac_sha256(unsigned char out[32], const void *key, size_t keylen,
		 const void *data, size_t len)
{
	unsigned int outlen = 32;
	static const unsigned char empty[1];

	if (HMAC(EVP_sha256(), keylen ? key : empty, (int)keylen,
		 len ? data : empty, len, out, &outlen) == NULL)
		fatal("HMAC-SHA256 failed");
}

void hmac_hex(char *out, const unsigned char *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0x0f];
	}
	out[2 * len] = '\0';
}

bool hmac_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	if (alen != blen)
		return false;
	return CRYPTO_memcmp(a, b, alen) == 0;
}
