/*
 * berth.h — the reconciler core (berth_core): primitives, host config, Git,
 * state, and the deploy pipeline. This header is the documentation of the
 * library: every function states what it takes, what it returns and who owns
 * what. Conventions:
 *
 *   - Functions that can fail return int: 0 ok, -1 failure, or one of the
 *     BERTH_E* codes below for expected outcomes. Detail goes into the
 *     caller's struct berr; the layer that decides what to do logs it, once.
 *   - Constructors return NULL on failure. Free functions accept NULL.
 *   - _init/_release work on caller-owned structs; _new/_free allocate.
 *   - Out-parameters come first; (ptr, len) in that order.
 */
#ifndef BERTH_H
#define BERTH_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "manifest.h"

#define BERTH_ENOTFOUND (-2) /* the thing asked for does not exist */
#define BERTH_ELOCKED (-3)   /* another process holds the lock */
#define BERTH_ETOOBIG (-4)   /* input over its size limit */
#define BERTH_ETIMEOUT (-5)  /* a wait ran out of time */

/* Exit statuses (SPEC §4). */
#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_CHANGES 2
#define EXIT_ROLLBACK_FAILED 3
#define EXIT_USAGE 64
#define EXIT_LOCKED 75

#if defined(__GNUC__)
#define BERTH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define BERTH_NORETURN __attribute__((noreturn))
#else
#define BERTH_PRINTF(f, a)
#define BERTH_NORETURN
#endif

#define BERTH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* berr.c */

/* Error detail filled in by the callee, read by the caller. */
struct berr {
	char msg[512];
};

/* Sets err->msg (err may be NULL). Always returns -1 so callers can write
 * `return berr_set(err, ...)`. Long messages are truncated with "...". */
int berr_set(struct berr *err, const char *fmt, ...) BERTH_PRINTF(2, 3);

/* Like berr_set, appending ": strerror(errnum)". Returns -1. */
int berr_errno(struct berr *err, int errnum, const char *fmt, ...)
    BERTH_PRINTF(3, 4);

/* Prepends "prefix: " to the existing message. Returns -1. */
int berr_prefix(struct berr *err, const char *fmt, ...) BERTH_PRINTF(2, 3);

/* buf.c */

/* Growable byte buffer, always NUL-terminated, with a hard maximum size.
 * Zero-initialise or buf_init() before use; buf_release() frees. */
struct buf {
	char *data;  /* owned; NULL until the first append */
	size_t len;  /* bytes used, not counting the terminating NUL */
	size_t cap;  /* bytes allocated */
	size_t max;  /* largest len allowed; 0 means BUF_DEFAULT_MAX */
	bool toobig; /* set once an append was refused for exceeding max */
};

#define BUF_DEFAULT_MAX ((size_t)64 << 20)

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
/* Empties the buffer, keeping its allocation and maximum. */
void buf_reset(struct buf *b);
/* Appends len bytes. Returns 0, or BERTH_ETOOBIG (buffer unchanged, toobig
 * set) when the result would exceed max. Aborts on allocation failure. */
int buf_append(struct buf *b, const void *p, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...) BERTH_PRINTF(2, 3);
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) BERTH_PRINTF(2, 0);
/* Returns the contents (never NULL, "" when empty); stays owned by b. */
const char *buf_str(const struct buf *b);
/* Returns the contents as a new malloc'd string the caller frees and leaves
 * b empty. */
char *buf_detach(struct buf *b);
/* Keeps only the last `keep` bytes (for output tails). */
void buf_keep_tail(struct buf *b, size_t keep);

/* xmalloc.c */

/* Allocation that aborts with a message instead of returning NULL: berth
 * cannot do anything useful without memory, and checking every allocation
 * would hide the real error paths. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) BERTH_PRINTF(1, 2);

/* log.c */

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Daemon-style logs: one line per event on stderr, "ts=… level=… msg=…"
 * followed by key=value pairs given by the caller. Values are quoted when
 * they contain spaces, quotes or '='. Never pass a secret. */
void log_set_level(enum log_level level);
void log_set_json(bool on); /* reserved for a JSON log format */
void log_msg(enum log_level level, const char *fmt, ...) BERTH_PRINTF(2, 3);
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
/* Appends ` key=value` to b, quoting value when needed. */
void log_kv(struct buf *b, const char *key, const char *value);

/* Prints "berth: fatal: …" and exits 1. Only for startup failures and broken
 * invariants, never for anything a peer sent. */
