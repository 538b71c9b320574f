/*
 * cmd_history.c — `berth history ENV [--limit N] [--json]`: deployments,
 * newest first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "berth.h"

static const struct cli_opt opts[] = {
	{"limit", "N", "show at most N deployments (default 20; 0: all)"},
	{"json", NULL, "print one JSON document instead of text"},
	{NULL, NULL, NULL},
};

static void print_table(const char *env, const struct deployment *d, size_t n)
{
	size_t i;

	if (n == 0) {
		printf("%s: nothing deployed yet (no deployments recorded)\n", env);
		return;
	}
	printf("%-5s %-16s %-8s %-20s %9s  %s\n", "ID", "STATUS", "COMMIT",
	       "STARTED", "DURATION", "TRIGGER");
	for (i = 0; i < n; i++) {
		char started[32], dur[32];

		strnum_iso8601(started, d[i].started_at);
		if (d[i].finished_at > 0)
			snprintf(dur, sizeof(dur), "%lld s",
				 (long long)(d[i].finished_at - d[i].started_at));
		else
			snprintf(dur, sizeof(dur), "-");
		printf("%-5lld %-16s %-8.7s %-20s %9s  %s%s%s\n",
		       (long long)d[i].id, deploy_status_name(d[i].status),
		       d[i].commit[0] ? d[i].commit : "-", started, dur,
		       d[i].trigger ? d[i].trigger : "-",
		       d[i].kind && strcmp(d[i].kind, "deploy") != 0 ? " " : "",
		       d[i].kind && strcmp(d[i].kind, "deploy") != 0 ? d[i].kind : "");
		if (d[i].error != NULL)
			printf("      %s\n", d[i].error);
	}
}

static int run(struct cli *cli)
{
	const char *env = cli_env(cli);
	const char *limit_s = cli_value(cli, "limit");
	struct deployment *d = NULL;
	struct merrs errs = {0}, bad = {0};
	struct envctx ctx;
	struct berr err;
	size_t n = 0, i;
	int limit = 20, status = EXIT_FAILED;

	if (limit_s != NULL && strnum_int(&limit, limit_s, 0, 1000000) != 0) {
		fprintf(stderr, "berth: history: --limit expects a number, got '%s'\n",
			limit_s);
		return EXIT_USAGE;
	}
	if (recover_open(&ctx, cli->config_path, env, &errs) != 0) {
		config_print_errors(&errs, stderr);
		goto out;
	}
	if (state_history(&ctx.st, &d, &n, &bad, (size_t)limit, &err) != 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		goto out;
	}
	for (i = 0; i < bad.n; i++)
		fprintf(stderr, "berth: warning: %s\n", bad.items[i]);
	if (cli_flag(cli, "json")) {
		json_t *o = json_object(), *a = json_array();

		for (i = 0; i < n; i++)
			json_array_append_new(a, deployment_to_json(&d[i]));
		json_object_set_new(o, "env", json_string(env));
		json_object_set_new(o, "deployments", a);
		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
	} else {
		print_table(env, d, n);
	}
	status = EXIT_OK;
out:
	state_history_free(d, n);
	merrs_release(&bad);
	merrs_release(&errs);
	envctx_close(&ctx);
	return status;
}

const struct cli_cmd cmd_history = {
	.name = "history",
	.args = "[ENV]",
	.summary = "deployments, newest first",
	.opts = opts,
	.min_args = 0,
	.max_args = 1,
	.run = run,
};
