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

/* state.c — state directory layout, deployment records */

/* lock.c — per-environment lock released by the kernel */

/* plan.c — what apply would change */

#endif /* BERTH_H */