void fatal(const char *fmt, ...) BERTH_PRINTF(1, 2) BERTH_NORETURN;

/* strnum.c */

/* Parses a whole decimal integer in [min, max]. Rejects empty strings,
 * leading/trailing junk, and out-of-range values. Returns 0 or -1. */
int strnum_i64(int64_t *out, const char *s, int64_t min, int64_t max);
int strnum_int(int *out, const char *s, int min, int max);
/* Parses "HH:MM" (00:00–23:59) into minutes after midnight. */
int strnum_hhmm(int *minutes, const char *s);
/* True when s is exactly 40 lowercase hex digits. */
bool strnum_is_sha(const char *s);
/* Formats a unix time (seconds) as UTC "YYYY-MM-DDTHH:MM:SSZ". */
void strnum_iso8601(char out[32], int64_t t);
/* Parses what strnum_iso8601 writes. Returns 0 or -1. */
int strnum_parse_iso8601(int64_t *t, const char *s);
/* Milliseconds from CLOCK_MONOTONIC and CLOCK_REALTIME. */
int64_t strnum_mono_ms(void);
int64_t strnum_now_ms(void);

/* fs.c */

/* Writes data to path atomically and durably: a temporary file in the same
 * directory, fsync, rename over path, fsync of the directory. Readers see
 * the old content or the new, never a mix. */
int fs_write_atomic(const char *path, const void *data, size_t len,
		    mode_t mode, struct berr *err);
/* Reads a whole file into out (appending). Returns BERTH_ENOTFOUND when it
 * does not exist, BERTH_ETOOBIG when it exceeds max bytes, -1 otherwise. */
int fs_read_file(struct buf *out, const char *path, size_t max,
		 struct berr *err);
/* mkdir -p with mode for the directories it creates. */
int fs_mkdir_p(const char *path, mode_t mode, struct berr *err);
/* rm -rf that never follows symlinks out of path. Missing path is ok. */
int fs_remove_tree(const char *path, struct berr *err);
int fs_fsync_dir(const char *dir, struct berr *err);
/* Replaces the symlink at path with one pointing to target, atomically. */
int fs_symlink_atomic(const char *target, const char *path, struct berr *err);
bool fs_exists(const char *path);
bool fs_is_dir(const char *path);
/* Joins a and b with one '/', into a new string. */
char *fs_join(const char *a, const char *b);

/* cli.c — command table and option parsing for main.c and cmd_*.c */

struct cli;

/* One option of a command: --name, or --name VALUE when arg is set. */
struct cli_opt {
	const char *name; /* long name without the dashes */
	const char *arg;  /* the value's name in --help ("REV"), NULL for a flag */
	const char *help;
};

#define CLI_MAX_OPTS 24
#define CLI_MAX_ARGS 8

struct cli_cmd {
	const char *name;
	const char *args;            /* positional synopsis: "[ENV]" */
	const char *summary;         /* one line for `berth --help` */
	const struct cli_opt *opts;  /* terminated by an entry with name NULL */
	size_t min_args, max_args;   /* positional arguments accepted */
	int (*run)(struct cli *cli); /* returns the process exit status */
};

/* A parsed command line. */
struct cli {
	const struct cli_cmd *cmd;       /* borrowed */
	const char *config_path;         /* borrowed from argv, or NULL */
	const char *args[CLI_MAX_ARGS];  /* positional, borrowed from argv */
	size_t nargs;
	const char *values[CLI_MAX_OPTS]; /* by index into cmd->opts */
	bool set[CLI_MAX_OPTS];
	bool help;                       /* --help or -h was given */
};

/*
 * Parses argv (after the command name) against cmd's options into out.
 * Accepts "--opt VALUE", "--opt=VALUE", flags, "--" ending options, and
 * --help/-h (sets out->help; the caller prints cli_usage and exits 0).
 * Returns 0, or -1 with a message for the user in err (exit 64).
 */
int cli_parse(struct cli *out, const struct cli_cmd *cmd, int argc,
	      char **argv, struct berr *err);
/* Value of option name, or NULL when not given. */
const char *cli_value(const struct cli *c, const char *name);
bool cli_flag(const struct cli *c, const char *name);
/* The ENV positional (args[0]) or "production". */
const char *cli_env(const struct cli *c);
/* Prints the usage of cmd, with every option and its help, to f. */
void cli_usage(const struct cli_cmd *cmd, void *f);

