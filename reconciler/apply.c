/*
 * apply.c — the deploy pipeline (SPEC §5; docs/pipeline.md): lock,
 * validate, backup, fetch, build, migrate, deploy, smoke, cleanup, notify,
 * unlock, each recorded in the deployment's journal before and after it
 * runs. A failure before migrate changes nothing that runs; a failure at
 * migrate, deploy or smoke puts the last good release back (rollback.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth.h"

/* How long a migration run waits for another migrator of the database. */
#define APPLY_MIGRATE_LOCK_WAIT_S 60
/* Database connect timeout of the migrate step. */
#define APPLY_DB_CONNECT_S 10

/* One run of the pipeline. */
struct apply {
	struct envctx *ctx;         /* borrowed */
	const struct apply_opts *o; /* borrowed */
	struct deployment *d;       /* borrowed; the record */
	struct pipeline p;
	struct preflight t;           /* the commit and its manifest */
	const struct driver_ops *ops; /* t.m's driver */
	struct driver_ctx dctx;
	bool reused; /* the release directory was there */
	int lock_fd;
	int64_t t0;    /* CLOCK_MONOTONIC ms at the start */
	int failed_at; /* number of the step that failed */
	char failed_step[16];
	char why[512]; /* why it failed, without the step */
};

bool apply_trigger_ok(const char *trigger)
{
	static const char *const fixed[] = {
	    "cli", "hook:post-receive", "poll", "drift", "revert", "api"};
	enum webhook_provider prov;
	const char *p, *colon;
	char name[32];
	size_t i, n;

	for (i = 0; i < BERTH_ARRAY_LEN(fixed); i++)
		if (strcmp(trigger, fixed[i]) == 0)
			return true;
	if (strncmp(trigger, "webhook:", 8) != 0)
		return false;
	p = trigger + 8;
	colon = strchr(p, ':');
	if (colon == NULL || (size_t)(colon - p) >= sizeof(name))
		return false;
	snprintf(name, sizeof(name), "%.*s", (int)(colon - p), p);
	if (config_provider_parse(&prov, name) != 0)
		return false;
	/* The delivery id: what the forge sent, printable, no spaces. */
	n = strlen(colon + 1);
	if (n == 0 || n > 128)
		return false;
	for (p = colon + 1; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~')
			return false;
	return true;
}

int apply_exit_status(int rc, const struct deployment *d)
{
	if (rc == BERTH_ELOCKED)
		return EXIT_LOCKED;
	if (rc == 0)
		return EXIT_OK;
	if (d != NULL && d->status == DEPLOY_ROLLBACK_FAILED)
		return EXIT_ROLLBACK_FAILED;
	return EXIT_FAILED;
}

static bool stopping(const struct apply *a)
{
	return a->o->stop_requested != NULL && a->o->stop_requested();
}

/* Records why step number/name failed; the step itself is ended by the
 * caller. Returns -1. */
static int fail(struct apply *a, int number, const char *name, const char *why)
{
	if (a->failed_at == 0) {
		a->failed_at = number;
		snprintf(a->failed_step, sizeof(a->failed_step), "%s", name);
		snprintf(a->why, sizeof(a->why), "%s", why);
	}
	return -1;
}

/* Ends the running step as failed with err's message. Returns -1. */
static int step_failed(struct apply *a, int number, const char *name,
                       const struct berr *err)
{
	pipeline_end(&a->p, STEP_FAILED, "%s", err->msg);
	return fail(a, number, name, err->msg);
}

/* Begins a step, failing it at once when the journal cannot be written
 * (no step runs unrecorded) or berth was asked to stop. */
static int begin(struct apply *a, int number, const char *name)
{
	struct berr err;

	if (pipeline_begin(&a->p, number, name, &err) != 0)
		return step_failed(a, number, name, &err);
	if (stopping(a)) {
		berr_set(&err, "berth was asked to stop (signal)");
		return step_failed(a, number, name, &err);
	}
	return 0;
}

/* 1. lock: taken before the record exists, so a refused apply leaves no
 * record behind. */
static int take_lock(struct apply *a, struct berr *err)
{
	struct lock_holder me, holder;
	char *path = state_path(&a->ctx->st, "lock");
	char who[320];
	int rc;

	memset(&me, 0, sizeof(me));
	me.pid = (int)getpid();
	me.started_at = strnum_now_ms() / 1000;
	snprintf(me.trigger, sizeof(me.trigger), "%s", a->d->trigger);
	rc = lock_acquire(&a->lock_fd, path, &me, &holder, err);
	if (rc == BERTH_ELOCKED) {
		lock_describe(who, sizeof(who), &holder);
		berr_set(err,
		         "%s is locked: another deployment is running "
		         "(%s); see 'berth status %s'",
		         a->ctx->env->name, who, a->ctx->env->name);
	}
	free(path);
	return rc;
}

static int open_record(struct apply *a, int64_t lock_ms, struct berr *err)
{
	struct deployment *d = a->d;
	struct lock_holder me;
	char *reason = NULL;
	int64_t current_id;
	int rc;

	if (recover_env(a->ctx, a->lock_fd, a->o->out ? a->o->out : stderr,
	                err) < 0)
		fprintf(stderr,
		        "berth: warning: cannot recover interrupted "
		        "deployments: %s\n",
		        err->msg);
	if (state_frozen(&a->ctx->st, &reason) == 1) {
		berr_set(err,
		         "%s is frozen: %s; fix the cause, then run "
		         "'berth resume %s'",
		         a->ctx->env->name, reason, a->ctx->env->name);
		free(reason);
		return -1;
	}
	rc = state_get_current(&a->ctx->st, d->previous_commit, &current_id,
	                       err);
	if (rc != 0 && rc != BERTH_ENOTFOUND)
		return -1;
	d->status = DEPLOY_RUNNING;
	d->started_at = strnum_now_ms() / 1000;
	d->pid = (int)getpid();
	deployment_set(&d->kind, DEPLOY_KIND_DEPLOY);
	deployment_set(&d->version, a->o->tag);
	deployment_set(&d->env_file_hash, a->ctx->env_file_hash);
	if (state_create_deployment(&a->ctx->st, d, err) != 0)
		return -1;
	memset(&me, 0, sizeof(me));
	me.pid = d->pid;
	me.deployment_id = d->id;
	me.started_at = d->started_at;
	snprintf(me.trigger, sizeof(me.trigger), "%s", d->trigger);
	if (lock_update(a->lock_fd, &me, err) != 0)
		log_warn("msg=\"cannot describe the lock holder\"");
	pipeline_begin(&a->p, 1, "lock", NULL);
	d->steps[a->p.step].started_ms = lock_ms;
	pipeline_end(&a->p, STEP_OK, "held by pid %d (deployment %lld)", d->pid,
	             (long long)d->id);
	return 0;
}

static void check_line(const struct checks_item *c, void *arg)
{
	char *line = checks_format(c);

	/* checks_format indents by two; the step indents again. */
	pipeline_line(arg, "%s",
	              line[0] == ' ' && line[1] == ' ' ? line + 2 : line);
	free(line);
}

/* The names of the failed checks, "env vars, database" (new). */
static char *failed_checks(const struct checks_report *r)
{
	struct buf b;
	size_t i;

	buf_init(&b, 0);
	for (i = 0; i < r->n; i++)
		if (!r->items[i].ok)
			buf_printf(&b, "%s%s", b.len ? ", " : "",
			           r->items[i].name);
	return buf_detach(&b);
}

/* 2. validate: fetch the mirror, resolve the commit, read its manifest,
 * run the pre-deploy checks. */
static int step_validate(struct apply *a)
{
	struct checks_report rep;
	struct berr err;
	size_t i;
	char *names;
	int rc;

	if (begin(a, 2, "validate") != 0)
		return -1;
	if (preflight_resolve(&a->t, a->ctx, a->o->rev, a->o->tag, true,
	                      pipeline_on_line, &a->p, &err) != 0)
		return step_failed(a, 2, "validate", &err);
	memcpy(a->d->commit, a->t.commit, sizeof(a->d->commit));
	memcpy(a->d->tree, a->t.tree, sizeof(a->d->tree));
	for (i = 0; i < a->t.errs.n; i++)
		pipeline_line(&a->p, "%s", a->t.errs.items[i]);
	for (i = 0; a->t.m != NULL && i < a->t.m->nservices; i++)
		deployment_add_service(a->d, a->t.m->services[i].name,
		                       a->t.m->services[i].hash);
	pipeline_save(&a->p, NULL);
	rc = preflight_checks(&rep, a->ctx, &a->t, check_line, &a->p);
	if (rc != 0) {
		names = failed_checks(&rep);
		berr_set(&err, "%zu of %zu checks failed: %s", rep.failed,
		         rep.n, names);
		free(names);
		checks_report_release(&rep);
		return step_failed(a, 2, "validate", &err);
	}
	a->ops = driver_for(a->t.m);
	pipeline_driver_ctx(&a->dctx, &a->p);
	pipeline_end(&a->p, STEP_OK, "%zu checks passed for %.7s", rep.n,
	             a->d->commit);
	checks_report_release(&rep);
	return 0;
}

/* "1.2 MB", "14 kB", "512 B" (new). */
static char *size_str(int64_t bytes)
{
	if (bytes >= 1000 * 1000 * 1000)
		return xasprintf("%.1f GB", (double)bytes / 1e9);
	if (bytes >= 1000 * 1000)
		return xasprintf("%.1f MB", (double)bytes / 1e6);
	if (bytes >= 1000)
		return xasprintf("%lld kB", (long long)(bytes / 1000));
	return xasprintf("%lld B", (long long)bytes);
}

/*
 * The paired backup (SPEC §6) of this deployment: the database as the
 * release that runs now left it, dumped into database.backup.dir and
 * verified as database.backup.verify says; its path goes into d->backup as
 * soon as it exists. *detail (new) describes it. Returns 0, or -1 with err
 * (a dump that failed leaves nothing behind; one that failed its
 * verification stays, recorded, and fails the step).
 */
static int take_backup(struct apply *a, char **detail, struct berr *err)
{
	const struct manifest_database *db = &a->t.m->db;
	const char *url = envctx_var(a->ctx, db->url_env);
	struct backup_create_opts bo;
	struct backup_info info, checked;
	struct pgtool tool;
	struct kvlist env;
	char *dir = NULL, *size = NULL;
	int rc = -1;

	memset(&info, 0, sizeof(info));
	memset(&checked, 0, sizeof(checked));
	kvlist_init(&env);
	if (url == NULL || url[0] == '\0') {
		berr_set(err, "%s is not set in the env file", db->url_env);
		goto out;
	}
	driver_env(&env, &a->ctx->vars, NULL);
	memset(&tool, 0, sizeof(tool));
	tool.url = url;
	tool.env = &env;
	dir = backup_dir(a->ctx->st.env_dir, db->backup_dir);
	memset(&bo, 0, sizeof(bo));
	bo.dir = dir;
	bo.format = db->backup_format;
	bo.kind = BACKUP_PRE_DEPLOY;
	bo.deployment_id = a->d->id;
	bo.commit = a->d->commit;
	bo.env = a->d->env;
	if (backup_create(&info, &tool, &bo, err) != 0)
		goto out;
	deployment_set(&a->d->backup, info.path);
	pipeline_save(&a->p, NULL);
	size = size_str(info.size);
	if (db->backup_verify != MANIFEST_VERIFY_NONE &&
	    backup_verify(&checked, &tool, info.path, db->backup_verify, err) !=
	        0) {
		berr_prefix(err, "%s does not verify", info.file);
		goto out;
	}
	*detail = xasprintf(
	    "%s, %s%s%s%s", info.file, size,
	    db->backup_verify != MANIFEST_VERIFY_NONE ? ", verified (" : "",
	    db->backup_verify != MANIFEST_VERIFY_NONE
	        ? backup_verify_name(db->backup_verify)
	        : "",
	    db->backup_verify != MANIFEST_VERIFY_NONE ? ")" : "");
	rc = 0;
out:
	backup_info_release(&info);
	backup_info_release(&checked);
	kvlist_release(&env);
	free(size);
	free(dir);
	return rc;
}

/* 3. backup */
static int step_backup(struct apply *a)
{
	const struct manifest *m = a->t.m;
	char *detail = NULL;
	struct berr err;
	int rc;

	if (begin(a, 3, "backup") != 0)
		return -1;
	if (!m->db.present) {
		pipeline_end(&a->p, STEP_SKIPPED,
		             "no database in the manifest");
		return 0;
	}
	if (a->o->skip_backup) {
		pipeline_end(&a->p, STEP_SKIPPED, "--skip-backup");
		return 0;
	}
	rc = take_backup(a, &detail, &err);
	if (rc == 0)
		pipeline_end(&a->p, STEP_OK, "%s", detail);
	free(detail);
	if (rc != 0)
		return step_failed(a, 3, "backup", &err);
	return 0;
}

/* 4. fetch: the commit checked out into releases/<commit>. */
static int step_fetch(struct apply *a)
{
	struct merrs errs = {0};
	struct berr err;
	size_t i;

	if (begin(a, 4, "fetch") != 0)
		return -1;
	if (release_export(&a->reused, a->ctx, a->d->commit, &err) != 0)
		return step_failed(a, 4, "fetch", &err);
	if (manifest_check_release(a->t.m, a->t.release_dir, &errs) != 0) {
		for (i = 0; i < errs.n; i++)
			pipeline_line(&a->p, "%s", errs.items[i]);
		berr_set(&err, "%s", errs.items[0]);
		merrs_release(&errs);
		return step_failed(a, 4, "fetch", &err);
	}
	pipeline_end(&a->p, STEP_OK, "releases/%.7s %s", a->d->commit,
	             a->reused ? "already there" : "checked out");
	return 0;
}

/* The release of a deployment that succeeded with it, when commit is the
 * one that serves now or the last good one: built already, and never to
 * be touched while it may serve. 0 when neither. */
static int64_t built_by(struct apply *a)
{
	struct deployment good;
	char current[41];
	int64_t id = 0, cid;
	struct berr err;

	if (state_get_current(&a->ctx->st, current, &cid, &err) == 0 &&
	    strcmp(current, a->d->commit) == 0)
		return cid;
	if (state_last_good(&a->ctx->st, a->d->id, &good, &err) == 0 &&
	    strcmp(good.commit, a->d->commit) == 0)
		id = good.id;
	deployment_release(&good);
	return id;
}

/* 5. build */
static int step_build(struct apply *a)
{
	const struct manifest *m = a->t.m;
	struct berr err;
	int64_t by;

	if (begin(a, 5, "build") != 0)
		return -1;
	if (m->nbuild == 0) {
		pipeline_end(&a->p, STEP_SKIPPED, "no build commands");
		return 0;
	}
	if (a->reused && (by = built_by(a)) > 0) {
		pipeline_end(&a->p, STEP_SKIPPED,
		             "releases/%.7s was built by deployment %lld and "
		             "may serve: not rebuilt",
		             a->d->commit, (long long)by);
		return 0;
	}
	if (a->ops->build(NULL, &a->dctx, m, a->t.release_dir, &err) != 0)
		return step_failed(a, 5, "build", &err);
	pipeline_end(&a->p, STEP_OK, "%zu command%s in releases/%.7s",
	             m->nbuild, m->nbuild == 1 ? "" : "s", a->d->commit);
	return 0;
}

static void migrate_progress(const char *name, int64_t ms, void *arg)
{
	struct apply *a = arg;

	if (ms < 0) {
		/* Conservative: once a file may have committed, the record
		 * says migrations ran (the rollback's database half reads it).
		 */
		a->d->migrations_ran = true;
		pipeline_save(&a->p, NULL);
		return;
	}
	strv_push(&a->d->migrations, name);
	pipeline_line(&a->p, "applied %s in %lld ms", name, (long long)ms);
	pipeline_save(&a->p, NULL);
}

static int migrate_sql_dir(struct apply *a, char **detail, struct berr *err)
{
	const struct manifest_database *db = &a->t.m->db;
	struct migrate_opts mo;
	struct migrate_result res;
	struct pg_conn *c = NULL;
	const char *url = envctx_var(a->ctx, db->url_env);
	char *dir = fs_join(a->t.release_dir, db->sql_dir);
	size_t i;
	int rc = -1;

	memset(&res, 0, sizeof(res));
	if (url == NULL || url[0] == '\0') {
		berr_set(err, "%s is not set in the env file", db->url_env);
		goto out;
	}
	if (pg_connect(&c, url, APPLY_DB_CONNECT_S, err) != 0)
		goto out;
	memset(&mo, 0, sizeof(mo));
	mo.deployment_id = a->d->id;
	mo.lock_timeout_s = db->lock_timeout_s;
	mo.statement_timeout_s = db->statement_timeout_s;
	mo.lock_wait_s = APPLY_MIGRATE_LOCK_WAIT_S;
	mo.display_dir = db->sql_dir;
	mo.progress = migrate_progress;
	mo.arg = a;
	rc = migrate_apply(&res, c, dir, &mo, err);
	for (i = 0; i < res.plan.nmissing; i++)
		pipeline_line(&a->p,
		              "warning: %s was applied but is not in "
		              "this release",
		              res.plan.missing[i]);
	a->d->migrations_ran = res.napplied > 0;
	if (rc == 0 && res.napplied == 0)
		*detail = xasprintf("none pending (%zu applied before)",
		                    res.plan.napplied);
	else if (rc == 0)
		*detail = xasprintf("%zu applied", res.napplied);
	if (rc != 0)
		rc = -1;
out:
	migrate_result_release(&res);
	pg_close(c);
	free(dir);
	return rc;
}

static int migrate_command(struct apply *a, char **detail, struct berr *err)
{
	const struct strv *argv = &a->t.m->db.migrate_command;
	struct spawn_opts so = SPAWN_OPTS_INIT;
	struct spawn_result res;
	struct kvlist env;
	char *shown = driver_argv_str((const char *const *)argv->v, 120);
	int rc = -1;

	kvlist_init(&env);
	driver_env(&env, &a->ctx->vars, NULL);
	so.argv = (const char *const *)argv->v;
	so.env = &env;
	so.cwd = a->t.release_dir;
	so.on_line = pipeline_on_line;
	so.arg = &a->p;
	/* It may have changed the database, whatever its exit status. */
	a->d->migrations_ran = true;
	pipeline_save(&a->p, NULL);
	if (spawn_run(&res, &so, err) != 0) {
		berr_prefix(err, "migration command '%s'", shown);
	} else if (res.exit_code != 0 || res.timed_out) {
		char *how = spawn_describe_status(&res);

		berr_set(err, "migration command '%s' %s", shown, how);
		free(how);
	} else {
		*detail = xasprintf("'%s' ok", shown);
		rc = 0;
	}
	spawn_result_release(&res);
	kvlist_release(&env);
	free(shown);
	return rc;
}

/* 6. migrate */
static int step_migrate(struct apply *a)
{
	const struct manifest_database *db = &a->t.m->db;
	char *detail = NULL;
	struct berr err;
	int rc;

	if (begin(a, 6, "migrate") != 0)
		return -1;
	if (!db->present || db->migrations == MANIFEST_MIGRATIONS_NONE) {
		pipeline_end(&a->p, STEP_SKIPPED, "%s",
		             db->present ? "no migrations configured"
		                         : "no database in the manifest");
		return 0;
	}
	rc = db->migrations == MANIFEST_MIGRATIONS_SQL_DIR
	         ? migrate_sql_dir(a, &detail, &err)
	         : migrate_command(a, &detail, &err);
	pipeline_save(&a->p, NULL);
	if (rc != 0) {
		free(detail);
		return step_failed(a, 6, "migrate", &err);
	}
	pipeline_end(&a->p, STEP_OK, "%s", detail);
	free(detail);
	return 0;
}

/* 7. deploy: stop what runs, start the new release's services in
 * dependency order, each healthy before the next; then switch current. */
static int step_deploy(struct apply *a)
{
	const struct manifest *m = a->t.m;
	const struct driver_ops *old_ops = a->ops;
	struct manifest *from = NULL;
	struct merrs errs = {0};
	struct berr err;
	int rc = -1;

	if (begin(a, 7, "deploy") != 0)
		return -1;
	/* What runs now is stopped in its own manifest's order. */
	if (a->d->previous_commit[0] != '\0' &&
	    envctx_manifest(&from, a->ctx, a->d->previous_commit, &errs) == 0 &&
	    driver_for(from) != NULL)
		old_ops = driver_for(from);
	if (a->o->keep_in_place && old_ops == a->ops &&
	    strcmp(a->d->previous_commit, a->d->commit) == 0) {
		size_t restarted = 0;

		if (rollout_converge(&restarted, &a->p, a->ops, &a->dctx, m,
		                     a->t.release_dir, a->d->commit,
		                     &err) != 0 ||
		    state_set_current(&a->ctx->st, a->d->commit, a->d->id,
		                      &err) != 0) {
			step_failed(a, 7, "deploy", &err);
			goto out;
		}
		pipeline_end(&a->p, STEP_OK,
		             "%zu of %zu service%s restarted, all healthy; "
		             "current -> %.7s",
		             restarted, m->nservices,
		             m->nservices == 1 ? "" : "s", a->d->commit);
		rc = 0;
		goto out;
	}
	if (rollout_stop_all(&a->p, old_ops, &a->dctx, from, &err) != 0 ||
	    rollout_start_all(&a->p, a->ops, &a->dctx, m, a->t.release_dir,
	                      a->d->commit, &err) != 0 ||
	    state_set_current(&a->ctx->st, a->d->commit, a->d->id, &err) != 0) {
		step_failed(a, 7, "deploy", &err);
		goto out;
	}
	pipeline_end(&a->p, STEP_OK, "%zu service%s healthy; current -> %.7s",
	             m->nservices, m->nservices == 1 ? "" : "s", a->d->commit);
	rc = 0;
out:
	manifest_free(from);
	merrs_release(&errs);
	return rc;
}

/* 8. smoke */
static int step_smoke(struct apply *a)
{
	char *summary = NULL;
	struct berr err;
	int rc = 0;

	if (begin(a, 8, "smoke") != 0)
		return -1;
	if (a->t.m->nsmoke == 0) {
		pipeline_end(&a->p, STEP_SKIPPED, "no smoke tests");
		return 0;
	}
	if (rollout_smoke(&summary, &a->p, a->t.m) != 0) {
		berr_set(&err, "%s", summary);
		rc = step_failed(a, 8, "smoke", &err);
	} else {
		pipeline_end(&a->p, STEP_OK, "%s", summary);
	}
	free(summary);
	return rc;
}

/* What the driver keeps for releases (compose: images, override files)
 * goes with their release directories; said in b. A failure is only
 * reported. */
static void cleanup_driver(struct buf *b, struct apply *a,
                           const struct strv *left, const struct strv *protect)
{
	struct strv keep = {0}, removed = {0};
	struct berr err;
	size_t i;

	if (a->ops == NULL || a->ops->cleanup == NULL)
		return;
	for (i = 0; i < left->n; i++)
		strv_push(&keep, left->v[i]);
	for (i = 0; i < protect->n; i++)
		if (!strv_contains(&keep, protect->v[i]))
			strv_push(&keep, protect->v[i]);
	if (a->ops->cleanup(&removed, &a->dctx, a->t.m, &keep, &err) != 0)
		buf_printf(b, "; %s driver: %s", a->ops->name, err.msg);
	else if (removed.n > 0)
		buf_printf(b, "; %s: %zu removed", a->ops->name, removed.n);
	strv_release(&removed);
	strv_release(&keep);
}

/* 9. cleanup: keep the last releases.keep releases, never the one that
 * serves, the one that served before, or the last good one. Its failure
 * is reported, never the deployment's. */
static void step_cleanup(struct apply *a)
{
	struct release_prune_report rep;
	struct strv protect = {0};
	struct deployment good;
	struct berr err;
	struct buf b;
	size_t i;

	if (begin(a, 9, "cleanup") != 0)
		return;
	strv_push(&protect, a->d->commit);
	if (a->d->previous_commit[0] != '\0')
		strv_push(&protect, a->d->previous_commit);
	if (state_last_good(&a->ctx->st, a->d->id, &good, &err) == 0)
		strv_push(&protect, good.commit);
	deployment_release(&good);
	if (release_prune(&rep, a->ctx, a->t.m->releases_keep, &protect,
	                  &err) != 0) {
		pipeline_end(&a->p, STEP_FAILED, "%s", err.msg);
	} else {
		buf_init(&b, 0);
		buf_printf(&b, "%zu release%s kept", rep.kept,
		           rep.kept == 1 ? "" : "s");
		for (i = 0; i < rep.removed.n; i++)
			buf_printf(&b, "%s%.7s", i ? ", " : "; removed ",
			           rep.removed.v[i]);
		if (rep.leftovers > 0)
			buf_printf(&b, "; %zu leftover export%s removed",
			           rep.leftovers,
			           rep.leftovers == 1 ? "" : "s");
		cleanup_driver(&b, a, &rep.left, &protect);
		pipeline_end(&a->p, STEP_OK, "%s", buf_str(&b));
		buf_release(&b);
	}
	release_prune_report_release(&rep);
	strv_release(&protect);
}

/* Failure at migrate, deploy or smoke: the last good release goes back
 * (rollback.automatic), and the final status says how that went. */
static enum deploy_status roll_back(struct apply *a)
{
	struct berr err;
	int rc;

	if (!a->t.m->rollback_automatic)
		return DEPLOY_FAILED;
	rc = rollback_run(&a->p, a->t.m, &err);
	if (rc == 0)
		return DEPLOY_ROLLED_BACK;
	if (rc == BERTH_ENOTFOUND)
		return DEPLOY_FAILED;
	snprintf(a->why + strlen(a->why), sizeof(a->why) - strlen(a->why),
	         "; the rollback failed too: %s", err.msg);
	return DEPLOY_ROLLBACK_FAILED;
}

/* The record's error: the step that failed and why. */
static void record_error(struct apply *a, enum deploy_status st)
{
	char *e = NULL;

	if (st != DEPLOY_SUCCEEDED)
		e = xasprintf("%s: %s", a->failed_step, a->why);
	deployment_set(&a->d->error, e);
	free(e);
}

/* The last line for people; rolled_to is the commit that serves again
 * after a rollback. */
static void summarise(struct apply *a, enum deploy_status st,
                      const char *rolled_to)
{
	struct deployment *d = a->d;
	const char *env = d->env;
	double secs = (double)(strnum_mono_ms() - a->t0) / 1000.0;

	switch (st) {
	case DEPLOY_SUCCEEDED:
		pipeline_say(&a->p,
		             "deployed %.7s to %s in %.1f s (deployment "
		             "%lld)",
		             d->commit, env, secs, (long long)d->id);
		break;
	case DEPLOY_ROLLED_BACK:
		pipeline_say(&a->p, "rolled back to %.7s: %s",
		             rolled_to ? rolled_to : "the last good release",
		             a->why);
		break;
	case DEPLOY_ROLLBACK_FAILED:
		pipeline_say(&a->p,
		             "deployment %lld failed at %s: %s; %s is "
		             "frozen until 'berth resume %s'",
		             (long long)d->id, a->failed_step, a->why, env,
		             env);
		break;
	default:
		if (a->failed_at < 6)
			pipeline_say(&a->p,
			             "deployment %lld failed at %s: %s; "
			             "nothing changed",
			             (long long)d->id, a->failed_step, a->why);
		else if (!a->t.m->rollback_automatic)
			pipeline_say(&a->p,
			             "deployment %lld failed at %s: %s; "
			             "rollback.automatic is false: left "
			             "as it is (see 'berth status %s')",
			             (long long)d->id, a->failed_step, a->why,
			             env);
		else
			pipeline_say(&a->p,
			             "deployment %lld failed at %s: %s; "
			             "no earlier deployment to put "
			             "back: nothing runs",
			             (long long)d->id, a->failed_step, a->why);
		break;
	}
}

/* Steps 2 to 8. Returns the final status. */
static enum deploy_status run_steps(struct apply *a)
{
	if (step_validate(a) != 0 || step_backup(a) != 0 ||
	    step_fetch(a) != 0 || step_build(a) != 0)
		return DEPLOY_FAILED;
	if (stopping(a)) {
		fail(a, 5, "build", "berth was asked to stop (signal)");
		return DEPLOY_FAILED;
	}
	/* From here on, what runs changes: a failure rolls back. */
	if (step_migrate(a) != 0 || step_deploy(a) != 0)
		return roll_back(a);
	if (stopping(a)) {
		fail(a, 7, "deploy", "berth was asked to stop (signal)");
		return roll_back(a);
	}
	if (step_smoke(a) != 0)
		return roll_back(a);
	return DEPLOY_SUCCEEDED;
}

int apply_run(struct deployment *out, struct envctx *ctx,
              const struct apply_opts *o, struct berr *err)
{
	struct apply a;
	enum deploy_status st;
	int64_t lock_ms = strnum_now_ms();
	char *rolled_to = NULL;
	int rc;

	memset(&a, 0, sizeof(a));
	deployment_init(out);
	a.ctx = ctx;
	a.o = o;
	a.d = out;
	a.lock_fd = -1;
	a.t0 = strnum_mono_ms();
	deployment_set(&out->trigger, o->trigger ? o->trigger : "cli");
	if (!apply_trigger_ok(out->trigger))
		return berr_set(err, "invalid trigger '%s'", out->trigger);
	pipeline_init(&a.p, ctx, out, o->out);
	rc = take_lock(&a, err);
	if (rc != 0)
		goto out;
	if (open_record(&a, lock_ms, err) != 0) {
		rc = -1;
		goto out;
	}
	st = run_steps(&a);
	if (st == DEPLOY_SUCCEEDED)
		step_cleanup(&a);
	if (st == DEPLOY_ROLLED_BACK && out->rollback_to > 0) {
		struct deployment good;
		struct berr e;

		if (state_load_deployment(&ctx->st, out->rollback_to, &good,
		                          &e) == 0)
			rolled_to = xstrdup(good.commit);
		deployment_release(&good);
	}
	record_error(&a, st);
	pipeline_notify(&a.p, a.t.m, st, strnum_mono_ms() - a.t0);
	/* 11. unlock: the final status is written before the lock goes, so
	 * that a running record with a free lock always means a crash. */
	pipeline_begin(&a.p, 11, "unlock", NULL);
	out->status = st;
	out->finished_at = strnum_now_ms() / 1000;
	pipeline_end(&a.p, STEP_OK, "released");
	lock_release(a.lock_fd);
	a.lock_fd = -1;
	summarise(&a, st, rolled_to);
	rc = st == DEPLOY_SUCCEEDED ? 0 : -1;
out:
	lock_release(a.lock_fd);
	preflight_release(&a.t);
	pipeline_release(&a.p);
	free(rolled_to);
	return rc;
}
