/*
 * sched_backup.c — the scheduled backup (SPEC §9; docs/drift.md): at
 * database.backup.schedule the daemon has one taken (kind "scheduled"),
 * verified as database.backup.verify says, and the backup directory pruned
 * to the retention windows, the paired backups of the running and the last
 * good deployments always kept. A failure is notified. The last run is
 * remembered in envs/<env>/schedule.json, so that a daemon started after a
 * slot takes the one backup it missed, and no more.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "berth.h"

void sched_backup_release(struct sched_backup *b)
{
	if (b == NULL)
		return;
	backup_info_release(&b->info);
	free(b->error);
	free(b->prune_error);
	backup_pruned_free(b->pruned, b->npruned);
	memset(b, 0, sizeof(*b));
}

/* The paired backups of the running deployment and of the last two good
 * ones (the one a rollback would put back), NULL-terminated in *out. */
static void protected_backups(struct strv *out, struct state *st)
{
	struct deployment d;
	struct berr err;
	int64_t id = 0, before = 0;
	char commit[41];
	int i;

	deployment_init(&d);
	if (state_get_current(st, commit, &id, &err) == 0 &&
	    state_load_deployment(st, id, &d, &err) == 0 && d.backup != NULL)
		strv_push(out, d.backup);
	deployment_release(&d);
	for (i = 0; i < 2; i++) {
		if (state_last_good(st, before, &d, &err) != 0) {
			deployment_release(&d);
			break;
		}
		if (d.backup != NULL)
			strv_push(out, d.backup);
		before = d.id;
		deployment_release(&d);
	}
}

/* Tells every notifier that the scheduled backup failed. */
static size_t notify_failure(struct envctx *ctx, const struct manifest *m,
                             const char *commit, const char *error)
{
	struct notify_target *targets = NULL;
	struct buf *bufs = NULL;
	size_t n, i, sent = 0;
	char when[32];

	strnum_iso8601(when, strnum_now_ms() / 1000);
	n = pipeline_notify_targets(&targets, &bufs, ctx, m);
	for (i = 0; i < n; i++) {
		struct notify_result res;
		json_t *o;
		char *body, *line;

		if (targets[i].type == MANIFEST_NOTIFY_SLACK) {
			struct buf b;

			buf_init(&b, 0);
			buf_putc(&b, '[');
			notify_slack_escape(&b, ctx->env->name);
			buf_puts(&b, "] scheduled backup failed: ");
			notify_slack_escape(&b, error);
			o = json_pack("{s:s}", "text", buf_str(&b));
			buf_release(&b);
		} else {
			o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:s}",
			              "event", "backup", "env", ctx->env->name,
			              "kind", "scheduled", "status", "failed",
			              "commit", commit[0] ? commit : NULL,
			              "error", error, "at", when);
		}
		body = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		if (body == NULL)
			fatal("cannot serialise a backup notification");
		if (notify_send_body(&res, &targets[i], body, NULL) == 0)
			sent++;
		line = notify_describe_result(&res);
		log_info("msg=\"backup notification\" env=%s result=\"%s\"",
		         ctx->env->name, line);
		free(line);
		notify_result_release(&res);
		free(body);
	}
	pipeline_notify_targets_free(targets, bufs, n);
	return sent;
}

/* Dump, verify, prune. Returns 0 or -1 (out->error). */
static int take(struct sched_backup *out, struct envctx *ctx,
                const struct manifest *m, const char *commit, int64_t now)
{
	const struct manifest_database *db = &m->db;
	const char *url = envctx_var(ctx, db->url_env);
	struct backup_create_opts bo;
	struct backup_prune_opts po;
	struct backup_info checked;
	struct strv protect = {0};
	struct pgtool tool;
	struct kvlist env;
	struct berr err;
	char *dir = backup_dir(ctx->st.env_dir, db->backup_dir);
	int rc = -1;

	memset(&checked, 0, sizeof(checked));
	kvlist_init(&env);
	if (url == NULL || url[0] == '\0') {
		out->error =
		    xasprintf("%s is not set in the env file", db->url_env);
		goto out;
	}
	driver_env(&env, &ctx->vars, NULL);
	memset(&tool, 0, sizeof(tool));
	tool.url = url;
	tool.env = &env;
	memset(&bo, 0, sizeof(bo));
	bo.dir = dir;
	bo.format = db->backup_format;
	bo.kind = BACKUP_SCHEDULED;
	bo.commit = commit[0] ? commit : NULL;
	bo.env = ctx->env->name;
	bo.now = now;
	if (backup_create(&out->info, &tool, &bo, &err) != 0) {
		out->error = xstrdup(err.msg);
		goto out;
	}
	out->taken = true;
	if (db->backup_verify != MANIFEST_VERIFY_NONE) {
		if (backup_verify(&checked, &tool, out->info.path,
		                  db->backup_verify, &err) != 0) {
			out->error = xasprintf("%s does not verify: %s",
			                       out->info.file, err.msg);
			goto out;
		}
		out->verified = true;
	}
	protected_backups(&protect, &ctx->st);
	memset(&po, 0, sizeof(po));
	po.dir = dir;
	po.keep.daily = db->retention_daily;
	po.keep.weekly = db->retention_weekly;
	po.keep.monthly = db->retention_monthly;
	po.protect = (const char *const *)protect.v;
	po.now = now;
	if (backup_prune(&out->pruned, &out->npruned, &po, &err) != 0)
		out->prune_error = xstrdup(err.msg); /* the backup is fine */
	rc = 0;
out:
	strv_release(&protect);
	backup_info_release(&checked);
	kvlist_release(&env);
	free(dir);
	return rc;
}

