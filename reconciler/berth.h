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
#define BERTH_EDECLINED (-6) /* a person answered no */

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
/* Appends v in decimal. */
int buf_put_u64(struct buf *b, uint64_t v);
int buf_printf(struct buf *b, const char *fmt, ...) BERTH_PRINTF(2, 3);
/* Appends s as a JSON string, quoted and escaped; bytes that do not form
 * well-formed UTF-8 become U+FFFD, so the result always parses. */
int buf_put_json_string(struct buf *b, const char *s);
/* Length of the well-formed UTF-8 sequence of 2 to 4 bytes at s, of which
 * avail bytes may be read (RFC 3629: no overlong form, no surrogate,
 * nothing past U+10FFFF), or 0. */
size_t utf8_seq_len(const unsigned char *s, size_t avail);
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
/* Between log_hold() and log_release() (nestable), lines are kept and
 * written a few at a time: for a burst of lines from one turn of the event
 * loop. Nothing is reordered and nothing is held past log_release(). */
void log_hold(void);
void log_release(void);
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
/* The value of one hex digit of either case, or -1. */
int strnum_hex_digit(char c);
/* Formats a unix time (seconds) as UTC "YYYY-MM-DDTHH:MM:SSZ". */
void strnum_iso8601(char out[32], int64_t t);
/* Parses what strnum_iso8601 writes. Returns 0 or -1. */
int strnum_parse_iso8601(int64_t *t, const char *s);
/* Milliseconds from CLOCK_MONOTONIC and CLOCK_REALTIME. */
int64_t strnum_mono_ms(void);
int64_t strnum_now_ms(void);

/* sha256.c */

/* The SHA-256 of (data, len): 32 raw bytes, or 64 lowercase hex digits and
 * a NUL. */
/* lazylib.c: a library loaded on first use. lazylib_open dlopens soname
 * (package names what provides it, for the error); lazylib_sym stores the
 * address of its function name into *fn (a function pointer of fn_size
 * bytes). Return NULL / -1 with err. */
void *lazylib_open(const char *soname, const char *package, struct berr *err);
int lazylib_sym(void *lib, const char *soname, const char *name, void *fn,
		size_t fn_size, struct berr *err);
/* Once per library: lazylib_open, then lazylib_sym of each of fns; later
 * calls return the first one's result (and its error into err). */
struct lazylib {
	bool tried;
	int rc;
	struct berr err;
};
struct lazylib_fn {
	const char *name;
	void *fn;        /* address of the function pointer to fill */
	size_t fn_size;
};
int lazylib_load(struct lazylib *l, const char *soname, const char *package,
		 const struct lazylib_fn *fns, size_t n, struct berr *err);

void sha256_raw(unsigned char out[32], const void *data, size_t len);
void sha256_hex(char out[65], const void *data, size_t len);

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

/* SIGTERM, SIGINT and SIGHUP set a flag instead of ending berth, for the
 * commands that deploy: the running step finishes, then the deployment
 * fails (before migrate) or rolls back (from migrate on). */
void cli_catch_stop_signals(void);
/* Whether one of those signals arrived (apply_opts.stop_requested). */
bool cli_stop_requested(void);

/* cmd_*.c — the commands compiled into the berth binary (not berth_core),
 * one file each, listed in main.c's table. */
extern const struct cli_cmd cmd_apply;
extern const struct cli_cmd cmd_drift;
extern const struct cli_cmd cmd_backup;
extern const struct cli_cmd cmd_rollback;
extern const struct cli_cmd cmd_history;
extern const struct cli_cmd cmd_hook;
extern const struct cli_cmd cmd_hooks;
extern const struct cli_cmd cmd_plan;
extern const struct cli_cmd cmd_resume;
extern const struct cli_cmd cmd_smoke;
extern const struct cli_cmd cmd_status;
extern const struct cli_cmd cmd_unlock;
extern const struct cli_cmd cmd_validate;
extern const struct cli_cmd cmd_version;
extern const struct cli_cmd cmd_serve;

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

/* Finds the program that spawn_run would run for name (argv[0]): on the
 * PATH of env, or relative to cwd (NULL: berth's) when it holds a '/'.
 * *out is a new string; NULL on failure. Returns 0, or -1 with err as
 * spawn_run's ("command 'x' not found on PATH"). */
int spawn_which(char **out, const char *name, const struct kvlist *env,
		const char *cwd, struct berr *err);

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
	const char *warning;         /* borrowed or NULL; what people must
					know, e.g. rows a restore discarded */
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
 * absent commits as null), and "warning" when ev has one (slack: after
 * the text, "warning: …").
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

/* notify_send with a body of the caller's (a JSON text fitting t->type:
 * Slack wants {"text": …}), for events other than a deployment's end
 * (drift, a failed scheduled backup). Same retries, bound and results. */
int notify_send_body(struct notify_result *res, const struct notify_target *t,
		     const char *body, const struct notify_policy *policy);
/* Appends s to b with Slack's markup characters (&, <, >) escaped:
 * "<!channel>" in a commit subject must not ping everyone. */
void notify_slack_escape(struct buf *b, const char *s);
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

/* pg.c — PostgreSQL through libpq; the only file that includes <libpq-fe.h>.
 * Every call blocks until the server answers: use it from commands and from a
 * deployment's child process, never from the daemon's event loop. */

struct pg_conn; /* opaque */

/* Where the server placed the last error of a connection (pg_last_error). */
struct pg_error {
	char sqlstate[6]; /* "42P01"; "" when the error did not come from the
			     server (connection lost, bad parameters) */
	long offset;      /* byte offset into the SQL text sent, from the
			     server's error position; -1 when it gave none */
	long statement;   /* 0-based index of the failing statement of the SQL
			     text (the number of statements that completed
			     before it); -1 when unknown */
};

/*
 * Connects to url (a postgresql:// URL or a libpq "key=value" string), with
 * client_encoding UTF8, waiting at most connect_timeout_s seconds (<= 0: 10).
 * The URL may hold a password: no error message ever contains it, nor the
 * URL's userinfo or query; messages name the database and host:port instead
 * ("cannot connect to postgresql://127.0.0.1:5432/pos: …").
 * *out is new (pg_close); NULL on failure. Returns 0 or -1.
 */
int pg_connect(struct pg_conn **out, const char *url, int connect_timeout_s,
	       struct berr *err);
/* Closes the connection; the server releases its session locks. NULL ok. */
void pg_close(struct pg_conn *c);

/*
 * Runs sql, one or more statements separated by ';', with the simple query
 * protocol (outside an explicit BEGIN the server runs them as one implicit
 * transaction). Rows returned are discarded; COPY FROM STDIN is refused.
 * Returns 0, or -1 with the server's message (and its DETAIL and the last
 * line of its CONTEXT) in err and the position in pg_last_error(c).
 */
int pg_exec(struct pg_conn *c, const char *sql, struct berr *err);
/* Runs one statement with text parameters $1..$nparams (NULL entries are SQL
 * NULL; params may be NULL when nparams is 0). Returns 0 or -1. */
int pg_exec_params(struct pg_conn *c, const char *sql, int nparams,
		   const char *const *params, struct berr *err);

/* Rows of a query result, all values in text form. */
struct pg_rows {
	size_t nrows, ncols;
	char **cells; /* owned; nrows * ncols, row-major; NULL for SQL NULL */
};

/* Runs one statement like pg_exec_params and copies its rows into *out
 * (released with pg_rows_release, also on failure). Returns 0 or -1. */
int pg_query(struct pg_rows *out, struct pg_conn *c, const char *sql,
	     int nparams, const char *const *params, struct berr *err);
/* Borrowed value of (row, col), NULL for SQL NULL or out of range. */
const char *pg_rows_get(const struct pg_rows *r, size_t row, size_t col);
void pg_rows_release(struct pg_rows *r);

/* Detail of the last failed call on c; offset and statement are -1 and
 * sqlstate "" after a success. Borrowed, valid until the next call on c. */
const struct pg_error *pg_last_error(const struct pg_conn *c);
/* True while c is inside a transaction block (BEGIN without COMMIT yet, or a
 * failed one not rolled back). */
bool pg_in_transaction(const struct pg_conn *c);
/* The server's version as an integer, e.g. 150018 for 15.18. */
int pg_server_version(const struct pg_conn *c);
/* libpq's version, "15.18". Static storage. */
const char *pg_lib_version(void);
/* url for messages and logs: "postgresql://HOST:PORT/DB", without userinfo,
 * password or query parameters. New string (free()). */
char *pg_url_display(const char *url);

/*
 * Adds the connection parameters of url (a postgresql:// URL or a "key=value"
 * string) to env under the names of libpq's environment variables: PGHOST,
 * PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, … A client tool (psql,
 * pg_dump) started with that environment reaches the same database without
 * the URL, and with it the password, on its command line. Parameters libpq
 * has no variable for (keepalives, replication) are left out. Returns 0, or
 * -1 when libpq cannot parse url (the message never shows the password).
 */
int pg_url_env(struct kvlist *env, const char *url, struct berr *err);

/* Write activity of one user table, from pg_stat_user_tables. */
struct pg_table_stat {
	char *name;        /* owned; schema-qualified, quoted where needed:
			      "public.orders" */
	int64_t writes;    /* n_tup_ins + n_tup_upd + n_tup_del */
	int64_t live_rows; /* n_live_tup, an estimate */
};

struct pg_table_stats {
	struct pg_table_stat *tables; /* owned; ordered by schema, then name */
	size_t n;
};

/*
 * Reads the write counters of every user table of the connected database.
 * The counters are cumulative since the statistics were last reset
 * (pg_stat_reset(), a crash): to count rows written between two snapshots,
 * subtract per table, and treat a counter that went down as unknown. A
 * backend publishes its counts when it goes idle, at most once a second, and
 * when it exits. *out is released with pg_table_stats_release (also on
 * failure). Returns 0 or -1.
 */
int pg_table_stats(struct pg_table_stats *out, struct pg_conn *c,
		   struct berr *err);
void pg_table_stats_release(struct pg_table_stats *s);

/* sqlscan.c — splitting SQL text into statements as psql does */

/* One top-level statement of a SQL text. */
struct sqlscan_stmt {
	size_t offset;     /* byte offset of its first token */
	size_t end;        /* byte offset just past its ';', or the text's end */
	unsigned line;     /* 1-based line of its first token */
	char words[4][24]; /* its leading bare words in lower case ("create",
			      "index", …), up to the first other token; "" when
			      fewer; longer words truncated */
};

/*
 * Splits (sql, len) into the statements the server runs when it gets the
 * whole text as one query: ';' ends a statement outside quotes, dollar
 * quotes, comments (nested), parentheses and the BEGIN … END body of CREATE
 * FUNCTION / PROCEDURE; empty statements are skipped. Any bytes are accepted;
 * text the server would reject (an unterminated quote) ends the last
 * statement. *out is new (free()), NULL when *n is 0.
 */
void sqlscan_statements(struct sqlscan_stmt **out, size_t *n,
			const char *sql, size_t len);
/* 1-based line number of byte offset off in (sql, len). */
unsigned sqlscan_line(const char *sql, size_t len, size_t off);

/* migrate.c — the sql_dir migration runner (SPEC §3, docs/migrations.md) */

#define MIGRATE_TABLE "berth_schema_migrations"
#define MIGRATE_MAX_FILE_BYTES ((size_t)64 << 20)

/* A migration file's name and content, read from a directory or from Git. */
struct migrate_source {
	const char *name; /* borrowed; base name, "003_orders.sql" */
	const void *data; /* borrowed */
	size_t len;
};

/* A file not applied yet. */
struct migrate_pending {
	char *name;        /* owned */
	char checksum[65]; /* lowercase hex SHA-256 of the content */
	bool out_of_order; /* sorts before an applied file; applied anyway */
	char *problem;     /* owned; why it cannot run, "line 3: COMMIT …", or
			      NULL; apply refuses to start while one is set */
};

/* An applied file whose content changed since. */
struct migrate_changed {
	char *name;    /* owned */
	char *applied; /* owned; checksum recorded when it was applied */
	char current[65];
};

/* What apply would do; nothing in the database is changed to find out. */
struct migrate_plan {
	bool table_exists; /* false: berth never migrated this database */
	size_t napplied;   /* rows in berth_schema_migrations */
	struct migrate_pending *pending; /* owned; in the order they would run */
	size_t npending;
	struct migrate_changed *changed; /* owned; non-empty is an error */
	size_t nchanged;
	char **missing; /* owned; applied names without a file any more: a
			   warning for the caller to show, never an error (a
			   code-only rollback to an older commit lacks them) */
	size_t nmissing;
};

/* True for names the runner takes from a directory: "*.sql", not hidden. */
bool migrate_is_file_name(const char *name);

/*
 * Compares files (in any order; names that migrate_is_file_name rejects are
 * ignored) with berth_schema_migrations, which need not exist yet. Runs in
 * name order are byte-wise (strcmp). *out is released with
 * migrate_plan_release (also on failure). Returns 0, or -1 (a duplicate
 * name, a database error).
 */
int migrate_plan_files(struct migrate_plan *out, struct pg_conn *c,
		       const struct migrate_source *files, size_t nfiles,
		       struct berr *err);
/* migrate_plan_files over the *.sql files of directory dir. Each must be a
 * regular file (a symlink is an error) of at most MIGRATE_MAX_FILE_BYTES.
 * Returns 0, BERTH_ENOTFOUND when dir does not exist, or -1. */
int migrate_plan(struct migrate_plan *out, struct pg_conn *c,
		 const char *dir, struct berr *err);
void migrate_plan_release(struct migrate_plan *p);

struct migrate_opts {
	int64_t deployment_id;   /* recorded with each file; <= 0 records NULL */
	int lock_timeout_s;      /* SET LOCAL lock_timeout per file; 0 = none */
	int statement_timeout_s; /* SET LOCAL statement_timeout; 0 = none */
	int lock_wait_s;         /* wait for another migrator at most this
				    long; 0 = as long as it takes */
	const char *display_dir; /* how messages name dir ("migrations");
				    NULL: dir itself */
	/* Called with ms = -1 when a file starts, then with its duration once
	 * it is committed. May be NULL. */
	void (*progress)(const char *name, int64_t ms, void *arg);
	void *arg;
};

/* One file applied by migrate_apply. */
struct migrate_step {
	char *name; /* owned */
	char checksum[65];
	int64_t ms;
};

struct migrate_result {
	struct migrate_plan plan;     /* as found under the lock, before
					 anything ran; plan.missing are the
					 warnings to show */
	struct migrate_step *applied; /* owned; committed by this call */
	size_t napplied;
	char *failed;                 /* owned; the file that failed, or NULL */
};

/*
 * Applies the pending *.sql files of dir in name order. Holds a session
 * advisory lock for the whole run, so two migrators of one database take
 * turns; creates berth_schema_migrations if missing. Refuses to run anything
 * when an applied file changed or a pending file has a problem. Each file
 * runs in one transaction together with its row in the table, after SET
 * LOCAL lock_timeout and statement_timeout: a failing file leaves nothing
 * behind, files before it stay applied, and err reads
 * "migrations/003_x.sql: line 4: relation \"foo\" does not exist".
 * *out is released with migrate_result_release (also on failure).
 * Returns 0; BERTH_ENOTFOUND when dir does not exist; BERTH_ELOCKED when
 * another migrator held the lock longer than opts->lock_wait_s; or -1.
 */
int migrate_apply(struct migrate_result *out, struct pg_conn *c,
		  const char *dir, const struct migrate_opts *opts,
		  struct berr *err);
void migrate_result_release(struct migrate_result *r);

/* proc.c — what Linux's /proc says about processes and sockets */

/* One line of /proc/<pid>/stat, the fields berth uses. */
struct proc_stat {
	char state;           /* 'R', 'S', 'D', 'T', 'Z' (zombie), 'X', ... */
	pid_t ppid;
	pid_t pgrp;           /* process group */
	pid_t session;
	uint64_t start_ticks; /* start time in clock ticks after boot: with the
				 pid and the boot id it names one process for
				 good, whatever reuses the pid later */
	char comm[64];        /* the command name the kernel keeps (at most 15
				 bytes) */
};

/* Reads /proc/<pid>/stat into out (a zombie is still found). Returns 0,
 * BERTH_ENOTFOUND when there is no such process, or -1. */
int proc_stat_read(struct proc_stat *out, pid_t pid, struct berr *err);

/* The kernel's boot id (a UUID that changes at every boot) into out; ""
 * when it cannot be read. */
void proc_boot_id(char out[40]);

/*
 * The TCP sockets listening on port, on any address, IPv4 or IPv6, in
 * berth's network namespace: their inodes in *inodes (a new array, free();
 * NULL when *n is 0). Returns 0, or -1 when /proc/net/tcp cannot be read.
 */
int proc_tcp_listeners(unsigned long **inodes, size_t *n, int port,
		       struct berr *err);

/* For each of the n socket inodes, a pid holding it open into owners[i],
 * or 0 when no process berth may look into holds it (another user's
 * processes are not visible to an unprivileged berth). One pass over
 * /proc/<pid>/fd. */
void proc_socket_owners(pid_t *owners, const unsigned long *inodes, size_t n);

/* driver.c — what the deploy pipeline asks of a driver (docs/drivers.md)
 *
 * A driver runs the application's services one way: "process" (berth
 * starts and supervises the commands itself, driver_process.c) or
 * "compose" (containers of a docker compose project, driver_compose.c).
 * The pipeline only ever goes through struct driver_ops, so
 * nothing here is specific to one driver. Every operation blocks; start
 * and stop change the environment's runtime state and are called holding
 * the environment lock; live, status and logs only read.
 */

struct driver_ctx {
	struct state *st;          /* borrowed; the environment's state */
	const struct kvlist *vars; /* borrowed; the env file's variables, or
				      NULL. Values are secrets: never shown */
	/* Build output, one line at a time as it arrives (for progress), or
	 * NULL. Lines are NUL-terminated, without their "\n". */
	void (*on_line)(const char *line, size_t len, void *arg);
	void *arg;
};

/* A service as it is now, from the driver's point of view. */
struct service_live {
	char *name;         /* owned */
	bool running;       /* its main process is up */
	char *hash;         /* owned or NULL; manifest hash it was started with */
	char *commit;       /* owned or NULL; commit it was started from */
	int pid;            /* its main process, 0 when unknown */
	int64_t started_at; /* unix seconds, 0 when unknown */
	char *detail;       /* owned; for people: "running", "exited 1", "not
			       running: pid 123 is now another process" */
	/* The driver's own health verdict, when it has one (a container's
	 * HEALTHCHECK): "starting", "healthy" or "unhealthy"; NULL when
	 * there is none (the process driver never has one). */
	char *health;        /* owned or NULL */
	char *health_output; /* owned or NULL; the last check's output, one
				line */
	char *image;         /* owned or NULL; the image id it runs */
	/* How what runs differs from what the driver started, for people
	 * ("container app_web_1: command [\"/srv\",\"-x\"], berth started
	 * [\"/srv\"]"): changed or replaced by hand. When set, hash is NULL:
	 * what runs is not the manifest's configuration. NULL when the same
	 * or when the driver cannot tell (the process driver). */
	char *changed; /* owned or NULL */
	int *ports;          /* owned or NULL; host TCP ports the driver
				publishes for it through a proxy process
				(docker-proxy), which the port check counts
				as the service's */
	size_t nports;
};

/* Frees the n entries of l and l itself. NULL ok. */
void driver_live_free(struct service_live *l, size_t n);
/* Frees what one entry owns (not the entry). NULL ok. */
void driver_live_release(struct service_live *l);

