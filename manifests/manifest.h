/*
 * manifest.h — the manifest model (berth_manifests): berth.json parsed into
 * plain structs, validated, expanded, hashed and diffed. SPEC §3.
 *
 * This library depends on nothing else of berth's, only on jansson and
 * OpenSSL's libcrypto, so that the Git hooks, the fuzzers and the reconciler
 * all see exactly the same model. Ownership follows jansson's words: "new"
 * means the caller frees, "borrowed" means it stays owned by its container.
 */
#ifndef BERTH_MANIFEST_H
#define BERTH_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define MANIFEST_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MANIFEST_PRINTF(f, a)
#endif

/* kv.c */

/* An ordered list of string pairs: environment variables, service env. */
struct kv {
	char *key;   /* owned */
	char *value; /* owned */
};

struct kvlist {
	struct kv *items; /* owned */
	size_t n;
	size_t cap;
};

void kvlist_init(struct kvlist *l);
void kvlist_release(struct kvlist *l);
/* Sets key to value (both copied), replacing an existing entry in place. */
void kvlist_set(struct kvlist *l, const char *key, const char *value);
/* Appends key = value (both copied) without looking for an existing entry:
 * for callers that know key is new (keys of one JSON object). O(1). */
void kvlist_add(struct kvlist *l, const char *key, const char *value);
/* Returns the value (borrowed) or NULL. */
const char *kvlist_get(const struct kvlist *l, const char *key);
/* Copies every entry of src into dst with kvlist_set. */
void kvlist_merge(struct kvlist *dst, const struct kvlist *src);

/* A NULL-terminated vector of strings (an argv). */
struct strv {
	char **v; /* owned, v[n] == NULL; NULL when n == 0 */
	size_t n;
};

void strv_push(struct strv *sv, const char *s);
void strv_release(struct strv *sv);
bool strv_contains(const struct strv *sv, const char *s);

/* merrs.c */

/* Every problem found in one input, in the order found, each a complete
 * message: "berth.json: $.services.web.health.timeout_s: expected a positive
 * integer, got \"5s\"". */
struct merrs {
	char **items; /* owned */
	size_t n;
	size_t cap;
};

void merrs_add(struct merrs *e, const char *fmt, ...) MANIFEST_PRINTF(2, 3);
void merrs_release(struct merrs *e);

/* manifest.c */

/* Manifests larger than this are refused before parsing. */
#define MANIFEST_MAX_BYTES (4u * 1024 * 1024)
/* At most this many errors are kept; one more line counts the rest. */
#define MANIFEST_MAX_ERRORS 1000

enum manifest_driver {
	MANIFEST_DRIVER_PROCESS,
	MANIFEST_DRIVER_COMPOSE,
};

struct manifest_health {
	char *http;          /* owned, ${NAME} expanded; NULL: no HTTP check */
	char *http_raw;      /* owned, as written */
	int expect_status;   /* default 200 */
	int interval_s;      /* default 2 */
	int timeout_s;       /* default 5 */
	int start_period_s;  /* default 0 */
	int retries;         /* default 3 */
};

struct manifest_service {
	char *name;               /* owned */
	struct strv command;      /* ${NAME} expanded; empty (n == 0) only for
				     the compose driver when not given */
	struct strv command_raw;  /* as written, for messages and logs */
	struct kvlist env;        /* the service's own env, as written, in
				     file order */
	bool has_health;
	struct manifest_health health; /* defaults when !has_health */
	int stop_timeout_s;       /* default 30 */
	struct strv depends_on;   /* as written */
	int *ports;               /* owned; ports the service listens on, as
				     written; NULL when nports == 0 */
	size_t nports;
	char *hash;               /* owned; 64 hex chars, see manifest_parse() */
};

struct manifest_smoke {
	char *name;          /* owned */
	char *url;           /* owned, expanded (ctx->vars only) */
	char *url_raw;       /* owned */
	int expect_status;   /* default 200 */
	char *expect_body;   /* owned; a substring the body must contain;
				NULL: any body */
	int timeout_s;       /* default 10 */
};

enum manifest_notify_type { MANIFEST_NOTIFY_SLACK, MANIFEST_NOTIFY_WEBHOOK };

