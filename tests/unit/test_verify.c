/*
 * test_verify.c — signature verification for every provider: published
 * vectors (GitHub's docs, Standard Webhooks' reference), the shared fixture
 * bodies with signatures computed by Python's hmac module, and one negative
 * case per way a delivery can be wrong. tests/integration/
 * test_webhook_vectors.sh adds random vectors computed by Python.
 */
#include <openssl/evp.h>

#include "berth.h"
#include "check.h"
#include "webhooks.h"
#include "wh_headers.h"

/* GitHub's published example. */
#define GH_SECRET "It's a Secret to Everybody"
#define GH_BODY "Hello, World!"
#define GH_SIG "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
#define GH_BODY_SHA "dffd6021bb2bd5b0af676290809ec3a53191dd81c7f70a4b28688a362182986f"

/* Standard Webhooks' reference vector. */
#define SW_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SW_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SW_TS 1614265330
#define SW_BODY "{\"test\": 2432232314}"
#define SW_SIG "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

/* github-push.json under "berth-test-secret", and stripe-event.json signed
 * at t=1533204620 under "whsec_test_secret", both by Python's hmac. */
#define FIX_SECRET "berth-test-secret"
#define FIX_GITHUB_SIG "0b54b54fc0eab20cc8c5b99d543634f57503a968dd7e2185fb7923f99c30b9f2"
#define FIX_STRIPE_SECRET "whsec_test_secret"
#define FIX_STRIPE_T 1533204620
#define FIX_STRIPE_SIG "ae13ad144b52e44c1d7b839e5a96e28098594a51a5b62f517fef6a3ba3406e84"

static struct wh_headers hdrs;
static struct verify_result vr;
static struct berr err;
static int tolerance;

/* Verifies body with the current headers; checks that no message carries
 * the secret, the token or the expected signature. Returns the status. */
static enum verify_status run_verify(enum webhook_provider p,
				     const char *secret, const char *token,
				     const void *body, size_t len, int64_t now,
				     const char *expected)
{
	struct verify_secrets s = {secret, secret ? strlen(secret) : 0, token,
				   token ? strlen(token) : 0, tolerance};
	struct wh_request req;
	int rc;

	wh_request_init(&req, &hdrs, body, len, now);
	err.msg[0] = '\0';
	rc = verify_request(&vr, p, &req, &s, &err);
	CHECK((rc == 0) == (vr.status == VERIFY_OK));
	CHECK(vr.provider == p);
	CHECK(rc == 0 || err.msg[0] != '\0');
	/* (the 6 bytes "whsec_" may be named by a message) */
	if (secret != NULL && strlen(secret) > 6)
		CHECK(strstr(err.msg, secret) == NULL);
	if (token != NULL)
		CHECK(strstr(err.msg, token) == NULL);
	if (expected != NULL)
		CHECK(strcasestr(err.msg, expected) == NULL);
	return vr.status;
}

static enum verify_status gh(const char *sig, const char *secret,
			     const char *body)
{
	wh_headers_release(&hdrs);
	if (sig != NULL)
		wh_headers_set(&hdrs, "X-Hub-Signature-256", sig);
	return run_verify(PROVIDER_GITHUB, secret, NULL, body, strlen(body), 0,
			  GH_SIG);
}

static void sign_hex(char out[65], const char *secret, const void *body,
		     size_t len)
{
	unsigned char mac[32];

	hmac_sha256(mac, secret, strlen(secret), body, len);
	hmac_hex(out, mac, sizeof(mac));
}

/* RFC 4231's HMAC-SHA256 test cases 1, 2, 6 and 7 (keys shorter than,
 * and longer than, the block; data longer than the block), plus the empty
 * key and message computed with Python's hmac module. */