struct driver_ops {
	const char *name; /* the manifest's "driver": "process" */
	/*
	 * Appends to missing (no duplicates) each program m needs this
	 * driver to run that cannot be found on the PATH the commands will
	 * get (driver_env). Commands with a relative path ("./bin/x") are
	 * not looked for: the build may make them. Returns 0, or -1 when it
	 * cannot tell.
	 */
	int (*check_tools)(struct strv *missing, const struct driver_ctx *ctx,
			   const struct manifest *m, struct berr *err);
	/*
	 * Builds release_dir (SPEC §5 step 5): runs m's build commands there,
	 * in order, streaming their output to ctx->on_line. output (may be
	 * NULL) receives the tail of what they wrote, for the step record.
	 * Returns 0, or -1 when one cannot start or fails (err names it and
	 * its status: "build command 2 'make -C backend' exited 2: <last
	 * line>"); later commands do not run.
	 */
	int (*build)(struct buf *output, const struct driver_ctx *ctx,
		     const struct manifest *m, const char *release_dir,
		     struct berr *err);
	/*
	 * Starts service svc of m from release_dir (an absolute path) and
	 * returns without waiting for it to be healthy (health_wait). The
	 * service outlives berth. commit is recorded with it. Refuses a
	 * service that is already running (stop it first). Returns 0 or -1.
	 */
	int (*start)(const struct driver_ctx *ctx, const struct manifest *m,
		     const struct manifest_service *svc,
		     const char *release_dir, const char *commit,
		     struct berr *err);
	/*
	 * Stops a service gracefully: SIGTERM (or the driver's equivalent),
	 * SIGKILL after stop_timeout_s (<= 0: the timeout it was started
	 * with), and forgets it. *killed says whether SIGKILL was needed. A
	 * service that already exited is only forgotten. Returns 0,
	 * BERTH_ENOTFOUND when the driver knows no such service, or -1.
	 */
	int (*stop)(bool *killed, const struct driver_ctx *ctx,
		    const char *service, int stop_timeout_s, struct berr *err);
	/* One service's live state into out (released with
	 * driver_live_release). Returns 0, BERTH_ENOTFOUND, or -1. */
	int (*status)(struct service_live *out, const struct driver_ctx *ctx,
		      const char *service, struct berr *err);
	/* Every service the driver knows of, sorted by name, into *out (free
	 * with driver_live_free; NULL when *n is 0). Returns 0 or -1. */
	int (*live)(struct service_live **out, size_t *n,
		    const struct driver_ctx *ctx, struct berr *err);
	/* Appends the last `lines` lines the service wrote since it was last
	 * started. Returns 0, BERTH_ENOTFOUND (no output yet), or -1. */
	int (*logs)(struct buf *out, const struct driver_ctx *ctx,
		    const char *service, size_t lines, struct berr *err);
	/*
	 * The cleanup step's part (SPEC §5 step 9), after the release
	 * directories were pruned; NULL when the driver keeps nothing of
	 * its own. Removes what the driver made for releases whose commit
	 * is not in keep (compose: images and override files), appending a
	 * name for each thing removed to removed. Returns 0 or -1; the
	 * pipeline reports a failure and goes on.
	 */
	int (*cleanup)(struct strv *removed, const struct driver_ctx *ctx,
		       const struct manifest *m, const struct strv *keep,
		       struct berr *err);
};

/* The driver for m's "driver", or NULL when this build has none for it. */
const struct driver_ops *driver_for(const struct manifest *m);
/* "process", "compose". */
const char *driver_name(enum manifest_driver d);

/*
 * The environment of every command berth runs for an environment (SPEC
 * §3): berth's PATH, HOME, LANG and TZ (spawn_env_base), then the env
 * file's variables, then service_env (either may be NULL), each overriding
 * the one before. Appended to env.
 */
void driver_env(struct kvlist *env, const struct kvlist *vars,
		const struct kvlist *service_env);

/*
 * Appends argv0 to missing (unless there) when it names a program that
 * cannot be run with env's PATH: a bare name not found on that PATH, or
 * an absolute path that is not an executable file. A relative path with a
 * '/' is not checked (it lives in the release, which the build may fill).
 * For check_tools implementations.
 */
void driver_need_program(struct strv *missing, const char *argv0,
			 const struct kvlist *env);

/* m's build commands, run in release_dir with driver_env(ctx->vars):
 * the process driver's build, for other drivers to reuse. */
int driver_run_build(struct buf *output, const struct driver_ctx *ctx,
		     const struct manifest *m, const char *release_dir,
		     struct berr *err);

/* jansson's json_t (declared again further down, for deployment.c). */
struct json_t;

/*
 * A driver's runtime state, envs/<env>/<name>: a JSON object with
 * "version" and an object "services". Loads it into *root (new); a missing
 * file gives {"version": version, "services": {}}. Returns 0, or -1 when
 * it cannot be read, is not such an object, or was written by a newer
 * berth (its version above `version`; rewriting it would lose what that
 * berth recorded): "invalid runtime state '<path>': line 3: ...".
 */
int driver_state_load(struct json_t **root, const struct state *st,
		      const char *name, int version, struct berr *err);
/* Writes root to envs/<env>/<name> atomically (mode 0640), indented, keys
 * sorted. Returns 0 or -1. */
int driver_state_save(const struct state *st, const char *name,
		      struct json_t *root, struct berr *err);

/* The last non-empty line of out, at most 200 bytes, or "": new string.
 * For messages about a command that failed. */
char *driver_last_line(const struct buf *out);

/* argv for messages: "make -C 'my dir'" (arguments with spaces or quotes
 * quoted), at most max bytes ("..." when cut). New string. */
char *driver_argv_str(const char *const *argv, size_t max);

struct health_result;

/*
 * health_wait for svc, just started through ops: fails fast when the
 * driver says the service stopped running, and then gives the last lines
 * of its log (ops->logs). Returns what health_wait returns.
 */
int driver_wait_healthy(struct health_result *res,
			const struct driver_ops *ops,
			const struct driver_ctx *ctx,
			const struct manifest_service *svc);

/* driver_process.c — the process driver: services as process groups that
 * berth starts from the release directory (docs/drivers.md)
 *
 * Each service runs in a session and process group of its own
 * (spawn_detached), with driver_env as its whole environment, its output
 * appended to envs/<env>/logs/<service>.log, and survives berth. What runs
 * is recorded in envs/<env>/services.json (written atomically): pid,
 * process group, the process's start time and the boot id, so a pid reused
 * by another process is never taken for the service, nor signalled.
 */
extern const struct driver_ops driver_process;

/* Runtime state file, under the environment's directory. */
#define DRIVER_PROCESS_RUNTIME "services.json"
/* Lines of a service's log shown when it fails to start. */
#define DRIVER_LOG_TAIL_LINES 20

/* docker.c — the Docker Engine API over its unix socket (docs/drivers.md)
 *
 * Through http_client, blocking, each request bounded in time and size.
 * Answers are parsed defensively: fields of the wrong type are ignored,
 * entries without a valid id dropped, sizes capped.
 */

/* Labels berth puts on the containers it starts. */
#define DOCKER_LABEL_HASH   "berth.hash"   /* the service's manifest hash */
#define DOCKER_LABEL_COMMIT "berth.commit" /* the commit it runs */
#define DOCKER_LABEL_ENV    "berth.env"    /* the environment */

/* Where the engine is. */
struct docker {
	char *socket; /* owned; the unix socket's path */
};

/*
 * The engine of an environment: DOCKER_HOST of vars (the env file's
 * variables, as compose sees them) when it is unix:///path, else
 * /var/run/docker.sock. Other DOCKER_HOST forms are refused. Returns 0 or
 * -1; release d with docker_release either way.
 */
int docker_init(struct docker *d, const struct kvlist *vars, struct berr *err);
void docker_release(struct docker *d);

/* GET /_ping. Returns 0 when the engine answers, else -1: "docker engine
 * at '/var/run/docker.sock': cannot connect to ...: No such file or
 * directory". */
int docker_ping(const struct docker *d, struct berr *err);

/* A container as the engine describes it (list, then inspect). */
struct docker_container {
	char *id;            /* owned; hex */
	char *name;          /* owned; without the leading '/' */
	char *project;       /* owned or NULL: label com.docker.compose.project */
	char *service;       /* owned or NULL: label com.docker.compose.service */
	bool oneoff;         /* a `compose run` container */
	char *state;         /* owned: "running", "exited", "restarting",
				"paused", "created", "dead", "removing" or
				"unknown" */
	bool running;        /* running, neither paused nor restarting */
	int pid;             /* its main process on the host, 0 when not
				running */
	int exit_code;       /* of its last run */
	bool oom_killed;
	int64_t started_at;  /* unix seconds, 0 when never started */
	int64_t created;     /* unix seconds */
	char *health;        /* owned or NULL: "starting", "healthy",
				"unhealthy"; NULL without a HEALTHCHECK */
	char *health_output; /* owned or NULL: the last check's output, one
				line, at most 300 bytes */
	char *image;         /* owned or NULL: the reference it was created
				from */
	char *image_id;      /* owned or NULL: "sha256:..." */
	char *hash;          /* owned or NULL: label berth.hash */
	char *commit;        /* owned or NULL: label berth.commit */
	char *env;           /* owned or NULL: label berth.env */
	bool tty;            /* its output is not multiplexed */
	int *ports;          /* owned or NULL: published host TCP ports */
	size_t nports;
	/* owned or NULL: what the engine says the container runs, as an
	 * object {"image", "entrypoint", "command", "user", "working_dir",
	 * "network_mode", "env": [names, sorted], "env_sha256" (of the
	 * sorted NAME=value lines: no value is kept), "compose_config_hash"}
	 * (docker_spec_diff) */
	struct json_t *spec;
};

void docker_container_release(struct docker_container *c);
void docker_containers_free(struct docker_container *c, size_t n);
/*
 * What differs between spec `was` (what berth started) and `now` (what
 * runs), both docker_container.spec objects, in words: "image
 * sha256:1a2b3c4d5e6f, berth started sha256:…; environment: EXTRA added"
 * (new string), or NULL when they are the same. Environment values are
 * never shown: a changed value says "a value changed". Untrusted input:
 * fields of unexpected types compare as they are.
 */
char *docker_spec_diff(const struct json_t *was, const struct json_t *now);

/*
 * The containers of compose project `project` (and of `service` when not
 * NULL), one-off containers excepted, each inspected, into *out (a new
 * array, docker_containers_free; NULL when *n is 0), sorted by service,
 * then running first, then newest first. A container that disappears
 * meanwhile is left out. Returns 0 or -1.
 */
int docker_list(struct docker_container **out, size_t *n,
		const struct docker *d, const char *project,
		const char *service, struct berr *err);

/* POST /containers/{id}/stop: the container's stop signal, SIGKILL after
 * timeout_s. *killed: the stop took the whole timeout (the engine then
 * sent SIGKILL). A container already stopped or gone is success. */
int docker_stop(bool *killed, const struct docker *d,
		const struct docker_container *c, int timeout_s,
		struct berr *err);
/* DELETE /containers/{id}?force=1 (its anonymous volumes stay). A
 * container already gone is success. */
int docker_remove(const struct docker *d, const struct docker_container *c,
		  struct berr *err);
/* Appends the last `lines` lines c wrote since it last started, stdout
 * and stderr together. Returns 0 or -1. */
int docker_logs(struct buf *out, const struct docker *d,
		const struct docker_container *c, size_t lines,
		struct berr *err);
/* Appends to out every image tag ("repo:tag") starting with prefix, once
 * each. Returns 0 or -1. */
int docker_image_tags(struct strv *out, const struct docker *d,
		      const char *prefix, struct berr *err);
/* DELETE /images/{ref}: untags it, and removes the image when no other tag
 * and no container uses it. Returns 0, BERTH_ENOTFOUND, or -1 (in use by
 * a container: "... HTTP 409: conflict: ..."). */
int docker_image_remove(const struct docker *d, const char *ref,
			struct berr *err);

/* The parsers behind the calls above, for the fuzzers: untrusted (json,
 * len), need not be NUL-terminated. */
/* GET /containers/json: entries without a valid Id are dropped. *out is
 * new (NULL when *n is 0). Returns 0, or -1 when it is not a JSON array or
 * lists more than 4096 containers. */
int docker_parse_list(struct docker_container **out, size_t *n,
		      const char *json, size_t len, struct berr *err);
/* GET /containers/{id}/json into c (whose id must match): state, pid,
 * health, labels, image. Returns 0 or -1. */
int docker_parse_inspect(struct docker_container *c, const char *json,
			 size_t len, struct berr *err);
/* GET /images/json: RepoTags starting with prefix, appended to out. */
int docker_parse_image_tags(struct strv *out, const char *json, size_t len,
			    const char *prefix, struct berr *err);
/* A log stream without a TTY: frames of [stream, 0, 0, 0, size (32-bit
 * big endian)] and size bytes. Appends the payloads; stops at anything
 * that is not a frame; a cut last frame gives what there is. */
void docker_demux_logs(struct buf *out, const char *data, size_t len);

/* compose.c — docker compose's command line and configuration
 * (docs/drivers.md) */

/* Images berth builds are named under a registry that cannot exist (the
 * .invalid top-level domain, RFC 2606): one is never pulled from, or
 * pushed to, anywhere. */
#define COMPOSE_IMAGE_PREFIX "berth.invalid/"

/*
 * The compose program as an argv prefix, appended to out: "docker",
 * "compose" or "docker-compose", found with env's PATH (once per PATH:
 * `docker compose version` is run to tell). Returns 0, or -1 when there is
 * neither.
 */
int compose_cli(struct strv *out, const struct kvlist *env, struct berr *err);

/* The services of a project, from `compose config`. */
struct compose_config {
	struct strv services; /* every service, in the order printed */
	struct strv built;    /* those with a build section */
	char *version;        /* owned or NULL: the file format's version */
};

/* Reads what `compose config` prints (normalised YAML, block style) of
 * (yaml, len), untrusted: top-level "version" and the names of
 * "services" and whether each has a "build" key. Names that compose would
 * not accept are skipped. Always returns 0; release out either way. */
int compose_parse_config(struct compose_config *out, const char *yaml,
			 size_t len);
void compose_config_release(struct compose_config *c);

/* The image berth gives a service it builds: "berth.invalid/<project>/
 * <service, lower case, [a-z0-9] runs joined by '-'>:<commit>". New. */
char *compose_image(const char *project, const char *service,
		    const char *commit);

/* The override file berth adds to a release's compose file, as text
 * (new): for each service of cfg, the image
 * COMPOSE_IMAGE_PREFIX<project>/<service>:<commit> when it is built, the
 * labels berth.commit and berth.env, and for the services of m also
 * berth.hash and the names (never the values) of their manifest env. */
char *compose_override(const struct compose_config *cfg,
		       const struct manifest *m, const char *env_name,
		       const char *commit);

/* driver_compose.c — the compose driver: services as the containers of a
 * docker compose project (docs/drivers.md)
 *
 * `docker compose` (v2) when the docker CLI has it, else `docker-compose`
 * (v1), found on the PATH commands get. Every invocation is
 *   compose -p <compose.project> -f <release>/<compose.file>
 *           -f <state>/compose/<commit>.yml --project-directory <release> ...
 * with driver_env as its environment (compose interpolates ${VAR} from it;
 * no value is ever on a command line). The second file is an override
 * berth writes: every service the release builds gets the image
 * COMPOSE_IMAGE_PREFIX<project>/<service>:<commit>, so each release
 * keeps its own images and starting an earlier one rebuilds nothing, and
 * every container gets the labels berth.commit and berth.env, and
 * berth.hash (the service's manifest hash) for the manifest's services;
 * a service's manifest env is added by name (values from the
 * environment). build runs the manifest's build commands, then `compose
 * build`; start `compose up -d --no-deps --no-build --force-recreate
 * <service>`; stop stops and removes the service's containers through the
 * Engine API; live, status and logs read the Engine API. A container
 * without berth's labels (made by hand) is reported with hash NULL and a
 * detail that says so. Release directories must be named by their commit
 * (releases/<commit>), which build takes the image tag from.
 */
extern const struct driver_ops driver_compose;

/* Runtime state file and override directory, under the environment's
 * directory. */
#define DRIVER_COMPOSE_RUNTIME   "compose.json"
#define DRIVER_COMPOSE_OVERRIDES "compose"

/*
 * The argv prefix that runs a command inside the running container of
 * service (SPEC §3: backups and migrations in a container), appended to
 * out: compose -p P -f <release>/<file> --project-directory <release>
 * exec -T [-e NAME]... <service>; append the command (pgtool's prefix).
 * The command gets the container's environment plus each variable named
 * in pass_env (NULL-terminated, or NULL), whose value compose takes from
 * its own environment: run the prefix with driver_env(ctx->vars, NULL)
 * plus those variables (PGPASSWORD...) as its environment, so no value is
 * on the command line. env is used to find compose. stdin and stdout pass
 * through (-T: no TTY). Returns 0, or -1 for an invalid service or
 * variable name or no compose.
 */
int driver_compose_exec_argv(struct strv *out, const struct manifest *m,
			     const char *release_dir, const char *service,
			     const char *const *pass_env,
			     const struct kvlist *env, struct berr *err);

/*
 * The cleanup step's part for compose: removes every image berth built
 * for m's project whose commit is not in keep (commits, 40 hex digits),
 * appending each removed tag to removed, and the override files of those
 * commits. An image a container still uses is kept (and logged). Returns
 * 0, or -1 when the engine cannot list images.
 */
int driver_compose_cleanup(struct strv *removed, const struct driver_ctx *ctx,
			   const struct manifest *m, const struct strv *keep,
			   struct berr *err);

/* health.c — waiting for a started service to be healthy (docs/drivers.md)
 *
 * With an HTTP check: a GET every interval_s, each bounded by timeout_s,
 * healthy at the first answer with expect_status. Failures during the
 * first start_period_s do not count (a success still ends the wait);
 * after it, `retries` consecutive failures make the service unhealthy.
 * Without one: healthy once it has stayed alive for HEALTH_GRACE_MS.
 * Either way, a service that stops running ends the wait at once.
 */

#define HEALTH_GRACE_MS 2000
/* Longest wait for a driver's own health check to leave "starting" once
 * the manifest's check passed. */
#define HEALTH_VERDICT_MAX_MS 600000

/* A driver's own verdict on a service: a container's HEALTHCHECK. */
enum health_verdict {
	HEALTH_VERDICT_NONE,      /* it has none */
	HEALTH_VERDICT_STARTING,  /* not decided yet */
	HEALTH_VERDICT_HEALTHY,
	HEALTH_VERDICT_UNHEALTHY,
};

struct health_opts {
	const struct manifest_service *svc; /* borrowed: name and health */
	/* Whether the service still runs; when not, may append why to why
	 * ("exited 1"). NULL: assume it does. Called between checks, at
	 * least every 100 ms. */
	bool (*alive)(struct buf *why, void *arg);
	/* Appends the service's last lines of output. NULL: none. */
	void (*log_tail)(struct buf *out, void *arg);
	/* The driver's own verdict, asked with alive; when unhealthy, may
	 * append why. Unhealthy ends the wait at once; once the HTTP check
	 * (or the grace period) passed, the wait goes on while it says
	 * starting. NULL: none. */
	enum health_verdict (*verdict)(struct buf *why, void *arg);
	void *arg;
	int grace_ms; /* no HTTP check: how long it must stay up; 0:
			 HEALTH_GRACE_MS */
};

