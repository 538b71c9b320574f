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

/* jdoc.c — JSON payloads read in one pass into a flat array */

enum jval_type {
	JVAL_NULL,
	JVAL_FALSE,
	JVAL_TRUE,
	JVAL_INTEGER,
	JVAL_REAL,
	JVAL_STRING,
	JVAL_ARRAY,
	JVAL_OBJECT,
};

/*
 * One value. An array's elements follow it in the array of values, each
 * with its own nested values; an object's members likewise, each a key (a
 * string) followed by its value. span counts the values that make up this
 * one, itself included, so that the value after it is at this + span.
 */
struct jval {
	const char *s; /* strings: the decoded bytes, NUL-terminated, owned by
			  the jdoc; numbers: their text in the input (not
			  terminated); else NULL */
	uint32_t n;    /* bytes of s; elements of an array; members of an
			  object */
	uint32_t span;
	uint8_t type;  /* enum jval_type */
};

struct jdoc {
	struct jval *vals; /* owned; vals[0] is the document */
	size_t nvals, cap;
	char *text;        /* owned; the decoded strings */
};

/*
 * Reads (data, len), which must be one JSON object or array and nothing
 * else, accepting exactly what jansson's json_loadb with
 * JSON_REJECT_DUPLICATES accepts. Returns 0, or -1 with err saying what is
 * wrong and where (line and column; never the text itself) and d empty.
 * Number values point into data, which must outlive d.
 */
int jdoc_parse(struct jdoc *d, const char *data, size_t len,
	       struct berr *err);
void jdoc_release(struct jdoc *d);
/* The value of key (n bytes) in obj; NULL when obj is NULL or not an
 * object or has no such key. */
const struct jval *jval_member(const struct jval *obj, const char *key,
			       size_t n);
/* v[path], path naming nested object keys joined by dots; NULL when any
 * step is missing. */
const struct jval *jval_path(const struct jval *v, const char *path);

static inline bool jval_is(const struct jval *v, enum jval_type t)
{
	return v != NULL && v->type == t;
}

/* A string value's bytes, or NULL for anything else (NULL included). */
static inline const char *jval_str(const struct jval *v)
{
	return jval_is(v, JVAL_STRING) ? v->s : NULL;
}

/* The value after v and everything nested in it: v's next sibling. An
 * array's first element, an object's first key, is at v + 1. */
static inline const struct jval *jval_next(const struct jval *v)
{
	return v + v->span;
}

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

/* syncer.c — the steps that make the inbox durable (fdatasync, a
 * directory's fsync, deleting an old segment), on a thread of their own, so
 * that the event loop keeps storing requests while the disk works */

#define SYNC_STEPS_MAX 32

enum sync_op {
	SYNC_TRUNCATE, /* ftruncate(fd, len); its failure is not one */
	SYNC_DATA,     /* fdatasync(fd) */
	SYNC_FULL,     /* fsync(fd): a directory */
	SYNC_UNLINK,   /* unlink(path); a missing file is not a failure */
};

struct sync_step {
	enum sync_op op;
	int fd;        /* owned, or -1 */
	off_t len;     /* SYNC_TRUNCATE */
	char *path;    /* owned, or NULL */
};

/* Steps to run in order. Everything in it is owned by it. */
struct sync_job {
	struct sync_step steps[SYNC_STEPS_MAX];
	size_t nsteps;
};

/* Adds a step on a duplicate of fd (not on fd itself), or for path (copied).
 * Returns 0, or -1 with err when the job is full or fd cannot be
 * duplicated. */
int sync_job_add(struct sync_job *job, enum sync_op op, int fd, off_t len,
		 const char *path, struct berr *err);
/* Runs the steps in order, stopping at the first that fails, and releases
 * the job. Returns 0 or that step's errno. */
int sync_job_run(struct sync_job *job);
/* Closes and frees what the job holds without running it; the job is
 * empty after either. */
void sync_job_release(struct sync_job *job);

struct syncer;

