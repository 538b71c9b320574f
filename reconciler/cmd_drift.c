/*
 * cmd_drift.c — `berth drift ENV [--heal] [--json] [--scheduled]`: compare
 * what runs with what should run; repair it with a redeploy. Exit 0 none,
 * 2 drift, 1 error (SPEC §4); with --heal, what the heal's deployment and
 * the check after it say.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "berth.h"

static const struct cli_opt opts[] = {
    {"heal", NULL,
     "redeploy what drifted: the deployed commit (the branch head with "
     "auto_deploy), restarting only what differs"},
    {"json", NULL, "print one JSON document instead of text"},
    {"scheduled", NULL,
     "what the daemon's timer runs: apply drift.action (notify new and "
     "cleared findings once, or heal) and record the result in "
     "envs/ENV/drift.json"},
    {"no-remote", NULL, "do not ask the remote for the branch head"},
    {NULL, NULL, NULL},
};

static void print_json(json_t *o)
{
	json_dumpf(o, stdout, JSON_INDENT(2));
	putchar('\n');
	fflush(stdout);
}

/* Whether a deployment holds the lock: drift then compares a half-done
 * state; *who describes it. */
static bool deploying(struct envctx *ctx, char *who, size_t len)
{
	struct lock_holder h;
	struct berr err;
	char *path = state_path(&ctx->st, "lock");
	bool locked = false;

	if (lock_peek(&locked, &h, path, &err) != 0)
		locked = false;
	if (locked)
		lock_describe(who, len, &h);
	free(path);
	return locked;
}

/* --heal: the heal, then a second check. Returns the exit status. */
static int heal(struct envctx *ctx, struct drift_report *r, bool json,
                const struct drift_opts *o)
{
	struct drift_report after;
	struct deployment d;
	struct berr err;
	json_t *j = NULL, *h;
	int rc, status;

	memset(&after, 0, sizeof(after));
	if (!json) {
		drift_report_print(r, stdout);
		if (r->nfindings > 0)
			printf("healing %s: redeploying %s (trigger drift)\n",
			       r->env,
			       ctx->env->auto_deploy && r->head[0]
			           ? "the branch head"
			           : "the deployed commit");
		fflush(stdout);
	}
	if (r->nfindings == 0) {
		if (json) {
			j = drift_report_to_json(r);
			json_object_set_new(j, "heal", json_null());
			print_json(j);
			json_decref(j);
		}
		return drift_exit_status(r);
	}
	rc = drift_heal(&d, ctx, r, json ? NULL : stdout, cli_stop_requested,
	                &err);
	if (rc == BERTH_ELOCKED) {
		fprintf(stderr, "berth: %s\n", err.msg);
		status = EXIT_LOCKED;
		goto out;
	}
	if (rc != 0 && d.id == 0 && rc != BERTH_ENOTFOUND) {
		fprintf(stderr, "berth: cannot heal %s: %s\n", r->env, err.msg);
		status = EXIT_FAILED;
	} else if (rc == BERTH_ENOTFOUND) {
		fprintf(stderr, "berth: not healing %s: %s\n", r->env, err.msg);
		status = drift_exit_status(r);
	} else {
		status = apply_exit_status(rc, &d);
	}
	if (drift_check(&after, ctx, o, &err) != 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		status = EXIT_FAILED;
		goto out;
	}
	if (!json) {
		printf("after the heal:\n");
		drift_report_print(&after, stdout);
	} else {
		j = drift_report_to_json(&after);
		h = json_object();
		json_object_set_new(h, "deployment",
		                    d.id > 0 ? deployment_to_json(&d)
		                             : json_null());
		json_object_set_new(
		    h, "before",
		    drift_findings_json(r->findings, r->nfindings));
		if (rc != 0 && d.id == 0)
			json_object_set_new(h, "error", json_string(err.msg));
		json_object_set_new(j, "heal", h);
		print_json(j);
		json_decref(j);
	}
	if (status == EXIT_OK)
		status = drift_exit_status(&after);
out:
	deployment_release(&d);
	drift_report_release(&after);
	return status;
}

static int run(struct cli *cli)
{
	const char *env = cli_env(cli);
	bool json = cli_flag(cli, "json");
	struct drift_opts o = {.remote = !cli_flag(cli, "no-remote")};
	struct merrs errs = {0};
	struct drift_report r;
	struct envctx ctx;
	struct berr err;
	char who[320];
	int status = EXIT_FAILED;

	memset(&r, 0, sizeof(r));
	if (cli_flag(cli, "heal") && cli_flag(cli, "scheduled")) {
		fprintf(stderr, "berth: --heal and --scheduled exclude each "
		                "other (drift.action says whether the "
		                "scheduled check heals)\n");
		return EXIT_USAGE;
	}
	cli_catch_stop_signals();
	if (recover_open(&ctx, cli->config_path, env, &errs) != 0) {
		config_print_errors(&errs, stderr);
		goto out;
	}
	if (deploying(&ctx, who, sizeof(who))) {
		fprintf(stderr,
		        "berth: %s is being deployed (%s): drift not checked\n",
		        env, who);
		status = EXIT_LOCKED;
		goto out;
	}
	if (cli_flag(cli, "scheduled")) {
		status = drift_scheduled(&ctx, &o, json ? NULL : stdout,
		                         cli_stop_requested);
		goto out;
	}
	if (drift_check(&r, &ctx, &o, &err) != 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		goto out;
	}
	if (cli_flag(cli, "heal")) {
		status = heal(&ctx, &r, json, &o);
		goto out;
	}
	if (json) {
		json_t *j = drift_report_to_json(&r);

		print_json(j);
		json_decref(j);
	} else {
		drift_report_print(&r, stdout);
	}
	status = drift_exit_status(&r);
out:
	drift_report_release(&r);
	merrs_release(&errs);
	envctx_close(&ctx);
	return status;
}

const struct cli_cmd cmd_drift = {
    .name = "drift",
    .args = "[ENV]",
    .summary = "compare what runs with what should run; --heal repairs it",
    .opts = opts,
    .min_args = 0,
    .max_args = 1,
    .run = run,
};
