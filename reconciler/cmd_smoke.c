/*
 * cmd_smoke.c — `berth smoke ENV [--json]`: the smoke tests of the manifest
 * of the commit that runs now, against what runs now. Exit 0 when they all
 * pass, 1 otherwise (or when nothing is deployed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "berth.h"

static const struct cli_opt opts[] = {
    {"json", NULL, "print one JSON document instead of text"},
    {NULL, NULL, NULL},
};

static void print_result(const struct smoke_result *r, void *arg)
{
	char *line = smoke_format(r);

	(void)arg;
	printf("  %s\n", line);
	fflush(stdout);
	free(line);
}

static json_t *report_json(const char *env, const char *commit,
                           const struct smoke_report *r)
{
	json_t *o = json_object(), *results = json_array();
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct smoke_result *s = &r->results[i];

		json_array_append_new(
		    results, json_pack("{s:s, s:b, s:i, s:I, s:o}", "name",
		                       s->name, "ok", s->ok, "status",
		                       (int)s->status, "duration_ms",
		                       (json_int_t)s->duration_ms, "detail",
		                       s->detail ? json_string(s->detail)
		                                 : json_null()));
	}
	json_object_set_new(o, "env", json_string(env));
	json_object_set_new(o, "commit", json_string(commit));
	json_object_set_new(o, "ok", json_boolean(r->failed == 0));
	json_object_set_new(o, "results", results);
	return o;
}

static int run(struct cli *cli)
{
	const char *env = cli_env(cli);
	bool json = cli_flag(cli, "json");
	struct smoke_report rep;
	struct manifest *m = NULL;
	struct merrs errs = {0};
	struct envctx ctx;
	struct berr err;
	char commit[41], *summary = NULL;
	int64_t id;
	int status = EXIT_FAILED, rc;

	memset(&rep, 0, sizeof(rep));
	if (recover_open(&ctx, cli->config_path, env, &errs) != 0) {
		config_print_errors(&errs, stderr);
		goto out;
	}
	rc = state_get_current(&ctx.st, commit, &id, &err);
	if (rc != 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		goto out;
	}
	if (envctx_manifest(&m, &ctx, commit, &errs) != 0) {
		config_print_errors(&errs, stderr);
		goto out;
	}
	if (!json)
		printf("smoke tests of %.7s (deployment %lld) in %s:\n", commit,
		       (long long)id, env);
	smoke_run(&rep, m, json ? NULL : print_result, NULL);
	summary = smoke_summary(&rep);
	if (json) {
		json_t *o = report_json(env, commit, &rep);

		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
	} else {
		printf("%s\n", summary);
	}
	status = rep.failed == 0 ? EXIT_OK : EXIT_FAILED;
out:
	free(summary);
	smoke_report_release(&rep);
	manifest_free(m);
	merrs_release(&errs);
	envctx_close(&ctx);
	return status;
}

const struct cli_cmd cmd_smoke = {
    .name = "smoke",
    .args = "[ENV]",
    .summary = "run the smoke tests against what runs now",
    .opts = opts,
    .min_args = 0,
    .max_args = 1,
    .run = run,
};
