/*
 * hooks.h — push to deploy (berth_hooks): the Git hooks of a bare repository
 * on the host (SPEC §10; docs/hooks.md) and their installer.
 *
 * The installed hooks are three-line shell scripts that exec
 * `berth --config FILE hook pre-receive|post-receive`; everything they do
 * happens here, in C. What a push carries (ref names, commit ids, commit
 * messages) never reaches a shell or a command line other than as one
 * element of an argument vector given to the berth binary itself, after it
 * has been checked (a commit id is 40 hex digits, an environment name comes
 * from the config).
 *
 * Everything the pusher sees goes to stdout, one line at a time, flushed:
 * git relays a hook's output to `git push` as "remote: ..." lines.
 */
#ifndef BERTH_HOOKS_H
#define BERTH_HOOKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "berth.h"

/* refs.c — what git writes to a receive hook's stdin */

/* Largest hook input read: one line per pushed ref. */
#define REFS_MAX_INPUT ((size_t)8 << 20)
/* Largest ref name accepted (git's own limit is lower in practice). */
#define REFS_MAX_NAME 1024

/* One pushed ref: "<old-sha> <new-sha> <ref-name>". */
struct hook_ref {
	char old_sha[41]; /* all zeros when the ref is created */
	char new_sha[41]; /* all zeros when the ref is deleted */
	char *ref;        /* owned; full name, "refs/heads/main" */
};

struct hook_refs {
	struct hook_ref *items; /* owned */
	size_t n;
};

/*
 * Parses a receive hook's input: lines "OLD NEW REF", each sha 40 lowercase
 * hex digits (64 for SHA-256 repositories is refused: berth's mirror is
 * SHA-1), REF a name of at most REFS_MAX_NAME bytes without spaces or
 * control characters; the last line may lack its "\n". Empty input is no
 * refs. Returns 0 with *out filled (release with refs_release, also on
 * failure), or -1 with err naming the line ("line 2: expected 'OLD NEW
 * REF'").
 */
int refs_parse(struct hook_refs *out, const char *data, size_t len,
               struct berr *err);
void refs_release(struct hook_refs *r);
/* The branch a ref names ("main" for "refs/heads/main", borrowed from r),
 * or NULL for tags and every other ref. */
const char *refs_branch(const struct hook_ref *r);
/* True when the push deletes the ref. */
bool refs_is_delete(const struct hook_ref *r);

/* pusher.c — lines for the pusher's terminal */

/* Prints "berth: " and the message, a newline, and flushes stdout. Write
 * errors (a pusher who went away) are ignored: the hook carries on. */
void pusher_say(const char *fmt, ...) BERTH_PRINTF(1, 2);
/* Prints (line, len) as it is, a newline, and flushes. */
void pusher_line(const char *line, size_t len);
/* Prints each message of errs on a line of its own, indented two spaces
 * (below the pusher_say line that introduces them), and flushes. */
void pusher_list(const struct merrs *errs);
/* For spawn_opts.on_line: pusher_line with the given indent (arg is a
 * const char * prefix, or NULL). */
void pusher_on_line(const char *line, size_t len, void *arg);

/* chain.c — the hook that was installed before berth's */

/*
 * Runs the executable hook at path (relative paths are relative to the
 * current directory, which git sets to the repository) with the same
 * input git gave berth's hook on its stdin, and the hook's own environment
 * (quarantine variables included), relaying its output to the pusher as it
 * comes. A path that does not exist, or is not executable, is not run (git
 * skips such hooks too): *ran is false and 0 is returned. Otherwise *ran is
 * true and *exit_code is its exit status (-1 when a signal ended it).
 * Returns -1 when it could not be started.
 */
int chain_run(bool *ran, int *exit_code, const char *path, const char *input,
              size_t len, struct berr *err);

/* The hook's environment (environ) as a kvlist, for the chained hook;
 * with without_git, every GIT_* variable left out (for berth's own
 * children: a deployment must not see the hook's repository). */
void chain_environ(struct kvlist *out, bool without_git);

/* prereceive.c — rejecting a push whose berth.json is invalid */

struct hook_opts {
	const char *config_path; /* borrowed; NULL: $BERTH_CONFIG or default */
	const char *only_env;    /* borrowed; only this environment, or NULL:
	                            every environment of the config */
	const char *input;       /* borrowed; the hook's stdin */
	size_t input_len;
	int wait_s;  /* post-receive: longest wait for the
	                environment's lock; 0: HOOK_WAIT_S */
	int poll_ms; /* post-receive: how often the lock and a
	                daemon deployment are looked at; 0: 200 */
};

