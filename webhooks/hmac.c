/*
 * hmac.c — HMAC-SHA256 (RFC 2104) and the constant-time compare every
 * signature check goes through.
 *
 * The HMAC is built here on OpenSSL's SHA-256 block functions rather than
 * HMAC()/EVP_MAC: in OpenSSL 3 the EVP path (and the one-shot SHA256())
 * initialises the provider machinery on first use, which maps in about 2 MB
 * of libcrypto that a long-running daemon then keeps resident. The digest
 * itself is still OpenSSL's, with its CPU-specific code.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "webhooks.h"

#define BLOCK 64

void hmac_sha256(unsigned char out[32], const void *key, size_t keylen,
		 const void *data, size_t len)
{
	unsigned char k[BLOCK], pad[BLOCK], inner[32];
	SHA256_CTX c;
	size_t i;

	memset(k, 0, sizeof(k));
	if (keylen > BLOCK)
		sha256_raw(k, key, keylen);
	else if (keylen > 0)
		memcpy(k, key, keylen);

	for (i = 0; i < BLOCK; i++)
		pad[i] = k[i] ^ 0x36;
	SHA256_Init(&c);
	SHA256_Update(&c, pad, BLOCK);
	if (len > 0)
		SHA256_Update(&c, data, len);
	SHA256_Final(inner, &c);

	for (i = 0; i < BLOCK; i++)
		pad[i] = k[i] ^ 0x5c;
	SHA256_Init(&c);
	SHA256_Update(&c, pad, BLOCK);
	SHA256_Update(&c, inner, sizeof(inner));
	SHA256_Final(out, &c);

	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(inner, sizeof(inner));
	OPENSSL_cleanse(&c, sizeof(c));
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