struct manifest_notifier {
	enum manifest_notify_type type;
	char *url_env; /* owned; names the variable holding the URL */
};

enum manifest_backup_format {
	MANIFEST_BACKUP_CUSTOM,   /* pg_dump -Fc, .dump */
	MANIFEST_BACKUP_PLAIN,    /* .sql */
	MANIFEST_BACKUP_PLAIN_GZ, /* .sql.gz */
};

enum manifest_backup_verify {
	MANIFEST_VERIFY_NONE,
	MANIFEST_VERIFY_TOC,     /* read the archive's table of contents */
	MANIFEST_VERIFY_RESTORE, /* restore into a scratch database */
};

enum manifest_migrations {
	MANIFEST_MIGRATIONS_NONE,
	MANIFEST_MIGRATIONS_SQL_DIR,
	MANIFEST_MIGRATIONS_COMMAND,
};

struct manifest_database {
	bool present;                 /* false: no "database" section; the
					 other fields then hold defaults */
	char *url_env;                /* owned; default "DATABASE_URL" */
	enum manifest_migrations migrations;
	char *sql_dir;                /* owned; relative to the release */
	struct strv migrate_command;
	int lock_timeout_s;           /* default 10 */
	int statement_timeout_s;      /* default 0: none */
	char *backup_dir;             /* owned; default "backups"; a host path,
					 relative to the env's state dir */
	enum manifest_backup_format backup_format; /* default custom */
	int retention_daily;          /* days; default 7 */
	int retention_weekly;         /* days; default 28 */
	int retention_monthly;        /* days; default 365 */
	char *backup_schedule;        /* owned "HH:MM" local time, or NULL */
	int backup_schedule_min;      /* minutes after midnight; -1 if NULL */
	enum manifest_backup_verify backup_verify; /* default toc for custom,
						      none for plain */
	char *service;                /* owned or NULL; compose driver only:
					 the compose service whose container
					 runs pg_dump, pg_restore and psql */
};

struct manifest_checks {
	int disk_free_pct;       /* default 10 */
	int mem_free_mb;         /* default 256 */
	int *ports_free;         /* owned; NULL when nports_free == 0 */
	size_t nports_free;
	struct strv env_required;
};

enum manifest_rollback_db { MANIFEST_ROLLBACK_DB_RESTORE, MANIFEST_ROLLBACK_DB_KEEP };
enum manifest_drift_action { MANIFEST_DRIFT_REPORT, MANIFEST_DRIFT_HEAL, MANIFEST_DRIFT_OFF };

struct manifest {
	char *file;                     /* owned; the name used in messages */
	int version;                    /* always 1 */
	char *app;                      /* owned */
	enum manifest_driver driver;    /* default process */
	struct strv *build;             /* owned array of argv */
	size_t nbuild;
	struct manifest_service *services; /* owned, in file order */
	size_t nservices;
	size_t *order;                  /* owned; indexes into services,
					   dependencies before dependents;
					   among services free to start,
					   file order */
	size_t *by_name;                /* owned; indexes into services
					   sorted by name (strcmp) */
	char *compose_file;             /* owned; default "docker-compose.yml" */
	char *compose_project;          /* owned; default app */
	struct manifest_database db;
	struct manifest_checks checks;
	struct manifest_smoke *smoke;   /* owned */
	size_t nsmoke;
	bool rollback_automatic;        /* default true */
	enum manifest_rollback_db rollback_database; /* default restore */
	int drift_interval_s;           /* default 300 */
	enum manifest_drift_action drift_action; /* default report */
	int releases_keep;              /* default 5 */
	struct manifest_notifier *notify; /* owned */
	size_t nnotify;
	char *env_file_hash;            /* owned copy of ctx->env_file_hash,
					   or NULL */
	char *hash;                     /* owned; hash of the whole manifest */
};

/* What the parser needs from outside the manifest itself. */
struct manifest_ctx {
	const char *file;            /* name used in messages; "berth.json" if NULL */
	const struct kvlist *vars;   /* env_file variables for ${NAME}; may be NULL */
	const char *env_file_hash;   /* mixed into each service hash; may be NULL */
};

