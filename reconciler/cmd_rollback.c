/*
 * cmd_rollback.c — `berth rollback ENV [--to DEPLOYMENT|COMMIT] [--backup
 * FILE] [--code-only] [--yes] [--json] [--trigger TRIGGER]`: puts an
 * earlier deployment back, code and database together (SPEC §6,
 * docs/backups.md), through the deploy pipeline; recorded as kind
 * "rollback".
 */
#include <stdio.h>
#include <string.h>

#include "berth.h"

static const struct cli_opt opts[] = {
    {"to", "DEPLOYMENT|COMMIT",
     "the deployment (id) or commit to put back; default: the last good "
     "deployment before the current one"},
    {"backup", "FILE",
     "restore FILE (a path, or a backup's name) instead of the paired "
     "backup berth finds"},
    {"code-only", NULL, "put the code back; leave the database as it is"},
    {"yes", NULL,
     "restore even when rows written since the backup would be discarded "
     "(they stay in the safety backup)"},
    {"json", NULL, "print the deployment record as JSON instead of progress"},
    {"trigger", "TRIGGER", "what started it: cli (default) or api"},
    {NULL, NULL, NULL},
};

static int run(struct cli *cli)
{
	const char *env = cli_env(cli);
	struct apply_opts o;
	struct merrs errs = {0};
	struct envctx ctx;
	int status = EXIT_FAILED;

	memset(&o, 0, sizeof(o));
	o.kind = DEPLOY_KIND_ROLLBACK;
	o.to = cli_value(cli, "to");
	o.backup = cli_value(cli, "backup");
	o.code_only = cli_flag(cli, "code-only");
	o.trigger = cli_value(cli, "trigger");
	o.ask = cmd_apply_ask(cli_flag(cli, "yes"), true);
	if (o.backup != NULL && o.code_only) {
		fprintf(stderr, "berth: rollback: --backup and --code-only "
		                "exclude each other\n");
		return EXIT_USAGE;
	}
	if (o.trigger != NULL && strcmp(o.trigger, "cli") != 0 &&
	    strcmp(o.trigger, "api") != 0) {
		fprintf(stderr,
		        "berth: rollback: invalid --trigger '%s' (expected "
		        "cli or api)\n",
		        o.trigger);
		return EXIT_USAGE;
	}
	if (recover_open(&ctx, cli->config_path, env, &errs) != 0) {
		config_print_errors(&errs, stderr);
		goto out;
	}
	status = cmd_apply_pipeline(&ctx, &o, cli_flag(cli, "json"));
out:
	merrs_release(&errs);
	envctx_close(&ctx);
	return status;
}

const struct cli_cmd cmd_rollback = {
    .name = "rollback",
    .args = "[ENV]",
    .summary = "put an earlier deployment back, its database with it",
    .opts = opts,
    .min_args = 0,
    .max_args = 1,
    .run = run,
};
