/*
 * test_pipeline.c — the pieces of the deploy pipeline that need no Git,
 * processes or network: triggers, the journal and progress lines of
 * pipeline.c, operator records, and which release directories cleanup
 * keeps. The whole pipeline runs in tests/integration/test_apply*.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth.h"
#include "check.h"
#include "tmpdir.h"

static void test_triggers(void)
{
	static const char *const good[] = {
	    "cli",
	    "hook:post-receive",
	    "poll",
	    "drift",
	    "revert",
	    "api",
	    "webhook:github:72d3162e-cc78-11e3-81ab-4c9367dc0958",
	    "webhook:stripe:evt_1",
	    "webhook:generic:msg_2Kc:x"};
	static const char *const bad[] = {"",
	                                  "CLI",
	                                  "hook",
	                                  "hook:pre-receive",
	                                  "webhook:",
	                                  "webhook:github",
	                                  "webhook:github:",
	                                  "webhook:nosuch:1",
	                                  "webhook:github:a b",
	                                  "webhook:github:tab\there",
	                                  "poll ",
	                                  "cli;rm"};
	char longer[200];
	size_t i;

	for (i = 0; i < BERTH_ARRAY_LEN(good); i++)
		CHECK(apply_trigger_ok(good[i]));
	for (i = 0; i < BERTH_ARRAY_LEN(bad); i++)
		if (apply_trigger_ok(bad[i])) {
			fprintf(stderr, "accepted trigger '%s'\n", bad[i]);
			CHECK(0);
		}
	snprintf(longer, sizeof(longer), "webhook:gitlab:%0129d", 7);
	CHECK(!apply_trigger_ok(longer));
	longer[strlen(longer) - 1] = '\0';
	CHECK(apply_trigger_ok(longer));
}

static void test_exit_status(void)
{
	struct deployment d;

	deployment_init(&d);
	CHECK_INT(apply_exit_status(0, &d), EXIT_OK);
	CHECK_INT(apply_exit_status(BERTH_ELOCKED, NULL), EXIT_LOCKED);
	d.status = DEPLOY_ROLLED_BACK;
	CHECK_INT(apply_exit_status(-1, &d), EXIT_FAILED);
	d.status = DEPLOY_ROLLBACK_FAILED;
	CHECK_INT(apply_exit_status(-1, &d), EXIT_ROLLBACK_FAILED);
	CHECK_INT(apply_exit_status(-1, NULL), EXIT_FAILED);
}

/* An environment context with only its state, as the pipeline's journal
 * needs it. */
static void open_env(struct envctx *ctx)
{
	struct berr err;
	char *dir = fs_join(tmpdir, "state");

	memset(ctx, 0, sizeof(*ctx));
	kvlist_init(&ctx->vars);
	if (state_open(&ctx->st, dir, "production", &err) != 0) {
		fprintf(stderr, "%s\n", err.msg);
		exit(1);
	}
	free(dir);
}

static void test_journal_and_progress(void)
{
	struct envctx ctx;
	struct deployment d, back;
	struct pipeline p;
	struct berr err;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	open_env(&ctx);
	deployment_init(&d);
	deployment_set(&d.trigger, "cli");
	CHECK_INT(state_create_deployment(&ctx.st, &d, &err), 0);
	out = open_memstream(&text, &len);
	pipeline_init(&p, &ctx, &d, out);

	/* A step is on disk as running as soon as it begins. */
	CHECK_INT(pipeline_begin(&p, 3, "backup", &err), 0);
	CHECK_INT(state_load_deployment(&ctx.st, d.id, &back, &err), 0);
	CHECK_INT(back.nsteps, 1);
	CHECK_STR(back.steps[0].name, "backup");
	CHECK_INT(back.steps[0].status, STEP_RUNNING);
	CHECK(back.steps[0].started_ms > 0);
	deployment_release(&back);
	pipeline_end(&p, STEP_SKIPPED, "no database in the manifest");

	/* Output lines go under a header, and into the record's tail. */
	pipeline_begin(&p, 5, "build", NULL);
	pipeline_line(&p, "cc -c %s", "pos.c");
	pipeline_text(&p, "line one\nline two\n");
	pipeline_end(&p, STEP_FAILED, "build command '%s' exited 2", "make");
	pipeline_begin(&p, 0, "rollback", NULL);
	pipeline_end(&p, STEP_OK, "1a2b3c4 (deployment 6) serves again");
	pipeline_say(&p, "rolled back to %s", "1a2b3c4");
	fclose(out);

	CHECK(
	    strstr(text,
	           "[3/11] backup … skipped: no database in the manifest 0.") ==
	    text);
	CHECK(
	    strstr(
	        text,
	        "\n[5/11] build\n    cc -c pos.c\n    line one\n    line two\n"
	        "[5/11] build … failed: build command 'make' exited 2 0.") !=
	    NULL);
	CHECK(strstr(text,
	             "\n[rollback] … 1a2b3c4 (deployment 6) serves again 0.") !=
	      NULL);
	CHECK(strstr(text, " s\nrolled back to 1a2b3c4\n") != NULL);

	CHECK_INT(state_load_deployment(&ctx.st, d.id, &back, &err), 0);
	CHECK_INT(back.nsteps, 3);
	CHECK_INT(back.steps[0].status, STEP_SKIPPED);
	CHECK_STR(back.steps[0].detail, "no database in the manifest");
	CHECK(back.steps[0].output_tail == NULL);
	CHECK_INT(back.steps[1].status, STEP_FAILED);
	CHECK_STR(back.steps[1].output_tail,
	          "cc -c pos.c\nline one\nline two\n");
	CHECK_STR(back.steps[1].detail, "build command 'make' exited 2");
	CHECK(back.steps[1].finished_ms >= back.steps[1].started_ms);
	CHECK_INT(back.status, DEPLOY_RUNNING);
	deployment_release(&back);

	pipeline_release(&p);
	deployment_release(&d);
	free(text);
	state_close(&ctx.st);
}