#define HOOK_WAIT_S 3600

/* input.c — what both hooks start from */

/*
 * Parses the hook's input (o->input) into *refs and loads the config
 * (o->config_path) into *cfg. When either fails, tells the pusher why —
 * "DOING: the berth config cannot be loaded:" and each error — and returns
 * -1 with nothing left to release; else 0 (refs_release, config_release).
 */
int input_load(struct hook_refs *refs, struct config *cfg,
               const struct hook_opts *o, const char *doing);

/*
 * The pre-receive hook. For each pushed branch that an environment of the
 * config tracks (only o->only_env when set), reads the environment's
 * manifest from the pushed commit, in the repository the hook runs in (the
 * quarantine included: nothing is checked out), and parses it with the
 * environment's env file, as apply will. Every error is printed to the
 * pusher with its JSON path. Deleting a tracked branch is refused; tags,
 * other branches and other refs pass unchecked. Returns the hook's exit
 * status: 0 to accept the push, 1 to reject it (git then moves no ref).
 */
int prereceive_run(const struct hook_opts *o);

/* postreceive.c — deploying what was pushed */

/*
 * The post-receive hook. For each pushed branch that an environment with
 * auto_deploy tracks: when `berth serve` answers on the config's listen
 * address and the config names an API token, hands the push to it (POST
 * /api/deploy, so the daemon's queue and lock decide when it runs) and
 * follows the deployment that covers it through the API until it ends; otherwise runs `berth apply ENV
 * --commit SHA --trigger hook:post-receive` itself, after waiting for the
 * environment's lock when another deployment holds it (at most o->wait_s),
 * and stepping aside when a newer push has moved the branch meanwhile (its
 * own hook deploys it). Either way the deployment's progress lines reach
 * the pusher as they happen, then one line with the result and the commit
 * that runs. Returns 0 when every deployment succeeded (or there was
 * nothing to deploy), 1 otherwise (git ignores a post-receive hook's exit
 * status; it is for people and tests).
 */
int postreceive_run(const struct hook_opts *o);

/* follow.c — a deployment run by the hook, watched by the pusher */

/*
 * Starts `berth --config CONFIG apply ENV --commit SHA --trigger
 * hook:post-receive` (berth being this very binary) detached from the hook:
 * in a session of its own, its output into an unlinked file in the
 * environment's logs directory, so that a pusher who interrupts `git push`
 * (and the hook dying with its closed pipe) never interrupts the
 * deployment. Relays that output to the pusher as it is written, polling
 * every poll_ms, until the deployment exits. *exit_code is apply's exit
 * status (-1 when killed by a signal) and *pid its process id, which its
 * deployment record carries. Returns 0, or -1 when it could not start.
 */
int follow_apply(int *exit_code, int *pid, struct state *st,
                 const char *config_path, const char *env, const char *sha,
                 int poll_ms, struct berr *err);

/* daemonapi.c — handing a push to `berth serve` and following it */

/* A connection to the daemon's API: its base URL and the API token. */
struct daemonapi {
	char *base;      /* owned; "http://127.0.0.1:8470" */
	struct buf auth; /* owned secret; "Authorization: Bearer …", wiped by
	                    daemonapi_close */
	bool have_token; /* the config names a token this user can read */
};

/*
 * Asks whether `berth serve` runs: GET /health on the config's listen
 * address (a wildcard address is reached on loopback), 2 s at most, and
 * loads the API token. Returns 0 when it answers 200 (api->have_token says
 * whether the token could be loaded; when not, err says why);
 * BERTH_ENOTFOUND when nothing listens there (or the port is 0); -1 when
 * something listens but does not answer as berth (err says what). api is
 * always initialised: release it with daemonapi_close.
 */
int daemonapi_open(struct daemonapi *api, const struct config *cfg,
                   struct berr *err);
void daemonapi_close(struct daemonapi *api);

/*
 * POST /api/deploy {"env": env, "commit": sha} with the header
 * "Idempotency-Key: key" (1-128 printable characters without spaces): the
 * daemon stores the request in its inbox under that key (provider "api")
 * and queues a deployment of env with --commit sha, coalescing with what
 * waits. Returns 0 when it answers 202, or -1 with its answer in err.
 */
int daemonapi_deploy(struct daemonapi *api, const char *env, const char *sha,
                     const char *key, struct berr *err);