/* A syncer reporting to done(error, arg) in base's loop: error is 0 or the
 * errno of the step that failed. NULL when the thread cannot be started
 * (callers then sync in the loop). */
struct syncer *syncer_new(struct event_base *base,
			  void (*done)(int error, void *arg), void *arg);
/* Starts running job, which it takes (job is left empty). Returns 0, or -1
 * when a job is running already (job is then left as it was). */
int syncer_start(struct syncer *s, struct sync_job *job, struct berr *err);
bool syncer_busy(const struct syncer *s);
/* Blocks until the running job (if any) reported. For shutdown only. */
void syncer_wait(struct syncer *s);
/* Waits, stops the thread, frees. NULL ok. */
void syncer_free(struct syncer *s);

/* inbox.c — the durable inbox of deliveries, state_dir/inbox/ (SPEC §7;
 * docs/webhooks.md "The inbox")
 *
 * Segment files of JSON lines. A delivery is appended (inbox_append) and
 * made durable by inbox_sync (fdatasync) before it is answered; the server
 * syncs once per batch of requests handled in one turn of the event loop.
 * Deliveries are kept, with their dedupe key, at least INBOX_KEEP_S.
 * Not thread-safe: the event loop's thread only.
 */

#define INBOX_KEEP_S (3 * 86400)    /* dedupe window */
#define INBOX_MAX_ENTRIES 200000    /* beyond this the oldest segment goes
				       early, with a warning */
#define INBOX_SEGMENT_LINES 20000   /* a new segment after this many lines */
#define INBOX_LINE_MAX 4096         /* longest record */
#define INBOX_ENVS_MAX 8            /* environments one delivery queues */

enum inbox_status {
	INBOX_QUEUED,  /* a deployment must still act on it */
	INBOX_DONE,    /* the deployment that covers it has finished */
	INBOX_IGNORED, /* nothing to do: reason says why */
	INBOX_STORED,  /* kept for later use (Stripe, Sentry events) */
};

/* What inbox_append stores; everything borrowed. */
struct inbox_delivery {
	const char *provider;  /* "github", …, or "api" */
	const char *delivery;  /* the dedupe key: printable, no spaces */
	const char *event;     /* "push", "invoice.paid", or NULL */
	enum inbox_status status;
	const char *reason;    /* why ignored, or NULL */
	const char *branch;    /* the branch pushed, or NULL */
	const char *after;     /* the commit pushed (40 hex), or NULL */
	const char *const *envs; /* environments queued (status queued) */
	size_t nenvs;          /* at most INBOX_ENVS_MAX */
	enum queued_kind kind; /* api: deploy or rollback */
	const char *rev;       /* api: the revision asked for, or NULL */
};

/* A queued delivery, as inbox_foreach_queued shows it; borrowed. */
struct inbox_view {
	uint64_t seq;
	int64_t received;
	const char *provider, *delivery;
	const char *envs;    /* names joined by ',' (NULL: none) */
	uint32_t pending;    /* bit i: the i-th of envs still to deploy */
	enum queued_kind kind;
	const char *rev;     /* or NULL */
	const char *after;   /* "" when unknown */
};

/* One line of a segment, as inbox_line_parse reads it. */
struct inbox_line {
	bool update;         /* {"seq","status"}: a status change only */
	uint64_t seq;
	enum inbox_status status;
	char *provider, *delivery, *event, *reason, *branch, *rev, *envs;
				/* owned or NULL */
	int64_t received;
	char after[41];
	enum queued_kind kind;
};

struct inbox;

#define INBOX_RETIRED_MAX 4 /* segments left behind, not synced yet */
#define INBOX_DOOMED_MAX 8  /* segments dropped, not deleted yet */
#define INBOX_DROP_STEP 1024 /* records inbox_maintain drops per call */

/* A sync job of the inbox and what it covers (inbox_sync_prepare). */
struct inbox_sync {
	struct sync_job job;
	uint64_t upto_seq, appends, dir_changes;
	uint64_t retired[INBOX_RETIRED_MAX];
	size_t nretired;
	uint64_t doomed[INBOX_DOOMED_MAX];
	size_t ndoomed;
};