/*
 * Parses and validates a manifest from (data, len) (need not be
 * NUL-terminated). Reports every problem into errs, in the order found,
 * each a complete line "FILE: $.json.path: expected WHAT, got VALUE" (or
 * "FILE: line L column C: ..." for JSON syntax), and returns NULL when
 * there was any; otherwise returns a new manifest with every default
 * filled in. Checks: types, unknown keys, required fields, ranges,
 * `${NAME}` references (service env, then ctx->vars), relative paths that
 * stay inside the release, dependency cycles and unknown dependencies,
 * duplicate ports. docs/manifest.md is the user's reference for the rules.
 *
 * Each service's hash is the SHA-256 (lower-case hex) of a canonical JSON
 * serialisation (sorted keys, compact) of everything that affects how it
 * runs: the driver, the expanded command, env (as a map), health (or
 * null), stop_timeout_s, the sorted ports, for the compose driver the
 * compose file and project, and ctx->env_file_hash. Not in it: the name
 * of the service, depends_on, the release's code. Equal hashes mean "would
 * run the same way". The manifest's hash covers the whole normalised model
 * as written (raw, unexpanded forms, defaults filled in, services by name)
 * and nothing of ctx: equal hashes mean "the same manifest". Neither
 * depends on key order, whitespace or the order of the env file.
 */
struct manifest *manifest_parse(const char *data, size_t len,
				const struct manifest_ctx *ctx,
				struct merrs *errs);
void manifest_free(struct manifest *m);

/* Returns the service named name (borrowed) or NULL. O(log n). */
const struct manifest_service *manifest_service(const struct manifest *m,
						const char *name);

/*
 * Checks a manifest against a checked-out release directory: every
 * repository path the manifest names (the relative command[0] of services,
 * build and migration commands when it contains a '/', the sql_dir, the
 * compose file with the compose driver) resolves, through symlinks, to a
 * place inside release_dir; sql_dir is a directory and the compose file a
 * regular file. Commands need not exist yet (the build may make them).
 * Returns 0, or -1 with each problem in errs
 * ("FILE: $.database.migrations.sql_dir: \"migrations\" does not exist in
 * the release").
 */
int manifest_check_release(const struct manifest *m, const char *release_dir,
			   struct merrs *errs);

/* diff.c */

/* One difference between two manifests, or one thing a plan will do. */
struct manifest_change {
	char *kind;   /* owned: "start", "stop", "restart", ... */
	char *name;   /* owned: the service (or file, or section) concerned */
	char *detail; /* owned: why, for a person */
};

struct manifest_changes {
	struct manifest_change *items; /* owned */
	size_t n;
	size_t cap;
};

void manifest_changes_add(struct manifest_changes *c, const char *kind,
			  const char *name, const char *detail);
void manifest_changes_release(struct manifest_changes *c);

/*
 * Appends to out what changes between the running manifest old (NULL when
 * nothing was ever deployed) and new_m: first "start" (a service old does
 * not have; detail "new service") and "restart" (its hash differs; detail
 * names each differing field: "command changed; env PORT changed;
 * stop_timeout_s 30 -> 10", or "env file changed" when only the env file
 * hash differs) in new_m's start order, then "stop" (a service new_m does
 * not have; detail "removed from the manifest") in reverse of old's start
 * order. Services whose hash is equal are not listed. Values of env, URLs
 * and commands are never printed (they may hold secrets), only numbers.
 */
void manifest_diff(struct manifest_changes *out, const struct manifest *old,
		   const struct manifest *new_m);

/* expand.c */

/*
 * Expands ${NAME} in s: NAME ([A-Za-z_][A-Za-z0-9_]*) is looked up in
 * first, then in second (either may be NULL); "$$" is a literal "$"; any
 * other "$" is kept as it is. Nothing else is interpreted. On success
 * stores a new string in *out and returns 0. Otherwise returns -1 and adds
 * one message per problem to problems, without file or JSON path:
 * "undefined variable \"PORT\"", "malformed variable reference \"${\":
 * missing \"}\"". Expansions longer than EXPAND_MAX_LEN bytes are errors.
 */
#define EXPAND_MAX_LEN 65536
int expand_vars(char **out, const char *s, const struct kvlist *first,
		const struct kvlist *second, struct merrs *problems);

