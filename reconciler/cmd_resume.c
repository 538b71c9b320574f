/*
 * cmd_resume.c — `berth resume ENV`: lifts the freeze a failed rollback
 * left (SPEC §5), so that deployments may run again. Recorded in history
 * as kind "resume".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth.h"

static int run(struct cli *cli)
{
	const char *env = cli_env(cli);
	struct lock_holder me, holder;
	struct deployment d;
	struct merrs errs = {0};
	struct envctx ctx;
	struct berr err;
	char *path = NULL, *reason = NULL, *detail = NULL;
	int status = EXIT_FAILED, fd = -1, rc;

	deployment_init(&d);
	if (recover_open(&ctx, cli->config_path, env, &errs) != 0) {
		config_print_errors(&errs, stderr);
		goto out;
	}
	/* Under the lock, so that no deployment starts half-way through. */
	memset(&me, 0, sizeof(me));
	me.pid = (int)getpid();
	me.started_at = strnum_now_ms() / 1000;
	snprintf(me.trigger, sizeof(me.trigger), "resume");
	path = state_path(&ctx.st, "lock");
	rc = lock_acquire(&fd, path, &me, &holder, &err);
	if (rc != 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		status = rc == BERTH_ELOCKED ? EXIT_LOCKED : EXIT_FAILED;
		goto out;
	}
	if (state_frozen(&ctx.st, &reason) == 0) {
		printf("%s is not frozen; nothing to do\n", env);
		status = EXIT_OK;
		goto out;
	}
	if (state_unfreeze(&ctx.st, &err) < 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		goto out;
	}
	detail = xasprintf("lifted the freeze: %s", reason);
	if (pipeline_record_action(&d, &ctx, DEPLOY_KIND_RESUME, detail,
	                           &err) != 0)
		fprintf(stderr, "berth: warning: %s\n", err.msg);
	printf("%s resumed: deployments may run again (it was frozen: %s)\n",
	       env, reason);
	status = EXIT_OK;
out:
	lock_release(fd);
	free(detail);
	free(reason);
	free(path);
	deployment_release(&d);
	merrs_release(&errs);
	envctx_close(&ctx);
	return status;
}

const struct cli_cmd cmd_resume = {
    .name = "resume",
    .args = "[ENV]",
    .summary = "lift the freeze a failed rollback left",
    .opts = NULL,
    .min_args = 0,
    .max_args = 1,
    .run = run,
};