struct health_result {
	bool healthy;
	bool exited;          /* the service stopped running meanwhile */
	bool verdict_failed;  /* the driver's own check said unhealthy (or
				 never decided) */
	bool in_start_period; /* the verdict came within start_period_s */
	int checks;           /* HTTP checks made */
	int failures;         /* consecutive failures counted (after the start
				 period) */
	long status;          /* HTTP status of the last answer, 0 if none */
	int64_t duration_ms;  /* from the call to the verdict */
	char *reason;         /* owned; NULL when healthy. The last failure:
				 "HTTP 503", "cannot connect to 127.0.0.1:3000:
				 Connection refused", "request to
				 127.0.0.1:3000 timed out after 5000 ms",
				 "exited during its start period: exited 1",
				 after the start period the driver's words:
				 "killed by SIGSEGV"; the driver's verdict:
				 "its container's health check says unhealthy: ..." */
	char *log_tail;       /* owned or NULL; set when it exited */
};

/* Waits for o->svc to be healthy. res is always initialised (release with
 * health_result_release). Returns 0 when healthy, -1 when not. Blocking:
 * at most about start_period_s + retries * (interval_s + timeout_s). */
int health_wait(struct health_result *res, const struct health_opts *o);
void health_result_release(struct health_result *res);
/*
 * One GET of svc's health check, bounded by its timeout_s and by max_ms
 * (rounded up to whole seconds; <= 0: no other bound), for status and
 * drift, which look at a running service without waiting for it. True
 * when it answers expect_status, or when svc has no HTTP check; otherwise
 * *why (new) says what failed: "HTTP 503", "cannot connect to …".
 */
bool health_probe(char **why, const struct manifest_service *svc, int max_ms);
/*
 * One line for people, new string: "backend healthy in 1.3 s (2 checks)",
 * "backend unhealthy after 3 failed checks (12.0 s): HTTP 503", "backend
 * exited during its start period (0.4 s): exited 1", "backend unhealthy
 * (4.2 s): its container's health check says unhealthy", followed, when there
 * is a log tail, by its lines indented by four spaces.
 */
char *health_describe(const struct health_result *res, const char *service);

/* smoke.c — the manifest's smoke tests (SPEC §5 step 8) */

struct smoke_result {
	char *name;          /* owned */
	bool ok;
	long status;         /* HTTP status, 0 when there was no answer */
	int64_t duration_ms;
	char *detail;        /* owned; why it failed ("expected 200, got 500",
				"body does not contain \"ok\": got \"{...}\""),
				NULL when ok */
};

struct smoke_report {
	struct smoke_result *results; /* owned, in manifest order */
	size_t n;
	size_t failed;
	int64_t duration_ms;
};

/*
 * Runs every smoke test of m, one after the other, each a GET of its url
 * (no redirects followed) within its timeout_s, passing when the status is
 * expect_status and the body contains expect_body. Every test runs, even
 * after a failure; on_result (may be NULL) sees each result as it comes.
 * *out is always initialised (smoke_report_release). Returns 0 when all
 * passed, -1 when any failed.
 */
int smoke_run(struct smoke_report *out, const struct manifest *m,
	      void (*on_result)(const struct smoke_result *r, void *arg),
	      void *arg);
void smoke_report_release(struct smoke_report *r);
/* "✓ backend health 200 in 12 ms", "✗ products: expected 200, got 500",
 * "✗ products: cannot connect to 127.0.0.1:3000: Connection refused".
 * New string. */
char *smoke_format(const struct smoke_result *r);
/* For a deployment's step detail and error: "3 passed" or "1 of 3 failed:
 * products: expected 200, got 500". New string. */
char *smoke_summary(const struct smoke_report *r);

/* checks.c — the pre-deploy checks (SPEC §5 step 2; docs/drivers.md) */

struct checks_item {
	const char *name; /* static: "tools", "env vars", "disk free",
			     "backup disk free", "memory", "ports free",
			     "manifest", "migrations", "database",
			     "release dir" */
	bool ok;
	bool skipped;     /* could not be checked (no valid manifest); not a
			     failure by itself */
	char *value;      /* owned; what was measured: "62%", "missing: make" */
	char *threshold;  /* owned or NULL; what passes: "≥ 10%" */
};

struct checks_report {
	struct checks_item *items; /* owned, in the order above */
	size_t n;
	size_t failed;
};

/* Whether the migrations the manifest names are there. */
enum checks_migrations {
	CHECKS_MIGRATIONS_LOOK,    /* look for sql_dir in release_dir */
	CHECKS_MIGRATIONS_PRESENT, /* the caller found it (at the commit) */
	CHECKS_MIGRATIONS_MISSING, /* the caller did not */
};

struct checks_input {
	const struct manifest *m;          /* borrowed; NULL when it did not
					      parse (checks needing it are
					      skipped) */
	bool manifest_valid;               /* parsed and fits the release */
	const char *manifest_error;        /* borrowed; shown when not valid */
	const struct driver_ops *driver;   /* borrowed; NULL: driver_for(m) */
	const struct driver_ctx *ctx;      /* borrowed; st and vars */
	enum checks_migrations migrations;
	const char *release_dir;           /* borrowed; the release to deploy,
					      or NULL when not exported yet */
	const struct service_live *current; /* borrowed; what runs now (the
					       driver's live): ports held by
					       these are not busy */
	size_t ncurrent;
	int db_timeout_s;                  /* database connect; 0: 5 */
};

/*
 * Runs every check, even after one fails, in the order of struct
 * checks_item, and calls on_result (may be NULL) with each as it is done.
 * May remove temporary release exports left by killed processes (see
 * docs/drivers.md). *out is always initialised (checks_report_release).
 * Returns 0 when every check passed, -1 otherwise.
 */
int checks_run(struct checks_report *out, const struct checks_input *in,
	       void (*on_result)(const struct checks_item *c, void *arg),
	       void *arg);
void checks_report_release(struct checks_report *r);
/* "  ✓ disk free        62% (need ≥ 10%)", "  ✗ env vars         missing:
 * JWT_SECRET", "  - database         not checked: ...". New string. */
char *checks_format(const struct checks_item *c);

/* pgtool.c — PostgreSQL's client tools (pg_dump, pg_restore, psql) run for a
 * database URL, on this host or through a prefix command
 *
 * The password never reaches a command line. The URL's parameters go into
 * the tool's environment as PGHOST, PGPORT, PGUSER, PGDATABASE and
 * PGPASSWORD (pg_url_env) rather than into a temporary PGPASSFILE: on Linux
 * a process's environment is readable by its own user and root only, as a
 * 0600 file would be, but it leaves nothing behind when berth is killed, and
 * it passes through a prefix (`docker compose exec -e PGPASSWORD`), where a
 * file on this host would not exist. Messages built from a tool's output
 * have the password blotted out, should a tool ever echo it.
 */

/* A database, and how to reach it with the client tools. */
struct pgtool {
	const char *url;           /* borrowed; postgresql:// URL or "key=value"
				      string: a secret */
	const struct kvlist *env;  /* borrowed; the tools' base environment
				      (spawn_env_base plus the env_file);
				      NULL: spawn_env_base() */
	const char *const *prefix; /* borrowed; NULL-terminated argv put before
				      every PostgreSQL tool, e.g. docker
				      compose exec -T -e PGUSER -e PGPASSWORD
				      -e PGDATABASE db; NULL: run them here.
				      The prefix program gets the PG*
				      variables in its environment and must
				      pass them on; dumps stream through its
				      stdin and stdout */
	int timeout_s;             /* each tool run; 0: no limit */
};

/* One tool ready to run. */
struct pgtool_cmd {
	struct strv argv;  /* owned; prefix, tool, then the caller's arguments */
	struct kvlist env; /* owned; holds the password */
	char *password;    /* owned or NULL; blotted out of messages */
	const char *tool;  /* borrowed; "pg_dump", for messages */
	int timeout_s;
};

/*
 * Prepares tool (looked up on the PATH of env, or wherever the prefix runs
 * it) for t: argv is the prefix and tool, to which the caller appends
 * arguments (strv_push); env is the base environment plus the URL's
 * parameters, PGAPPNAME=berth and PGCONNECT_TIMEOUT=10 unless set. dbname,
 * when not NULL, replaces the URL's database. Returns 0, or -1 when the URL
 * cannot be parsed. *out is released with pgtool_cmd_release, also on
 * failure.
 */
int pgtool_cmd_init(struct pgtool_cmd *out, const struct pgtool *t,
		    const char *tool, const char *dbname, struct berr *err);
/* Prepares a tool that runs on this host whatever the prefix (gzip), with
 * t's base environment and none of the database's variables. */
void pgtool_cmd_local(struct pgtool_cmd *out, const struct pgtool *t,
		      const char *tool);
void pgtool_cmd_release(struct pgtool_cmd *c);

/*
 * Runs c with stdin from in_fd (-1: /dev/null) and stdout into out_fd (-1:
 * into res->output with stderr; both borrowed). Returns 0 when it ran and
 * exited 0, else -1 with err "pg_dump exited 1: <its last lines of
 * output>", password blotted out. res is always initialised; release it
 * with spawn_result_release().
 */
int pgtool_run(struct spawn_result *res, const struct pgtool_cmd *c, int in_fd,
	       int out_fd, struct berr *err);
/* err = "<tool> <how it ended>: <last lines of res->output>". Returns -1. */
int pgtool_failed(const struct pgtool_cmd *c, const struct spawn_result *res,
		  struct berr *err);
/* Like pgtool_run, with stdout collected into out (at most 16 MiB, through
 * an unnamed temporary file; stderr stays in the message on failure). */
int pgtool_capture(struct buf *out, const struct pgtool_cmd *c, int in_fd,
		   struct berr *err);
/*
 * Runs one SQL statement with psql (through the prefix) in database dbname
 * (NULL: the URL's) and returns its rows in *out, every value as text, SQL
 * NULL as "". ncols is the number of columns the statement returns (0 for
 * a statement that returns no rows).
 * Returns 0, or -1 ("psql exited 1: ERROR: …"). *out is released with
 * pg_rows_release, also on failure.
 */
int pgtool_query(struct pg_rows *out, const struct pgtool *t,
		 const char *dbname, const char *sql, size_t ncols,
		 struct berr *err);
/* Replaces each occurrence of secret in s by "***" (never longer). */
void pgtool_blot(char *s, const char *secret);

/* retention.c — which backups to keep (docs/backups.md) */

/* Retention windows in days, each reaching back from now; 0 turns one off,
 * all three 0 keeps everything. */
struct backup_retention {
	int daily;   /* the newest backup of each UTC day */
	int weekly;  /* the newest of each week (Monday to Sunday, UTC) */
	int monthly; /* the newest of each calendar month (UTC) */
};

/* One backup as retention sees it. */
struct retention_item {
	int64_t created_at; /* in; unix seconds */
	bool protect;       /* in; kept whatever its age */
	bool keep;          /* out */
	char reason[96];    /* out; "protected", "newest backup", "daily
			       2026-01-05", "weekly from 2026-01-05",
			       "monthly 2026-01", "outside every retention
			       window", "a newer backup of 2026-01-05 is kept" */
};

/*
 * Decides keep and reason for items[0..n-1] (any order) at time now:
 * protected ones, the newest one, and the newest of each day, week and
 * month inside its window are kept; the rest are not. A backup dated after
 * now counts as made now.
 */
void retention_plan(struct retention_item *items, size_t n,
		    const struct backup_retention *r, int64_t now);

/* backup.c — database backups (SPEC §9; docs/backups.md)
 *
 * A backup is a pg_dump file named backup_YYYYmmdd_HHMMSS.<ext> (UTC; the
 * next free second when the name is taken) in the backup directory, with a
 * sidecar backup_YYYYmmdd_HHMMSS.json describing it. A dump is written under
 * a hidden temporary name, fsynced and renamed; its sidecar follows
 * atomically. A dump without a readable sidecar is incomplete or not
 * berth's: listed with its problem, never verified, pruned or trusted.
 * Everything here blocks on child processes: commands and deployment
 * children only, never the daemon's event loop.
 */

enum backup_kind {
	BACKUP_PRE_DEPLOY,
	BACKUP_PRE_ROLLBACK,
	BACKUP_SCHEDULED,
	BACKUP_MANUAL
};

/* "pre-deploy", "pre-rollback", "scheduled", "manual". */
const char *backup_kind_name(enum backup_kind k);
int backup_kind_parse(enum backup_kind *out, const char *s);
/* "custom", "plain", "plain.gz" (the manifest's names). */
const char *backup_format_name(enum manifest_backup_format f);
int backup_format_parse(enum manifest_backup_format *out, const char *s);
/* ".dump", ".sql", ".sql.gz". */
const char *backup_format_ext(enum manifest_backup_format f);
/*
 * Parses a backup's base name, "backup_20260105_120000.dump": *t is its
 * time (UTC unix seconds) and *format what its extension says. Returns 0,
 * or -1 for any other name (out-parameters untouched).
 */
int backup_name_parse(int64_t *t, enum manifest_backup_format *format,
		      const char *name);
/* Where an environment's backups live (SPEC §3): the manifest's
 * database.backup.dir (NULL: "backups") under env_dir (the state's
 * envs/<env>), or as it is when absolute. New string. */
char *backup_dir(const char *env_dir, const char *dir);
/* "verify" names of the manifest: "none", "toc", "restore". */
const char *backup_verify_name(enum manifest_backup_verify v);

/* The outcome of the last backup_verify. */
struct backup_check {
	bool done;                        /* false: never verified */
	bool ok;
	enum manifest_backup_verify mode; /* TOC or RESTORE */
	int64_t at;                       /* unix seconds */
	char *detail;                     /* owned; what was checked, or what
					     was wrong */
};

/* A backup: its sidecar's content (SPEC §9) and where it is. */
struct backup_info {
	char *file;            /* owned; "backup_20260105_120000.dump" */
	char *path;            /* owned; the dump's path */
	enum manifest_backup_format format;
	enum backup_kind kind;
	int64_t deployment_id; /* 0: none */
	char *commit;          /* owned or NULL */
	char *env;             /* owned or NULL */
	char *database;        /* owned or NULL; "postgresql://host:port/db",
				  never a password */
	int64_t size;          /* bytes of the dump */
	char sha256[65];       /* lowercase hex of the dump */
	char *server_version;  /* owned or NULL; "15.18 (Debian …)" */
	int64_t created_at;    /* unix seconds: when the dump started */
	int64_t duration_ms;
	char *stats_reset;     /* owned or NULL; pg_stat_database.stats_reset
				  at backup time, to tell a reset */
	bool has_stats;        /* stats holds the snapshot */
	struct pg_table_stats stats; /* owned; write counters of every user
					table, read just before the dump */
	struct backup_check verified;
	/* Set by backup_list: */
	bool complete;         /* the sidecar was read and describes the file */
	char *problem;         /* owned or NULL; why not complete */
};

void backup_info_release(struct backup_info *b);

struct backup_create_opts {
	const char *dir;       /* borrowed; the backup directory, created 0700
				  when missing */
	enum manifest_backup_format format;
	enum backup_kind kind;
	int64_t deployment_id; /* 0: none */
	const char *commit;    /* borrowed or NULL */
	const char *env;       /* borrowed or NULL */
	int64_t now;           /* unix seconds that name the backup; 0: the
				  clock (tests pass their own) */
};

/*
 * Dumps db into o->dir: reads the table statistics and the server version
 * (psql), then runs pg_dump (-Fc; -Fp; -Fp -Z6 for plain.gz) with its
 * stdout on a temporary file that is fsynced, hashed and renamed, then
 * writes the sidecar. On any failure — pg_dump's exit status, a full disk,
 * a kill, a timeout — nothing is left in the directory and err holds the
 * reason with the tool's last lines of output ("pg_dump exited 1: pg_dump:
 * error: could not write to output file: No space left on device").
 * *out describes the new backup (release with backup_info_release, also on
 * failure). Returns 0 or -1.
 */
int backup_create(struct backup_info *out, const struct pgtool *db,
		  const struct backup_create_opts *o, struct berr *err);

/*
 * Checks the backup at path: its size and SHA-256 against the sidecar, then
 * the archive (custom: pg_restore --list reads its table of contents; plain:
 * pg_dump's first and last lines; plain.gz: gzip's checksum and those
 * lines). MANIFEST_VERIFY_RESTORE also restores it into a new scratch
 * database berth_verify_<random> (the role needs CREATEDB), checks that
 * every table of the sidecar's snapshot is there, and drops the scratch
 * database whatever happened. A verdict about the file, good or bad, is
 * recorded in the sidecar; a check that could not run (no CREATEDB, server
 * down) is not. *out is the backup after the check (release it, also on
 * failure). Returns 0 when the backup is good, -1 otherwise; out->verified
 * says whether a verdict was reached.
 */
int backup_verify(struct backup_info *out, const struct pgtool *db,
		  const char *path, enum manifest_backup_verify mode,
		  struct berr *err);

/*
 * Restores the backup at path into db's database, replacing everything in
 * it, in one transaction (restore.c): on any failure the database is as it
 * was. With a sidecar, the file's size and SHA-256 must match it first; a
 * dump without one (pg_dump output from elsewhere) is restored as its
 * extension says. Stop the services that write first: the restore waits at
 * most 60 s for their locks. Returns 0 or -1.
 */
int backup_restore(const struct pgtool *db, const char *path,
		   struct berr *err);

/*
 * SPEC §6 in one call: checks the backup at path as backup_restore does,
 * takes a safety backup of the database as it is now (kind pre-rollback,
 * whatever safety_opts->kind says; *safety describes it), then restores.
 * Nothing is restored without a safety backup. When the restore fails, the
 * safety backup stays and err names it. Returns 0 or -1.
 */
int backup_restore_safely(struct backup_info *safety, const struct pgtool *db,
			  const char *path,
			  const struct backup_create_opts *safety_opts,
			  struct berr *err);

/* Rows written to one table since a backup. */
struct backup_table_writes {
	char *name;        /* owned; "public.orders" */
	int64_t writes;    /* rows inserted, updated or deleted since; -1:
			      unknown */
	int64_t live_rows; /* now (an estimate); -1 when the table is gone */
	const char *note;  /* static or NULL: "statistics were reset",
			      "created since the backup", "dropped since the
			      backup" */
};

struct backup_writes {
	struct backup_table_writes *tables; /* owned; by name */
	size_t n;
	int64_t total;  /* sum of the known counts */
	size_t unknown; /* tables whose count is unknown */
	bool no_stats;  /* the sidecar has no snapshot: nothing is known */
};

/*
 * What restoring b would discard: compares b's statistics snapshot with the
 * live counters, per table (inserts + updates + deletes since). The counters
 * include rolled-back writes and lag by up to a second, and the snapshot is
 * read just before the dump starts, so the count errs on the high side.
 * A counter that went down, or a database whose statistics were reset,
 * gives "unknown". Returns 0 or -1; release *out with
 * backup_writes_release (also on failure).
 */
int backup_writes_since(struct backup_writes *out, const struct pgtool *db,
			const struct backup_info *b, struct berr *err);
void backup_writes_release(struct backup_writes *w);

/*
 * Every backup of dir, newest first: complete ones, dumps without a
 * readable sidecar (complete false, problem says why) and sidecars whose
 * dump is gone. *out is a new array of *n (backup_list_free); a missing dir
 * gives none. Returns 0, or -1 when dir cannot be read.
 */
int backup_list(struct backup_info **out, size_t *n, const char *dir,
		struct berr *err);
void backup_list_free(struct backup_info *b, size_t n);

struct backup_prune_opts {
	const char *dir;               /* borrowed */
	struct backup_retention keep;  /* the manifest's windows */
	const char *const *protect;    /* borrowed; NULL-terminated names or
					  paths (compared by base name) never
					  removed: the paired backups of the
					  current and last good deployments;
					  NULL: none */
	int64_t now;                   /* unix seconds; 0: the clock */
	bool dry_run;                  /* decide and report, remove nothing */
};

