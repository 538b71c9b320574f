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

/* state.c — state directory layout, deployment records */

/* lock.c — per-environment lock released by the kernel */

/* plan.c — what apply would change */

#endif /* BERTH_H */