/*
 * Opens (creating) the inbox in dir and loads every segment; a line that
 * does not parse (the torn end of a crashed append) is logged and skipped.
 * Starts a new segment and deletes expired ones. *out is new (inbox_close).
 * One process owns an inbox at a time (a kernel lock on dir/lock, released
 * when it exits). Returns 0, BERTH_ELOCKED when another process has it
 * open, or -1.
 */
int inbox_open(struct inbox **out, const char *dir, int64_t now,
	       struct berr *err);
void inbox_close(struct inbox *ib);
/* Whether (provider, delivery) is in the inbox (the dedupe check). */
bool inbox_seen(const struct inbox *ib, const char *provider,
		const char *delivery);
/*
 * Appends d, received at now (unix seconds), with the next sequence number
 * into *seq. Not yet written: call inbox_sync (or run the job of
 * inbox_sync_prepare) before answering.
 * Returns 0, or -1 (a key already there, an invalid key, a write error).
 */
int inbox_append(uint64_t *seq, struct inbox *ib,
		 const struct inbox_delivery *d, int64_t now, struct berr *err);
/* Writes the records appended since the last flush (deliveries wait in
 * memory until then; one write for a whole batch). Returns 0 or -1; after
 * a failure, call inbox_forget_unsynced. */
int inbox_flush(struct inbox *ib, struct berr *err);
/* inbox_flush, then makes durable what was appended since the last sync
 * (and whatever segment files were created or dropped), in the calling
 * thread. Returns 0 or -1. */
int inbox_sync(struct inbox *ib, struct berr *err);
/* After a failed inbox_sync: forgets the records appended since the last
 * good sync (their senders were told to retry) and continues in a new
 * segment. Returns 0 or -1. */
int inbox_forget_unsynced(struct inbox *ib, int64_t now, struct berr *err);
/* A deployment of env that covers every record up to upto_seq finished:
 * such records are done once every environment they queued is. The status
 * lines are written, and made durable by the next inbox_sync. */
int inbox_mark_done(struct inbox *ib, const char *env, uint64_t upto_seq,
		    struct berr *err);
/* Rotates the current segment when it is full or a day old and drops
 * segments older than INBOX_KEEP_S (copying queued records forward), at
 * most INBOX_DROP_STEP records per call so that no call holds the event
 * loop long: a drop goes on at the next call, and the file is deleted by
 * the sync after the last. Call it now and then (the server: after every
 * batch; the daemon: every minute). Returns 0 or -1. */
int inbox_maintain(struct inbox *ib, int64_t now, struct berr *err);
/* Calls cb for every queued record, oldest first. */
void inbox_foreach_queued(struct inbox *ib,
			  void (*cb)(const struct inbox_view *v, void *arg),
			  void *arg);
size_t inbox_count(const struct inbox *ib);
/* The sequence number of the newest record appended (0: none). */
uint64_t inbox_last_seq(const struct inbox *ib);
/* The newest records first, at most limit, only provider's when not NULL:
 * a JSON array (new) of {"seq", "provider", "delivery", "received",
 * "status", "event", "reason", "branch", "after", "environments"}. */
struct json_t *inbox_events_json(const struct inbox *ib, const char *provider,
				 size_t limit);

/* inbox_line.c — the inbox's line format */

/*
 * For a sync on another thread (syncer.c): inbox_sync_prepare writes what
 * waits (as inbox_flush) and fills is with the job that makes everything
 * appended so far durable: fdatasync of the segments written to, fsync of
 * the directory after a segment was created, deletion of the segments
 * inbox_maintain dropped. inbox_sync_done, given the job's result, marks
 * what it covered as durable (nothing on an error; the next job retries).
 * Jobs may overlap with appends, rotations and inline syncs. Returns 0, or
 * -1 (a write failed: see inbox_forget_unsynced).
 */
int inbox_sync_prepare(struct inbox *ib, struct inbox_sync *is,
		       struct berr *err);