/* What backup_prune did with one file. */
struct backup_pruned {
	char *file;   /* owned; base name */
	bool removed; /* (dry run: would be) */
	char *reason; /* owned; "kept: daily 2026-01-05", "removed: outside
			 every retention window", … */
};

/*
 * Applies retention (retention.c) to the complete backups of dir, removing
 * each dump and then its sidecar; also removes sidecars whose dump is gone.
 * Files it does not recognise, and dumps without a sidecar, are never
 * touched (listed as kept, with why). *out is a new array of *n entries,
 * newest first (backup_pruned_free). Returns 0, or -1 when dir cannot be
 * read or a file cannot be removed (what was removed is still reported).
 */
int backup_prune(struct backup_pruned **out, size_t *n,
		 const struct backup_prune_opts *o, struct berr *err);
void backup_pruned_free(struct backup_pruned *p, size_t n);

/* sidecar.c — a backup's sidecar, backup_YYYYmmdd_HHMMSS.json (SPEC §9;
 * the fields are described in docs/backups.md) */

/* Sidecars larger than this are not read. */
#define SIDECAR_MAX_BYTES ((size_t)16 << 20)

/* The sidecar path of the dump at path ("…/backup_X.dump" →
 * "…/backup_X.json"), new string; NULL when path's base name is not a
 * backup's. */
char *sidecar_path(const char *dump_path);
/* b as its sidecar's JSON (new reference). */
struct json_t *sidecar_to_json(const struct backup_info *b);
/*
 * Reads a sidecar's JSON into *out (overwritten; release it with
 * backup_info_release, also on failure); j is borrowed. out->path stays
 * NULL. A missing field, a wrong type or value is an error naming its JSON
 * path ("$.sha256: expected 64 lowercase hex digits"). Returns 0 or -1.
 */
int sidecar_from_json(struct backup_info *out, const struct json_t *j,
		      struct berr *err);
/* Writes b's sidecar next to b->path, atomically and durably. */
int sidecar_save(const struct backup_info *b, struct berr *err);
/*
 * Reads the sidecar of the dump at dump_path into *out, with out->path set
 * to dump_path; its "file" must be dump_path's base name. Returns 0,
 * BERTH_ENOTFOUND when there is no sidecar, or -1 (unreadable, not a
 * sidecar, or another dump's). *out is released on failure.
 */
int sidecar_load(struct backup_info *out, const char *dump_path,
		 struct berr *err);

/* dumpcheck.c — the checks behind backup_verify
 *
 * Each check returns 0 when it passed, appending what it saw to detail, or
 * -1 with err; *verdict is then true when the failure is about the file
 * (a wrong checksum, an unreadable archive, a restore that fails) and false
 * when the check could not run (server down, no CREATEDB).
 */

/* SHA-256 (lowercase hex) and size of everything fd holds, read with
 * pread from offset 0. Returns 0 or -1. */
int dumpcheck_sha256_fd(char hex[65], int64_t *size, int fd, struct berr *err);
/* b->path has b->size bytes and SHA-256 b->sha256. */
int dumpcheck_checksum(bool *verdict, struct buf *detail,
		    const struct backup_info *b, struct berr *err);
/* Custom: pg_restore --list reads the table of contents. Plain: the file
 * starts and ends with pg_dump's comment lines. plain.gz: gzip -dc exits 0
 * and the script it gives starts and ends so. */
int dumpcheck_archive(bool *verdict, struct buf *detail, const struct pgtool *db,
		   const struct backup_info *b, struct berr *err);
/* Restores b into a new database berth_verify_<8 hex digits> created from
 * template0 with db's encoding and locale (the role needs CREATEDB),
 * checks that every table of b's snapshot exists there, and drops it,
 * whatever happened. */
int dumpcheck_restore(bool *verdict, struct buf *detail, const struct pgtool *db,
		   const struct backup_info *b, struct berr *err);

/* restore.c — loading a dump into a database in one transaction
 *
 * Every format becomes pg_dump's SQL script (custom: pg_restore -f -;
 * plain.gz: gzip -dc; plain: the file) and flows through berth into one
 * psql session: first a prelude, in the same transaction, that drops what
 * the database holds (its schemas, and the objects of schema public), then
 * the script, then COMMIT — sent by berth only after the script's source
 * exited 0 and its last line ("-- PostgreSQL database dump complete") went
 * through. Any failure before that (a statement, a truncated file, a tool
 * killed, berth killed) ends the session without COMMIT, and PostgreSQL
 * rolls everything back. See docs/backups.md.
 */

/* Looks at a script's lines as they stream past: drops the BEGIN; and
 * COMMIT; pg_dump writes around large objects (they would end the restore's
 * transaction early) and notices its last line. Zero-initialise. */
struct restore_filter {
	int state;         /* where in the script: ordinary, COPY data, large
			      objects */
	struct buf line;   /* the current line while it is short enough to
			      matter */
	bool long_line;    /* the current line outgrew `line` and streams */
	char head[8];      /* first bytes of a long line */
	char tail[16];     /* last bytes of a long line, NUL-terminated */
	bool complete;     /* pg_dump's last line went past */
	struct buf out;    /* what to pass on, handed to emit in large pieces */
	/* Receives the script to pass on; returns 0, or -1 to stop. */
	int (*emit)(const char *p, size_t len, void *arg);
	void *arg;
};

/* Passes (p, len) on through f->emit, minus dropped lines. Returns 0, or -1
 * when emit did. */
int restore_filter_feed(struct restore_filter *f, const char *p, size_t len);
/* Ends the input (a last line without a newline is passed on). Returns 0
 * or -1 as feed; f->complete is final. Frees what f holds. */
int restore_filter_finish(struct restore_filter *f);

/*
 * Restores the dump at path, in format, into database dbname (NULL: db's
 * own), as described above. The tools run through db's prefix; gzip runs
 * here. Returns 0 when committed; -1 otherwise, and then nothing changed
 * (err says why: psql's error, the producer's, or a truncated dump).
 */
int restore_dump(const struct pgtool *db, const char *path,
		 enum manifest_backup_format format, const char *dbname,
		 struct berr *err);

/* config.c — the host config, SPEC §2; the user reference is docs/config.md */

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
 * a file that only its owner can read (*_file). At most one of the two; both
 * NULL means "not configured". Read it with secret_load(). */
struct secret_ref {
	char *env;  /* owned; variable name, or NULL */
	char *file; /* owned; absolute path, or NULL */
};

struct env_config {
	char *name;        /* owned; [a-z0-9][a-z0-9_-]*, at most 64 chars */
	char *branch;      /* owned; short branch name, default "main" */
	char *manifest;    /* owned; path in the repository, default "berth.json" */
	char *env_file;    /* owned; absolute path, or NULL for none */
	bool auto_deploy;  /* default true: pushes and polls deploy */
};

struct webhook_config {
	bool enabled;             /* the provider has a section in the config */
	struct secret_ref secret; /* HMAC secret (gitlab: signing token) */
	struct secret_ref token;  /* gitlab's X-Gitlab-Token; set for gitlab
				     only, and then secret is unset */
	int tolerance_s;          /* generic, stripe, gitlab; default 300 */
};

struct notifier_config {
	enum manifest_notify_type type;
	struct secret_ref url; /* a webhook URL may embed a token: a secret */
};

