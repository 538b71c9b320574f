/*
 * cmd_unlock.c — `berth unlock ENV`: clears what a killed deployment left in
 * the lock file. A lock held by a live process is never broken (exit 75):
 * stop that process instead. Recorded in history as kind "unlock".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

static int run(struct cli *cli)
{
	const char *env = cli_env(cli);
	struct lock_holder holder;
	struct deployment d;
	struct merrs errs = {0};
	struct envctx ctx;
	struct berr err;
	char *path = NULL, *detail = NULL, who[320];
	bool cleared = false;
	int status = EXIT_FAILED, rc;

	deployment_init(&d);
	if (recover_open(&ctx, cli->config_path, env, &errs) != 0) {
		config_print_errors(&errs, stderr);
		goto out;
	}
	path = state_path(&ctx.st, "lock");
	rc = lock_clear(&cleared, &holder, path, &err);
	if (rc == BERTH_ELOCKED) {
		lock_describe(who, sizeof(who), &holder);
		fprintf(stderr,
		        "berth: cannot unlock %s: it is held by %s, which "
		        "is alive. A lock dies with its holder: stop that "
		        "process ('kill %d' lets it roll back)\n",
		        env, who, holder.pid);
		status = EXIT_LOCKED;
		goto out;
	}
	if (rc != 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		goto out;
	}
	if (cleared) {
		lock_describe(who, sizeof(who), &holder);
		detail =
		    xasprintf("cleared what %s left in the lock file", who);
	} else {
		detail = xstrdup("the lock was free; nothing to clear");
	}
	if (pipeline_record_action(&d, &ctx, DEPLOY_KIND_UNLOCK, detail,
	                           &err) != 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		goto out;
	}
	printf("%s: %s (recorded as %lld)\n", env, detail, (long long)d.id);
	status = EXIT_OK;
out:
	free(detail);
	free(path);
	deployment_release(&d);
	merrs_release(&errs);
	envctx_close(&ctx);
	return status;
}

const struct cli_cmd cmd_unlock = {
    .name = "unlock",
    .args = "[ENV]",
    .summary = "clear a lock left by a killed deployment (never a live one)",
    .opts = NULL,
    .min_args = 0,
    .max_args = 1,
    .run = run,
};
