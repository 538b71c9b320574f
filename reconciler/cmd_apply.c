/*
 * cmd_apply.c — `berth apply ENV [--commit REV | --version TAG] [--dry-run]
 * [--skip-backup] [--yes] [--json] [--trigger TRIGGER]` (alias `deploy`):
 * the deploy pipeline of SPEC §5, or with --dry-run what it would do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "berth.h"

static const struct cli_opt opts[] = {
    {"commit", "REV",
     "deploy REV (branch, tag or commit id) instead of the branch head"},
    {"version", "TAG",
     "deploy the tag TAG, recorded as the deployment's version"},
    {"dry-run", NULL, "show the pipeline that would run; change nothing"},
    {"skip-backup", NULL, "do not back up the database first (recorded)"},
    {"yes", NULL, "answer yes to questions (apply asks none on its own)"},
    {"json", NULL, "print the deployment record as JSON instead of progress"},
    {"trigger", "TRIGGER",
     "what started it: cli (default), hook:post-receive, poll, drift, revert, "
     "api, webhook:PROVIDER:DELIVERY"},
    {NULL, NULL, NULL},
};

/* One line of the dry run's step list, printed or added to steps; detail
 * is stolen. */
static void dry_step(json_t *steps, int n, const char *name, char *detail)
{
	if (steps != NULL)
		json_array_append_new(steps, json_pack("{s:i, s:s, s:s}",
		                                       "number", n, "name",
		                                       name, "detail", detail));
	else
		printf("  [%d/%d] %-9s %s\n", n, PIPELINE_STEPS, name, detail);
	free(detail);
}

/* The services of the plan that would start, in order, "a, b" (new). */
static char *start_list(const struct manifest *m)
{
	struct buf b;
	size_t i;

	buf_init(&b, 0);
	for (i = 0; i < m->nservices; i++)
		buf_printf(&b, "%s%s", i ? ", " : "",
		           m->services[m->order[i]].name);
	return buf_detach(&b);
}

/* What each step would do, for people (steps NULL) or as JSON. */
static void dry_steps(json_t *steps, struct envctx *ctx, const struct plan *p,
                      const struct preflight *t, bool skip_backup)
{
	const struct manifest *m = p->to;
	size_t i, nnotify = ctx->cfg.nnotify + m->nnotify;
	struct buf b;
	char *list;

	dry_step(steps, 1, "lock",
	         xasprintf("take the lock of %s", ctx->env->name));
	dry_step(steps, 2, "validate",
	         xasprintf("run the pre-deploy checks ('berth validate %s' "
	                   "runs them now)",
	                   ctx->env->name));
	if (!m->db.present)
		dry_step(steps, 3, "backup",
		         xstrdup("skipped: no database in the manifest"));
	else if (skip_backup)
		dry_step(steps, 3, "backup", xstrdup("skipped: --skip-backup"));
	else
		dry_step(steps, 3, "backup",
		         xasprintf("pg_dump into %s", m->db.backup_dir
		                                          ? m->db.backup_dir
		                                          : "backups"));
	dry_step(steps, 4, "fetch",
	         xasprintf("%s releases/%.7s",
	                   fs_is_dir(t->release_dir) ? "reuse" : "check out",
	                   t->commit));
	buf_init(&b, 0);
	for (i = 0; i < m->nbuild; i++) {
		char *c =
		    driver_argv_str((const char *const *)m->build[i].v, 80);

		buf_printf(&b, "%s%s", i ? "; " : "", c);
		free(c);
	}
	dry_step(steps, 5, "build",
	         m->nbuild ? buf_detach(&b)
	                   : xstrdup("skipped: no build commands"));
	buf_release(&b);
	if (!m->db.present || m->db.migrations == MANIFEST_MIGRATIONS_NONE)
		dry_step(steps, 6, "migrate",
		         xstrdup("skipped: no migrations"));
	else
		dry_step(steps, 6, "migrate",
		         xasprintf("%zu pending%s", p->migrations_pending,
		                   p->db_checked
		                       ? ""
		                       : " (the database was not asked)"));
	list = start_list(m);
	dry_step(steps, 7, "deploy",
	         xasprintf("%sstart %s, each healthy before the next; switch "
	                   "current to %.7s",
	                   p->from_commit[0] ? "stop what runs; " : "", list,
	                   t->commit));
	free(list);
	dry_step(steps, 8, "smoke",
	         m->nsmoke ? xasprintf("%zu test%s", m->nsmoke,
	                               m->nsmoke == 1 ? "" : "s")
	                   : xstrdup("skipped: no smoke tests"));
	dry_step(steps, 9, "cleanup",
	         xasprintf("keep the last %d releases", m->releases_keep));
	dry_step(steps, 10, "notify",
	         nnotify ? xasprintf("%zu notifier%s", nnotify,
	                             nnotify == 1 ? "" : "s")
	                 : xstrdup("skipped: no notifiers configured"));
	dry_step(steps, 11, "unlock", xstrdup("release the lock"));
}