/*
 * The rest of this header is internal to berth_manifests: the pieces of
 * manifest_parse(), split by concern. Other libraries use the functions
 * above.
 */

/* validate.c — the JSON path being parsed, error reporting, typed readers */

struct json_t;

#define MPARSE_PATH_MAX 1024

/* The state of one manifest_parse() call. */
struct mparse {
	const char *file;           /* borrowed; name for messages */
	struct merrs *errs;         /* borrowed */
	const struct kvlist *vars;  /* borrowed; ctx->vars, may be NULL */
	char path[MPARSE_PATH_MAX]; /* "$.services.web", always terminated */
	size_t len;                 /* strlen(path) */
	size_t dropped;             /* errors past MANIFEST_MAX_ERRORS */
	bool driver_unknown;        /* $.driver was wrong: skip the checks
				       that depend on it */
};

/* Flags for the readers. */
#define VALIDATE_REQUIRED 1u /* absent is an error ("got nothing") */
#define VALIDATE_NONEMPTY 2u /* strings: "" is an error */

/* Appends ".key" (or "[\"key\"]" when key is not [A-Za-z0-9_-]+, long keys
 * shortened) or "[i]" to the path; returns the previous length, to give to
 * validate_pop(). */
size_t validate_push_key(struct mparse *p, const char *key);
size_t validate_push_index(struct mparse *p, size_t i);
void validate_pop(struct mparse *p, size_t len);

/* Adds "FILE: PATH: <message>". */
void validate_error(struct mparse *p, const char *fmt, ...) MANIFEST_PRINTF(2, 3);
/* Adds "FILE: PATH: expected WHAT, got VALUE"; got NULL means "nothing". */
void validate_expected(struct mparse *p, const char *what,
		       const struct json_t *got);
/* Writes the compact JSON of v, shortened to about 60 bytes, into out. */
void validate_describe(char *out, size_t outlen, const struct json_t *v);

/* Reports, at the current path, every key of obj not in allowed
 * (NULL-terminated), with a suggestion when one is close. Returns the
 * number of unknown keys. */
size_t validate_keys(struct mparse *p, const struct json_t *obj,
		     const char *const *allowed);

/*
 * The readers read obj[key] at path + key. When the key is absent they
 * leave *out unchanged and return 0, or report "got nothing" and return -1
 * with VALIDATE_REQUIRED. On a wrong value they report it, leave *out
 * unchanged and return -1. On success they store the value and return 0.
 */
int validate_int(struct mparse *p, int *out, const struct json_t *obj,
		 const char *key, int min, int max, unsigned flags);
int validate_bool(struct mparse *p, bool *out, const struct json_t *obj,
		  const char *key, unsigned flags);
/* *out: the old value is freed on success, the new one is a new copy. */
int validate_string(struct mparse *p, char **out, const struct json_t *obj,
		    const char *key, unsigned flags);
/* Like validate_string(), for a string that ok() accepts; what says which
 * ("a variable name ([A-Za-z_][A-Za-z0-9_]*)"). */
int validate_name(struct mparse *p, char **out, const struct json_t *obj,
		  const char *key, unsigned flags, bool (*ok)(const char *),
		  const char *what);
/* names: NULL-terminated; *out is the index of the match. */
int validate_enum(struct mparse *p, int *out, const struct json_t *obj,
		  const char *key, const char *const *names, unsigned flags);
/* Stores obj[key] (borrowed) in *out when it is an object; NULL if absent. */
int validate_object(struct mparse *p, const struct json_t **out,
		    const struct json_t *obj, const char *key, unsigned flags);
/* Stores obj[key] (borrowed) in *out when it is an array; NULL if absent;
 * what names the expected array in messages. */
int validate_array(struct mparse *p, const struct json_t **out,
		   const struct json_t *obj, const char *key, const char *what);
/* Reads v, at the current path, as a command: a non-empty array of
 * strings whose first one is non-empty. Appends to out (empty on error). */
int validate_argv(struct mparse *p, struct strv *out, const struct json_t *v);
/* Reads obj[key] as an array of TCP ports (1-65535), each once. The valid
 * ones are stored even when others are wrong. */
int validate_ports(struct mparse *p, int **out, size_t *n,
		   const struct json_t *obj, const char *key);