void inbox_sync_done(struct inbox *ib, const struct inbox_sync *is,
		     int error);

/* "queued", "done", "ignored", "stored". */
const char *inbox_status_name(enum inbox_status s);
/* Parses one line (without its newline) into out (released with
 * inbox_line_release, also on failure). Every string is checked as
 * inbox_append would have written it. Returns 0 or -1 with err. */
int inbox_line_parse(struct inbox_line *out, const char *line, size_t len,
		     struct berr *err);
void inbox_line_release(struct inbox_line *l);
/* True for a provider name or delivery id the inbox stores: 1 to max
 * printable ASCII characters, no spaces. */
bool inbox_line_token_ok(const char *s, size_t max);

/* metrics.c — counters, gauges and histograms for GET /metrics
 *
 * Series are named by a metric declared in metrics.c (an undeclared name
 * is a bug: fatal) and a label list: NULL-terminated name, value pairs,
 * e.g. (const char *[]){"provider", "github", "result", "queued", NULL},
 * or NULL for none.
 */
struct metrics;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);
void metrics_add(struct metrics *m, const char *name, const char *const *labels,
		 double delta);
void metrics_set(struct metrics *m, const char *name, const char *const *labels,
		 double value);
/* Adds one observation to a histogram. */
void metrics_observe(struct metrics *m, const char *name,
		     const char *const *labels, double value);
/* The value of a counter or gauge (a histogram's sum); 0 when never set. */
double metrics_value(struct metrics *m, const char *name,
		     const char *const *labels);
/* Appends the Prometheus text exposition (version 0.0.4) of every series. */
void metrics_render(struct buf *out, const struct metrics *m);

/* intake.c — what a verified request asks for: the decision behind the
 * reply to a webhook or an API request, and the records it stores */

#define SERVER_TRIGGER_MAX 192

/* A deployment to queue once the request is durable. */
struct server_job {
	char env[65];
	enum queued_kind kind;
	char trigger[SERVER_TRIGGER_MAX]; /* "webhook:github:<delivery>",
					     "api" */
	char hint[41];                    /* commit announced, or "" */
	char rev[256];                    /* exact revision, or "" */
	uint64_t seq;                     /* its inbox record */
};

/* What the server needs to answer: borrowed, valid until replaced with
 * server_set_config. */
struct server_config {
	const struct config *cfg;
	struct verify_secrets secrets[PROVIDER_COUNT]; /* NULL secret and
							  token: not usable */
	const void *api_token;  /* NULL: the API is disabled */
	size_t api_token_len;
};

/* A decided reply. */
struct intake_result {
	int status;               /* HTTP status */
	struct buf body;          /* the JSON reply, ending in a newline */
	bool durable;             /* an inbox record was appended: answer
				     only after inbox_sync */
	struct server_job *jobs;  /* owned; njobs of them (room for
				     INBOX_ENVS_MAX), or NULL */
	size_t njobs;
	const char *result;       /* static; for the metric and the log:
				     "queued", "ignored", "duplicate",
				     "stored", "bad_request", "not_found",
				     or a verify_status_name */
	char delivery[VERIFY_KEY_MAX]; /* for the log, "" when unknown */
	uint64_t seq;             /* the record appended when durable */
};

void intake_result_release(struct intake_result *r);
/* Makes out's reply {"error": msg} with status and result (static). */
void intake_reply_error(struct intake_result *out, int status,
			const char *result, const char *msg);

/*
 * Handles a POST to /hooks/<p>: verifies req (401 on failure; 404 when p
 * has no usable secret), parses it (400), deduplicates (200 duplicate),
 * decides (200 ignored / 200 stored / 202 queued with jobs), and appends
 * the record to ib. Never blocks. out is always filled; release it.
 */
void intake_webhook(struct intake_result *out, const struct server_config *sc,
		    struct inbox *ib, enum webhook_provider p,
		    const struct wh_request *req);