/* cmd_*.c — the commands compiled into the berth binary (not berth_core),
 * one file each, listed in main.c's table. */
extern const struct cli_cmd cmd_version;

/* spawn.c — running commands: posix_spawn with an argv vector, never a shell
 *
 * Every child gets: the environment it is given and nothing else; default
 * signal dispositions and an empty signal mask; no file descriptor of berth's
 * above 2 (so it can never inherit a lock or a socket); stdin from /dev/null
 * unless told otherwise. These calls block: they are for the CLI process and
 * for deployments the daemon runs as child processes, never for the event
 * loop. They only ever wait for the pids they started.
 */

struct spawn_opts {
	const char *const *argv;  /* borrowed; NULL-terminated; argv[0] without a
				     '/' is looked up on the PATH of env (not
				     berth's); with a '/' it is relative to cwd.
				     A struct strv gives (const char *const *)v */
	const struct kvlist *env; /* borrowed; the child's whole environment;
				     NULL: empty. Keys are never printed,
				     values never */
	const char *cwd;          /* working directory, or NULL for berth's */
	int timeout_ms;           /* 0: none. On expiry SIGTERM to the child's
				     process group, SIGKILL after kill_grace_ms */
	int kill_grace_ms;        /* 0: 5000 */
	size_t capture_max;       /* output kept (its tail); 0: 64 KiB; at most
				     16 MiB */
	/* Called with each line of output as it arrives, without its "\n",
	 * NUL-terminated; lines over 4 KiB arrive in pieces. May be NULL. */
	void (*on_line)(const char *line, size_t len, void *arg);
	void *arg;
	int stdout_fd;            /* -1: stdout goes with stderr into output;
				     else the child's stdout (borrowed) */
	int stdin_fd;             /* -1: /dev/null; else the child's stdin
				     (borrowed) */
};

/* Zero-initialise, then set argv, env, and -1 for stdout_fd and stdin_fd. */
#define SPAWN_OPTS_INIT {.stdout_fd = -1, .stdin_fd = -1}

struct spawn_result {
	int exit_code;       /* exit status, or -1 when killed by a signal */
	int signal;          /* the signal that ended it, or 0 */
	bool timed_out;      /* timeout_ms expired and berth killed it */
	int timeout_ms;      /* the timeout it ran with, for messages */
	struct buf output;   /* owned; stderr (and stdout unless redirected),
				interleaved as written; the last capture_max
				bytes */
	bool truncated;      /* output lost its beginning to capture_max */
	int64_t duration_ms; /* from start to exit */
};

/*
 * Runs a command to completion in its own process group. Output is read
 * while it runs (on_line, then the captured tail). When the child exits,
 * output still buffered is read and anything it left running in the
 * background is no longer waited for; on a timeout the whole group is
 * killed, and gone when spawn_run returns. Returns 0 when the command ran, whatever its exit status: look
 * at res->exit_code, res->signal, res->timed_out. Returns -1 with err set
 * when it could not start: "command 'foo' not found on PATH", "cannot
 * change to directory 'x': No such file or directory". res is always
 * initialised; release it with spawn_result_release().
 */
int spawn_run(struct spawn_result *res, const struct spawn_opts *o,
	      struct berr *err);
void spawn_result_release(struct spawn_result *res);

/*
 * Starts a long-running service and returns at once: a new session and
 * process group (*pgid is its id and the child's pid), stdin /dev/null,
 * stdout and stderr appended to log_path (created 0640). Of o, only argv,
 * env and cwd are used. The service outlives berth. It stays a child of
 * the caller until the caller exits: a long-lived caller reaps it in its
 * SIGCHLD loop (waitpid with WNOHANG), or through spawn_group_alive() and
 * spawn_stop_group(), which reap it when it is theirs.
 */
int spawn_detached(pid_t *pgid, const struct spawn_opts *o,
		   const char *log_path, struct berr *err);

/*
 * Stops a process group: SIGTERM (and SIGCONT, so stopped members see it),
 * waits up to stop_timeout_ms for every member to be gone, then SIGKILL and
 * waits again. *killed says whether SIGKILL was needed. A group already
 * gone is success. Returns -1 for a pgid that is not a group berth may stop
 * (<= 1, or berth's own), on EPERM, or when the group survives SIGKILL.
 */
int spawn_stop_group(pid_t pgid, int stop_timeout_ms, bool *killed,
		     struct berr *err);

