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
	struct strv command;      /* ${NAME} expanded */
	struct strv command_raw;  /* as written, for messages and logs */
	struct kvlist env;        /* the service's own env, as written */
	bool has_health;
	struct manifest_health health;
	int stop_timeout_s;       /* default 30 */
	struct strv depends_on;
	int *ports;               /* owned; ports the service listens on */
	size_t nports;
	char *hash;               /* owned; 64 hex chars, see manifest_parse() */
};

struct manifest_smoke {
	char *name;          /* owned */
	char *url;           /* owned, expanded */
	char *url_raw;       /* owned */
	int expect_status;   /* default 200 */
	char *expect_body;   /* owned; NULL: any body */
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
	bool present;                 /* false: no "database" section */
	char *url_env;                /* owned; default "DATABASE_URL" */
	enum manifest_migrations migrations;
	char *sql_dir;                /* owned; relative to the release */
	struct strv migrate_command;
	int lock_timeout_s;           /* default 10 */
	int statement_timeout_s;      /* default 0: none */
	char *backup_dir;             /* owned; default "backups" */
	enum manifest_backup_format backup_format;
	int retention_daily;          /* days; default 7 */
	int retention_weekly;         /* days; default 28 */
	int retention_monthly;        /* days; default 365 */
	char *backup_schedule;        /* owned "HH:MM" local time, or NULL */
	int backup_schedule_min;      /* minutes after midnight */
	enum manifest_backup_verify backup_verify; /* default TOC */
};

struct manifest_checks {
	int disk_free_pct;       /* default 10 */
	int mem_free_mb;         /* default 256 */
	int *ports_free;         /* owned */
	size_t nports_free;
	struct strv env_required;
};

enum manifest_rollback_db { MANIFEST_ROLLBACK_DB_RESTORE, MANIFEST_ROLLBACK_DB_KEEP };
enum manifest_drift_action { MANIFEST_DRIFT_REPORT, MANIFEST_DRIFT_HEAL, MANIFEST_DRIFT_OFF };

struct manifest {
	int version;                    /* always 1 */
	char *app;                      /* owned */
	enum manifest_driver driver;    /* default process */
	struct strv *build;             /* owned array of argv */
	size_t nbuild;
	struct manifest_service *services; /* owned, in file order */
	size_t nservices;
	size_t *order;                  /* owned; indexes into services,
					   dependencies before dependents */
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
	char *hash;                     /* owned; hash of the whole manifest */
};

/* What the parser needs from outside the manifest itself. */
struct manifest_ctx {
	const char *file;            /* name used in messages; "berth.json" if NULL */
	const struct kvlist *vars;   /* env_file variables for ${NAME}; may be NULL */
	const char *env_file_hash;   /* mixed into each service hash; may be NULL */
};

/*
 * Parses and validates a manifest from (data, len). Reports every problem
 * into errs (never just the first) and returns NULL when there was any;
 * otherwise returns a new manifest. Checks: types, unknown keys, required
 * fields, ranges, `${NAME}` references (service env, then ctx->vars),
 * relative paths that stay inside the release, dependency cycles and
 * unknown dependencies, duplicate ports.
 *
 * Each service's hash is the SHA-256 of a canonical serialisation of
 * everything that affects how it runs (expanded command, env, health,
 * stop timeout, ports, driver, compose file/project, and
 * ctx->env_file_hash): equal hashes mean "would run the same way".
 */
struct manifest *manifest_parse(const char *data, size_t len,
				const struct manifest_ctx *ctx,
				struct merrs *errs);
void manifest_free(struct manifest *m);

/* Returns the service named name (borrowed) or NULL. */
const struct manifest_service *manifest_service(const struct manifest *m,
						const char *name);

/*
 * Checks a manifest against a checked-out release directory: every path
 * the manifest names exists where expected and no symlink on the way leaves
 * release_dir. Returns 0, or -1 with each problem in errs.
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
 * nothing was ever deployed) and new: services to start, stop, restart
 * (with each differing field named in detail), in new's start order.
 * Services whose hash is equal are not listed.
 */
void manifest_diff(struct manifest_changes *out, const struct manifest *old,
		   const struct manifest *new_m);

#endif /* BERTH_MANIFEST_H */
