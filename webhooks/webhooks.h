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

/* verify.c — signature verification per provider (SPEC §7) */

/*
 * What verify.c and push.c see of an HTTP request: no libevent type crosses
 * into them, so the server, the tests and the fuzzers all build one the same
 * way. Everything is borrowed for the duration of the call.
 */
struct wh_request {
	/* Returns the value of header name, looked up ASCII case-insensitively,
	 * or NULL when the request has no such header. The string stays valid
	 * until the request ends. */
	const char *(*header)(void *ctx, const char *name);
	void *ctx;                 /* passed to header */
	const unsigned char *body; /* the exact bytes received, never
				      re-encoded; NULL allowed when len is 0 */
	size_t len;
	int64_t now;               /* unix time in seconds, for timestamp checks */
};

/*
 * One provider's secrets, already loaded (secret_load) by the caller:
 * byte strings, borrowed, NULL when not configured.
 *   secret: the HMAC secret. generic and gitlab's signing token are
 *           "whsec_" + base64 (the key is the decoded bytes); stripe's
 *           "whsec_..." is used whole, as a string; the others as given.
 *   token:  gitlab's X-Gitlab-Token. With both set, gitlab needs both.
 */
struct verify_secrets {
	const void *secret;
	size_t secret_len;
	const void *token;
	size_t token_len;
	int tolerance_s; /* generic, stripe, gitlab signing: allowed clock
			    difference either way; <= 0 means the default */
};

#define VERIFY_TOLERANCE_DEFAULT 300
#define VERIFY_HEADER_MAX 4096 /* longest header value considered */
#define VERIFY_ID_MAX 128      /* longest delivery id accepted */
#define VERIFY_SIGS_MAX 16     /* most signatures one header may carry */
#define VERIFY_KEY_MAX 160     /* size of a dedupe key, with its NUL */

/* Why a request was turned away; each has a name for logs and metrics. */
enum verify_status {
	VERIFY_OK,
	VERIFY_NO_SECRET,        /* the provider has no usable secret: 404 */
	VERIFY_MISSING_HEADER,   /* a header the scheme needs is absent */
	VERIFY_MALFORMED_HEADER, /* present, but not in the scheme's form */
	VERIFY_BAD_SIGNATURE,    /* well formed, and no signature matches */
	VERIFY_TIMESTAMP,        /* authentic, but signed too long ago or
				    too far in the future */
};

struct verify_result {
	enum verify_status status;
	enum webhook_provider provider;
	const char *header; /* static; the header status is about, or NULL */
	int64_t timestamp;  /* the signed timestamp (generic, stripe, gitlab
			       signing token), 0 for the other schemes */
	/* The dedupe key (SPEC §7): the provider's delivery header, at most
	 * VERIFY_ID_MAX characters of [A-Za-z0-9._:@+={}-]; for sentry
	 * "<resource>:<sha256 hex of the body>"; "sha256:<hex>" of the body
	 * when the provider's header is absent. "" for stripe, whose key is
	 * the event id in the body: push_parse() fills push_event.delivery. */
	char delivery[VERIFY_KEY_MAX];
};

/*
 * Verifies req as a delivery from provider p, on the raw body bytes, with
 * constant-time comparisons. Fills out (always, status included). Returns 0
 * when it is authentic; -1 otherwise, with out->status saying why and err a
 * message for the log ("'X-Hub-Signature-256' does not match the body"),
 * which never contains a secret or the expected signature. Header values
 * over VERIFY_HEADER_MAX are malformed; hex in signatures is read in
 * either case; multi-signature headers (generic, stripe) accept any
 * matching v1 and ignore other schemes.
 */
int verify_request(struct verify_result *out, enum webhook_provider p,
		   const struct wh_request *req,
		   const struct verify_secrets *secrets, struct berr *err);

/* Checks that secrets can verify p's deliveries (a secret or token is set;
 * generic and gitlab signing secrets decode), for config load and reload.
 * Returns 0, or -1 with a message that does not contain the secret. */
int verify_check_secrets(enum webhook_provider p,
			 const struct verify_secrets *secrets,
			 struct berr *err);