/* Reads obj[key] as an array of variable names. */
int validate_varnames(struct mparse *p, struct strv *out,
		      const struct json_t *obj, const char *key);

/* A name and where it was found, to sort by name (duplicates, lookups in
 * O(n log n) instead of comparing every pair). */
struct validate_ref {
	const char *name; /* borrowed */
	size_t index;
};

/* Sorts refs by name (strcmp), then by index. */
void validate_sort_refs(struct validate_ref *refs, size_t n);

#define VALIDATE_VARNAME "a variable name ([A-Za-z_][A-Za-z0-9_]*)"
#define VALIDATE_APPNAME \
	"a lower-case name ([a-z0-9][a-z0-9_-]*, at most 63 characters)"

/* [A-Za-z_][A-Za-z0-9_]* */
bool validate_is_varname(const char *s);
/* [a-z0-9][a-z0-9_-]*, at most 63 bytes: app and compose project names */
bool validate_is_appname(const char *s);
/* [A-Za-z0-9][A-Za-z0-9_.-]*, at most 63 bytes: service names */
bool validate_is_service_name(const char *s);
/* http:// or https:// followed by a host */
bool validate_is_http_url(const char *s);

/* expand.c (for the parser) */

/* expand_vars() of s with first, then p->vars; each problem is reported at
 * the current path. Returns 0 with a new *out, or -1. */
int expand_at(struct mparse *p, char **out, const char *s,
	      const struct kvlist *first);
/* expand_at(), then checks the result is an http(s) URL; got is the JSON
 * value as written, for the message. Returns 0 with a new *out, or -1
 * (*out may then still be set; the caller frees it). */
int expand_url(struct mparse *p, char **out, const char *raw,
	       const struct kvlist *first, const struct json_t *got);

/* confine.c — repository paths that must stay inside the release */

/* Reports, at the current path, when rel is not a relative path that
 * stays inside the release: empty, absolute, or with a ".." component.
 * Returns 0 or -1. */
int confine_relpath(struct mparse *p, const char *rel);
/* Reports, at the current path, a command's argv[0] that contains a '/'
 * and fails confine_relpath(). A bare name (PATH lookup) and an absolute
 * program of the host are allowed. */
int confine_command(struct mparse *p, const char *argv0);
/*
 * Resolves rel below root (an absolute, symlink-free path) the way the
 * kernel would, following symlinks (at most 40) and treating missing
 * components lexically. Stores the new absolute result in *out. Returns 0,
 * or -1 on a symlink loop or an unreadable link (errno set).
 */
int confine_resolve(char **out, const char *root, const char *rel);
/* True when path is root or below it (both absolute, normalised). */
bool confine_inside(const char *root, const char *path);

/* service.c — the "services" section */

/* Parses $.services (v may be NULL: reported missing) into m->services,
 * in file order, expanding ${NAME}. m->driver must be set. Returns 0 or -1
 * (errors reported). */
int service_parse_all(struct mparse *p, struct manifest *m,
		      const struct json_t *v);
void service_release(struct manifest_service *s);

/* database.c — the "database" section */

/* Parses $.database (v may be NULL: defaults, present = false). */
int database_parse(struct mparse *p, struct manifest_database *db,
		   const struct json_t *v);
void database_release(struct manifest_database *db);

/* deps.c — service dependencies */

/* Builds m->by_name and m->order; reports unknown services, a service
 * depending on itself, a dependency listed twice and every cycle
 * ("$.services: dependency cycle: a -> b -> a"). On error m->order is
 * NULL. Returns 0 or -1. */
int deps_order(struct mparse *p, struct manifest *m);

/* hash.c — canonical serialisations and their SHA-256 */

/* Returns a new 64-char lower-case hex SHA-256 of s's canonical form. */
char *hash_service(const struct manifest *m, const struct manifest_service *s);
/* Returns a new hex SHA-256 of the whole manifest's canonical form. */
char *hash_manifest(const struct manifest *m);
/* Writes the lower-case hex SHA-256 of (data, len) into out[65]. */
void hash_sha256_hex(char out[65], const void *data, size_t len);

#endif /* BERTH_MANIFEST_H */