/*
 * Where the request stored under key stands, from GET
 * /api/events?provider=api (the newest 1000): status is "queued" (a
 * deployment must still act on it) or "done" (the deployment that covers it
 * has finished, whatever its result); *seq is its inbox number. Returns 0,
 * BERTH_ENOTFOUND when the daemon does not list it, or -1.
 */
int daemonapi_request(char status[16], uint64_t *seq, struct daemonapi *api,
                      const char *key, struct berr *err);

/*
 * The newest limit deployment records of env, newest first, from GET
 * /api/deployments (the journal, as `berth history --json` shows it).
 * *out is new (state_history_free(*out, *n)). Returns 0 or -1.
 */
int daemonapi_deployments(struct deployment **out, size_t *n,
                          struct daemonapi *api, const char *env,
                          size_t limit, struct berr *err);

/*
 * Whether env is frozen, whether its lock is held (by anyone), and whether
 * the daemon itself runs a deployment of it now, from GET /api/status
 * (which runs `berth status` on the server: seconds, not milliseconds).
 * Returns 0, BERTH_ENOTFOUND when the daemon does not list env, or -1.
 */
int daemonapi_env_state(bool *frozen, bool *locked, bool *running,
                        struct daemonapi *api, const char *env,
                        struct berr *err);

/* watch.c — a deployment's progress, as its record shows it */

/* What has been printed of one step. */
struct watch_step {
	bool header;    /* "[5/11] build" */
	bool ended;     /* "[5/11] build … detail 1.2 s" */
	struct buf out; /* the output lines printed, as in output_tail */
};

/* What has been printed of one deployment record. */
struct watch {
	int64_t id;               /* the record followed; 0 none yet */
	struct watch_step *steps; /* owned; parallel to the record's steps */
	size_t n;
};

/* Zeroes w. */
void watch_init(struct watch *w);
/* Frees what w owns and zeroes it. NULL ok. */
void watch_release(struct watch *w);

/*
 * Prints to the pusher what the record d shows beyond what w has printed
 * before, in `berth apply`'s own format: for each step in order, once it
 * runs its header ("[5/11] build", "[rollback]"), its output lines as they
 * reach the record's output_tail (indented four spaces; the record keeps
 * the last PIPELINE_TAIL bytes and saves them about once a second, so
 * lines arrive in batches), and once it ends "[5/11] build … DETAIL 1.2 s"
 * ("failed: " or "skipped: " before the detail when so). A record other
 * than the one followed so far starts over.
 */
void watch_update(struct watch *w, const struct deployment *d);

/* install.c — `berth hooks install` */

struct install_opts {
	const char *bare_repo;   /* borrowed; the repository pushes go to */
	const char *config_path; /* borrowed; absolute path of a config that
	                            loads */
	const char *berth_path;  /* borrowed; absolute path of the berth
	                            binary the hooks run */
	const char *env;         /* borrowed; the only environment the hooks
	                            deploy, or NULL for every one */
};

/* What happened to one hook. */
struct install_hook {
	const char *name; /* static; "pre-receive", "post-receive" */
	char *path;       /* owned; where berth's hook is */
	const char *what; /* static; "installed", "updated", "unchanged" */
	char *chained;    /* owned or NULL; the hook that was there before,
	                     renamed, that berth's runs first */
	bool chained_now; /* renamed by this run */
};

struct install_report {
	char *repo;      /* owned; the repository's real path */
	char *hooks_dir; /* owned */
	struct install_hook hooks[2];
};

/* Marks a hook file as berth's: the installer rewrites such a file and
 * chains any other. */
#define INSTALL_MARKER "# berth: installed by 'berth hooks install'"
/* Suffix of the name a hook that was there before is kept under. */
#define INSTALL_CHAIN_SUFFIX ".berth-chained"

/*
 * Installs the pre-receive and post-receive hooks into the bare repository
 * o->bare_repo (in core.hooksPath when the repository sets it). A hook of
 * another origin that is there already is renamed to
 * NAME.berth-chained and run first, with the same input, by berth's; when
 * that name is taken too, nothing is changed and the call fails. Running it
 * again rewrites berth's hooks only if their content changes: it is
 * idempotent. Refuses a repository that is not bare. rep is always
 * initialised (install_report_release). Returns 0 or -1.
 */
int install_hooks(struct install_report *rep, const struct install_opts *o,
                  struct berr *err);
void install_report_release(struct install_report *rep);
/* The hook script for hook name ("pre-receive") under o, new string. Paths
 * and the environment are single-quoted for sh. */
char *install_script(const struct install_opts *o, const char *name);

#endif /* BERTH_HOOKS_H */