static void print_line(const char *line, size_t len, void *arg)
{
	(void)arg;
	printf("%.*s\n", (int)len, line);
}

/* --dry-run: the plan and the pipeline; nothing is locked, written or
 * started. Exit 0 when apply could go ahead, 1 when it would fail at once. */
static int dry_run(struct envctx *ctx, struct cli *cli, bool json)
{
	struct preflight t;
	struct plan p;
	struct merrs errs = {0};
	struct lock_holder holder;
	struct berr err;
	char *frozen = NULL, *lock_path = state_path(&ctx->st, "lock");
	bool locked = false;
	int status = EXIT_FAILED;

	memset(&p, 0, sizeof(p));
	if (preflight_resolve(&t, ctx, cli_value(cli, "commit"),
	                      cli_value(cli, "version"), true,
	                      json ? NULL : print_line, NULL, &err) != 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		goto out;
	}
	if (plan_build(&p, ctx, t.commit, &errs) != 0) {
		config_print_errors(&errs, stderr);
		goto out;
	}
	state_frozen(&ctx->st, &frozen);
	if (lock_peek(&locked, &holder, lock_path, &err) != 0)
		locked = false;
	if (json) {
		json_t *o = plan_to_json(&p, ctx->env->name),
		       *steps = json_array();

		dry_steps(steps, ctx, &p, &t, cli_flag(cli, "skip-backup"));
		json_object_set_new(o, "dry_run", json_true());
		json_object_set_new(o, "steps", steps);
		json_object_set_new(o, "frozen", json_boolean(frozen != NULL));
		json_object_set_new(o, "locked", json_boolean(locked));
		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
	} else {
		plan_print(&p, ctx->env->name, stdout);
		printf("apply would run:\n");
		dry_steps(NULL, ctx, &p, &t, cli_flag(cli, "skip-backup"));
		if (frozen != NULL)
			printf("but %s is frozen (%s): apply refuses until "
			       "'berth resume %s'\n",
			       ctx->env->name, frozen, ctx->env->name);
		if (locked) {
			char who[320];

			lock_describe(who, sizeof(who), &holder);
			printf("note: %s is locked right now by %s\n",
			       ctx->env->name, who);
		}
		printf("dry run: nothing was changed\n");
	}
	status = p.errors > 0 || frozen != NULL ? EXIT_FAILED : EXIT_OK;
out:
	plan_release(&p);
	preflight_release(&t);
	merrs_release(&errs);
	free(frozen);
	free(lock_path);
	return status;
}

static int run(struct cli *cli)
{
	const char *env = cli_env(cli);
	bool json = cli_flag(cli, "json");
	struct apply_opts o;
	struct deployment d;
	struct merrs errs = {0};
	struct envctx ctx;
	struct berr err;
	int status = EXIT_FAILED, rc;

	deployment_init(&d);
	memset(&o, 0, sizeof(o));
	o.rev = cli_value(cli, "commit");
	o.tag = cli_value(cli, "version");
	o.skip_backup = cli_flag(cli, "skip-backup");
	o.trigger = cli_value(cli, "trigger");
	o.out = json ? NULL : stdout;
	o.stop_requested = cli_stop_requested;
	if (o.rev != NULL && o.tag != NULL) {
		fprintf(stderr, "berth: apply: --commit and --version exclude "
		                "each other\n");
		return EXIT_USAGE;
	}
	if (o.trigger != NULL && !apply_trigger_ok(o.trigger)) {
		fprintf(stderr,
		        "berth: apply: invalid --trigger '%s' (expected "
		        "cli, hook:post-receive, poll, drift, revert, "
		        "api or webhook:PROVIDER:DELIVERY)\n",
		        o.trigger);
		return EXIT_USAGE;
	}
	if (recover_open(&ctx, cli->config_path, env, &errs) != 0) {
		config_print_errors(&errs, stderr);
		goto out;
	}
	if (cli_flag(cli, "dry-run")) {
		status = dry_run(&ctx, cli, json);
		goto out;
	}
	cli_catch_stop_signals();
	rc = apply_run(&d, &ctx, &o, &err);
	if (rc == BERTH_ELOCKED || (rc != 0 && d.id == 0)) {
		fprintf(stderr, "berth: %s\n", err.msg);
		status = apply_exit_status(rc, &d);
		goto out;
	}
	if (json) {
		json_t *j = deployment_to_json(&d);

		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
	}
	status = apply_exit_status(rc, &d);
out:
	deployment_release(&d);
	merrs_release(&errs);
	envctx_close(&ctx);
	return status;
}

const struct cli_cmd cmd_apply = {
    .name = "apply",
    .args = "[ENV]",
    .summary = "run the deploy pipeline (alias: deploy)",
    .opts = opts,
    .min_args = 0,
    .max_args = 1,
    .run = run,
};
