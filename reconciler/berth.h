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