/* True while a member of the process group is running (zombies do not
 * count: pid 1 of a container may never reap them). */
bool spawn_group_alive(pid_t pgid);

/* Adds berth's own PATH (default /usr/local/bin:/usr/bin:/bin), HOME, LANG
 * and TZ to env: the base of every command's environment (SPEC §3). */
void spawn_env_base(struct kvlist *env);

/* "exited 1", "killed by SIGKILL", "timed out after 30 s": new string. */
char *spawn_describe_status(const struct spawn_result *r);

/* http_client.c — HTTP requests; the only file that includes <curl/curl.h>
 *
 * Every request has a connect and a total timeout, a response size limit,
 * no redirects unless asked, http and https only, no proxy for loopback,
 * and the User-Agent berth/<version>. Blocking: not for the event loop.
 */

struct http_request {
	const char *method;          /* "GET" when NULL */
	const char *url;             /* borrowed; may hold a secret */
	const char *body;            /* borrowed; NULL: no body */
	size_t body_len;
	const char *content_type;    /* of body, or NULL */
	const char *const *headers;  /* NULL-terminated "Name: value", or NULL */
	int timeout_ms;              /* whole request; 0: 30000 */
	int connect_timeout_ms;      /* 0: the smaller of timeout_ms and 10000 */
	size_t max_response;         /* body bytes accepted; 0: 1 MiB */
	bool follow_redirects;       /* at most 5, http and https only */
	const char *unix_socket;     /* connect to this socket instead, or NULL */
};

struct http_response {
	long status;         /* HTTP status */
	struct buf body;     /* owned */
	int64_t duration_ms;
};

/* curl_global_init, once; http_request calls it too. Call it from main
 * before any thread starts. Returns 0 or -1. */
int http_client_init(void);

/*
 * Performs a request. Returns 0 when a response arrived, whatever its
 * status; -1 on transport errors, BERTH_ETOOBIG when the body exceeds
 * max_response. Messages name the host and port only, never the path,
 * query or userinfo, which may carry secrets: "cannot connect to
 * 127.0.0.1:3000: Connection refused", "request to 127.0.0.1:3000 timed out
 * after 5000 ms". res is always initialised; release it with
 * http_response_release().
 */
int http_request(struct http_response *res, const struct http_request *req,
		 struct berr *err);
void http_response_release(struct http_response *res);

/*
 * A URL safe to print, as a new string: userinfo, query and fragment
 * removed; with keep_path false the path too ("https://hooks.slack.com/…"),
 * for URLs whose path is a secret (webhooks). An unparsable URL gives
 * "(invalid URL)".
 */
char *http_redact_url(const char *url, bool keep_path);

/* libcurl's version, "7.88.1". */
const char *http_client_lib_version(void);

/* notify.c — telling people how a deployment ended (SPEC §5 step 10)
 *
 * A notifier never fails a deployment and never holds it up beyond its
 * bound: each one gets a few attempts with backoff inside a hard time
 * limit, and its result is only for the log. Notifiers are sent one after
 * the other; the URL of each is a secret and appears nowhere.
 */

struct notify_event {
	const char *env;             /* borrowed */
	const char *commit;          /* borrowed; full sha, or NULL */
	const char *previous_commit; /* borrowed; NULL for the first deployment */
	const char *status;          /* borrowed; "succeeded", "failed", ... */
	const char *trigger;         /* borrowed; "cli", "webhook:github:…" */
	int64_t deployment_id;
	int64_t duration_ms;
	int64_t finished_at;         /* unix seconds */
};

struct notify_target {
	enum manifest_notify_type type;
	const char *url;    /* borrowed; a secret; NULL when it could not be
			       resolved */
	const char *source; /* borrowed; where the URL comes from, for
			       messages: "SLACK_WEBHOOK_URL" */
};

/* Zero fields take the defaults. */
struct notify_policy {
	int attempts;           /* default 3 */
	int backoff_ms;         /* delay before the 2nd attempt, doubled after;
				   default 500 */
	int request_timeout_ms; /* one attempt; default 5000 */
	int total_timeout_ms;   /* hard bound for one notifier, attempts and
				   delays included; default 10000 */
};