/* A parsed body of POST /api/deploy or /api/rollback. */
struct api_request {
	char env[65];
	char rev[256]; /* "commit" (or for a rollback "to"), "" when absent */
};

/* Parses an API body: a JSON object with "env" (required, a configured
 * environment's syntax) and optional "commit" / "to" (queued_rev_ok). At
 * most 64 KiB. Returns 0, or -1 with a message for the reply. */
int intake_parse_api(struct api_request *out, const char *body, size_t len,
		     struct berr *err);

/*
 * Handles POST /api/deploy (kind deploy) and /api/rollback (kind rollback)
 * after the token was checked: parses the body (400), checks the
 * environment (404), appends an "api" record (dedupe key: the
 * Idempotency-Key header when given, else a new one) and decides 202 with
 * one job, or 200 duplicate.
 */
void intake_api(struct intake_result *out, const struct server_config *sc,
		struct inbox *ib, enum queued_kind kind,
		const struct wh_request *req);

/* http.c — HTTP/1.1 request syntax (RFC 9112): heads and chunked bodies.
 * Pure functions over bytes, for the server, the tests and the fuzzers. */

#define HTTP_MAX_FIELDS 100

struct http_field {
	const char *name, *value;
};

/* A parsed request head. Every pointer points into the buffer given to
 * http_head_parse (or at a literal), valid while that buffer is. */
struct http_head {
	const char *method;     /* a token, case as sent */
	const char *path;       /* the target's path, not decoded: "/x/y" */
	const char *query;      /* after '?', not decoded; NULL without one */
	int minor;              /* HTTP/1.minor */
	bool keep_alive;        /* 1.1 unless "close"; 1.0 only if asked */
	bool close;             /* Connection: close was given */
	bool chunked;           /* Transfer-Encoding: chunked */
	bool has_length;        /* a Content-Length was given */
	bool expect_continue;   /* Expect: 100-continue (1.1) */
	uint64_t length;        /* Content-Length */
	size_t nfields;
	struct http_field fields[HTTP_MAX_FIELDS];
};

/* Length of the request head at the start of data[0..len), through its
 * empty line (leading empty lines included), or 0 while it is not complete.
 * from: bytes already searched by an earlier call on the same head. */
size_t http_head_end(const char *data, size_t len, size_t from);
/* Parses the head data[0..len) (as delimited by http_head_end) in place:
 * lines are NUL-terminated where they end. Returns 0, or the HTTP status
 * to refuse it with (400, 417, 431, 501, 505) and *why, a static message
 * without quotes or secrets. */
int http_head_parse(struct http_head *h, char *data, size_t len,
		    const char **why);
/* The first field named name (ASCII case-insensitive), or NULL. */
const char *http_head_field(const struct http_head *h, const char *name);

/* Decoder state of one chunked body. */
struct http_chunked {
	int state;
	uint64_t left;          /* size, then bytes left, of the chunk */
	unsigned ndigits;       /* of the size read so far */
	size_t line;            /* bytes of the current framing line */
	bool ext, cr;           /* size line: ';' seen, CR seen */
	size_t trailer;         /* bytes of the trailer section so far */
	size_t max_trailer;
};

/* max_trailer: most bytes allowed after the last chunk, its final empty
 * line included. */
void http_chunked_init(struct http_chunked *c, size_t max_trailer);
/* Decodes in[0..n), appending the data to out, which may not pass max
 * bytes; *used is set to the bytes consumed. Returns 1 once the body is
 * complete (bytes after it are not consumed), 0 when it needs more, or the
 * HTTP status to refuse it with (400, 413, 431) and *why. */
int http_chunked_feed(struct http_chunked *c, struct buf *out, size_t max,
		      const char *in, size_t n, size_t *used, const char **why);

/* httpd.c — HTTP/1.1 connections on the event loop: accept (with a cap),
 * read requests, enforce the limits, write replies. Refusals it makes
 * itself (400, 408, 413, 417, 431, 501, 505) are JSON, counted in
 * berth_http_requests_total and logged. */

struct event_base;
struct httpd;
struct httpd_req; /* one request, valid until answered */