/* With out NULL nothing is printed, the record is still written; a long
 * output keeps only its tail. */
static void test_quiet_tail(void)
{
	struct envctx ctx;
	struct deployment d, back;
	struct pipeline p;
	struct berr err;
	int i;

	open_env(&ctx);
	deployment_init(&d);
	CHECK_INT(state_create_deployment(&ctx.st, &d, &err), 0);
	pipeline_init(&p, &ctx, &d, NULL);
	pipeline_begin(&p, 5, "build", NULL);
	for (i = 0; i < 2000; i++)
		pipeline_line(&p, "output line %04d", i);
	pipeline_end(&p, STEP_OK, "done");
	CHECK_INT(state_load_deployment(&ctx.st, d.id, &back, &err), 0);
	CHECK(strlen(back.steps[0].output_tail) <= PIPELINE_TAIL);
	CHECK(strstr(back.steps[0].output_tail, "output line 1999\n") != NULL);
	CHECK(strstr(back.steps[0].output_tail, "output line 0000") == NULL);
	deployment_release(&back);
	pipeline_release(&p);
	deployment_release(&d);
	state_close(&ctx.st);
}

static void test_action_record(void)
{
	struct envctx ctx;
	struct deployment d, good;
	struct berr err;

	open_env(&ctx);
	CHECK_INT(pipeline_record_action(&d, &ctx, DEPLOY_KIND_RESUME,
	                                 "lifted the freeze: x", &err),
	          0);
	CHECK_STR(d.kind, "resume");
	CHECK_INT(d.status, DEPLOY_SUCCEEDED);
	CHECK_STR(d.steps[0].detail, "lifted the freeze: x");
	/* An operator's action is never a release to roll back to. */
	CHECK_INT(state_last_good(&ctx.st, 0, &good, &err), BERTH_ENOTFOUND);
	deployment_release(&good);
	deployment_release(&d);
	state_close(&ctx.st);
}

/* A record of a deployment of commit c with status st. */
static void record(struct envctx *ctx, const char *c, enum deploy_status st)
{
	struct deployment d;
	struct berr err;

	deployment_init(&d);
	snprintf(d.commit, sizeof(d.commit), "%s", c);
	d.status = st;
	CHECK_INT(state_create_deployment(&ctx->st, &d, &err), 0);
	deployment_release(&d);
}

static void make_release(struct envctx *ctx, const char *name)
{
	char *rel = xasprintf("releases/%s", name),
	     *path = state_path(&ctx->st, rel);
	struct berr err;

	CHECK_INT(fs_mkdir_p(path, 0750, &err), 0);
	free(path);
	free(rel);
}

static bool has_release(struct envctx *ctx, const char *name)
{
	char *rel = xasprintf("releases/%s", name),
	     *path = state_path(&ctx->st, rel);
	bool yes = fs_is_dir(path);

	free(path);
	free(rel);
	return yes;
}

static void test_prune(void)
{
	char c[6][41], leftover[64], live[64];
	struct release_prune_report rep;
	struct strv protect = {0};
	struct envctx ctx;
	struct berr err;
	int i;

	tmpdir_remove();
	tmpdir_make("pipeline");
	open_env(&ctx);
	for (i = 0; i < 6; i++) {
		memset(c[i], 'a' + i, 40);
		c[i][40] = '\0';
		make_release(&ctx, c[i]);
	}
	/* Deployed in order c0 .. c4; c5 was never recorded (an orphan). */
	record(&ctx, c[0], DEPLOY_SUCCEEDED);
	record(&ctx, c[1], DEPLOY_SUCCEEDED);
	record(&ctx, c[2], DEPLOY_FAILED);
	record(&ctx, c[3], DEPLOY_SUCCEEDED);
	record(&ctx, c[4], DEPLOY_SUCCEEDED);
	snprintf(leftover, sizeof(leftover), "%s.tmp.999999999", c[5]);
	make_release(&ctx, leftover);
	snprintf(live, sizeof(live), "%s.tmp.%d", c[5], (int)getpid());
	make_release(&ctx, live);
	strv_push(&protect, c[0]); /* e.g. the last good one */

	CHECK_INT(release_prune(&rep, &ctx, 2, &protect, &err), 0);
	CHECK(has_release(&ctx, c[4]) && has_release(&ctx, c[3]));
	CHECK(has_release(&ctx, c[0]));
	CHECK(!has_release(&ctx, c[1]) && !has_release(&ctx, c[2]));
	CHECK(!has_release(&ctx, c[5]));
	CHECK(!has_release(&ctx, leftover));
	CHECK(has_release(&ctx, live)); /* its writer (we) still runs */
	CHECK_INT(rep.kept, 3);
	CHECK_INT(rep.removed.n, 3);
	CHECK_INT(rep.leftovers, 1);
	CHECK_INT(release_leftover_pid(leftover), 999999999);
	CHECK_INT(release_leftover_pid(c[0]), 0);
	release_prune_report_release(&rep);
	strv_release(&protect);
	state_close(&ctx.st);
}

int main(void)
{
	tmpdir_make("pipeline");
	test_triggers();
	test_exit_status();
	test_journal_and_progress();
	test_quiet_tail();
	test_action_record();
	test_prune();
	tmpdir_remove();
	return check_done("test_pipeline");
}
