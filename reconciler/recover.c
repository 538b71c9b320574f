/*
 * recover.c — deployments interrupted by a crash or kill -9 (SPEC §5):
 * found by the next berth command that touches the environment, rolled back
 * the way a failed deployment is, and marked `interrupted`, before that
 * command does anything else. No deployment stays `running` forever.
 *
 * A record still `running` belongs to an interrupted deployment only when
 * the environment's lock is free: the lock dies with its holder, and a
 * deployment always writes its final status before releasing it. The check
 * is cheap when there is nothing to do (status is read a lot): the lock is
 * tested without being taken, then a killed holder shows in one of two
 * ways, its description left in the lock file (a normal release clears it)
 * or the newest record still `running`; only then is the journal scanned.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth.h"

/* Whether an interrupted deployment may be waiting, without taking the
 * lock. Errors count as "maybe": the full check decides. */
static bool may_need_recovery(struct envctx *ctx)
{
	char *path = state_path(&ctx->st, "lock");
	struct deployment d;
	struct berr err;
	struct stat sb;
	bool locked = false, maybe;
	int rc;

	if (lock_peek(&locked, NULL, path, &err) == 0 && locked) {
		free(path);
		return false; /* a live process is deploying */
	}
	maybe = stat(path, &sb) == 0 && sb.st_size > 0;
	free(path);
	if (maybe)
		return true;
	rc = state_latest(&ctx->st, &d, &err);
	maybe = rc == -1 || (rc == 0 && d.status == DEPLOY_RUNNING);
	deployment_release(&d);
	return maybe;
}

/* The step that was running when the deployment stopped ("" if none). */
static const char *running_step(const struct deployment *d)
{
	size_t i;

	for (i = d->nsteps; i-- > 0;)
		if (d->steps[i].status == STEP_RUNNING)
			return d->steps[i].name;
	return "";
}

/* Marks every step still running as failed: it never finished. */
static void close_steps(struct deployment *d)
{
	size_t i;

	for (i = 0; i < d->nsteps; i++) {
		if (d->steps[i].status != STEP_RUNNING)
			continue;
		d->steps[i].status = STEP_FAILED;
		d->steps[i].finished_ms = strnum_now_ms();
		deployment_set(&d->steps[i].detail,
		               "interrupted: berth was killed");
	}
}

/* Recovers one interrupted deployment; rolls back when put_back (the
 * newest one), else only records it. Holds the lock (fd). */
static void recover_one(struct envctx *ctx, struct deployment *d, int fd,
                        bool put_back, void *out)
{
	struct lock_holder me;
	struct manifest *m = NULL;
	struct merrs errs = {0};
	struct pipeline p;
	struct berr err;
	char step[64], who[96], *e;
	int rc = 0;

	memset(&me, 0, sizeof(me));
	me.pid = (int)getpid();
	me.deployment_id = d->id;
	me.started_at = strnum_now_ms() / 1000;
	snprintf(me.trigger, sizeof(me.trigger), "recover");
	if (lock_update(fd, &me, &err) != 0)
		log_warn("msg=\"cannot describe the lock holder\"");
	snprintf(step, sizeof(step), "%s", running_step(d));
	if (d->pid > 0 && kill(d->pid, 0) != 0 && errno == ESRCH)
		snprintf(who, sizeof(who), "its berth process, pid %d, is gone",
		         d->pid);
	else
		snprintf(who, sizeof(who),
		         "its berth process no longer holds "
		         "the lock");
	pipeline_init(&p, ctx, d, out);
	pipeline_say(&p,
	             "berth: deployment %lld of %s (%.7s) was interrupted "
	             "during '%s' (%s): %s",
	             (long long)d->id, d->env, d->commit[0] ? d->commit : "-",
	             step[0] ? step : "?", who,
	             put_back ? "rolling back" : "recording it");
	close_steps(d);
	pipeline_save(&p, NULL);
	if (d->commit[0] != '\0')
		envctx_manifest(&m, ctx, d->commit, &errs);
	if (put_back)
		rc = rollback_run(&p, m, &err);
	d->status = rc == -1 ? DEPLOY_ROLLBACK_FAILED : DEPLOY_INTERRUPTED;
	d->finished_at = strnum_now_ms() / 1000;
	if (!put_back)
		e = xstrdup(
		    "interrupted (a newer deployment was interrupted "
		    "too; its recovery put back the last good release)");
	else if (rc == -1)
		e = xasprintf("interrupted during '%s'; rollback failed: %s",
		              step, err.msg);
	else if (rc == BERTH_ENOTFOUND)
		e = xasprintf("interrupted during '%s'; no earlier deployment "
		              "to put back",
		              step);
	else
		e = xasprintf("interrupted during '%s'; rolled back to "
		              "deployment %lld",
		              step, (long long)d->rollback_to);
	deployment_set(&d->error, e);
	free(e);
	if (put_back)
		pipeline_notify(&p, m, d->status,
		                (d->finished_at - d->started_at) * 1000);
	pipeline_save(&p, NULL);
	if (rc == -1)
		pipeline_say(&p,
		             "berth: deployment %lld: rollback failed: %s; "
		             "%s is frozen until 'berth resume %s'",
		             (long long)d->id, err.msg, d->env, d->env);
	else if (put_back)
		pipeline_say(&p, "berth: deployment %lld marked interrupted%s",
		             (long long)d->id,
		             rc == 0 ? "; the last good release serves"
		                     : "; nothing runs");
	pipeline_release(&p);
	manifest_free(m);
	merrs_release(&errs);
}

int recover_env(struct envctx *ctx, int lock_fd, void *out, struct berr *err)
{
	struct deployment *list = NULL;
	struct lock_holder me;
	char *path = NULL;
	size_t n = 0, i;
	int fd = lock_fd, rc = -1;

	if (lock_fd < 0 && !may_need_recovery(ctx))
		return 0;
	if (lock_fd < 0) {
		memset(&me, 0, sizeof(me));
		me.pid = (int)getpid();
		me.started_at = strnum_now_ms() / 1000;
		snprintf(me.trigger, sizeof(me.trigger), "recover");
		path = state_path(&ctx->st, "lock");
		rc = lock_acquire(&fd, path, &me, NULL, err);
		free(path);
		if (rc == BERTH_ELOCKED)
			return 0; /* someone else deploys or recovers */
		if (rc != 0)
			return -1;
	}
	rc = state_find_running(&ctx->st, &list, &n, err);
	for (i = 0; rc == 0 && i < n; i++)
		recover_one(ctx, &list[i], fd, i == 0, out);
	if (rc == 0)
		rc = (int)n;
	state_history_free(list, n);
	if (lock_fd < 0)
		lock_release(fd);
	return rc;
}

int recover_open(struct envctx *ctx, const char *config_path,
                 const char *env_name, struct merrs *errs)
{
	struct berr err;

	if (envctx_open(ctx, config_path, env_name, errs) != 0)
		return -1;
	if (recover_env(ctx, -1, stderr, &err) < 0)
		fprintf(stderr,
		        "berth: cannot recover interrupted deployments "
		        "of '%s': %s\n",
		        env_name, err.msg);
	return 0;
}
