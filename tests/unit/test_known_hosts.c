/*
 * test_known_hosts.c — known_hosts_check() against known_hosts files written
 * here: plain, "[host]:port", wildcards, negation, hashed (by ssh-keygen -H),
 * @revoked, @cert-authority, changed keys, other key types.
 */
#include <openssl/evp.h>

#include "git_fixture.h"

/* Appends an SSH wire-format string (32-bit big-endian length, bytes). */
static size_t put_string(unsigned char *out, const void *s, size_t len)
{
	out[0] = 0;
	out[1] = 0;
	out[2] = 0;
	out[3] = (unsigned char)len;
	memcpy(out + 4, s, len);
	return 4 + len;
}

/* A public key blob: string type, string key (32 bytes of fill). */
static size_t make_blob(unsigned char *out, const char *type,
			unsigned char fill)
{
	unsigned char k[32];
	size_t n;

	memset(k, fill, sizeof(k));
	n = put_string(out, type, strlen(type));
	return n + put_string(out + n, k, sizeof(k));
}

static void b64(char *out, const unsigned char *blob, size_t len)
{
	EVP_EncodeBlock((unsigned char *)out, blob, (int)len);
}

static char path[400], other[400];

static int check(const char *host, int port, const unsigned char *blob,
		 size_t len, struct berr *err)
{
	const char *files[] = {other, path, NULL};

	return known_hosts_check(files, host, port, blob, len, err);
}

int main(void)
{
	unsigned char key[128], changed[128], rsa[128];
	size_t key_len, changed_len, rsa_len;
	char k64[200], c64[200], r64[200], text[4096];
	struct berr err = {""};

	fx_setup("test-known-hosts");
	snprintf(path, sizeof(path), "%s/known_hosts", fx_dir);
	snprintf(other, sizeof(other), "%s/missing_known_hosts", fx_dir);
	key_len = make_blob(key, "ssh-ed25519", 0x11);
	changed_len = make_blob(changed, "ssh-ed25519", 0x22);
	rsa_len = make_blob(rsa, "ssh-rsa", 0x33);
	b64(k64, key, key_len);
	b64(c64, changed, changed_len);
	b64(r64, rsa, rsa_len);

	snprintf(text, sizeof(text),
		 "# comment\n\n"
		 "plain.example ssh-ed25519 %s\n"
		 "[ported.example]:2222 ssh-ed25519 %s comment here\r\n"
		 "a.example,b.example ssh-ed25519 %s\n"
		 "*.wild.example,!bad.wild.example ssh-ed25519 %s\n"
		 "?x.example ssh-ed25519 %s\n"
		 "Mixed.Case.Example ssh-ed25519 %s\n"
		 "moved.example ssh-ed25519 %s\n"
		 "rsaonly.example ssh-rsa %s\n"
		 "@revoked revoked.example ssh-ed25519 %s\n"
		 "revoked.example ssh-ed25519 %s\n"
		 "@cert-authority ca.example ssh-ed25519 %s\n"
		 "broken.example ssh-ed25519 !!!notbase64\n"
		 "short.example ssh-ed25519\n",
		 k64, k64, k64, k64, k64, k64, c64, r64, k64, k64, k64);
	CHECK_INT(fs_write_atomic(path, text, strlen(text), 0600, &err), 0);

	CHECK_INT(check("plain.example", 22, key, key_len, &err), 0);
	CHECK_INT(check("ported.example", 2222, key, key_len, &err), 0);
	/* the port is part of the name */
	CHECK_INT(check("ported.example", 22, key, key_len, &err), -1);
	CHECK(strstr(err.msg, "host key of 'ported.example' (ssh-ed25519) "
			      "is unknown") != NULL);
	CHECK(strstr(err.msg, path) != NULL);
	CHECK_INT(check("plain.example", 2200, key, key_len, &err), -1);
	CHECK(strstr(err.msg, "'[plain.example]:2200'") != NULL);
	CHECK_INT(check("b.example", 22, key, key_len, &err), 0);
	CHECK_INT(check("git.wild.example", 22, key, key_len, &err), 0);
	CHECK_INT(check("bad.wild.example", 22, key, key_len, &err), -1);
	CHECK_INT(check("wild.example", 22, key, key_len, &err), -1);
	CHECK_INT(check("ax.example", 22, key, key_len, &err), 0);
	CHECK_INT(check("abx.example", 22, key, key_len, &err), -1);
	CHECK_INT(check("mixed.CASE.example", 22, key, key_len, &err), 0);

	/* Another key of the same type on record: refused as a change. */
	CHECK_INT(check("moved.example", 22, key, key_len, &err), -1);
	CHECK(strstr(err.msg, "does not match the one in known_hosts") != NULL);
	CHECK_INT(check("plain.example", 22, changed, changed_len, &err), -1);
	CHECK(strstr(err.msg, "does not match") != NULL);
	/* Only another type on record: unknown, not a change. */
	CHECK_INT(check("rsaonly.example", 22, key, key_len, &err), -1);
	CHECK(strstr(err.msg, "is unknown") != NULL);
	CHECK_INT(check("rsaonly.example", 22, rsa, rsa_len, &err), 0);

	/* @revoked wins over a plain line; @cert-authority is ignored. */
	CHECK_INT(check("revoked.example", 22, key, key_len, &err), -1);
	CHECK(strstr(err.msg, "@revoked") != NULL);
	CHECK_INT(check("ca.example", 22, key, key_len, &err), -1);
	CHECK(strstr(err.msg, "is unknown") != NULL);
	CHECK_INT(check("broken.example", 22, key, key_len, &err), -1);
	CHECK_INT(check("short.example", 22, key, key_len, &err), -1);

	/* A malformed key blob from the server. */
	CHECK_INT(check("plain.example", 22, key, 3, &err), -1);
	CHECK(strstr(err.msg, "malformed host key") != NULL);

	/* Hashed host names, as ssh-keygen -H writes them. */
	snprintf(text, sizeof(text),
		 "hashed.example ssh-ed25519 %s\n"
		 "[hashed.example]:2222 ssh-ed25519 %s\n", k64, c64);
	CHECK_INT(fs_write_atomic(path, text, strlen(text), 0600, &err), 0);
	CHECK_INT(fx_sh("ssh-keygen -q -H -f known_hosts >/dev/null 2>&1; "
			"! grep -q hashed.example known_hosts; "
			"grep -q '^|1|' known_hosts"), 0);
	CHECK_INT(check("hashed.example", 22, key, key_len, &err), 0);
	CHECK_INT(check("hashed.example", 2222, changed, changed_len, &err), 0);
	CHECK_INT(check("hashed.example", 2222, key, key_len, &err), -1);
	CHECK(strstr(err.msg, "does not match") != NULL);
	CHECK_INT(check("other.example", 22, key, key_len, &err), -1);

	fx_teardown();
	return check_done("test_known_hosts");
}
