/*
 * cmd_plan.c — `berth plan ENV [--commit REV] [--json]`: fetch, then show what
 * apply would change. Exit 0 in sync, 2 changes, 1 error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "berth.h"

static const struct cli_opt opts[] = {
	{"commit", "REV", "plan for REV (branch, tag or sha) instead of the branch head"},
	{"json", NULL, "print one JSON document instead of text"},
	{"no-fetch", NULL, "use the mirror as it is, without fetching"},
	{NULL, NULL, NULL},
};

static int run(struct cli *cli)
{
	const char *env = cli_env(cli);
	const char *rev = cli_value(cli, "commit");
	bool json = cli_flag(cli, "json");
	struct envctx ctx;
	struct envctx_fetch_report rep;
	struct merrs errs = {0};
	struct plan p;
	struct berr err;
	struct git_mirror *gm;
	char sha[41];
	int status = EXIT_FAILED, rc;
	size_t i;

	memset(&p, 0, sizeof(p));
	memset(&rep, 0, sizeof(rep));
	if (recover_open(&ctx, cli->config_path, env, &errs) != 0) {
		config_print_errors(&errs, stderr);
		goto out;
	}
	if (!cli_flag(cli, "no-fetch")) {
		if (envctx_fetch(&ctx, &rep, &err) != 0) {
			fprintf(stderr, "berth: %s\n", err.msg);
			goto out;
		}
		if (!json) {
			char *url = envctx_repo_display(&ctx);

			printf("fetched %s in %lld ms\n", url, (long long)rep.ms);
			fflush(stdout);
			free(url);
		}
		for (i = 0; i < rep.forced.n; i++)
			fprintf(stderr, "berth: warning: %s\n", rep.forced.v[i]);
	} else if (envctx_git(&ctx, &gm, &err) != 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		goto out;
	}
	gm = ctx.git;
	rc = git_mirror_resolve(gm, rev ? rev : ctx.env->branch, sha, &err);
	if (rc != 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		goto out;
	}
	if (plan_build(&p, &ctx, sha, &errs) != 0) {
		config_print_errors(&errs, stderr);
		goto out;
	}
	if (json) {
		json_t *o = plan_to_json(&p, env);

		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
	} else {
		plan_print(&p, env, stdout);
	}
	status = p.errors > 0 ? EXIT_FAILED : p.in_sync ? EXIT_OK : EXIT_CHANGES;
out:
	plan_release(&p);
	strv_release(&rep.updates);
	strv_release(&rep.forced);
	merrs_release(&errs);
	envctx_close(&ctx);
	return status;
}

const struct cli_cmd cmd_plan = {
	.name = "plan",
	.args = "[ENV]",
	.summary = "fetch, then show what apply would change",
	.opts = opts,
	.min_args = 0,
	.max_args = 1,
	.run = run,
};