struct notify_result {
	enum manifest_notify_type type;
	bool sent;           /* a 2xx answer arrived */
	int attempts;        /* requests made */
	long status;         /* last HTTP status, 0 when none */
	int64_t duration_ms;
	char *where;         /* owned; "https://hooks.slack.com/…", never the
				path, query or userinfo */
	char *detail;        /* owned; why it was not sent, or NULL */
};

/*
 * The request body for a notifier, as a new string. slack: {"text": "…"}
 * with env, deployment id, status, short commits, duration and trigger.
 * webhook: {"env", "commit", "previous_commit", "status", "duration_s",
 * "trigger", "deployment_id", "finished_at"} (finished_at in ISO 8601 UTC,
 * absent commits as null).
 */
char *notify_payload(enum manifest_notify_type type,
		     const struct notify_event *ev);

/*
 * Sends ev to one notifier; retries transport errors, 408, 429 and 5xx.
 * Returns 0 when sent, -1 otherwise, with the reason in res->detail.
 * policy may be NULL. res is always initialised; release it with
 * notify_result_release().
 */
int notify_send(struct notify_result *res, const struct notify_target *t,
		const struct notify_event *ev,
		const struct notify_policy *policy);

/* notify_send to each of the n targets into results[0..n-1], in order.
 * Returns how many were sent. */
size_t notify_send_all(struct notify_result *results,
		       const struct notify_target *targets, size_t n,
		       const struct notify_event *ev,
		       const struct notify_policy *policy);
void notify_result_release(struct notify_result *res);

/* One line for the log: "slack https://hooks.slack.com/…: sent (HTTP 200,
 * 1 attempt, 0.2 s)" or "webhook https://x/…: not sent after 3 attempts:
 * HTTP 500". New string. */
char *notify_describe_result(const struct notify_result *res);

/* config.c — the host config, SPEC §2 */

/* Webhook providers, in the order of SPEC §7's table. */
enum webhook_provider {
	PROVIDER_GITHUB,
	PROVIDER_GITLAB,
	PROVIDER_GITEA,
	PROVIDER_BITBUCKET,
	PROVIDER_GENERIC,
	PROVIDER_STRIPE,
	PROVIDER_SENTRY,
	PROVIDER_COUNT
};

/* A secret is named, never inlined: by an environment variable (*_env) or by
 * a file that only its owner can read (*_file). At most one of the two. */
struct secret_ref {
	char *env;  /* owned; variable name, or NULL */
	char *file; /* owned; absolute path, or NULL */
};

struct env_config {
	char *name;        /* owned */
	char *branch;      /* owned; default "main" */
	char *manifest;    /* owned; path in the repository, default "berth.json" */
	char *env_file;    /* owned; absolute path, or NULL for none */
	bool auto_deploy;  /* default true: pushes and polls deploy */
};

struct webhook_config {
	bool enabled;             /* the provider has a section in the config */
	struct secret_ref secret; /* HMAC secret (gitlab: signing token) */
	struct secret_ref token;  /* gitlab's X-Gitlab-Token */
	int tolerance_s;          /* generic, stripe; default 300 */
};

struct notifier_config {
	enum manifest_notify_type type;
	struct secret_ref url; /* a webhook URL may embed a token: a secret */
};

struct config {
	char *path;      /* owned; the file loaded */
	char *state_dir; /* owned; absolute; default /var/lib/berth */
	char *listen;    /* owned; "host:port", default "127.0.0.1:8470" */
	struct {
		char *url;            /* owned; local path, file://, https:// or ssh */
		struct secret_ref token;  /* https token */
		char *ssh_key_file;   /* owned or NULL */
		int poll_interval_s;  /* default 120; 0 disables polling */
	} repo;
	struct env_config *envs; /* owned; default: production tracking main */
	size_t nenvs;
	struct webhook_config webhooks[PROVIDER_COUNT];
	struct secret_ref api_token;
	struct notifier_config *notify; /* owned */
	size_t nnotify;
	struct {
		size_t max_body_bytes;   /* default 25 MiB */
		size_t max_header_bytes; /* default 64 KiB */
		int read_timeout_s;      /* default 10 */
		int write_timeout_s;     /* default 10 */
		int max_connections;     /* default 256 */
	} server;
};

/* dotenv.c — env_file parser */

/* secret.c — resolving *_env and *_file secrets */

/* git.c — the bare mirror; the only file that includes <git2.h> */

/* state.c — state directory layout, deployment records */

/* lock.c — per-environment lock released by the kernel */

/* plan.c — what apply would change */

#endif /* BERTH_H */