/* Remembers the run in schedule.json (the daemon reads it at start). */
static void remember(struct envctx *ctx, const struct sched_backup *b,
                     int64_t started)
{
	char *path = state_path(&ctx->st, SCHED_STATE_FILE);
	char at[32];
	json_t *o;
	char *text;
	struct berr err;

	strnum_iso8601(at, started);
	o = json_pack("{s:i, s:{s:s, s:b, s:s?, s:s?}}", "version", 1, "backup",
	              "at", at, "ok", b->error == NULL, "file",
	              b->taken ? b->info.file : NULL, "error", b->error);
	text =
	    o != NULL ? json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(o);
	if (text == NULL)
		fatal("cannot serialise the schedule state");
	if (fs_write_atomic(path, text, strlen(text), 0640, &err) != 0)
		log_warn("msg=\"cannot remember the scheduled backup\" "
		         "error=\"%s\"",
		         err.msg);
	free(text);
	free(path);
}

int sched_backup_last(int64_t *at, struct state *st, struct berr *err)
{
	char *path = state_path(st, SCHED_STATE_FILE);
	json_t *root = NULL;
	const char *s;
	struct buf text;
	int rc;

	*at = 0;
	buf_init(&text, 0);
	rc = fs_read_file(&text, path, (size_t)1 << 16, err);
	if (rc != 0)
		goto out;
	root = json_loadb(buf_str(&text), text.len, 0, NULL);
	s = json_string_value(
	    json_object_get(json_object_get(root, "backup"), "at"));
	if (s == NULL || strnum_parse_iso8601(at, s) != 0)
		rc = berr_set(err,
		              "cannot read '%s': $.backup.at: expected "
		              "a time",
		              path);
out:
	if (root != NULL)
		json_decref(root);
	buf_release(&text);
	free(path);
	return rc;
}

int sched_backup_run(struct sched_backup *out, struct envctx *ctx,
                     struct berr *err)
{
	struct lock_holder me, holder;
	struct merrs errs = {0};
	struct manifest *m = NULL;
	char commit[41] = "", *lock_path = NULL, who[320];
	int64_t id, started = sched_now();
	int fd = -1, rc;

	memset(out, 0, sizeof(*out));
	rc = state_get_current(&ctx->st, commit, &id, err);
	if (rc == BERTH_ENOTFOUND)
		berr_set(err, "nothing deployed yet: no manifest says what to "
		              "back up");
	if (rc != 0)
		goto out;
	if (envctx_manifest(&m, ctx, commit, &errs) != 0) {
		rc = berr_set(err, "%s",
		              errs.n ? errs.items[0]
		                     : "the deployed manifest cannot be read");
		goto out;
	}
	if (!m->db.present || m->db.backup_schedule == NULL) {
		berr_set(err, "the deployed manifest has no "
		              "database.backup.schedule");
		rc = BERTH_ENOTFOUND;
		goto out;
	}
	/* A dump and a migration must not meet: the lock keeps deployments
	 * out while the backup runs, and the backup out of a deployment. */
	memset(&me, 0, sizeof(me));
	me.pid = (int)getpid();
	me.started_at = strnum_now_ms() / 1000;
	snprintf(me.trigger, sizeof(me.trigger), "scheduled backup");
	lock_path = state_path(&ctx->st, "lock");
	rc = lock_acquire(&fd, lock_path, &me, &holder, err);
	if (rc == BERTH_ELOCKED) {
		lock_describe(who, sizeof(who), &holder);
		berr_set(err, "%s is locked (%s): the scheduled backup waits",
		         ctx->env->name, who);
	}
	if (rc != 0)
		goto out;
	rc = take(out, ctx, m, commit, started);
	lock_release(fd);
	fd = -1;
	remember(ctx, out, started);
	if (rc != 0) {
		out->notified = notify_failure(ctx, m, commit, out->error);
		berr_set(err, "scheduled backup of %s failed: %s",
		         ctx->env->name, out->error);
	}
out:
	lock_release(fd);
	free(lock_path);
	manifest_free(m);
	merrs_release(&errs);
	return rc;
}

struct json_t *sched_backup_to_json(const struct sched_backup *b,
                                    const char *env)
{
	json_t *o = json_object(), *pruned = json_array();
	size_t i;

	json_object_set_new(o, "env", json_string(env));
	json_object_set_new(o, "ok", json_boolean(b->error == NULL));
	json_object_set_new(o, "file",
	                    b->taken ? json_string(b->info.file) : json_null());
	json_object_set_new(
	    o, "size", b->taken ? json_integer(b->info.size) : json_null());
	json_object_set_new(o, "verified", json_boolean(b->verified));
	json_object_set_new(o, "error",
	                    b->error ? json_string(b->error) : json_null());
	for (i = 0; i < b->npruned; i++)
		json_array_append_new(pruned,
		                      json_pack("{s:s, s:b, s:s}", "file",
		                                b->pruned[i].file, "removed",
		                                b->pruned[i].removed, "reason",
		                                b->pruned[i].reason));
	json_object_set_new(o, "pruned", pruned);
	json_object_set_new(o, "prune_error",
	                    b->prune_error ? json_string(b->prune_error)
	                                   : json_null());
	json_object_set_new(o, "notified",
	                    json_integer((json_int_t)b->notified));
	return o;
}