struct httpd_limits {
	size_t max_body;        /* bytes of a body, after chunked decoding */
	size_t max_header;      /* bytes of a head */
	int read_timeout_s;     /* idle, or for a whole head */
	int write_timeout_s;    /* a reply the client does not read */
	int max_connections;    /* the listener pauses at this many */
};

/* Called with every complete request; it must lead to exactly one
 * httpd_reply, now or later. */
typedef void (*httpd_handler)(struct httpd_req *r, void *arg);

struct httpd *httpd_new(struct event_base *base, struct metrics *m,
			const struct httpd_limits *lim, httpd_handler handler,
			void *arg);
/* Binds host:port (port 0: the kernel picks); *bound_port is the port.
 * Returns 0 or -1. */
int httpd_listen(struct httpd *d, const char *host, int port, int *bound_port,
		 struct berr *err);
void httpd_set_limits(struct httpd *d, const struct httpd_limits *lim);
/* Open client connections. */
int httpd_connections(const struct httpd *d);
/* Closes the listener and every connection; requests not answered are
 * forgotten. NULL ok. */
void httpd_free(struct httpd *d);

const struct http_head *httpd_req_head(const struct httpd_req *r);
const char *httpd_req_header(const struct httpd_req *r, const char *name);
/* The body as received (decoded if chunked), NUL-terminated; NULL when
 * empty. */
const unsigned char *httpd_req_body(const struct httpd_req *r, size_t *len);
/* Monotonic ms when the whole request had arrived. */
int64_t httpd_req_start_ms(const struct httpd_req *r);
/* Adds a header line to the reply (name and value are trusted text). */
void httpd_req_add_header(struct httpd_req *r, const char *name,
			  const char *value);
/* Answers r: status, Content-Type type, body[0..len) (not sent for HEAD).
 * r is gone afterwards. If the client has gone meanwhile, nothing is
 * sent. */
void httpd_reply(struct httpd_req *r, int status, const char *type,
		 const char *body, size_t len);

/* server.c — what the HTTP server of `berth serve` answers
 *
 * Every limit set: body size (checked against Content-Length before the
 * body is read, and while chunks arrive), header size, a read timeout,
 * the number of open connections (the listener stops accepting at the
 * limit and resumes when one closes), methods. Every request gets exactly
 * one reply, JSON except /metrics; nothing in a request waits for
 * anything but the inbox fsync.
 */

struct server;
struct server_reply; /* a request that is answered later */

/* How the server hands work to the daemon. */
struct server_ops {
	/* Queue job; called once its record is durable. */
	void (*enqueue)(const struct server_job *job, void *arg);
	/* GET /api/status: answer r later, exactly once, with
	 * server_reply_json (the status comes from child processes). */
	void (*status)(struct server_reply *r, void *arg);
	void *arg;
};

/* Answers r with status and the JSON j (stolen); r is freed. */
void server_reply_json(struct server_reply *r, int status, struct json_t *j);

/*
 * A server on base, storing into ib and counting into m (both borrowed,
 * alive until server_free). Not listening yet. sc is copied (its pointers
 * stay borrowed).
 */
struct server *server_new(struct event_base *base, struct inbox *ib,
			  struct metrics *m, const struct server_ops *ops,
			  const struct server_config *sc);
/* Binds host:port (port 0: the kernel picks) with the limits of
 * sc->cfg->server. *bound_port is the port bound. Returns 0 or -1. */
int server_listen(struct server *s, const char *host, int port,
		  int *bound_port, struct berr *err);
/* Replaces the config, secrets and limits (SIGHUP); sc copied. */
void server_set_config(struct server *s, const struct server_config *sc);
/* /ready answers 200 once set. */
void server_set_ready(struct server *s, bool ready);
/* Shutting down: webhooks and API requests get 503 from now on, /ready
 * too. */
void server_drain(struct server *s);
/* Closes the listener and every connection. NULL ok. */
void server_free(struct server *s);

#endif /* BERTH_WEBHOOKS_H */
