/*
 * sha256.c — SHA-256 digests of byte strings, the one hash berth uses for
 * checksums (migrations, env files, backups, dedupe keys).
 */
#include <openssl/evp.h>

#include "berth.h"

void sha256_raw(unsigned char out[32], const void *data, size_t len)
{
	unsigned int mdlen = 0;

	if (EVP_Digest(len ? data : "", len, out, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		fatal("SHA-256 failed");
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