static void test_hmac_rfc4231(void)
{
	static const struct {
		unsigned char key_byte; /* the key: key_len times this byte */
		size_t key_len;
		const char *key;        /* or this text */
		const char *data;
		const char *hex;
	} cases[] = {
		{0x0b, 20, NULL, "Hi There",
		 "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
		{0, 0, "Jefe", "what do ya want for nothing?",
		 "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
		{0xaa, 131, NULL,
		 "Test Using Larger Than Block-Size Key - Hash Key First",
		 "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
		{0xaa, 131, NULL,
		 "This is a test using a larger than block-size key and a larger "
		 "than block-size data. The key needs to be hashed before being "
		 "used by the HMAC algorithm.",
		 "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
		{0, 0, "", "",
		 "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"},
	};
	unsigned char key[131], mac[32];
	char hex[65];
	size_t i;

	for (i = 0; i < BERTH_ARRAY_LEN(cases); i++) {
		const void *k = key;
		size_t klen = cases[i].key_len;

		memset(key, cases[i].key_byte, sizeof(key));
		if (cases[i].key != NULL) {
			k = cases[i].key;
			klen = strlen(cases[i].key);
		}
		hmac_sha256(mac, k, klen, cases[i].data, strlen(cases[i].data));
		hmac_hex(hex, mac, 32);
		CHECK_STR(hex, cases[i].hex);
	}
}

static void test_github_vector(void)
{
	char big[5000];

	CHECK_INT(gh("sha256=" GH_SIG, GH_SECRET, GH_BODY), VERIFY_OK);
	CHECK_STR(vr.delivery, "sha256:" GH_BODY_SHA);
	CHECK(vr.header == NULL);
	CHECK_INT(vr.timestamp, 0);

	/* Hex of either case, prefix of either case, blanks around. */
	CHECK_INT(gh("sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C"
		     "46F4379C8B043E17", GH_SECRET, GH_BODY), VERIFY_OK);
	CHECK_INT(gh("SHA256=" GH_SIG, GH_SECRET, GH_BODY), VERIFY_OK);
	CHECK_INT(gh(" \tsha256=" GH_SIG "\t ", GH_SECRET, GH_BODY), VERIFY_OK);

	/* Wrong secret, one bit flipped in the body or the signature. */
	CHECK_INT(gh("sha256=" GH_SIG, "It's a secret to everybody", GH_BODY),
		  VERIFY_BAD_SIGNATURE);
	CHECK_STR(vr.header, "X-Hub-Signature-256");
	CHECK_STR(err.msg, "'X-Hub-Signature-256' does not match the body");
	CHECK_INT(gh("sha256=" GH_SIG, GH_SECRET, "Iello, World!"),
		  VERIFY_BAD_SIGNATURE);
	CHECK_INT(gh("sha256=" GH_SIG, GH_SECRET, "Hello, World!\n"),
		  VERIFY_BAD_SIGNATURE);
	CHECK_INT(gh("sha256=657107ea0eb2509fc211221cce984b8a37570b6d7586c22c"
		     "46f4379c8b043e17", GH_SECRET, GH_BODY),
		  VERIFY_BAD_SIGNATURE);
	CHECK_INT(gh("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c"
		     "46f4379c8b043e16", GH_SECRET, GH_BODY),
		  VERIFY_BAD_SIGNATURE);

	/* Malformed: truncated, too long, not hex, blanks inside, other
	 * scheme, nothing. */
	CHECK_INT(gh("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c"
		     "46f4379c8b043e1", GH_SECRET, GH_BODY),
		  VERIFY_MALFORMED_HEADER);
	CHECK_INT(gh("sha256=" GH_SIG "00", GH_SECRET, GH_BODY),
		  VERIFY_MALFORMED_HEADER);
	CHECK_INT(gh("sha256=g57107ea0eb2509fc211221cce984b8a37570b6d7586c22c"
		     "46f4379c8b043e17", GH_SECRET, GH_BODY),
		  VERIFY_MALFORMED_HEADER);
	CHECK_INT(gh("sha256= " GH_SIG, GH_SECRET, GH_BODY),
		  VERIFY_MALFORMED_HEADER);
	CHECK_INT(gh(GH_SIG, GH_SECRET, GH_BODY), VERIFY_MALFORMED_HEADER);
	CHECK_STR(err.msg, "'X-Hub-Signature-256' does not start with "
			   "'sha256='");
	CHECK_INT(gh("sha1=" GH_SIG, GH_SECRET, GH_BODY),
		  VERIFY_MALFORMED_HEADER);
	CHECK_INT(gh("", GH_SECRET, GH_BODY), VERIFY_MALFORMED_HEADER);
	CHECK_INT(gh("  ", GH_SECRET, GH_BODY), VERIFY_MALFORMED_HEADER);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	CHECK_INT(gh(big, GH_SECRET, GH_BODY), VERIFY_MALFORMED_HEADER);
	CHECK(strstr(err.msg, "longer than 4096") != NULL);

	/* Missing, or only the SHA-1 header. */
	CHECK_INT(gh(NULL, GH_SECRET, GH_BODY), VERIFY_MISSING_HEADER);
	CHECK_STR(vr.header, "X-Hub-Signature-256");
	CHECK_STR(err.msg, "missing 'X-Hub-Signature-256' header");
	wh_headers_release(&hdrs);
	wh_headers_set(&hdrs, "X-Hub-Signature",
		       "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59");
	CHECK_INT(run_verify(PROVIDER_GITHUB, GH_SECRET, NULL, GH_BODY, 13, 0,
			     NULL),
		  VERIFY_MISSING_HEADER);
	CHECK(strstr(err.msg, "SHA-1") != NULL);

	/* No secret configured. */
	CHECK_INT(gh("sha256=" GH_SIG, NULL, GH_BODY), VERIFY_NO_SECRET);
	CHECK_INT(gh("sha256=" GH_SIG, "", GH_BODY), VERIFY_NO_SECRET);
	CHECK_STR(verify_status_name(vr.status), "no_secret");
}

static void test_github_delivery(void)
{
	char sig[80], id[VERIFY_ID_MAX + 2];

	/* The empty body is signed like any other. */
	memcpy(sig, "sha256=", 7);
	sign_hex(sig + 7, GH_SECRET, "", 0);
	CHECK_INT(gh(sig, GH_SECRET, ""), VERIFY_OK);
	CHECK_STR(vr.delivery, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e"
			       "4649b934ca495991b7852b855");

	wh_headers_set(&hdrs, "x-github-delivery",
		       "72d3162e-cc78-11e3-81ab-4c9367dc0958");
	CHECK_INT(run_verify(PROVIDER_GITHUB, GH_SECRET, NULL, "", 0, 0, NULL),
		  VERIFY_OK);
	CHECK_STR(vr.delivery, "72d3162e-cc78-11e3-81ab-4c9367dc0958");

	memset(id, 'a', VERIFY_ID_MAX);
	id[VERIFY_ID_MAX] = '\0';
	wh_headers_set(&hdrs, "X-GitHub-Delivery", id);
	CHECK_INT(run_verify(PROVIDER_GITHUB, GH_SECRET, NULL, "", 0, 0, NULL),
		  VERIFY_OK);
	CHECK_STR(vr.delivery, id);
	id[VERIFY_ID_MAX] = 'a';
	id[VERIFY_ID_MAX + 1] = '\0';
	wh_headers_set(&hdrs, "X-GitHub-Delivery", id);
	CHECK_INT(run_verify(PROVIDER_GITHUB, GH_SECRET, NULL, "", 0, 0, NULL),
		  VERIFY_MALFORMED_HEADER);
	CHECK_STR(vr.header, "X-GitHub-Delivery");
	wh_headers_set(&hdrs, "X-GitHub-Delivery", "../../etc/passwd");
	CHECK_INT(run_verify(PROVIDER_GITHUB, GH_SECRET, NULL, "", 0, 0, NULL),
		  VERIFY_MALFORMED_HEADER);
	wh_headers_set(&hdrs, "X-GitHub-Delivery", "a b");
	CHECK_INT(run_verify(PROVIDER_GITHUB, GH_SECRET, NULL, "", 0, 0, NULL),
		  VERIFY_MALFORMED_HEADER);
}

static char *read_fixture(size_t *len, const char *name)
{
	struct buf b;
	struct berr e;
	char path[256];

	buf_init(&b, 1 << 20);
	snprintf(path, sizeof(path), "tests/fixtures/webhooks/%s", name);
	if (fs_read_file(&b, path, 1 << 20, &e) != 0) {
		fprintf(stderr, "%s\n", e.msg);
		exit(1);
	}
	*len = b.len;
	return buf_detach(&b);
}

static void test_fixtures(void)
{
	size_t len;
	char *body = read_fixture(&len, "github-push.json");
	char sig[80], hdr[200];

	/* The exact bytes, not a re-serialisation. */
	CHECK_INT(len, 1604);
	CHECK_INT(gh("sha256=" FIX_GITHUB_SIG, FIX_SECRET, body), VERIFY_OK);
	memcpy(sig, "sha256=", 7);
	sign_hex(sig + 7, FIX_SECRET, body, len);
	CHECK_STR(sig, "sha256=" FIX_GITHUB_SIG);
	body[len - 1] = '\0';
	CHECK_INT(gh("sha256=" FIX_GITHUB_SIG, FIX_SECRET, body),
		  VERIFY_BAD_SIGNATURE);
	free(body);

	body = read_fixture(&len, "stripe-event.json");
	CHECK_INT(len, 484);
	wh_headers_release(&hdrs);
	snprintf(hdr, sizeof(hdr), "t=%d,v1=%s", FIX_STRIPE_T, FIX_STRIPE_SIG);
	wh_headers_set(&hdrs, "Stripe-Signature", hdr);
	CHECK_INT(run_verify(PROVIDER_STRIPE, FIX_STRIPE_SECRET, NULL, body,
			     len, FIX_STRIPE_T + 60, FIX_STRIPE_SIG),
		  VERIFY_OK);
	CHECK_STR(vr.delivery, "");
	CHECK_INT(vr.timestamp, FIX_STRIPE_T);
	free(body);
}

/* Sets a Stripe-Signature header and verifies stripe-event.json. */
static enum verify_status stripe(const char *header, const char *secret,
				 int64_t now)
{
	static char *body;
	static size_t len;

	if (body == NULL)
		body = read_fixture(&len, "stripe-event.json");
	if (header == NULL) {
		free(body);
		body = NULL;
		return VERIFY_OK;
	}
	wh_headers_release(&hdrs);
	wh_headers_set(&hdrs, "Stripe-Signature", header);
	return run_verify(PROVIDER_STRIPE, secret, NULL, body, len, now,
			  FIX_STRIPE_SIG);
}

#define T "t=1533204620"
#define V1 "v1=" FIX_STRIPE_SIG
#define V1_BAD "v1=be13ad144b52e44c1d7b839e5a96e28098594a51a5b62f517fef6a3ba3406e84"

static void test_stripe(void)
{
	const int64_t t = FIX_STRIPE_T;
	char many[2048];
	int i;

	CHECK_INT(stripe(T "," V1, FIX_STRIPE_SECRET, t), VERIFY_OK);
	/* Several v1, any may match; v0 and unknown schemes ignored. */
	CHECK_INT(stripe(T "," V1_BAD "," V1 ",v0=abc", FIX_STRIPE_SECRET, t),
		  VERIFY_OK);
	CHECK_INT(stripe("v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba"
			 "816edb039989a39," V1 ",v2=x," T,
			 FIX_STRIPE_SECRET, t),
		  VERIFY_OK);
	CHECK_INT(stripe(T ", " V1 " ", FIX_STRIPE_SECRET, t), VERIFY_OK);
	CHECK_INT(stripe(T ",v1=AE13AD144B52E44C1D7B839E5A96E28098594A51A5B62F"
			   "517FEF6A3BA3406E84", FIX_STRIPE_SECRET, t),
		  VERIFY_OK);
	CHECK_INT(stripe(T "," V1 ",,", FIX_STRIPE_SECRET, t), VERIFY_OK);

	/* The key is the whole secret string, "whsec_" included. */
	CHECK_INT(stripe(T "," V1, "test_secret", t), VERIFY_BAD_SIGNATURE);
	CHECK_INT(stripe(T "," V1_BAD, FIX_STRIPE_SECRET, t),
		  VERIFY_BAD_SIGNATURE);
	CHECK_INT(stripe("t=1533204621," V1, FIX_STRIPE_SECRET, t),
		  VERIFY_BAD_SIGNATURE);
	CHECK_INT(stripe(T ",v1=ae13ad144b52e44c1d7b839e5a96e28098594a51a5b62f5"
			   "17fef6a3ba3406e8", FIX_STRIPE_SECRET, t),
		  VERIFY_BAD_SIGNATURE);
	CHECK_STR(err.msg, "'Stripe-Signature' does not match the body");

	/* Timestamps: within the tolerance both ways, the bounds included. */
	CHECK_INT(stripe(T "," V1, FIX_STRIPE_SECRET, t + 300), VERIFY_OK);
	CHECK_INT(stripe(T "," V1, FIX_STRIPE_SECRET, t + 301),
		  VERIFY_TIMESTAMP);
	CHECK(strstr(err.msg, "301 s ago") != NULL);
	CHECK_INT(stripe(T "," V1, FIX_STRIPE_SECRET, t - 300), VERIFY_OK);
	CHECK_INT(stripe(T "," V1, FIX_STRIPE_SECRET, t - 301),
		  VERIFY_TIMESTAMP);
	CHECK(strstr(err.msg, "in the future") != NULL);
	tolerance = 5;
	CHECK_INT(stripe(T "," V1, FIX_STRIPE_SECRET, t + 5), VERIFY_OK);
	CHECK_INT(stripe(T "," V1, FIX_STRIPE_SECRET, t + 6), VERIFY_TIMESTAMP);
	CHECK_INT(stripe(T "," V1, FIX_STRIPE_SECRET, t - 6), VERIFY_TIMESTAMP);
	tolerance = 0;
	/* A bad signature is reported as such even when stale too. */
	CHECK_INT(stripe(T "," V1_BAD, FIX_STRIPE_SECRET, t + 1000),
		  VERIFY_BAD_SIGNATURE);

	/* Malformed headers. */
	CHECK_INT(stripe(V1, FIX_STRIPE_SECRET, t), VERIFY_MALFORMED_HEADER);
	CHECK_INT(stripe(T, FIX_STRIPE_SECRET, t), VERIFY_MALFORMED_HEADER);
	CHECK_INT(stripe(T ",v0=" FIX_STRIPE_SIG, FIX_STRIPE_SECRET, t),
		  VERIFY_MALFORMED_HEADER);
	CHECK_STR(err.msg, "'Stripe-Signature' has no v1 signature");
	CHECK_INT(stripe(T "," T "," V1, FIX_STRIPE_SECRET, t),
		  VERIFY_MALFORMED_HEADER);
	CHECK_INT(stripe("t=15332O4620," V1, FIX_STRIPE_SECRET, t),
		  VERIFY_MALFORMED_HEADER);
	CHECK_INT(stripe("t=-1," V1, FIX_STRIPE_SECRET, t),
		  VERIFY_MALFORMED_HEADER);
	CHECK_INT(stripe("t=," V1, FIX_STRIPE_SECRET, t),
		  VERIFY_MALFORMED_HEADER);
	CHECK_INT(stripe(T ",v1" FIX_STRIPE_SIG, FIX_STRIPE_SECRET, t),
		  VERIFY_MALFORMED_HEADER);
	CHECK_INT(stripe("", FIX_STRIPE_SECRET, t), VERIFY_MALFORMED_HEADER);
	snprintf(many, sizeof(many), "%s", T);
	for (i = 0; i < VERIFY_SIGS_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
			 ",%s", V1_BAD);
	CHECK_INT(stripe(many, FIX_STRIPE_SECRET, t), VERIFY_BAD_SIGNATURE);
	snprintf(many + strlen(many), sizeof(many) - strlen(many), ",%s", V1);
	CHECK_INT(stripe(many, FIX_STRIPE_SECRET, t), VERIFY_MALFORMED_HEADER);

	wh_headers_release(&hdrs);
	CHECK_INT(run_verify(PROVIDER_STRIPE, FIX_STRIPE_SECRET, NULL, "{}", 2,
			     t, NULL),
		  VERIFY_MISSING_HEADER);
	CHECK_STR(vr.header, "Stripe-Signature");
	CHECK_INT(stripe(T "," V1, NULL, t), VERIFY_NO_SECRET);
	stripe(NULL, NULL, 0);
}

/* Standard Webhooks headers around the reference vector. */
static enum verify_status sw(enum webhook_provider p, const char *id,
			     const char *ts, const char *sig,
			     const char *secret, const char *body, int64_t now)
{
	wh_headers_release(&hdrs);
	if (id != NULL)
		wh_headers_set(&hdrs, "webhook-id", id);
	if (ts != NULL)
		wh_headers_set(&hdrs, "webhook-timestamp", ts);
	if (sig != NULL)
		wh_headers_set(&hdrs, "webhook-signature", sig);
	return run_verify(p, secret, NULL, body, strlen(body), now, SW_SIG);
}

#define GEN PROVIDER_GENERIC
#define SWTS "1614265330"
#define OTHER_SIG "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="

static void test_standard(void)
{
	const int64_t t = SW_TS;
	char many[2048];
	int i;

	CHECK_INT(sw(GEN, SW_ID, SWTS, "v1," SW_SIG, SW_SECRET, SW_BODY, t),
		  VERIFY_OK);
	CHECK_STR(vr.delivery, SW_ID);
	CHECK_INT(vr.timestamp, SW_TS);
	/* Several signatures, any order, other versions ignored, unpadded
	 * base64 read too, a secret without its "whsec_" prefix. */
	CHECK_INT(sw(GEN, SW_ID, SWTS, OTHER_SIG " v1," SW_SIG, SW_SECRET,
		     SW_BODY, t),
		  VERIFY_OK);
	CHECK_INT(sw(GEN, SW_ID, SWTS,
		     "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXq"
		     "cQPELS5XBtXY2Ea1nB9w0FQ1Tm/GsHa3Cg==  v1," SW_SIG " " OTHER_SIG,
		     SW_SECRET, SW_BODY, t),
		  VERIFY_OK);
	CHECK_INT(sw(GEN, SW_ID, SWTS,
		     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE", SW_SECRET,
		     SW_BODY, t),
		  VERIFY_OK);
	CHECK_INT(sw(GEN, SW_ID, SWTS, "v1," SW_SIG,
		     "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", SW_BODY, t),
		  VERIFY_OK);

	/* Timestamps just inside and just outside, both ways. */
	CHECK_INT(sw(GEN, SW_ID, SWTS, "v1," SW_SIG, SW_SECRET, SW_BODY,
		     t + 300),
		  VERIFY_OK);
	CHECK_INT(sw(GEN, SW_ID, SWTS, "v1," SW_SIG, SW_SECRET, SW_BODY,
		     t + 301),
		  VERIFY_TIMESTAMP);
	CHECK_STR(vr.header, "webhook-timestamp");
	CHECK_STR(verify_status_name(vr.status), "timestamp");
	CHECK_INT(sw(GEN, SW_ID, SWTS, "v1," SW_SIG, SW_SECRET, SW_BODY,
		     t - 300),
		  VERIFY_OK);
	CHECK_INT(sw(GEN, SW_ID, SWTS, "v1," SW_SIG, SW_SECRET, SW_BODY,
		     t - 301),
		  VERIFY_TIMESTAMP);

	/* What is signed: id, timestamp and body. */
	CHECK_INT(sw(GEN, "msg_p5jXN8AQM9LWM0D4loKWxJel", SWTS, "v1," SW_SIG,
		     SW_SECRET, SW_BODY, t),
		  VERIFY_BAD_SIGNATURE);
	CHECK_INT(sw(GEN, SW_ID, "1614265331", "v1," SW_SIG, SW_SECRET, SW_BODY,
		     t),
		  VERIFY_BAD_SIGNATURE);
	CHECK_INT(sw(GEN, SW_ID, SWTS, "v1," SW_SIG, SW_SECRET,
		     "{\"test\": 2432232315}", t),
		  VERIFY_BAD_SIGNATURE);
	CHECK_INT(sw(GEN, SW_ID, SWTS, "v1," SW_SIG,
		     "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx", SW_BODY, t),
		  VERIFY_BAD_SIGNATURE);
	CHECK_INT(sw(GEN, SW_ID, SWTS, OTHER_SIG, SW_SECRET, SW_BODY, t),
		  VERIFY_BAD_SIGNATURE);
	CHECK_INT(sw(GEN, SW_ID, SWTS,
		     "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1O==", SW_SECRET,
		     SW_BODY, t),
		  VERIFY_BAD_SIGNATURE);
	CHECK_INT(sw(GEN, SW_ID, SWTS, "v1,not base64!", SW_SECRET, SW_BODY, t),
		  VERIFY_BAD_SIGNATURE);

	/* Malformed and missing headers. */
	CHECK_INT(sw(GEN, SW_ID, SWTS, "v2," SW_SIG, SW_SECRET, SW_BODY, t),
		  VERIFY_MALFORMED_HEADER);
	CHECK_STR(err.msg, "'webhook-signature' has no v1 signature");
	CHECK_INT(sw(GEN, SW_ID, SWTS, SW_SIG, SW_SECRET, SW_BODY, t),
		  VERIFY_MALFORMED_HEADER);
	CHECK_INT(sw(GEN, SW_ID, "1614265330.5", "v1," SW_SIG, SW_SECRET,
		     SW_BODY, t),
		  VERIFY_MALFORMED_HEADER);
	CHECK_STR(vr.header, "webhook-timestamp");
	CHECK_INT(sw(GEN, SW_ID, "-1614265330", "v1," SW_SIG, SW_SECRET,
		     SW_BODY, t),
		  VERIFY_MALFORMED_HEADER);
	CHECK_INT(sw(GEN, SW_ID, "1614265330000", "v1," SW_SIG, SW_SECRET,
		     SW_BODY, t),
		  VERIFY_MALFORMED_HEADER);
	CHECK_INT(sw(GEN, "msg p5j", SWTS, "v1," SW_SIG, SW_SECRET, SW_BODY, t),
		  VERIFY_MALFORMED_HEADER);
	CHECK_STR(vr.header, "webhook-id");
	CHECK_INT(sw(GEN, NULL, SWTS, "v1," SW_SIG, SW_SECRET, SW_BODY, t),
		  VERIFY_MISSING_HEADER);
	CHECK_STR(vr.header, "webhook-id");
	CHECK_INT(sw(GEN, SW_ID, NULL, "v1," SW_SIG, SW_SECRET, SW_BODY, t),
		  VERIFY_MISSING_HEADER);
	CHECK_STR(vr.header, "webhook-timestamp");
	CHECK_INT(sw(GEN, SW_ID, SWTS, NULL, SW_SECRET, SW_BODY, t),
		  VERIFY_MISSING_HEADER);
	CHECK_STR(vr.header, "webhook-signature");
	many[0] = '\0';
	for (i = 0; i < VERIFY_SIGS_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
			 "%s ", OTHER_SIG);
	snprintf(many + strlen(many), sizeof(many) - strlen(many),
		 "v1,%s", SW_SIG);
	CHECK_INT(sw(GEN, SW_ID, SWTS, many, SW_SECRET, SW_BODY, t),
		  VERIFY_MALFORMED_HEADER);

	/* Secrets that are not base64 cannot verify anything. */
	CHECK_INT(sw(GEN, SW_ID, SWTS, "v1," SW_SIG, "whsec_not*base64",
		     SW_BODY, t),
		  VERIFY_NO_SECRET);
	CHECK(strstr(err.msg, "base64") != NULL);
	CHECK_INT(sw(GEN, SW_ID, SWTS, "v1," SW_SIG, "whsec_", SW_BODY, t),
		  VERIFY_NO_SECRET);
	CHECK_INT(sw(GEN, SW_ID, SWTS, "v1," SW_SIG, NULL, SW_BODY, t),
		  VERIFY_NO_SECRET);
}

static void test_gitlab(void)
{
	const char *token = "glpat-shared-token-123";

	wh_headers_release(&hdrs);
	wh_headers_set(&hdrs, "X-Gitlab-Token", token);
	CHECK_INT(run_verify(PROVIDER_GITLAB, NULL, token, "{}", 2, 0, NULL),
		  VERIFY_OK);
	CHECK_STR(vr.delivery, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc2"
			       "1fe77e8310c060f61caaff8a");
	wh_headers_set(&hdrs, "X-Gitlab-Event-UUID",
		       "13792a34-cac6-4fda-95a8-c58e00a3954e");
	CHECK_INT(run_verify(PROVIDER_GITLAB, NULL, token, "{}", 2, 0, NULL),
		  VERIFY_OK);
	CHECK_STR(vr.delivery, "13792a34-cac6-4fda-95a8-c58e00a3954e");
	wh_headers_set(&hdrs, "Idempotency-Key",
		       "f5e5f430-f57b-4e6e-9fac-d9128cd7232f");
	CHECK_INT(run_verify(PROVIDER_GITLAB, NULL, token, "{}", 2, 0, NULL),
		  VERIFY_OK);
	CHECK_STR(vr.delivery, "f5e5f430-f57b-4e6e-9fac-d9128cd7232f");

	wh_headers_set(&hdrs, "X-Gitlab-Token", "glpat-shared-token-124");
	CHECK_INT(run_verify(PROVIDER_GITLAB, NULL, token, "{}", 2, 0, NULL),
		  VERIFY_BAD_SIGNATURE);
	CHECK_STR(err.msg, "'X-Gitlab-Token' does not match the configured "
			   "token");
	wh_headers_set(&hdrs, "X-Gitlab-Token", "glpat-shared-token-12");
	CHECK_INT(run_verify(PROVIDER_GITLAB, NULL, token, "{}", 2, 0, NULL),
		  VERIFY_BAD_SIGNATURE);
	wh_headers_set(&hdrs, "X-Gitlab-Token", "glpat-shared-token-1234");
	CHECK_INT(run_verify(PROVIDER_GITLAB, NULL, token, "{}", 2, 0, NULL),
		  VERIFY_BAD_SIGNATURE);
	wh_headers_set(&hdrs, "X-Gitlab-Token", " glpat-shared-token-123 ");
	CHECK_INT(run_verify(PROVIDER_GITLAB, NULL, token, "{}", 2, 0, NULL),
		  VERIFY_OK);
	wh_headers_unset(&hdrs, "X-Gitlab-Token");
	CHECK_INT(run_verify(PROVIDER_GITLAB, NULL, token, "{}", 2, 0, NULL),
		  VERIFY_MISSING_HEADER);
	CHECK_STR(vr.header, "X-Gitlab-Token");
	CHECK_INT(run_verify(PROVIDER_GITLAB, NULL, NULL, "{}", 2, 0, NULL),
		  VERIFY_NO_SECRET);

	/* With a signing token: Standard Webhooks. */
	CHECK_INT(sw(PROVIDER_GITLAB, SW_ID, SWTS, "v1," SW_SIG, SW_SECRET,
		     SW_BODY, SW_TS),
		  VERIFY_OK);
	CHECK_STR(vr.delivery, SW_ID);
	CHECK_INT(sw(PROVIDER_GITLAB, SW_ID, SWTS, "v1," SW_SIG, SW_SECRET,
		     SW_BODY, SW_TS + 301),
		  VERIFY_TIMESTAMP);
	CHECK_INT(sw(PROVIDER_GITLAB, SW_ID, SWTS, OTHER_SIG, SW_SECRET,
		     SW_BODY, SW_TS),
		  VERIFY_BAD_SIGNATURE);
	/* Both configured: both are needed. */
	wh_headers_set(&hdrs, "webhook-signature", "v1," SW_SIG);
	CHECK_INT(run_verify(PROVIDER_GITLAB, SW_SECRET, token, SW_BODY,
			     strlen(SW_BODY), SW_TS, NULL),
		  VERIFY_MISSING_HEADER);
	wh_headers_set(&hdrs, "X-Gitlab-Token", token);
	CHECK_INT(run_verify(PROVIDER_GITLAB, SW_SECRET, token, SW_BODY,
			     strlen(SW_BODY), SW_TS, NULL),
		  VERIFY_OK);
}

/* One bare or prefixed hex signature in name, over body. */
static enum verify_status hexsig(enum webhook_provider p, const char *name,
				 const char *prefix, const char *body)
{
	char sig[80];

	snprintf(sig, sizeof(sig), "%s", prefix);
	sign_hex(sig + strlen(prefix), FIX_SECRET, body, strlen(body));
	wh_headers_set(&hdrs, name, sig);
	return run_verify(p, FIX_SECRET, NULL, body, strlen(body), 0,
			  sig + strlen(prefix));
}

static void test_gitea_bitbucket_sentry(void)
{
	wh_headers_release(&hdrs);
	CHECK_INT(hexsig(PROVIDER_GITEA, "X-Gitea-Signature", "", "{}"),
		  VERIFY_OK);
	wh_headers_set(&hdrs, "X-Gitea-Delivery",
		       "e1a4f4a6-0b1f-4fe1-9d2f-7f4bd5b0d5a9");
	CHECK_INT(hexsig(PROVIDER_GITEA, "X-Gitea-Signature", "", "{}"),
		  VERIFY_OK);
	CHECK_STR(vr.delivery, "e1a4f4a6-0b1f-4fe1-9d2f-7f4bd5b0d5a9");
	CHECK_INT(hexsig(PROVIDER_GITEA, "X-Gitea-Signature", "sha256=", "{}"),
		  VERIFY_MALFORMED_HEADER);
	wh_headers_release(&hdrs);
	wh_headers_set(&hdrs, "X-Forgejo-Delivery", "42");
	CHECK_INT(hexsig(PROVIDER_GITEA, "X-Forgejo-Signature", "", "{\"a\":1}"),
		  VERIFY_OK);
	CHECK_STR(vr.delivery, "42");
	wh_headers_unset(&hdrs, "X-Forgejo-Signature");
	CHECK_INT(run_verify(PROVIDER_GITEA, FIX_SECRET, NULL, "{}", 2, 0, NULL),
		  VERIFY_MISSING_HEADER);
	CHECK_STR(vr.header, "X-Gitea-Signature");

	wh_headers_release(&hdrs);
	wh_headers_set(&hdrs, "X-Request-UUID",
		       "{8d9e2c1a-3b4f-4a5e-9c8d-7e6f5a4b3c2d}");
	CHECK_INT(hexsig(PROVIDER_BITBUCKET, "X-Hub-Signature", "sha256=",
			 "{\"push\":{}}"),
		  VERIFY_OK);
	CHECK_STR(vr.delivery, "{8d9e2c1a-3b4f-4a5e-9c8d-7e6f5a4b3c2d}");
	CHECK_INT(hexsig(PROVIDER_BITBUCKET, "X-Hub-Signature", "",
			 "{\"push\":{}}"),
		  VERIFY_MALFORMED_HEADER);
	wh_headers_release(&hdrs);
	CHECK_INT(hexsig(PROVIDER_BITBUCKET, "X-Hub-Signature-256", "sha256=",
			 "{}"),
		  VERIFY_MISSING_HEADER);
	CHECK_STR(vr.header, "X-Hub-Signature");

	wh_headers_release(&hdrs);
	wh_headers_set(&hdrs, "Sentry-Hook-Resource", "issue");
	CHECK_INT(hexsig(PROVIDER_SENTRY, "Sentry-Hook-Signature", "", "{}"),
		  VERIFY_OK);
	CHECK_STR(vr.delivery, "issue:44136fa355b3678a1146ad16f7e8649e94fb4fc21"
			       "fe77e8310c060f61caaff8a");
	wh_headers_set(&hdrs, "Sentry-Hook-Resource", "Issue!");
	CHECK_INT(hexsig(PROVIDER_SENTRY, "Sentry-Hook-Signature", "", "{}"),
		  VERIFY_MALFORMED_HEADER);
	CHECK_STR(vr.header, "Sentry-Hook-Resource");
	wh_headers_unset(&hdrs, "Sentry-Hook-Resource");
	CHECK_INT(hexsig(PROVIDER_SENTRY, "Sentry-Hook-Signature", "", "{}"),
		  VERIFY_OK);
	CHECK_STR(vr.delivery, "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc2"
			       "1fe77e8310c060f61caaff8a");
	CHECK_INT(hexsig(PROVIDER_SENTRY, "Sentry-Hook-Signature", "sha256=",
			 "{}"),
		  VERIFY_MALFORMED_HEADER);
}

static void test_secrets_and_names(void)
{
	struct verify_secrets s = {0};
	struct berr e;

	CHECK_INT(verify_check_secrets(PROVIDER_GITHUB, &s, &e), -1);
	CHECK_STR(e.msg, "no secret configured");
	CHECK_INT(verify_check_secrets(PROVIDER_GITLAB, &s, &e), -1);
	CHECK_STR(e.msg, "no token or signing token configured");
	s.token = "t";
	s.token_len = 1;
	CHECK_INT(verify_check_secrets(PROVIDER_GITLAB, &s, &e), 0);
	CHECK_INT(verify_check_secrets(PROVIDER_GITHUB, &s, &e), -1);
	s.secret = "whsec_%%%";
	s.secret_len = 9;
	CHECK_INT(verify_check_secrets(PROVIDER_GITLAB, &s, &e), -1);
	CHECK(strstr(e.msg, "%%%") == NULL);
	CHECK_INT(verify_check_secrets(PROVIDER_GENERIC, &s, &e), -1);
	CHECK_INT(verify_check_secrets(PROVIDER_STRIPE, &s, &e), 0);
	CHECK_INT(verify_check_secrets(PROVIDER_COUNT, &s, &e), -1);
	s.secret = SW_SECRET;
	s.secret_len = strlen(SW_SECRET);
	CHECK_INT(verify_check_secrets(PROVIDER_GENERIC, &s, &e), 0);

	CHECK_STR(verify_status_name(VERIFY_OK), "ok");
	CHECK_STR(verify_status_name(VERIFY_MISSING_HEADER), "missing_header");
	CHECK_STR(verify_status_name(VERIFY_MALFORMED_HEADER),
		  "malformed_header");
	CHECK_STR(verify_status_name(VERIFY_BAD_SIGNATURE), "bad_signature");
	CHECK_STR(verify_status_name((enum verify_status)99), "unknown");
}

int main(void)
{
	test_hmac_rfc4231();
	test_github_vector();
	test_github_delivery();
	test_fixtures();
	test_stripe();
	test_standard();
	test_gitlab();
	test_gitea_bitbucket_sentry();
	test_secrets_and_names();
	wh_headers_release(&hdrs);
	return check_done("test_verify");
}