/* "ok", "no_secret", "missing_header", "malformed_header",
 * "bad_signature", "timestamp" (static strings). */
const char *verify_status_name(enum verify_status s);

/*
 * Looks up header name in req, trimmed of surrounding blanks, into (*value,
 * *len) (borrowed from req, not NUL-terminated). Returns 1 when present,
 * 0 when absent, BERTH_ETOOBIG when longer than VERIFY_HEADER_MAX.
 */
int verify_header(const char **value, size_t *len,
		  const struct wh_request *req, const char *name);

/* push.c — what a verified delivery says (SPEC §7) */

#define PUSH_BODY_MAX ((size_t)25 << 20) /* largest body push_parse reads */
#define PUSH_REF_MAX 256   /* size of a ref name, with its NUL */
#define PUSH_REFS_MAX 8    /* refs kept from one delivery */
#define PUSH_TEXT_MAX 128  /* size of a display string, with its NUL */

enum push_kind {
	PUSH_KIND_PUSH,  /* at least one branch was pushed to or deleted */
	PUSH_KIND_TAG,   /* only tags were pushed or deleted */
	PUSH_KIND_PING,  /* the forge testing the hook */
	PUSH_KIND_OTHER, /* anything else: other forge events, every Stripe
			    and Sentry event */
};

enum push_ref_type { PUSH_REF_BRANCH, PUSH_REF_TAG, PUSH_REF_OTHER };

/* One ref a push changed. Every string passed the checks below: they are
 * data to log and compare, never to execute. */
struct push_ref {
	enum push_ref_type type;
	char ref[PUSH_REF_MAX];  /* full name, valid by git's rules:
				    "refs/heads/main" */
	char name[PUSH_REF_MAX]; /* "main" for a branch, "v1.2" for a tag,
				    the full name otherwise */
	char before[41];         /* 40 lowercase hex digits, or "" */
	char after[41];          /* 40 lowercase hex digits, or "" when the
				    delivery does not say (generic) */
	bool deleted;            /* the ref was deleted (after all zeros) */
};

struct push_event {
	enum webhook_provider provider;
	enum push_kind kind;
	/* The provider's name for the event, printable ASCII: GitHub "push",
	 * GitLab "Push Hook", Gitea "push", Bitbucket "repo:push", generic
	 * "push", Stripe the event type ("invoice.paid"), Sentry the
	 * resource ("issue"). */
	char event[64];
	char action[64];   /* Sentry's action ("created"), else "" */
	/* The dedupe key: verify_result.delivery, or for Stripe the event id
	 * ("evt_…"). */
	char delivery[VERIFY_KEY_MAX];
	/* Display only, from the payload, control characters replaced and
	 * cut to fit: "acme/pos", "mlopez"; "" when not sent. */
	char repository[PUSH_TEXT_MAX];
	char pusher[PUSH_TEXT_MAX];
	struct push_ref refs[PUSH_REFS_MAX];
	size_t nrefs;
	bool more_refs; /* the delivery named more than PUSH_REFS_MAX refs */
};

/*
 * Reads what the delivery req says; vr is its successful verify_result
 * (push_parse refuses a request that did not pass). The body is JSON, or a
 * form with a "payload" field when Content-Type says
 * application/x-www-form-urlencoded; it is parsed from the raw bytes,
 * duplicate keys rejected. Returns 0 with out filled; BERTH_ETOOBIG for a
 * body over PUSH_BODY_MAX; -1 when the body or an event header is
 * malformed (answer 400), with err saying what, never quoting the body.
 */
int push_parse(struct push_event *out, const struct verify_result *vr,
	       const struct wh_request *req, struct berr *err);

/* The ref of ev for branch (short name), or NULL. Borrowed from ev. */
const struct push_ref *push_find_branch(const struct push_event *ev,
					const char *branch);

/* True when ref is a full ref name ("refs/...") that git's
 * check-ref-format accepts, shorter than PUSH_REF_MAX, and, under
 * refs/heads/, a name `git branch` could create (no leading '-'). */
bool push_ref_valid(const char *ref);

/* "push", "tag", "ping", "other" (static strings). */
const char *push_kind_name(enum push_kind k);

#endif /* BERTH_WEBHOOKS_H */