struct config {
	char *path;      /* owned; absolute path of the file loaded */
	char *state_dir; /* owned; absolute; default /var/lib/berth */
	char *listen;    /* owned; "host:port", default "127.0.0.1:8470" */
	char *listen_host; /* owned; listen's host without [] ("::1") */
	int listen_port;   /* listen's port, 0..65535 (0: the kernel picks) */
	struct {
		char *url;            /* owned; local path (absolute), file://,
					 https://, ssh://, scp-like, or http://
					 to a loopback host */
		struct secret_ref token;  /* https token */
		char *ssh_key_file;   /* owned or NULL; absolute; check it with
					 secret_check_file() before use */
		int poll_interval_s;  /* default 120; 0 disables polling */
	} repo;
	struct env_config *envs; /* owned; in file order; at least one;
				    default: production tracking main */
	size_t nenvs;
	struct webhook_config webhooks[PROVIDER_COUNT];
	struct secret_ref api_token; /* both NULL: the API is disabled */
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

/* Default location of the config when neither --config nor $BERTH_CONFIG
 * names one. */
#define CONFIG_DEFAULT_PATH "/etc/berth/config.json"
/* Largest config file berth reads. */
#define CONFIG_MAX_BYTES ((size_t)1 << 20)

/*
 * Loads the host config. path is --config's value, or NULL: then
 * $BERTH_CONFIG (when set and not empty), else CONFIG_DEFAULT_PATH.
 * Relative paths inside the file are resolved against the directory that
 * holds it. Fills *cfg (any previous content is ignored, not freed) and
 * returns 0; or returns -1 (BERTH_ENOTFOUND when the file does not exist)
 * with every problem appended to errs, one complete message each
 * ("config.json: $.listen: expected host:port, got \"8470\""), and *cfg
 * zeroed. Secrets are only named here, never read: see secret_load().
 */
int config_load(struct config *cfg, const char *path, struct merrs *errs);

/*
 * The parser behind config_load, from memory (for SIGHUP checks, tests and
 * the fuzzer): (data, len) is the JSON text, file the name used in messages,
 * base_dir the absolute directory that relative paths are resolved against.
 * cfg->path is set to file. Same returns as config_load (never
 * BERTH_ENOTFOUND).
 */
int config_parse(struct config *cfg, const char *data, size_t len,
		 const char *file, const char *base_dir, struct merrs *errs);

/* Frees everything *cfg owns and zeroes it. Accepts NULL and a zeroed cfg. */
void config_release(struct config *cfg);

/* The environment called name (borrowed from cfg), or NULL. */
const struct env_config *config_env(const struct config *cfg,
				    const char *name);

/*
 * Iterates over the environments tracking branch (several may: e.g. staging
 * deploying every push of main and production, auto_deploy false, promoted
 * by hand). Pass prev NULL for the first; returns the next match after prev
 * in file order (borrowed), or NULL when there is none left:
 *   for (e = config_env_for_branch(c, b, NULL); e;
 *        e = config_env_for_branch(c, b, e))
 */
const struct env_config *config_env_for_branch(const struct config *cfg,
					       const char *branch,
					       const struct env_config *prev);

/* "github", "gitlab", ... for a provider; "unknown" outside the enum. */
const char *config_provider_name(enum webhook_provider p);
/* The provider whose name is exactly name (case-sensitive): 0, or
 * BERTH_ENOTFOUND (out untouched). */
int config_provider_parse(enum webhook_provider *out, const char *name);

/* Prints each message of errs on its own line to f (a FILE *), prefixed
 * with "berth: ", for the CLI. */
void config_print_errors(const struct merrs *errs, void *f);

/* config_check.c — syntax checks of config values, for config.c and for
 * anything else that takes the same kinds of values from outside */

/* What a repo.url is, as config_check_url() classifies it. */
enum config_url_kind {
	CONFIG_URL_LOCAL, /* a path on this host */
	CONFIG_URL_FILE,  /* file:///path */
	CONFIG_URL_HTTPS, /* https://host/path */
	CONFIG_URL_HTTP,  /* http://loopback/path, for tests */
	CONFIG_URL_SSH,   /* ssh://[user@]host[:port]/path */
	CONFIG_URL_SCP,   /* [user@]host:path, git's scp-like syntax */
};

/* Classifies a repository URL into *kind. Returns 0, or -1 with *why set to
 * a static "expected ..." phrase for the message. Refuses URLs with a
 * password (the token goes in token_env/token_file), http:// to anything
 * but a loopback host, other schemes, spaces and control characters. */
int config_check_url(enum config_url_kind *kind, const char **why,
		     const char *url);
/* "a local path", "an ssh:// URL" ... for messages. */
const char *config_check_url_kind_name(enum config_url_kind kind);
/* A copy of url (new) with any password replaced by "***", for messages. */
char *config_check_redact_url(const char *url);
/* Splits "host:port", "[v6]:port" into *host (new, without brackets) and
 * *port. host is an IPv4 or bracketed IPv6 literal or a DNS name; port is
 * 0..65535. Returns 0, or -1 (*host untouched). */
int config_check_listen(char **host, int *port, const char *s);
/* Git's branch name rules (git check-ref-format --branch, roughly): no
 * control characters, spaces, ~ ^ : ? * [ \, "..", "@{", "//"; no
 * component starting with '.' or ending with ".lock"; not starting with
 * '-' or '/', not ending with '/' or '.'; not "@" or "HEAD"; at most 255
 * bytes. */
bool config_check_branch(const char *s);
/* An environment name: [a-z0-9][a-z0-9_-]*, at most 64 characters. */
bool config_check_env_name(const char *s);
/* An environment variable name: [A-Za-z_][A-Za-z0-9_]*, at most 255. */
bool config_check_var_name(const char *s);
/* A relative path that stays inside the repository: not absolute, no ".",
 * ".." or empty component, no control characters, not ending with '/'. */
bool config_check_repo_path(const char *s);
/* True when (s, len) holds no ASCII control character (nor NUL). */
bool config_check_printable(const char *s, size_t len);
/* path made absolute against base_dir (when relative) and cleaned of "."
 * components and repeated or trailing slashes; new. ".." is kept. */
char *config_check_resolve(const char *base_dir, const char *path);
/* Writes (s, len) into out as a JSON-style quoted string, escaping quotes,
 * backslashes and control characters, cut with "..." to fit size. */
void config_check_quote(char *out, size_t size, const char *s, size_t len);

/* dotenv.c — env_file parser (format in docs/config.md) */

/* Largest env file berth reads. */
#define DOTENV_MAX_BYTES ((size_t)1 << 20)

/*
 * Parses a dotenv text: KEY=value lines, optional "export " prefix, '#'
 * comment lines, " #" comments after unquoted values, single quotes
 * literal, double quotes with \n \t \" \\ \$ escapes, quoted values may
 * span lines, CRLF tolerated, last duplicate wins, no expansion of $X or
 * ${X}. Sets each variable into out (kvlist_set; out must be initialised).
 * Returns 0; or -1 with "file:LINE: what is wrong" in err and out
 * unchanged. A message never contains a value, only line numbers and
 * (valid) key names: values are secrets.
 */
int dotenv_parse(struct kvlist *out, const char *data, size_t len,
		 const char *file, struct berr *err);

/*
 * Reads and parses the env file at path. The file must be a regular file,
 * not readable by others and not writable by group or others (the message
 * says to chmod 600). hash_hex (may be NULL) receives the lowercase hex
 * SHA-256 of the file's bytes, for detecting an edited env file. Returns 0;
 * BERTH_ENOTFOUND when it does not exist; BERTH_ETOOBIG over
 * DOTENV_MAX_BYTES; -1 otherwise. On failure out is unchanged.
 */
int dotenv_load(struct kvlist *out, char hash_hex[65], const char *path,
		struct berr *err);

/* secret.c — resolving *_env and *_file secrets */

/* Largest secret file berth reads. */
#define SECRET_MAX_BYTES ((size_t)64 << 10)

/*
 * Reads the secret ref names into out (which must be empty): the value of
 * the environment variable ref->env, or the content of ref->file without
 * one trailing newline ("\n" or "\r\n"). what names the secret in messages
 * ("webhooks.github secret"). The file must be a regular file with no
 * permission bits for group or others (checked with fstat on the open
 * descriptor). Returns 0; BERTH_ENOTFOUND when ref names nothing or the
 * variable is unset; -1 when the file is missing, unsafe, unreadable or
 * over SECRET_MAX_BYTES, or the value is empty. Messages never contain the
 * value. Release out with secret_wipe().
 */
int secret_load(struct buf *out, const struct secret_ref *ref,
		const char *what, struct berr *err);

/*
 * Reads the whole file at path, which holds secrets, into out (empty): it
 * must be a regular file (checked with fstat on the opened descriptor,
 * symlinks followed) with none of the permission bits in forbidden, and at
 * most max bytes, read into one allocation that is wiped afterwards.
 * Messages start with "what: ", name the path and suggest chmod 600, and
 * never contain the content. Returns 0, BERTH_ENOTFOUND when the file does
 * not exist, BERTH_ETOOBIG, or -1. Release out with secret_wipe().
 */
int secret_read_file(struct buf *out, const char *path, mode_t forbidden,
		     size_t max, const char *what, struct berr *err);

/*
 * Checks that path is a regular file with no permission bits for group or
 * others, as secret_load() does, without reading it: for key files handed
 * to a library by path (repo.ssh_key_file). Returns 0, BERTH_ENOTFOUND when
 * it does not exist, or -1.
 */
int secret_check_file(const char *path, const char *what, struct berr *err);

/* Overwrites b's whole allocation (OPENSSL_cleanse), then releases it. */
void secret_wipe(struct buf *b);

/* git.c — the bare mirror; the only file that includes <git2.h> */

/*
 * The bare mirror of the deployed repository (berth keeps it at
 * state_dir/mirror.git). It maps the remote's branches and tags (refs/heads/,
 * refs/tags/) one to one, forced and pruned, like `git clone --mirror`;
 * objects are never deleted, so a deployed commit stays readable after a force-push. Reads
 * need no lock; fetches of one mirror are serialised by a kernel lock
 * (flock on berth-fetch.lock inside it) that dies with its holder.
 *
 * Remotes: a local path, file://, http(s):// (token as the password; the
 * user name from the URL, else "x-access-token"; the token is only sent to
 * the URL's own host, never after a redirect to another), and ssh (ssh://
 * or scp-like user@host:path) with a key file (user from the URL, else
 * "git"; KEY.pub is used when present). ssh host keys are checked against
 * ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts: an unknown or changed
 * host key refuses the connection. TLS certificates are checked against
 * the system CA bundle, or SSL_CERT_FILE / SSL_CERT_DIR when set (read once,
 * at the first git_mirror_open). Proxies: http.proxy and the *_proxy
 * environment variables. libgit2 1.5 has no network timeout: run fetches in
 * a process that a deadline can kill.
 *
 * Messages name the remote by its URL without userinfo and never contain a
 * token or a URL's password. Network failures read
 * "cannot fetch from 'URL': " followed by one of: "repository not found
 * (…)", "remote unreachable (…)", "authentication failed: the token was
 * rejected" / "…: the ssh key 'FILE' was rejected" / "…: the server asks for
 * credentials and none that it accepts are configured", "host key of …", or
 * libgit2's own words.
 *
 * A git_mirror is not thread-safe; use one per thread or process.
 */
struct git_mirror;

struct git_auth {
	const char *token;        /* borrowed secret for http(s), or NULL */
	const char *ssh_key_file; /* borrowed path of a private key, or NULL */
};

/* One ref a fetch changed. A created ref has old_sha all zeros, a deleted
 * one new_sha all zeros. */
struct git_ref_update {
	char *ref;         /* owned; full name, "refs/heads/main" */
	char old_sha[41];
	char new_sha[41];
	bool forced;       /* a branch whose new commit does not descend from
			      the old one (a force-push), or a tag that moved */
};

/*
 * Opens the bare mirror at dir, creating it (and its parent directories)
 * when dir does not exist; creation happens in a temporary sibling renamed
 * into place, so a crash never leaves a half-made mirror. The mirror
 * fetches from url from now on (nothing about the remote is stored in it,
 * so a changed url simply takes effect). auth may be NULL; its strings are
 * copied (secrets are wiped on close). Safe to call any number of times;
 * libgit2 is initialised once per process. Returns 0 with *out (new, free
 * with git_mirror_close), or -1: a dir that exists but is not a bare
 * repository gives "mirror 'DIR' is corrupt or not a bare repository (it is
 * a cache: remove it and berth fetches it again): …".
 */
int git_mirror_open(struct git_mirror **out, const char *dir, const char *url,
		    const struct git_auth *auth, struct berr *err);

/*
 * Opens the repository a Git hook runs in, as git describes it in the
 * hook's environment (GIT_DIR; GIT_OBJECT_DIRECTORY and
 * GIT_ALTERNATE_OBJECT_DIRECTORIES, through which a pre-receive hook sees
 * the pushed objects that wait in quarantine). The handle reads like a
 * mirror (git_mirror_resolve, git_mirror_read_file, ...) and never writes;
 * it has no remote: git_mirror_fetch and git_mirror_ls_remote refuse.
 * Returns 0 with *out (new, git_mirror_close), or -1 ("not running as a
 * Git hook: GIT_DIR is not set", or libgit2's reason).
 */
int git_mirror_open_env(struct git_mirror **out, struct berr *err);

/*
 * For `berth hooks install`: opens the repository at path (exactly there,
 * no search upwards), refuses one that is not bare, and gives the directory
 * git runs its hooks from: core.hooksPath when the repository's config
 * sets it, else "<repository>/hooks". *hooks_dir is new. Returns 0,
 * BERTH_ENOTFOUND when path is not a repository, or -1 ("'P' is not a bare
 * repository (it has a working tree): ...").
 */
int git_bare_hooks_dir(char **hooks_dir, const char *path, struct berr *err);

/* How long git_mirror_fetch waits for another process's fetch of the same
 * mirror to finish (default 60000 ms). */
void git_mirror_set_lock_timeout(struct git_mirror *gm, int timeout_ms);

/*
 * Fetches the remote's branches and tags into the mirror (forced refspecs,
 * pruning refs the remote deleted). Lock files an interrupted fetch left
 * behind are removed first (with a warning log). When updates and nupdates
 * are not NULL, *updates receives every ref that changed, sorted by name
 * (new array; free with git_mirror_updates_free; NULL when nothing
 * changed); a force-push is reported as an update with forced set, the
 * fetch itself succeeds. Returns 0, BERTH_ELOCKED when another fetch holds
 * the mirror past the lock timeout (or a Git lock is held), or -1.
 */
int git_mirror_fetch(struct git_mirror *gm, struct git_ref_update **updates,
		     size_t *nupdates, struct berr *err);
void git_mirror_updates_free(struct git_ref_update *u, size_t n);

/* One line for a log or a notification, new string: "branch 'main' was
 * force-pushed: 1a2b3c4 -> 5d6e7f8 (not a fast-forward)", "branch 'main'
 * updated: 1a2b3c4 -> 5d6e7f8", "tag 'v1' created at 1a2b3c4", "branch 'x'
 * deleted (was 1a2b3c4)". */
char *git_mirror_update_describe(const struct git_ref_update *u);

/*
 * Resolves rev in the mirror to a commit id (40 lowercase hex + NUL in
 * sha): a branch name, a tag name (annotated tags peeled to their commit), a
 * full ref name (refs/heads/…, refs/tags/…), or a full or abbreviated (at
 * least 4 hex digits) commit id. When several of these match and disagree
 * (a branch and a tag of one name, a name that is also an id prefix, an
 * ambiguous prefix) it is an error, never a guess. Returns 0,
 * BERTH_ENOTFOUND when nothing matches ("unknown revision 'x': …"), or -1.
 */
int git_mirror_resolve(struct git_mirror *gm, const char *rev, char sha[41],
		       struct berr *err);

/*
 * The functions below take sha, a full 40-hex commit id (from
 * git_mirror_resolve), and return BERTH_ENOTFOUND when the mirror does not
 * have that commit, -1 when sha is malformed or names another kind of
 * object. Paths are relative to the repository root, '/'-separated, without
 * "." or ".." components.
 */

/* Appends the content of the file at path in commit sha to out, without a
 * working tree. Returns 0, BERTH_ENOTFOUND when path does not exist in the
 * commit, BERTH_ETOOBIG when the file is over max bytes (or over out's own
 * maximum), -1 when it is a directory, a symlink or a submodule. */
int git_mirror_read_file(struct buf *out, struct git_mirror *gm,
			 const char *sha, const char *path, size_t max,
			 struct berr *err);

/* Appends to names (copies) the regular files (executable or not; not
 * symlinks, directories or submodules) directly in dir of commit sha,
 * sorted bytewise. dir "" or "." is the root. BERTH_ENOTFOUND when dir does
 * not exist; -1 when it is not a directory. */
int git_mirror_list_dir(struct strv *names, struct git_mirror *gm,
			const char *sha, const char *dir, struct berr *err);

/*
 * Writes the tree of commit sha into the directory dest, which must not
 * exist (an existing dest is an error and is left untouched; the caller
 * decides whether to reuse or remove it). Files get mode 0644 or 0755 (the
 * exec bit from Git) less the umask, symlinks are created as symlinks
 * (their targets as committed), submodules are skipped with a warning log.
 * Entries named ".git", "." or ".." (which only a crafted tree can hold)
 * fail the export. Everything is written into "DEST.tmp.PID", synced, and
 * renamed to dest: dest either does not exist or is complete. A failed
 * export removes its temporary directory; one left by a killed process is
 * garbage to be removed by whoever cleans the parent directory.
 */
int git_mirror_export(struct git_mirror *gm, const char *sha,
		      const char *dest, struct berr *err);

/* The id of commit sha's tree, into tree (41 bytes). */
int git_mirror_tree_id(struct git_mirror *gm, const char *sha, char tree[41],
		       struct berr *err);
/* *equal: commits a and b have the same tree (a revert of b's changes
 * compares equal to b's parent). */
int git_mirror_trees_equal(bool *equal, struct git_mirror *gm, const char *a,
			   const char *b, struct berr *err);
/* *yes: ancestor is descendant or one of its ancestors. */
int git_mirror_is_ancestor(bool *yes, struct git_mirror *gm,
			   const char *ancestor, const char *descendant,
			   struct berr *err);
/* *ahead: commits reachable from local and not from upstream; *behind: the
 * other way round (git rev-list --left-right --count local...upstream). */
int git_mirror_ahead_behind(size_t *ahead, size_t *behind,
			    struct git_mirror *gm, const char *local,
			    const char *upstream, struct berr *err);
/* *subject: the first line of the commit message (new string), trailing
 * blanks removed, control characters replaced by '?'. */
int git_mirror_commit_subject(char **subject, struct git_mirror *gm,
			      const char *sha, struct berr *err);

/* The commit id the remote's branch (a name, or refs/heads/NAME) points at,
 * asked over the network without fetching objects (polls, drift). Returns
 * 0, BERTH_ENOTFOUND when the remote has no such branch, -1 (the same
 * network messages as git_mirror_fetch, "cannot list branches of 'URL': …"),
 * or BERTH_ELOCKED. */
int git_mirror_ls_remote(char sha[41], struct git_mirror *gm,
			 const char *branch, struct berr *err);

/* Frees gm (NULL is fine). */
void git_mirror_close(struct git_mirror *gm);

/* "libgit2 1.5.1": the version linked, for `berth version`. */
const char *git_mirror_lib_version(void);

/* url without its userinfo (user and password), new string: what to print
 * when a URL may carry a secret. Non-URL forms (paths, user@host:path) are
 * returned unchanged. */
char *git_mirror_redact_url(const char *url);

/* known_hosts.c — ssh host key verification for git.c */

/* Checks the raw host key (SSH wire format: string type, key data) that
 * host:port presented against the known_hosts files in files (NULL
 * terminated; missing files are skipped). Plain and hashed host names,
 * "[host]:port" for ports other than 22, wildcards, negation and @revoked
 * are understood; @cert-authority lines are ignored. Returns 0 when a line
 * for the host lists this key; -1 when the host is unknown, when a line
 * lists another key of the same type (changed key, or interception), or
 * when the key is revoked, with a message naming the host and key type. */
int known_hosts_check(const char *const *files, const char *host, int port,
		      const void *key, size_t keylen, struct berr *err);

/* deployment.c — the deployment record (SPEC §5) and its JSON form */

/* jansson's json_t, without making every user of this header include it. */
struct json_t;

enum deploy_status {
	DEPLOY_RUNNING,
	DEPLOY_SUCCEEDED,
	DEPLOY_FAILED,
	DEPLOY_ROLLED_BACK,
	DEPLOY_ROLLBACK_FAILED,
	DEPLOY_INTERRUPTED
};

/* "running", "succeeded", "failed", "rolled_back", "rollback_failed",
 * "interrupted". Never NULL ("unknown" for a value out of range). */
const char *deploy_status_name(enum deploy_status s);
/* Parses one of the names above. Returns 0, or -1 (out untouched). */
int deploy_status_parse(enum deploy_status *out, const char *s);

enum step_status { STEP_PENDING, STEP_RUNNING, STEP_OK, STEP_FAILED, STEP_SKIPPED };

/* "pending", "running", "ok", "failed", "skipped". */
const char *step_status_name(enum step_status s);
int step_status_parse(enum step_status *out, const char *s);

/* One pipeline step (SPEC §5: lock, validate, backup, fetch, build, migrate,
 * deploy, smoke, cleanup, notify, unlock; a rollback adds its own). */
struct step_record {
	char *name;               /* owned */
	enum step_status status;
	int64_t started_ms;       /* unix milliseconds; 0 not started */
	int64_t finished_ms;      /* unix milliseconds; 0 not finished */
	char *detail;             /* owned or NULL; one line for humans */
	char *output_tail;        /* owned or NULL; last bytes of the output */
};

/* A service as this deployment left it: its name and manifest hash. */
struct service_record {
	char *name; /* owned */
	char *hash; /* owned or NULL */
};

/* Kinds of deployment record. "deploy" and "rollback" put a release in
 * place; "unlock" and "resume" record an operator's action (SPEC §4) and are
 * never a last good deployment. */
#define DEPLOY_KIND_DEPLOY "deploy"
#define DEPLOY_KIND_ROLLBACK "rollback"
#define DEPLOY_KIND_UNLOCK "unlock"
#define DEPLOY_KIND_RESUME "resume"
/* `berth backup restore`: the release that serves, with a database
 * restored from a backup (docs/backups.md); not a last good deployment. */
#define DEPLOY_KIND_RESTORE "restore"

/* A database restore done by a deployment (a revert, `berth rollback`, or
 * the rollback of a failed deployment; docs/backups.md). */
struct restore_record {
	char *step;           /* owned; the step that restored: "migrate",
				 "rollback" */
	char *backup;         /* owned; path of the dump restored */
	char *reason;         /* owned or NULL; why this dump: "paired backup
				 of deployment 6", "--backup" */
	char *safety_backup;  /* owned or NULL; path of the dump of the
				 database taken just before (kind
				 pre-rollback); NULL when none could be
				 taken, and then nothing was restored */
	bool ok;              /* the restore committed */
	int64_t rows_written_since; /* rows written since backup was taken
				       and discarded by the restore (kept in
				       safety_backup); -1 unknown */
	char *tables;         /* owned or NULL; per table, for people:
				 "public.sales 12, public.notes unknown" */
};

/* One deployment: what it put in place, why, and what happened. Strings are
 * owned and may be NULL unless noted; commits are 40 hex digits or "". */
struct deployment {
	int64_t id;             /* increasing per environment, from 1 */
	char *env;              /* owned */
	char commit[41];        /* what it deploys; "" before it is resolved */
	char previous_commit[41]; /* what ran before; "" on the first deploy */
	char tree[41];          /* commit's tree, for revert detection (SPEC §6) */
	char *trigger;          /* cli, webhook:<provider>:<delivery>,
				   hook:post-receive, poll, drift, revert, api */
	char *kind;             /* DEPLOY_KIND_*; NULL is read as "deploy" */
	enum deploy_status status;
	int64_t started_at;     /* unix seconds */
	int64_t finished_at;    /* unix seconds; 0 while running */
	char *backup;           /* the paired backup file (SPEC §6) */
	char *safety_backup;    /* taken before a restore */
	bool migrations_ran;
	struct strv migrations; /* files applied by this deployment */
	int64_t rollback_to;    /* id of the deployment put back; 0 none */
	char *version;          /* --version TAG */
	char *error;            /* why it failed */
	char *env_file_hash;    /* SHA-256 hex of the env file deployed */
	int pid;                /* the berth process that ran it; 0 unknown */
	struct step_record *steps; /* owned, in order of first use */
	size_t nsteps;
	struct service_record *services; /* owned */
	size_t nservices;
	struct restore_record *restores; /* owned, in the order they ran */
	size_t nrestores;
};

/* Zeroes d (status DEPLOY_RUNNING, no strings, no steps). */
void deployment_init(struct deployment *d);
/* Frees what d owns and leaves it as deployment_init does. NULL ok. */
void deployment_release(struct deployment *d);
/* Returns the step called name (borrowed, valid until the next call that
 * appends), appending a STEP_PENDING one when there is none. */
struct step_record *deployment_step(struct deployment *d, const char *name);
/* Appends a service (both strings copied; hash may be NULL). */
void deployment_add_service(struct deployment *d, const char *name,
			    const char *hash);
/* Sets *field (one of d's owned strings) to a copy of value (NULL clears). */
void deployment_set(char **field, const char *value);
/* Appends an empty restore record (rows_written_since -1) and returns it
 * (borrowed, valid until the next append). */
struct restore_record *deployment_add_restore(struct deployment *d);

/*
 * The record as JSON (new reference), with SPEC §5's field names; the format
 * is described in docs/state.md. Times are ISO-8601 UTC strings, absent
 * values are null, steps carry duration_ms.
 */
struct json_t *deployment_to_json(const struct deployment *d);
/*
 * Reads a record written by deployment_to_json into d, which is overwritten
 * without being released (pass it uninitialised or empty). j is borrowed.
 * Missing and null fields keep their defaults; unknown fields are ignored;
 * a field of the wrong type or value is an error naming its JSON path
 * ("$.steps[2].status: expected one of pending, running, ok, failed,
 * skipped"). Returns 0, or -1 with d released.
 */
int deployment_from_json(struct deployment *d, const struct json_t *j,
			 struct berr *err);

/* state.c — the state directory (SPEC §11; docs/state.md) and the
 * deployment journal */

/*
 * One environment's state under state_dir/envs/<env>/. Every write is atomic
 * and durable (fs_write_atomic, fs_symlink_atomic): a process killed at any
 * instant leaves files the next one can read.
 */
struct state {
	char *root;    /* owned; state_dir */
	char *env;     /* owned; environment name */
	char *env_dir; /* owned; state_dir/envs/<env> */
};

/* Largest deployment record read back (steps keep only output tails). */
#define STATE_RECORD_MAX ((size_t)16 << 20)

/* True when name can be an environment's directory name: 1–64 characters
 * of [A-Za-z0-9._-], not starting with '.' or '-'. */
bool state_env_name_ok(const char *name);

/*
 * Opens env's state under state_dir, creating envs/<env>/ and its releases/,
 * deployments/, logs/ and backups/ directories when missing. Temporary
 * files left by writers that died (their pid no longer exists) are removed.
 * Returns 0, or -1 (st left empty; state_close is still safe).
 */
int state_open(struct state *st, const char *state_dir, const char *env,
	       struct berr *err);
void state_close(struct state *st);
/* rel joined under st->env_dir, as a new string ("lock", "releases/<c>"). */
char *state_path(const struct state *st, const char *rel);

/*
 * Gives d the next id (one more than the largest in the journal, unique even
 * when several processes create at once: the record file is published with
 * link(2), which fails when the name exists) and saves it. d->env is set to
 * st->env when NULL and must equal it otherwise. Returns 0, or -1.
 */
int state_create_deployment(struct state *st, struct deployment *d,
			    struct berr *err);
/* Rewrites the record of d->id atomically. BERTH_ENOTFOUND when d->id was
 * never created. */
int state_save_deployment(struct state *st, const struct deployment *d,
			  struct berr *err);
/* Reads record id into out (initialised here). Returns 0, BERTH_ENOTFOUND,
 * or -1 when it cannot be read or is not a valid record (the message names
 * the file). */
int state_load_deployment(struct state *st, int64_t id, struct deployment *out,
			  struct berr *err);

/*
 * The newest `limit` readable records (0: all), newest first, into *out (a
 * new array of *n records; free with state_history_free). A record that
 * cannot be read is skipped and described, with its path, in bad (or
 * logged as a warning when bad is NULL): it never hides the others.
 * Returns 0, or -1 when the journal directory cannot be listed.
 */
int state_history(struct state *st, struct deployment **out, size_t *n,
		  struct merrs *bad, size_t limit, struct berr *err);
void state_history_free(struct deployment *d, size_t n);

/* The lookups below read records newest first, skip (and log) unreadable
 * ones, and fill out (initialised here) with the first match. Each returns
 * 0, BERTH_ENOTFOUND when nothing matches, or -1. */

/* The newest deployment, whatever its status. */
int state_latest(struct state *st, struct deployment *out, struct berr *err);
/* The newest succeeded "deploy" or "rollback" with id < before_id (0: any). */
int state_last_good(struct state *st, int64_t before_id, struct deployment *out,
		    struct berr *err);
/* The newest succeeded "deploy" or "rollback" of commit. */
int state_find_by_commit(struct state *st, const char *commit,
			 struct deployment *out, struct berr *err);
/* The newest succeeded "deploy" or "rollback" whose commit had this tree
 * (a revert of it, SPEC §6). */
int state_find_by_tree(struct state *st, const char *tree,
		       struct deployment *out, struct berr *err);
/*
 * Every record still "running", newest first (like state_history; *n may be
 * 0). Such a record is an interrupted deployment only when the environment's
 * lock is free: otherwise another process is running it right now.
 */
int state_find_running(struct state *st, struct deployment **out, size_t *n,
		       struct berr *err);

/* What serves now, from current.json: commit (40 hex digits) and the
 * deployment that put it there. Returns 0, BERTH_ENOTFOUND (nothing deployed
 * yet), or -1 (unreadable; message names the file). */
int state_get_current(struct state *st, char commit[41], int64_t *deployment_id,
		      struct berr *err);
/*
 * Points current at releases/<commit> (which must exist): the symlink
 * "current" is replaced atomically, then current.json is. A crash between
 * the two leaves the symlink one switch ahead; the recovery of the
 * interrupted deployment switches again. Call it holding the lock.
 */
int state_set_current(struct state *st, const char *commit,
		      int64_t deployment_id, struct berr *err);

/*
 * Forgets what serves: removes current.json, then the symlink "current"
 * (a first deployment that failed after its deploy step switched them; no
 * release is left to point at). Missing files are fine. Call it holding
 * the lock. Returns 0 or -1.
 */
int state_clear_current(struct state *st, struct berr *err);

/* Freezes the environment (SPEC §5: after a failed rollback) with a reason
 * for humans. Returns 0 or -1. */
int state_freeze(struct state *st, const char *reason, struct berr *err);
/* 1 when frozen, *reason set to a new string (reason may be NULL); 0 when
 * not. A freeze file that cannot be read still counts as frozen (the reason
 * then says why it could not be read): failing safe. */
int state_frozen(struct state *st, char **reason);
/* Lifts the freeze. Returns 0, BERTH_ENOTFOUND when it was not frozen, or
 * -1. */
int state_unfreeze(struct state *st, struct berr *err);


/* lock.c — per-environment lock released by the kernel */

/*
 * The lock is an open file description lock (fcntl F_OFD_SETLK, whole file)
 * on envs/<env>/lock: one holder across processes, released by the kernel
 * when the holder exits or is killed, never inherited across exec (the fd is
 * O_CLOEXEC), and testable without taking it (F_OFD_GETLK), so `berth
 * status` never makes a deploy fail with "locked". The file itself stays;
 * while locked it holds the holder's description as JSON, which
 * lock_release clears. See docs/state.md.
 */
struct lock_holder {
	int64_t deployment_id; /* 0 until the deployment record exists */
	int pid;               /* 0 when unknown */
	int64_t started_at;    /* unix seconds */
	char trigger[160];     /* "" when unknown */
};

/*
 * Takes the lock at path without waiting; the file is created when missing.
 * On success *fd is the lock's descriptor, `me` is written into the file and
 * 0 is returned. When another open file description holds it, returns
 * BERTH_ELOCKED with err saying who, and *holder (may be NULL) filled from
 * the file (zeroed when the holder has not written it yet). -1 on other
 * errors. *fd is -1 unless 0 is returned.
 */
int lock_acquire(int *fd, const char *path, const struct lock_holder *me,
		 struct lock_holder *holder, struct berr *err);
/* Rewrites the holder description (e.g. once the deployment id is known). */
int lock_update(int fd, const struct lock_holder *me, struct berr *err);
/* Clears the description and releases the lock, also for any forked child
 * sharing the descriptor. fd < 0 is ignored. */
void lock_release(int fd);
/* Whether the lock is held (by anyone, this process included) and, when it
 * is, by whom. A missing lock file is "not locked". Returns 0 or -1. */
int lock_peek(bool *locked, struct lock_holder *holder, const char *path,
	      struct berr *err);
/*
 * What `berth unlock` does. A lock is never stale: a live holder cannot be
 * unlocked from outside (returns BERTH_ELOCKED with *holder filled; stop
 * that process: SIGTERM lets it roll back, SIGKILL leaves the deployment to
 * the next start's recovery). When the lock is free, clears the description
 * a killed holder left behind; *cleared says whether there was one and
 * *holder (required) what it said. A missing lock file is "nothing to
 * clear". Returns 0, BERTH_ELOCKED or -1.
 */
int lock_clear(bool *cleared, struct lock_holder *holder, const char *path,
	       struct berr *err);
/* "pid 1234, deployment 17, trigger cli, since 2026-01-05T12:00:00Z" into
 * out; unknown parts are left out. */
void lock_describe(char *out, size_t len, const struct lock_holder *h);


/* envctx.c — what every command acting on one environment needs */

struct envctx {
	struct config cfg;
	bool config_loaded;
	const struct env_config *env;  /* borrowed from cfg */
	struct state st;
	struct kvlist vars;            /* the env file's variables */
	char env_file_hash[65];        /* SHA-256 of the env file; "" if none */
	struct git_mirror *git;        /* owned; NULL until envctx_git() */
};

/*
 * Loads the config (config_path NULL: $BERTH_CONFIG, else the default),
 * finds env_name in it, opens its state and reads its env file. Returns 0,
 * or -1 with every problem in errs. ctx is always safe to envctx_close().
 */
int envctx_open(struct envctx *ctx, const char *config_path,
		const char *env_name, struct merrs *errs);
void envctx_close(struct envctx *ctx);
/* Opens the Git mirror (state_dir/mirror.git) with the repo's credentials,
 * once; *out is borrowed from ctx. Returns 0 or -1. */
int envctx_git(struct envctx *ctx, struct git_mirror **out, struct berr *err);

/* What a fetch changed, for people. */
struct envctx_fetch_report {
	int64_t ms;           /* how long the fetch took */
	struct strv updates;  /* "branch 'main' updated: a -> b", ... */
	struct strv forced;   /* force-pushes, to warn about */
};

/* Fetches the mirror. rep is filled (release its strvs) even on failure. */
int envctx_fetch(struct envctx *ctx, struct envctx_fetch_report *rep,
		 struct berr *err);
/* Reads and parses the environment's manifest at commit sha, with the env
 * file's variables. Returns 0 with *out new, or -1 with every problem in
 * errs. */
int envctx_manifest(struct manifest **out, struct envctx *ctx,
		    const char *sha, struct merrs *errs);
/* The two halves of envctx_manifest: the manifest's bytes at sha appended
 * to out (0, BERTH_ENOTFOUND or -1, with a message in errs), and the parse
 * of such bytes (new manifest, or NULL with every problem in errs). */
int envctx_manifest_text(struct buf *out, struct envctx *ctx, const char *sha,
			 struct merrs *errs);
struct manifest *envctx_parse(struct envctx *ctx, const struct buf *text,
			      struct merrs *errs);
/* The env file's value of name (borrowed), or NULL. */
const char *envctx_var(const struct envctx *ctx, const char *name);
/* The repository URL without credentials, for messages (new string). */
char *envctx_repo_display(const struct envctx *ctx);

/* plan.c — what apply would change */

/* The plan from what runs to a target commit. changes lists, in the order
 * apply does them: build, backup, migrate, then start/restart/stop of
 * services; "error" entries are problems that would make apply fail. */
struct plan {
	char from_commit[41];       /* what runs now; "" when nothing */
	int64_t from_deployment;    /* the deployment that put it there */
	char to_commit[41];
	char *to_subject;           /* owned; first line of its message */
	struct manifest *from;      /* owned; NULL when nothing runs or its
				       manifest no longer parses */
	struct manifest *to;        /* owned */
	struct manifest_changes changes;
	size_t service_changes;     /* start/stop/restart entries */
	size_t migrations_pending;
	size_t errors;              /* "error" entries */
	bool db_checked;            /* pending migrations asked of the database */
	char *from_note;            /* owned; caveat about the running manifest */
	char *db_note;              /* owned; why the database was not asked */
	bool in_sync;               /* nothing to do */
};

/* Builds the plan for to_sha (a full commit id present in the mirror).
 * Returns 0, or -1 with the problems (e.g. manifest errors) in errs. */
int plan_build(struct plan *p, struct envctx *ctx, const char *to_sha,
	       struct merrs *errs);
void plan_release(struct plan *p);
/*
 * Reads the migration files (migrate_is_file_name) directly in dir of
 * commit sha from Git: names receives every file name of dir (copies),
 * *bufs and *srcs are new arrays of *n entries, srcs[i] borrowing its name
 * from names and its bytes from bufs[i]. Returns 0, BERTH_ENOTFOUND when
 * dir is not in the commit, or -1. Free with plan_free_migrations (also
 * on failure) and strv_release(names).
 */
int plan_read_migrations(struct buf **bufs, struct migrate_source **srcs,
			 size_t *n, struct strv *names, struct git_mirror *gm,
			 const char *sha, const char *dir, struct berr *err);
void plan_free_migrations(struct buf *bufs, struct migrate_source *srcs,
			  size_t n);
/* Prints the plan for a person, to f (a FILE *). */
void plan_print(const struct plan *p, const char *env, void *f);
/* The plan as SPEC §4's JSON (new reference). */
struct json_t *plan_to_json(const struct plan *p, const char *env);


/* drift.c — what runs compared with what should run (SPEC §8;
 * docs/drift.md) */

/* How long the remote may take to name its branch head. */
#define DRIFT_REMOTE_TIMEOUT_MS 30000
/* drift.interval_s when the manifest cannot be read. */
#define DRIFT_INTERVAL_DEFAULT_S 300

/* One difference (SPEC §4's {kind, name, detail}), or a check that could
 * not run (kind: the check, name "", detail: why). */
struct drift_finding {
	char *kind;       /* owned; "branch", "service", "schema", "env_file" */
	char *name;       /* owned; the branch, service, migration file or env
			     file path */
	char *detail;     /* owned; what differs, concretely; never a value of
			     the env file */
	bool healable;    /* a redeploy repairs it (a branch ahead: only with
			     auto_deploy, which deploys the head) */
	bool blocks_heal; /* a redeploy would fail because of it: an applied
			     migration file that changed */
};

struct drift_report {
	char *env;               /* owned */
	char commit[41];         /* deployed (current.json); "" when nothing
				    is deployed, and then nothing is compared */
	int64_t deployment_id;   /* the deployment that put it there */
	char head[41];           /* the remote branch head; "" when unknown */
	int64_t checked_at;      /* unix seconds */
	int64_t duration_ms;
	enum manifest_drift_action action; /* the deployed manifest's drift
					      settings (defaults when it
					      cannot be read) */
	int interval_s;
	struct drift_finding *findings; /* owned */
	size_t nfindings;
	struct drift_finding *errors;   /* owned; checks that could not run */
	size_t nerrors;
};

struct drift_opts {
	bool remote;           /* ask the remote for the branch head */
	int remote_timeout_ms; /* 0: DRIFT_REMOTE_TIMEOUT_MS */
};

/*
 * Compares ctx's environment with what its deployment put in place:
 *   branch   — git_mirror_ls_remote of the branch (in a child process killed
 *              after the timeout; the mirror fetches a head it lacks, to
 *              count commits) against the deployed commit;
 *   env_file — the env file's SHA-256 against the deployment record's;
 *   service  — each service of the deployed manifest (read from Git with
 *              today's env file): not running, started from another commit
 *              or with another configuration (what differs, from the
 *              manifest it was started with when that can be rebuilt), or
 *              failing one health probe; and services running that the
 *              manifest does not have (one finding per service);
 *   schema   — berth_schema_migrations against the deployed commit's
 *              sql_dir: pending files, applied files that changed, applied
 *              files the commit does not have.
 * A check that cannot run (remote unreachable, database down) goes to
 * out->errors and the others still run. Reads only; takes no lock. *out is
 * always initialised (drift_report_release). Returns 0, or -1 when the
 * state cannot be read (err). o may be NULL (remote check on).
 */
int drift_check(struct drift_report *out, struct envctx *ctx,
		const struct drift_opts *o, struct berr *err);
void drift_report_release(struct drift_report *r);
/* "report", "heal", "off". */
const char *drift_action_name(enum manifest_drift_action a);
/* [{"kind", "name", "detail"}, …] (new reference). */
struct json_t *drift_findings_json(const struct drift_finding *f, size_t n);
/* SPEC §4's {"env", "drift": [...]} plus "commit", "deployment",
 * "branch_head", "checked_at", "duration_ms", "action", "interval_s" and
 * "errors": [{"check", "detail"}] (new reference). */
struct json_t *drift_report_to_json(const struct drift_report *r);
/* The report for people, one line per finding, to f (a FILE *). */
void drift_report_print(const struct drift_report *r, void *f);
/* SPEC §4: 2 with findings, else 1 when a check could not run, else 0. */
int drift_exit_status(const struct drift_report *r);

/*
 * Repairs what r found by redeploying through apply_run, trigger "drift",
 * with keep_in_place (only what drifted restarts): the deployed commit, or
 * the branch head when the branch moved and the environment has
 * auto_deploy. Progress goes to progress (a FILE *, or NULL). Returns what
 * apply_run returns (*out its record); BERTH_ENOTFOUND without a
 * deployment when no finding is healable; -1 with out->id 0 when a finding
 * would make the redeploy fail (blocks_heal; err says which).
 */
int drift_heal(struct deployment *out, struct envctx *ctx,
	       const struct drift_report *r, void *progress,
	       bool (*stop_requested)(void), struct berr *err);

/* Appends a finding (strings copied) to *items of *n. */
void drift_finding_add(struct drift_finding **items, size_t *n,
		       const char *kind, const char *name, const char *detail);
/* Frees the n findings of f and f. NULL ok. */
void drift_findings_free(struct drift_finding *f, size_t n);

/* drift_state.c — the scheduled check: drift.action, and the findings that
 * are open (envs/<env>/drift.json) so that each is notified once when it
 * appears and once when it clears, and healed at most once while open */

#define DRIFT_STATE_FILE "drift.json"
#define DRIFT_STATE_MAX ((size_t)4 << 20)

/* A finding that is open: seen by the last check, or by an earlier one
 * when its check could not run since. Keyed by kind and name: a detail
 * that changes (3 commits ahead instead of 2) is the same finding. */
struct drift_open {
	char *kind, *name, *detail; /* owned; the latest detail */
	int64_t since;              /* unix seconds it was first seen */
	bool notified;              /* its appearance reached a notifier */
	bool healable;              /* as drift_finding's, last seen */
	int64_t heal_deployment;    /* the heal tried for it, 0: none yet */
};

struct drift_state {
	struct drift_open *open; /* owned */
	size_t nopen;
	struct json_t *last;     /* owned reference; the last report
				    (drift_report_to_json), or NULL */
};

/* Reads envs/<env>/drift.json into *out (zeroed first). Returns 0,
 * BERTH_ENOTFOUND (never checked), or -1 (unreadable; *out empty). */
int drift_state_load(struct drift_state *out, struct state *st,
		     struct berr *err);
/* Writes it atomically: {"version", "env", "open": [{"kind", "name",
 * "detail", "since", "notified", "healable", "heal_deployment"}], "last"}. */
int drift_state_save(const struct drift_state *s, struct state *st,
		     struct berr *err);
void drift_state_release(struct drift_state *s);
/* {"env", "open": [{"kind", "name", "detail", "since", "notified",
 * "healable", "heal_deployment"}], "last": REPORT|null}: what GET
 * /api/drift says of one environment (new reference). */
struct json_t *drift_state_to_json(const struct drift_state *s,
				   const char *env);
/*
 * Makes r's findings the open ones: a finding open before keeps its since,
 * notified and heal_deployment; a new one starts now. An open finding r
 * no longer has is gone, unless its check could not run in r (kept as it
 * was); gone ones that were notified are appended to *cleared.
 */
void drift_state_merge(struct drift_state *s, const struct drift_report *r,
		       struct drift_finding **cleared, size_t *ncleared);
/*
 * The body of a drift notification for a notifier of type (new string).
 * webhook: {"event": "drift", "env", "commit", "status": "drift" (something
 * new) | "cleared", "opened": [{"kind", "name", "detail"}], "cleared":
 * [...], "open": N, "checked_at"}; slack: {"text"} with one line each.
 */
char *drift_notify_payload(enum manifest_notify_type type,
			   const struct drift_report *r,
			   const struct drift_finding *opened, size_t nopened,
			   const struct drift_finding *cleared,
			   size_t ncleared, size_t nopen);
/*
 * `berth drift ENV --scheduled`, what the daemon's timer runs: with
 * drift.action "off" nothing is checked; otherwise drift_check, merged
 * into the open findings; with "heal", open findings not healed yet are
 * healed (drift_heal) and checked again; then the findings that are new
 * and not notified yet and those that cleared after being notified go to
 * every notifier in one message (kept as not notified when none got it,
 * to be tried again at the next check), and drift.json is saved. Prints
 * the report's JSON with "open", "opened", "cleared", "notified" and
 * "heal" to stdout when progress is NULL, else the report for people to
 * progress (a FILE *). Returns the exit status: drift_exit_status of the
 * last check, or the heal's apply_exit_status when it failed.
 */
int drift_scheduled(struct envctx *ctx, const struct drift_opts *o,
		    void *progress, bool (*stop_requested)(void));

/* sched.c — when scheduled work is due (docs/drift.md)
 *
 * A daily slot (database.backup.schedule, local time "HH:MM") is, for each
 * local calendar day, the first instant at which the local clock reads
 * HH:MM or later: a time that daylight saving skips is taken right after
 * the jump, a time it repeats only the first time. One slot per day. */

/* The first slot after `after` (unix seconds) for minute_of_day (0–1439). */
int64_t sched_daily_next(int64_t after, int minute_of_day);
/* The last slot at or before `at`. */
int64_t sched_daily_prev(int64_t at, int minute_of_day);
/* ms moved by a random amount within ±pct %, so that periodic work of
 * several environments and hosts spreads out. */
int64_t sched_jitter_ms(int64_t ms, int pct);
/* The scheduler's clock, unix seconds: the real clock, shifted by
 * $BERTH_DEBUG_CLOCK_OFFSET_S when set (a debugging aid, like
 * BERTH_DEBUG_PAUSE: tests bring a slot near without waiting for it). */
int64_t sched_now(void);

/* sched_backup.c — the scheduled backup (SPEC §9; docs/drift.md) */

/* Under the environment's directory: the last scheduled backup, read by
 * the daemon when it starts. */
#define SCHED_STATE_FILE "schedule.json"

struct sched_backup {
	bool taken;                  /* a dump was made */
	struct backup_info info;     /* it, when taken */
	bool verified;               /* it passed database.backup.verify (not
					"none") */
	char *error;                 /* owned; why the run failed, or NULL */
	struct backup_pruned *pruned; /* owned; what retention did */
	size_t npruned;
	char *prune_error;           /* owned; pruning failed (the backup is
					still good), or NULL */
	size_t notified;             /* notifiers told of a failure */
};

/*
 * Takes the scheduled backup of ctx's environment as its deployed manifest
 * says: holding the environment lock (a deployment never migrates under a
 * dump, nor a dump starts during a deployment), pg_dump into
 * database.backup.dir with kind "scheduled", then backup_verify as
 * database.backup.verify says, then backup_prune with the retention windows,
 * protecting the paired backups of the running deployment and of the last
 * two good ones. The run is remembered in schedule.json; a failure is sent
 * to every notifier (event "backup"). *out is always initialised
 * (sched_backup_release). Returns 0; BERTH_ENOTFOUND when there is nothing
 * to do (nothing deployed, no database or no schedule in its manifest);
 * BERTH_ELOCKED while a deployment holds the lock (nothing done: try again
 * when it ends); -1 when the backup or its verification failed (err).
 */
int sched_backup_run(struct sched_backup *out, struct envctx *ctx,
		     struct berr *err);
void sched_backup_release(struct sched_backup *b);
/* {"env", "ok", "file", "size", "verified", "error", "pruned": [{"file",
 * "removed", "reason"}], "prune_error", "notified"} (new reference). */
struct json_t *sched_backup_to_json(const struct sched_backup *b,
				    const char *env);
/* When the last scheduled backup ran (started), from schedule.json.
 * Returns 0, BERTH_ENOTFOUND (never), or -1. */
int sched_backup_last(int64_t *at, struct state *st, struct berr *err);

/* envdb.c — an environment's database as berth's tools reach it
 * (docs/backups.md) */

struct pipeline;

struct envdb {
	struct pgtool tool;       /* url borrowed from the env file; env and
				     prefix borrowed from below */
	struct kvlist env;        /* owned; the tools' base environment
				     (driver_env with the env file) */
	struct strv prefix;       /* owned; runs the tools in the database's
				     container (database.service); empty:
				     on this host */
	char *dir;                /* owned; the backup directory (backup_dir) */
	char *display;            /* owned; "postgresql://host:port/db" */
	const struct manifest *m; /* borrowed */
};

/*
 * The database of m (which must have one) for ctx's environment: the URL of
 * the env file variable database.url_env, the tools' environment, and with
 * database.service the prefix that runs them in that service's container
 * of release_dir, or of the serving release when release_dir is NULL
 * (envdb_prefix). Release with envdb_close, also on
 * failure. Returns 0, or -1 ("DATABASE_URL is not set in the env file").
 */
int envdb_open(struct envdb *out, struct envctx *ctx, const struct manifest *m,
	       const char *release_dir, struct berr *err);
void envdb_close(struct envdb *db);
/*
 * The argv prefix (appended to out) that runs PostgreSQL's tools inside
 * the running container of m's database.service (compose driver:
 * driver_compose_exec_argv of release_dir's project), with the PG*
 * variables of url (pg_url_env) and those pgtool adds passed by name —
 * compose takes their values from the tools' environment, so none is on
 * a command line; env finds compose. Nothing when the manifest names no
 * service. Returns 0, or -1 (no release_dir: nothing runs; no compose).
 */
int envdb_prefix(struct strv *out, const struct manifest *m,
		 const char *release_dir, const char *url,
		 const struct kvlist *env, struct berr *err);
/* backup_create options for a backup of kind into db's directory, naming
 * deployment d (may be NULL). */
void envdb_backup_opts(struct backup_create_opts *o, const struct envdb *db,
		       enum backup_kind kind, const struct deployment *d);
/*
 * Ends every other client session of db's database that its role may end
 * (pg_terminate_backend): what is left once the services are stopped, whose
 * locks would hold a restore up. Each one ended is appended to ended, "pid
 * 123 'worker'". Returns 0 or -1.
 */
int envdb_terminate(struct strv *ended, const struct envdb *db,
		    struct berr *err);
/*
 * The backups that pruning must keep, appended to out as paths: the paired
 * backups of the current deployment and of the last good one before it
 * (SPEC §9), and for each the backup that `berth rollback` to it would
 * restore (undo_since); and the paired and safety backups named by the
 * newest records, back to the keep-th that put a release in place (the
 * releases kept can come back with their database; the rows a restore
 * discarded stay). Returns 0 or -1.
 */
int envdb_protected(struct strv *out, struct state *st, int keep,
		    struct berr *err);
/* backup_prune of dir with m's retention windows, protecting
 * envdb_protected's (keep: m's releases.keep). *out as backup_prune's.
 * Call it holding the lock. */
int envdb_prune(struct backup_pruned **out, size_t *n, struct state *st,
		const struct manifest *m, const char *dir, bool dry_run,
		struct berr *err);

/* undo.c — what putting an earlier deployment back undoes (SPEC §6;
 * docs/backups.md) */

struct undo {
	struct deployment target; /* owned; the deployment whose release
				     comes back (the newest good record of
				     its commit) */
	int64_t from_id;          /* the deployment that serves now */
	int64_t introducer;       /* the first good deployment after target
				     that ran migrations; 0: none */
	struct strv undone;       /* what ran since: migration files, or
				     "the migration command of deployment N" */
	char *backup;             /* owned or NULL; the introducer's paired
				     backup: the database as target left it */
	char *why;                /* owned; for people: "paired backup of
				     deployment 6", or why there is none */
	bool no_backup;           /* migrations ran since, but the
				     introducer has no paired backup */
};

/*
 * What going back to target undoes, from the journal: target becomes the
 * newest good record of its commit; introducer, undone and backup come from
 * the good records after it. Release *out with undo_release, also on
 * failure. Returns 0 or -1.
 */
int undo_since(struct undo *out, struct state *st,
	       const struct deployment *target, struct berr *err);
/*
 * `berth rollback [--to TO]`: TO is a deployment id (when the journal has
 * it) or a commit of the mirror that was deployed successfully; NULL is
 * the last good deployment, of another commit, before the one that put the
 * serving release in place (following rollback records back). Then as
 * undo_since. Errors for people: nothing deployed, no earlier deployment,
 * a failed deployment, the release that runs now. Returns 0 or -1.
 */
int undo_resolve(struct undo *out, struct envctx *ctx, const char *to,
		 struct berr *err);
/* The deployment that serves now as the target, nothing undone (`berth
 * backup restore`). Returns 0, BERTH_ENOTFOUND (nothing deployed) or -1. */
int undo_current(struct undo *out, struct state *st, struct berr *err);
/*
 * A revert (SPEC §6): when an apply's commit has tree, the same tree as an
 * earlier good deployment and not the serving one's, *out says what coming
 * back to it undoes. Returns 0 for a revert, BERTH_ENOTFOUND when it is
 * not one, or -1.
 */
int undo_revert(struct undo *out, struct state *st, const char *tree,
		struct berr *err);
void undo_release(struct undo *u);

struct apply_opts;

/*
 * The database half of putting u->target back, for apply: *restore (new
 * path, or NULL) is o->backup (a path, or a name in m's backup directory),
 * else — unless o->code_only, m's rollback.database is "keep", or no
 * migration ran since — u->backup; *why (new or NULL) says which. Lines on
 * p say what happens to the database and which migrations it undoes. A
 * rollback or restore (o->kind) fails when migrations must be undone and
 * no paired backup holds the database as it was; a revert goes on without
 * a restore, with a warning. Returns 0 or -1.
 */
int undo_choose(char **restore, char **why, struct pipeline *p,
		const struct undo *u, const struct manifest *m,
		const struct apply_opts *o, struct berr *err);
/*
 * For `berth plan`: when applying a commit with tree and manifest m is a
 * revert (undo_revert), *name (the backup restored, or "database") and
 * *detail ("revert of deployment 4 (1a2b3c4): restores backup_X.dump
 * (paired backup of deployment 5; rows written since: 12 rows
 * (public.sales 12))"), both new. Returns 0, BERTH_ENOTFOUND when it is
 * not a revert, or -1.
 */
int undo_plan_revert(char **name, char **detail, struct envctx *ctx,
		     const struct manifest *m, const char *tree);

/* dbrestore.c — restoring an environment's database without silently
 * losing a row (SPEC §6; docs/backups.md) */

/* Whether a restore that would discard rows goes ahead. */
enum dbrestore_ask {
	DBRESTORE_UNATTENDED, /* nobody to ask (a daemon, a hook, an automatic
				 rollback): go ahead, report loudly */
	DBRESTORE_ASK,        /* ask on the terminal (stdin) */
	DBRESTORE_YES,        /* --yes */
	DBRESTORE_REFUSE,     /* a command run by a script without --yes:
				 refuse */
};

/* The rows written since the backup at path (backup_writes_since; a dump
 * without a sidecar gives no_stats). Returns 0 or -1. */
int dbrestore_writes(struct backup_writes *out, const struct envdb *db,
		     const char *path, struct berr *err);
/* True when restoring would (or might) discard rows. */
bool dbrestore_discards(const struct backup_writes *w);
/* Per table, "public.sales 12, public.notes unknown (dropped since the
 * backup)"; tables without writes left out. New string, or NULL. */
char *dbrestore_tables(const struct backup_writes *w);
/* "none", "12 rows (public.sales 12)", "unknown (…)". New string. */
char *dbrestore_describe(const struct backup_writes *w);
/*
 * Counts the rows written since the backup at path and says so as a line
 * of p's step; when some would be discarded, decides by ask: YES and
 * UNATTENDED go on (UNATTENDED with a warning), REFUSE fails, ASK asks
 * "Type yes to restore" on stderr and reads stdin. Returns 0 to go on,
 * BERTH_EDECLINED when the answer was not yes, -1 (refused, or the count
 * failed; err).
 */
int dbrestore_confirm(struct pipeline *p, const struct envdb *db,
		      const char *path, enum dbrestore_ask ask,
		      struct berr *err);
/*
 * Restores the backup at path into db with the services already stopped:
 * a restore record (step, reason) is added to p->d first; the other
 * sessions of the database are ended (envdb_terminate); the rows written
 * since are counted into the record; then backup_restore_safely takes the
 * safety backup (recorded in the restore and in d->safety_backup) and
 * restores in one transaction. Every action is a line of p's step.
 * Returns 0 when restored, -1 when not (the database is unchanged; err).
 */
int dbrestore_run(struct pipeline *p, const struct envdb *db, const char *path,
		  const char *reason, const char *step, struct berr *err);
/* For notifications and summaries: what d's restores discarded, "restoring
 * backup_X.dump discarded 12 rows written since it (public.sales 12); they
 * are kept in backup_Y.dump". New string, or NULL when nothing was. */
char *dbrestore_warning(const struct deployment *d);

/* dbstep.c — the database steps of the deploy pipeline (SPEC §5 steps 3
 * and 6) */

/* "1.2 MB", "14 kB", "512 B" for people. New string. */
char *dbstep_size(int64_t bytes);
/* The release directory `current` points at (new), or NULL when nothing
 * is deployed. */
char *dbstep_serving_dir(struct envctx *ctx);
/*
 * Step 3: the paired backup (SPEC §6) of p->d — the database as the
 * release that runs left it — into m's backup directory, recorded in
 * p->d->backup as soon as it exists, then verified as
 * database.backup.verify says. *detail (new) describes it ("backup_X.dump,
 * 1.2 MB, verified (toc)"). Returns 0, or -1 with err (a dump that failed
 * leaves nothing behind; one that does not verify stays, recorded).
 */
int dbstep_backup(char **detail, struct pipeline *p, const struct manifest *m,
		  struct berr *err);
/*
 * Step 6: m's migrations in release_dir — the sql_dir runner (with m's
 * lock_timeout_s and statement_timeout_s) or the migration command, each
 * line of output a line of p's step. p->d->migrations_ran is set as soon
 * as the database may have changed (docs/migrations.md says when a command
 * counts), p->d->migrations lists the files applied. *detail (new) sums
 * it up. Returns 0 or -1 (err).
 */
int dbstep_migrate(char **detail, struct pipeline *p, const struct manifest *m,
		   const char *release_dir, struct berr *err);

/* pipeline.c — one deployment's journal and progress (SPEC §5;
 * docs/pipeline.md)
 *
 * A deployment is a sequence of named steps. Each is written to the
 * deployment record (the journal) when it begins and when it ends, so that
 * after a crash the record says which step was running; and each is shown
 * to people as it happens, flushed line by line (a Git hook streams them to
 * the pusher):
 *
 *   [3/11] backup … backup_20260105_120000.dump, 1.2 MB 1.2 s
 *
 * What a step prints (build output, check results, one line per service)
 * goes under it indented by four spaces, after a header line "[5/11]
 * build" printed before the first of them, and into the step's output
 * tail in the record. A rollback's step shows as "[rollback]".
 *
 * Debugging aid: with BERTH_DEBUG_PAUSE=POINT and BERTH_DEBUG_PAUSE_DIR=DIR
 * in berth's environment, berth stops at POINT — "STEP:begin" just after a
 * step is recorded running, or "STEP" when its work is done but before it
 * is recorded ok — writes "POINT PID" to DIR/paused and waits until
 * DIR/continue exists. The tests kill it there. Commands berth runs never
 * see these variables.
 */

#define PIPELINE_STEPS 11
/* Bytes of a step's output kept in its record. */
#define PIPELINE_TAIL ((size_t)8 << 10)
/* A step's output reaches the record at least this often while it runs. */
#define PIPELINE_SAVE_MS 1000

struct pipeline {
	struct envctx *ctx;   /* borrowed */
	struct deployment *d; /* borrowed; the record, saved at every change */
	void *out;            /* borrowed FILE * for progress; NULL: quiet */
	size_t step;          /* index in d->steps of the running step */
	bool in_step;         /* a step is running */
	int number;           /* its number in SPEC §5, 0 for a rollback */
	bool header;          /* its header line was printed */
	int64_t t0;           /* CLOCK_MONOTONIC ms when it began */
	struct buf tail;      /* its output (the last PIPELINE_TAIL bytes) */
	bool save_failed;     /* a save of the record failed (logged) */
	int64_t saved_ms;     /* CLOCK_MONOTONIC ms of the last save */
};

/* Prepares p for deployment d (which must have been created in ctx's
 * journal before the first step). Release with pipeline_release. */
void pipeline_init(struct pipeline *p, struct envctx *ctx,
		   struct deployment *d, void *out);
void pipeline_release(struct pipeline *p);
/* Saves the record now. Returns 0, or -1 (logged; err may be NULL). */
int pipeline_save(struct pipeline *p, struct berr *err);
/*
 * Begins step name (number 1..PIPELINE_STEPS, or 0): recorded running with
 * its start time, saved, then the pause point "NAME:begin". Returns 0, or
 * -1 when the record could not be saved (the step is running in memory
 * anyway; the caller decides).
 */
int pipeline_begin(struct pipeline *p, int number, const char *name,
		   struct berr *err);
/* A line of the running step's output (printf format). */
void pipeline_line(struct pipeline *p, const char *fmt, ...) BERTH_PRINTF(2, 3);
/* Each line of text as pipeline_line. */
void pipeline_text(struct pipeline *p, const char *text);
/* pipeline_line for spawn_opts.on_line and driver_ctx.on_line; arg is the
 * struct pipeline. */
void pipeline_on_line(const char *line, size_t len, void *arg);
/*
 * Ends the running step: unless it failed, the pause point "NAME" first;
 * then status, finish time, detail (printf format) and output tail are
 * recorded and saved, and "[N/11] NAME … DETAIL TIME" printed ("failed: "
 * or "skipped: " before the detail when so).
 */
void pipeline_end(struct pipeline *p, enum step_status status,
		  const char *fmt, ...) BERTH_PRINTF(3, 4);
/* A line of its own (no indentation), flushed. */
void pipeline_say(struct pipeline *p, const char *fmt, ...) BERTH_PRINTF(2, 3);
/* The pause point of the debugging aid above; a no-op unless asked. */
void pipeline_pause(const char *point);
/* A driver context for p's environment whose build output goes to p. */
void pipeline_driver_ctx(struct driver_ctx *dctx, struct pipeline *p);
/*
 * Step 10, notify: sends status (the deployment's final status, which the
 * record does not hold yet), with env, commit, previous commit, trigger and
 * duration, to the host config's notifiers and m's (m may be NULL), each
 * URL resolved from its secret reference or the env file and wiped after.
 * Bounded per notifier (notify.c); never fails: the step is ok, its detail
 * says how many were sent and each result is a line. Returns how many were
 * sent.
 */
size_t pipeline_notify(struct pipeline *p, const struct manifest *m,
		       enum deploy_status status, int64_t duration_ms);

/*
 * The notifiers of the host config and of m (may be NULL), with their URLs
 * resolved from their secret references or the env file: *targets and
 * *bufs are new arrays (the URLs live in bufs, targets borrow them; a URL
 * that could not be resolved is NULL, which notify_send reports). Returns
 * how many. Free both with pipeline_notify_targets_free, which wipes the
 * URLs.
 */
size_t pipeline_notify_targets(struct notify_target **targets,
			       struct buf **bufs, struct envctx *ctx,
			       const struct manifest *m);
void pipeline_notify_targets_free(struct notify_target *targets,
				  struct buf *bufs, size_t n);

/* Records an operator's action (kind DEPLOY_KIND_UNLOCK or
 * DEPLOY_KIND_RESUME, SPEC §4) in the journal: a finished record with one
 * step of that name whose detail says what was done. *out is initialised
 * here (deployment_release). Returns 0 or -1. */
int pipeline_record_action(struct deployment *out, struct envctx *ctx,
			   const char *kind, const char *detail,
			   struct berr *err);

/* preflight.c — the commit to deploy and the pre-deploy checks against it
 * (SPEC §5 step 2), for apply and `berth validate` */

struct preflight {
	char commit[41];
	char tree[41];
	char *subject;     /* owned; first line of the commit message */
	char *asked;       /* owned; what was resolved: "branch main", "tag
			      v1.2", or the --commit value */
	struct manifest *m; /* owned; NULL when missing or invalid (errs) */
	struct merrs errs; /* every manifest problem */
	char *release_dir; /* owned; absolute envs/<env>/releases/<commit>,
			      which may not exist yet */
};

/*
 * Fetches the mirror (unless !fetch), resolves tag (as refs/tags/TAG), else
 * rev (a branch, tag or commit id), else the environment's branch, and
 * reads the manifest at that commit from Git. Lines for people ("fetched …
 * in 120 ms", forced updates as warnings, "commit 5d6e7f8 \"subject\"
 * (branch main)") go to on_line (may be NULL). Returns 0 — with out->m
 * NULL and out->errs filled when the manifest is missing or invalid, which
 * the checks then report — or -1 when fetching or resolving failed (err:
 * "no branch 'main' in URL", "no tag 'v9' in URL", the fetch error).
 * Release out with preflight_release, also on failure.
 */
int preflight_resolve(struct preflight *out, struct envctx *ctx,
		      const char *rev, const char *tag, bool fetch,
		      void (*on_line)(const char *line, size_t len, void *arg),
		      void *arg, struct berr *err);
void preflight_release(struct preflight *t);
/*
 * checks_run for t: the manifest (valid when it parsed and, once the
 * release directory exists, its paths fit it), migrations looked up in the
 * commit, what runs now (so its ports are not "busy"). Returns what
 * checks_run returns; *out as checks_run's.
 */
int preflight_checks(struct checks_report *out, struct envctx *ctx,
		     const struct preflight *t,
		     void (*on_result)(const struct checks_item *c, void *arg),
		     void *arg);

/* release.c — release directories, envs/<env>/releases/<commit>/ */

/* The release directory of commit (absolute; new string). */
char *release_path(const struct envctx *ctx, const char *commit);
/*
 * Checks commit out of the mirror into its release directory, unless a
 * complete checkout is there already (*reused: exports are renamed into
 * place whole, so a directory under the final name is complete). Never
 * touches another release. Returns 0 or -1.
 */
int release_export(bool *reused, struct envctx *ctx, const char *commit,
		   struct berr *err);

/* The pid in the name of a temporary checkout, "<commit>.tmp.<pid>"
 * (git_mirror_export's), or 0 for any other name. */
int release_leftover_pid(const char *name);

struct release_prune_report {
	struct strv removed; /* commits whose release directory was removed */
	size_t kept;         /* release directories left */
	struct strv left;    /* their commits (for the driver's cleanup) */
	size_t leftovers;    /* temporary exports of dead processes removed */
};

/*
 * Removes release directories (SPEC §5 step 9) except the `keep` newest by
 * deployment (the journal's commits, newest first, that still have one)
 * and those of the commits in protect (may be NULL), and the temporary
 * exports ("<commit>.tmp.<pid>") whose process is gone. Call it holding the
 * lock. Returns 0, or -1 (err; what was removed is in *out, released with
 * release_prune_report_release also on failure).
 */
int release_prune(struct release_prune_report *out, struct envctx *ctx,
		  int keep, const struct strv *protect, struct berr *err);
void release_prune_report_release(struct release_prune_report *r);

/* rollout.c — a release's services through a driver (SPEC §5 steps 7, 8);
 * every action is a line of the running step of p */

/*
 * Stops every service the driver records, running or not: m's services in
 * reverse start order (dependents first; m may be NULL), then the others.
 * Each gets SIGTERM, then SIGKILL after its stop_timeout_s (the one it was
 * started with), and a line: "stopped backend in 0.3 s", "stopped backend
 * with SIGKILL after 5.0 s: …". Stops all it can; returns 0, or -1 with the
 * first failure in err.
 */
int rollout_stop_all(struct pipeline *p, const struct driver_ops *ops,
		     const struct driver_ctx *dctx, const struct manifest *m,
		     struct berr *err);
/*
 * Starts m's services from release_dir (absolute) in dependency order,
 * recorded with commit, each healthy (driver_wait_healthy) before the next
 * starts; health_describe of each is shown. On the first failure returns
 * -1 with err "backend never became healthy (HTTP 503)" / "backend exited
 * during its start period: exited 1" / the start error; what was started
 * keeps running for the caller to stop.
 */
int rollout_start_all(struct pipeline *p, const struct driver_ops *ops,
		      const struct driver_ctx *dctx, const struct manifest *m,
		      const char *release_dir, const char *commit,
		      struct berr *err);
/*
 * The deploy step for the commit that serves already (a drift heal): each
 * service the driver knows that runs from commit with its hash in m and
 * passes one health probe (health_probe) keeps running; every other one
 * is stopped (dependents first), and m's services not kept are started in
 * dependency order, each healthy before the next. A service whose
 * dependency restarted is not restarted for that. *restarted counts the
 * services started. Returns 0, or -1 as rollout_start_all.
 */
int rollout_converge(size_t *restarted, struct pipeline *p,
		     const struct driver_ops *ops,
		     const struct driver_ctx *dctx, const struct manifest *m,
		     const char *release_dir, const char *commit,
		     struct berr *err);
/* True when exactly m's services run, all from commit with m's hashes. */
bool rollout_in_place(const struct driver_ops *ops,
		      const struct driver_ctx *dctx, const struct manifest *m,
		      const char *commit);
/* driver_wait_healthy of each of m's services, already running, in start
 * order. Returns 0, or -1 at the first that is not ("backend is not
 * healthy (HTTP 503)"). */
int rollout_wait_healthy(struct pipeline *p, const struct driver_ops *ops,
			 const struct driver_ctx *dctx,
			 const struct manifest *m, struct berr *err);
/* m's smoke tests, one line each (smoke_format). *summary (new) is
 * smoke_summary's. Returns 0 when all passed, -1 otherwise. */
int rollout_smoke(char **summary, struct pipeline *p, const struct manifest *m);

/* rollback.c — putting the last good release back (SPEC §5, §6) */

/*
 * Rolls deployment p->d back, as a step "rollback" of its record: after it
 * failed at migrate, deploy or smoke, or was interrupted. failed is the
 * manifest of p->d's commit (NULL when unknown). The last good deployment
 * before p->d (state_last_good) comes back: its release directory
 * (exported and built again if something removed it), its manifest read
 * from its commit, its services started (or, when they still run
 * untouched and no migration ran, only checked), healthy, smoke-tested,
 * and `current` switched to it; p->d->rollback_to is its id.
 *
 * The database half (SPEC §6): when p->d changed the database — it ran
 * migrations, or restored a backup (a revert, `berth rollback`) — and
 * failed's rollback.database is "restore", the database as p->d found it
 * comes back between stopping the failed release and starting the good
 * one: the safety backup of p->d's first restore, else its paired backup,
 * restored behind a new safety backup (dbrestore_run). Nobody is asked —
 * the services are down meanwhile, and the safety backup keeps every row
 * the restore discards —: the rows are counted, shown and recorded
 * (dbrestore_warning tells the notifiers). A restore that fails fails the
 * rollback.
 *
 * Returns 0 when the last good release serves again; BERTH_ENOTFOUND when
 * there was none (a first deployment: what it started is stopped and
 * `current` cleared: nothing runs); -1 when the rollback failed (err), in
 * which case the environment has been frozen (state_freeze) with the
 * reason. Call it holding the lock.
 */
int rollback_run(struct pipeline *p, const struct manifest *failed,
		 struct berr *err);

/* recover.c — deployments interrupted by a crash or kill -9 (SPEC §5) */

/*
 * Finds the deployments of ctx's environment that are still `running`
 * while nobody holds its lock (their berth process died), rolls the newest
 * back with rollback_run, notifies, and marks each `interrupted` (or
 * `rollback_failed`, with the environment frozen). Progress goes to out (a
 * FILE *). lock_fd is the lock when the caller holds it (apply), else -1:
 * then a cheap test (the lock held? a holder description left in the lock
 * file? the newest record running?) returns at once when there is nothing
 * to do, and otherwise the lock is taken for the recovery (someone holding
 * it means a live deployment: nothing to do). Returns how many deployments
 * were recovered (0 most of the time), or -1 (err).
 */
int recover_env(struct envctx *ctx, int lock_fd, void *out, struct berr *err);
/*
 * envctx_open, then recover_env with progress on stderr: how every command
 * that touches an environment starts, so an interrupted deployment is
 * dealt with before anything else runs. Returns what envctx_open returns;
 * a recovery that fails is reported on stderr, not returned.
 */
int recover_open(struct envctx *ctx, const char *config_path,
		 const char *env_name, struct merrs *errs);

/* apply.c — the deploy pipeline (SPEC §5; docs/pipeline.md) */

struct apply_opts {
	const char *rev;     /* --commit REV, or NULL: the branch head */
	const char *tag;     /* --version TAG (recorded as version), or NULL */
	bool skip_backup;    /* --skip-backup (recorded in the backup step) */
	const char *trigger; /* SPEC §5's forms; NULL: "cli" */
	/* NULL: a deployment (a revert is found and recorded as a rollback);
	 * DEPLOY_KIND_ROLLBACK: `berth rollback` (to, backup, code_only);
	 * DEPLOY_KIND_RESTORE: `berth backup restore` (backup) */
	const char *kind;
	const char *to;      /* --to DEPLOYMENT|COMMIT, or NULL (undo_resolve) */
	const char *backup;  /* --backup FILE: a path, or a backup's name in
				the backup directory; restored instead of the
				paired backup undo_resolve finds */
	bool code_only;      /* --code-only: the database is left as it is */
	enum dbrestore_ask ask; /* a restore that would discard rows: ask,
				   refuse, or go on (the rollback of a
				   failed deployment never asks) */
	void *out;           /* FILE * for progress, or NULL: quiet */
	/* Whether berth was asked to stop (SIGTERM, SIGINT): looked at
	 * between steps; before migrate the deployment fails, at migrate to
	 * smoke it rolls back. NULL: never. */
	bool (*stop_requested)(void);
	/* Redeploying the commit that serves (drift heal): the deploy step
	 * leaves the services that run as the manifest says and are healthy
	 * alone and restarts only the others (rollout_converge). Ignored when
	 * another commit is deployed. */
	bool keep_in_place;
};

/* True for the triggers of SPEC §5: cli, hook:post-receive, poll, drift,
 * revert, api, webhook:<provider>:<delivery> (a provider of the config's
 * list, a delivery of 1 to 128 printable characters without spaces). */
bool apply_trigger_ok(const char *trigger);

/*
 * Runs the pipeline for ctx's environment: lock, validate (fetch, resolve,
 * manifest, checks), backup, fetch (the release directory), build,
 * migrate, deploy, smoke, cleanup, notify, unlock, each recorded in the
 * record *out (initialised here; release it with deployment_release).
 * Interrupted deployments found under the lock are recovered first.
 *
 * Putting an earlier deployment back runs the same pipeline (docs/
 * backups.md): with o->kind set, and when the commit's tree is an earlier
 * good deployment's (a revert: recorded as kind rollback, trigger revert),
 * validate decides which backup to restore (undo.c) and confirms it by
 * o->ask (dbrestore_confirm); the backup step then leaves the pairing to
 * the safety backup, and migrate stops the services and restores
 * (dbrestore_run) before it runs the commit's pending migrations. On
 * success out->rollback_to is the deployment put back.
 *
 * Returns 0 when it succeeded; BERTH_ELOCKED when another process holds the
 * lock (err names it; no record); -1 otherwise: out->status says failed,
 * rolled_back or rollback_failed, or out->id is 0 when it could not begin
 * (frozen, bad trigger, journal not writable; err says why).
 */
int apply_run(struct deployment *out, struct envctx *ctx,
	      const struct apply_opts *o, struct berr *err);
/* The exit status (SPEC §4) for apply_run's return and record. */
int apply_exit_status(int rc, const struct deployment *d);

/* cmd_apply.c — in the berth binary, for the commands that run the
 * pipeline (rollback, backup restore) */

/* apply_run with progress on stdout (json: the record as JSON instead),
 * SIGTERM/SIGINT/SIGHUP caught as apply does, a lock or refusal on stderr.
 * Returns the exit status (SPEC §4). */
int cmd_apply_pipeline(struct envctx *ctx, const struct apply_opts *o,
		       bool json);
/* How a restore that discards rows is confirmed: yes (--yes); ask when
 * stdin is a terminal; else refuse (script_refuses: rollback, backup
 * restore) or go on (apply, whose revert must run unattended). */
enum dbrestore_ask cmd_apply_ask(bool yes, bool script_refuses);

/* queued.c — the deployment the daemon queued for an environment and has
 * not started yet: envs/<env>/queued.json (docs/state.md). One at most per
 * environment: a newer request replaces it (SPEC §7: pushes coalesce). */

enum queued_kind { QUEUED_DEPLOY, QUEUED_ROLLBACK };

struct queued {
	enum queued_kind kind;
	char *trigger;   /* owned or NULL; the deployment's trigger: "poll",
			    "webhook:github:<delivery>", "api" */
	char hint[41];   /* the commit the newest push announced, for people
			    (the deployment reads the branch head): 40 hex
			    digits or "" */
	char *rev;       /* owned or NULL; deploy: the exact revision asked
			    for (apply --commit); rollback: --to; NULL: the
			    branch head / the last good deployment */
	int64_t since;   /* unix seconds of the first request it holds */
	int64_t requests; /* requests coalesced into it */
	uint64_t seq;    /* the newest inbox record it stands for, 0: none */
};

void queued_init(struct queued *q);
void queued_release(struct queued *q);
/* Deep copy of src into dst (which is overwritten, not released). */
void queued_copy(struct queued *dst, const struct queued *src);
/* "deploy", "rollback". */
const char *queued_kind_name(enum queued_kind k);
/* True when rev may be passed as a revision argument: 1-255 characters of
 * [A-Za-z0-9._/-], not starting with '-' (never taken for an option). */
bool queued_rev_ok(const char *rev);
/* {"kind", "trigger", "commit", "rev", "since", "requests", "seq"}: new
 * reference; the value of `berth status --json`'s "queued". */
struct json_t *queued_to_json(const struct queued *q);
/* Parses what queued_to_json writes into out (initialised here). Returns 0,
 * or -1 with err naming the field ($.kind: …); out is then empty. */
int queued_parse(struct queued *out, const char *data, size_t len,
		 struct berr *err);
/* Reads envs/<env>/queued.json. Returns 0, BERTH_ENOTFOUND when nothing is
 * queued, or -1 (unreadable or invalid; the message names the file). */
int queued_read(struct queued *out, struct state *st, struct berr *err);
/* Writes it atomically and durably (fs_write_atomic). Returns 0 or -1. */
int queued_write(struct state *st, const struct queued *q, struct berr *err);
/* Removes it (nothing queued any more); a missing file is fine. */
int queued_clear(struct state *st, struct berr *err);

/* daemon.c, daemon_queue.c, daemon_poll.c — `berth serve` (SPEC §7;
 * docs/webhooks.md). Compiled into the berth binary, like cmd_*.c.
 *
 * One event loop (libevent) runs everything: the HTTP server (webhooks/),
 * signals, timers, and the supervision of child processes. Deployments and
 * polls run as children of the berth binary itself (/proc/self/exe, an
 * argv vector), never in the loop; their output comes through pipes and
 * their end through SIGCHLD (waitpid with WNOHANG).
 */

struct event;
struct event_base;
struct server;
struct server_job;
struct inbox;
struct metrics;
struct daemon_sched_env;

/* A running child: a deployment or a poll. */
struct daemon_child {
	int pid;
	int fd;                 /* read end of its output pipe; -1 at EOF */
	struct event *ev;       /* owned; read event on fd */
	struct buf line;        /* owned; partial output line */
	struct buf out;         /* owned; poll: what it printed */
	uint64_t job;           /* number for the log */
	int64_t started_ms;     /* monotonic */
	int64_t started_at;     /* unix seconds */
	bool exited;
	int wstatus;            /* from waitpid */
};

/* What the daemon keeps per environment. */
struct daemon_env {
	struct daemon *d;         /* borrowed */
	char *name;               /* owned */
	bool configured;          /* in the current config */
	struct envctx *ctx;       /* owned; its config, state, env file; NULL
				     when it could not be opened */
	struct queued pending;    /* owned; valid when has_pending */
	bool has_pending;
	bool queue_dirty;         /* queued.json must be rewritten */
	struct daemon_child *run; /* owned; the running deployment, or NULL */
	struct queued running;    /* owned; what run deploys */
	char last_seen[41];       /* newest commit announced, polled or
				     deployed for its branch; "" unknown */
	struct event *retry;      /* owned; waits for the lock or a resume */
	bool waiting;             /* the retry timer is armed */
	struct daemon_sched_env *sched; /* owned (daemon_sched.c); NULL until
					   scheduled work is planned */
};

/* Test hook: when set, deployments run this program instead of berth,
 * with the same arguments after argv[0] ("--config", FILE, "apply", ENV,
 * "--trigger", T, …). For the integration tests only. */
#define DAEMON_DEPLOY_PROGRAM_ENV "BERTH_DEPLOY_PROGRAM"

/* Options of `berth serve`. */
struct daemon_opts {
	const char *config_path; /* --config, or NULL */
	const char *port_file;   /* write the bound port there, or NULL */
};

/* Runs the daemon until SIGTERM/SIGINT and every running deployment has
 * ended. Returns the exit status (0; 1 when it could not start). */
int daemon_run(const struct daemon_opts *o);

/* The daemon's process-wide state (daemon.c owns it; daemon_*.c share
 * it). */
struct daemon {
	struct event_base *base;   /* owned */
	char *config_path;         /* owned; absolute, as loaded */
	struct config cfg;         /* owned; the config in force */
	struct buf secrets[PROVIDER_COUNT]; /* owned; webhook secrets */
	struct buf tokens[PROVIDER_COUNT];  /* owned; gitlab tokens */
	struct buf api_token;      /* owned; empty: API disabled */
	struct server *srv;        /* owned */
	struct inbox *ib;          /* owned */
	struct metrics *m;         /* owned */
	struct daemon_env **envs;  /* owned; every environment seen since the
				      start, configured or not */
	size_t nenvs;
	struct event *sigs[4];     /* owned; TERM, INT, HUP, CHLD */
	struct event *maint;       /* owned; inbox maintenance, every minute */
	struct event *flush;       /* owned; writes queued.json, debounced */
	struct event *poll_timer;  /* owned */
	struct event *poll_deadline; /* owned */
	struct daemon_child *poll; /* owned; the running poll, or NULL */
	struct daemon_status_run *status_run; /* owned; GET /api/status in
						 progress, or NULL */
	const char *deploy_program; /* DAEMON_DEPLOY_PROGRAM_ENV, or NULL */
	uint64_t next_job;
	bool starting;             /* restoring: nothing starts yet, so
				      what was queued before coalesces */
	bool stopping;
};

/* The environment called name (configured or not), or NULL. */
struct daemon_env *daemon_env_find(struct daemon *d, const char *name);
/* Called when a child ended; ends the loop when stopping and nothing runs
 * any more. */
void daemon_child_gone(struct daemon *d);

/* daemon_queue.c: one deployment at a time per environment, and at most one
 * queued behind it, which a newer request replaces (SPEC §7). */

/* Starts a child: the berth binary (or program, when not NULL) with argv
 * (argv[0] is replaced), all its output into a pipe read by the loop, its
 * own process group, default signals except SIGPIPE (ignored, so a daemon
 * that dies cannot kill a deployment halfway by closing the pipe), stdin
 * /dev/null, no descriptor above 2. Returns 0 with *out new, or -1. */
int daemon_child_start(struct daemon_child **out, struct daemon *d,
		       const char *program, char *const *argv, int flags,
		       void (*on_output)(int, short, void *),
		       void *arg, struct berr *err);
/* flags of daemon_child_start: only stdout into the pipe, stderr to
 * /dev/null (output that must parse as JSON). */
#define DAEMON_CHILD_STDOUT_ONLY 1
/* Reads what is available; returns false at EOF or error (fd closed). */
bool daemon_child_read(struct daemon_child *c, void (*line)(const char *l,
							   void *arg),
		       void *arg);
void daemon_child_free(struct daemon_child *c);

/* Queues job for e: becomes e's pending deployment, or replaces it (the
 * request count adds up, the newest trigger, hint and revision win), and
 * starts it when e is idle. */
void daemon_queue_add(struct daemon *d, struct daemon_env *e,
		      const struct queued *job);
/* server_ops.enqueue. */
void daemon_queue_job(const struct server_job *job, void *arg);
/* Starts e's pending deployment when nothing runs, the lock is free and
 * the environment is not frozen; else waits (timer) and tries again. */
void daemon_queue_kick(struct daemon *d, struct daemon_env *e);
/* A child exited (from the SIGCHLD loop): returns true when it was a
 * deployment, and handles its end. */
bool daemon_queue_reaped(struct daemon *d, int pid, int wstatus);
/* Writes queued.json of every environment whose queue changed. */
void daemon_queue_flush(struct daemon *d);
/* Deployments running now. */
size_t daemon_queue_running(struct daemon *d);
/* A new environment entry (not configured yet, no envctx). */
struct daemon_env *daemon_env_new(struct daemon *d, const char *name);
void daemon_env_free(struct daemon_env *e);
/* Creates the queue's timers. */
void daemon_queue_init(struct daemon *d);

/* daemon_status.c: GET /api/status. `berth status ENV --json` runs in a
 * child process per environment (it probes services' health, which takes
 * time), and requests arriving meanwhile share the answer. */

struct daemon_status_run;
struct server_reply;

/* server_ops.status. */
void daemon_status_request(struct server_reply *r, void *arg);
/* A child exited: true when it was one of a status run's. */
bool daemon_status_reaped(struct daemon *d, int pid, int wstatus);
/* Kills a status run's children (stopping); the answers follow. */
void daemon_status_stop(struct daemon *d);

/* daemon_poll.c: the poll of the remote's branch heads, a safety net for
 * lost webhooks. */

/* Arms the poll timer for cfg's poll_interval_s (0: off), with ±10 %
 * jitter. */
void daemon_poll_schedule(struct daemon *d);
/* A child exited: true when it was the poll, whose result is handled. */
bool daemon_poll_reaped(struct daemon *d, int pid, int wstatus);
/* Stops the timer and kills a running poll. */
void daemon_poll_stop(struct daemon *d);
/* `berth serve --heads`: prints "head BRANCH SHA" (or "head BRANCH -")
 * for each branch an auto_deploy environment tracks, asking the remote.
 * Exit status 0, or 1 when a branch could not be read. */
int daemon_poll_heads(const char *config_path);

/* daemon_sched.c: the scheduled work of each environment (SPEC §8, §9;
 * docs/drift.md): `berth drift ENV --scheduled --json` every
 * drift.interval_s (±10 %) unless drift.action is "off", and `berth serve
 * --backup ENV` at database.backup.schedule, as child processes. One piece
 * of work per environment at a time, never while a deployment of it runs,
 * waits or holds the lock; the settings are read from the deployed
 * manifest at every tick (at least once a minute). */

/* Plans (or re-plans) e's scheduled work and starts what is due. */
void daemon_sched_tick(struct daemon *d, struct daemon_env *e);
/* daemon_sched_tick for every configured environment (start, reload). */
void daemon_sched_schedule(struct daemon *d);
/* Stops the timers (stopping); running work finishes. */
void daemon_sched_stop(struct daemon *d);
/* Whether scheduled work of e runs now: a deployment waits for it. */
bool daemon_sched_busy(const struct daemon_env *e);
/* Scheduled work running now, over every environment. */
size_t daemon_sched_running(struct daemon *d);
/* A child exited: true when it was scheduled work, whose result goes to
 * the log and the metrics; e's queue is kicked and its work re-planned. */
bool daemon_sched_reaped(struct daemon *d, int pid, int wstatus);
/* Frees e->sched (daemon_env_free). */
void daemon_sched_env_free(struct daemon_env *e);
/* `berth serve --backup ENV`: sched_backup_run, its JSON
 * (sched_backup_to_json, or {"env", "skipped"|"locked": why}) on stdout.
 * Exit status 0 (done or nothing to do), 1 failed, 75 locked. */
int daemon_sched_backup(const char *config_path, const char *env);

#endif /* BERTH_H */
