/*
 * sha256.c — SHA-256 digests of byte strings, the one hash berth uses for
 * checksums (migrations, env files, backups, dedupe keys).
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "berth.h"

void sha256_raw(unsigned char out[32], const void *data, size_t len)
{
	SHA256_CTX c;

	/* The block functions rather than EVP_Digest() or SHA256(), which in
	 * OpenSSL 3 go through the provider machinery and make the daemon map
	 * in about 2 MB of libcrypto on its first request. */
	SHA256_Init(&c);
	if (len > 0)
		SHA256_Update(&c, data, len);
	SHA256_Final(out, &c);
}

void sha256_hex(char out[65], const void *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[32];
	size_t i;

	sha256_raw(md, data, len);
	for (i = 0; i < 32; i++) {
		out[2 * i] = digits[md[i] >> 4];
		out[2 * i + 1] = digits[md[i] & 15];
	}
	out[64] = '\0';
}
