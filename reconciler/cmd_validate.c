/*
 * cmd_validate.c — `berth validate ENV [--commit REV] [--no-fetch]
 * [--json]`: the pre-deploy checks of SPEC §5 step 2 alone, for the branch
 * head or REV. Exit 0 when every check passes, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "berth.h"

static const struct cli_opt opts[] = {
    {"commit", "REV",
     "check REV (branch, tag or commit id) instead of the branch head"},
    {"no-fetch", NULL, "use the mirror as it is, without fetching"},
    {"json", NULL, "print one JSON document instead of text"},
    {NULL, NULL, NULL},
};

static void print_line(const char *line, size_t len, void *arg)
{
	(void)arg;
	printf("%.*s\n", (int)len, line);
	fflush(stdout);
}

static void print_check(const struct checks_item *c, void *arg)
{
	char *line = checks_format(c);

	(void)arg;
	printf("%s\n", line);
	fflush(stdout);
	free(line);
}

static json_t *str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *report_json(const char *env, const struct preflight *t,
                           const struct checks_report *r)
{
	json_t *o = json_object(), *checks = json_array(), *errs = json_array();
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct checks_item *c = &r->items[i];

		json_array_append_new(
		    checks,
		    json_pack("{s:s, s:b, s:b, s:o, s:o}", "name", c->name,
		              "ok", c->ok, "skipped", c->skipped, "value",
		              str_or_null(c->value), "threshold",
		              str_or_null(c->threshold)));
	}
	for (i = 0; i < t->errs.n; i++)
		json_array_append_new(errs, json_string(t->errs.items[i]));
	json_object_set_new(o, "env", json_string(env));
	json_object_set_new(o, "commit", json_string(t->commit));
	json_object_set_new(o, "ok", json_boolean(r->failed == 0));
	json_object_set_new(o, "checks", checks);
	json_object_set_new(o, "manifest_errors", errs);
	return o;
}

static int run(struct cli *cli)
{
	const char *env = cli_env(cli);
	bool json = cli_flag(cli, "json");
	struct checks_report rep;
	struct preflight t;
	struct merrs errs = {0};
	struct envctx ctx;
	struct berr err;
	int status = EXIT_FAILED;
	size_t i;

	memset(&t, 0, sizeof(t));
	memset(&rep, 0, sizeof(rep));
	if (recover_open(&ctx, cli->config_path, env, &errs) != 0) {
		config_print_errors(&errs, stderr);
		goto out;
	}
	if (preflight_resolve(&t, &ctx, cli_value(cli, "commit"), NULL,
	                      !cli_flag(cli, "no-fetch"),
	                      json ? NULL : print_line, NULL, &err) != 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		goto out;
	}
	for (i = 0; !json && i < t.errs.n; i++)
		printf("%s\n", t.errs.items[i]);
	preflight_checks(&rep, &ctx, &t, json ? NULL : print_check, NULL);
	if (json) {
		json_t *o = report_json(env, &t, &rep);

		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
	} else if (rep.failed == 0) {
		printf("all %zu checks passed for %.7s\n", rep.n, t.commit);
	} else {
		printf("%zu of %zu checks failed for %.7s: apply would stop "
		       "at validate\n",
		       rep.failed, rep.n, t.commit);
	}
	status = rep.failed == 0 ? EXIT_OK : EXIT_FAILED;
out:
	checks_report_release(&rep);
	preflight_release(&t);
	merrs_release(&errs);
	envctx_close(&ctx);
	return status;
}

const struct cli_cmd cmd_validate = {
    .name = "validate",
    .args = "[ENV]",
    .summary = "run the pre-deploy checks alone",
    .opts = opts,
    .min_args = 0,
    .max_args = 1,
    .run = run,
};
