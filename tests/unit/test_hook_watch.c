/*
 * test_hook_watch.c — what the pusher sees of a deployment that berth serve
 * runs, from successive looks at its record: each step's header, each
 * output line exactly once even when the record's tail has dropped its
 * beginning, a marker where lines were lost between two looks, the step's
 * end line in apply's format, and a fresh start for another record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hooks.h"
#include "check.h"

static FILE *capture;
static int saved_stdout = -1;

/* Sends stdout into a temporary file until captured() is called. */
static void capture_start(void)
{
	fflush(stdout);
	capture = tmpfile();
	if (capture == NULL)
		abort();
	saved_stdout = dup(STDOUT_FILENO);
	if (saved_stdout < 0 || dup2(fileno(capture), STDOUT_FILENO) < 0)
		abort();
}

/* What was printed since capture_start (new string). */
static char *captured(void)
{
	char *text;
	long len;

	fflush(stdout);
	if (dup2(saved_stdout, STDOUT_FILENO) < 0)
		abort();
	close(saved_stdout);
	len = ftell(capture);
	text = xmalloc((size_t)len + 1);
	rewind(capture);
	if (fread(text, 1, (size_t)len, capture) != (size_t)len)
		abort();
	text[len] = '\0';
	fclose(capture);
	return text;
}

/* Runs watch_update and checks what it printed. */
static void look(struct watch *w, const struct deployment *d,
                 const char *expect)
{
	char *got;

	capture_start();
	watch_update(w, d);
	got = captured();
	CHECK_STR(got, expect);
	free(got);
}

static void set_step(struct deployment *d, const char *name,
                     enum step_status status, const char *detail,
                     const char *tail, int64_t ms)
{
	struct step_record *s = deployment_step(d, name);

	s->status = status;
	s->started_ms = 1000000;
	s->finished_ms = status == STEP_RUNNING ? 0 : 1000000 + ms;
	deployment_set(&s->detail, detail);
	deployment_set(&s->output_tail, tail);
}

static void test_steps(void)
{
	struct deployment d;
	struct watch w;

	deployment_init(&d);
	watch_init(&w);
	d.id = 4;
	look(&w, &d, "");
	set_step(&d, "lock", STEP_OK, "held by pid 7 (deployment 4)", NULL, 0);
	set_step(&d, "validate", STEP_RUNNING, NULL, "fetched\nbranch 'main'",
	         0);
	/* A line without its "\n" is still being written. */
	look(&w, &d,
	     "[1/11] lock … held by pid 7 (deployment 4) 0.0 s\n"
	     "[2/11] validate\n"
	     "    fetched\n");
	look(&w, &d, "");
	set_step(&d, "validate", STEP_OK, "9 checks passed", "fetched\nbranch "
	         "'main'\n✓ tools\n", 1250);
	set_step(&d, "backup", STEP_SKIPPED, "no database", NULL, 0);
	set_step(&d, "build", STEP_RUNNING, NULL, "one\ntwo\n", 0);
	look(&w, &d,
	     "    branch 'main'\n"
	     "    ✓ tools\n"
	     "[2/11] validate … 9 checks passed 1.2 s\n"
	     "[3/11] backup … skipped: no database 0.0 s\n"
	     "[5/11] build\n"
	     "    one\n"
	     "    two\n");
	/* The tail dropped its beginning: what follows the last line printed
	 * is new. */
	set_step(&d, "build", STEP_RUNNING, NULL, "two\nthree\n", 0);
	look(&w, &d, "    three\n");
	/* Lines repeat: the new ones follow the end of the old tail. */
	set_step(&d, "build", STEP_RUNNING, NULL, "three\nx\nthree\ny\n", 0);
	look(&w, &d, "    x\n    three\n    y\n");
	/* The tail cut in the middle of a line, then more lines. */
	set_step(&d, "build", STEP_RUNNING, NULL, "ree\ny\nz\n", 0);
	look(&w, &d, "    z\n");
	/* Nothing printed before is left: lines were lost in between. */
	set_step(&d, "build", STEP_FAILED, "exit 2", "p\nq\n", 3000);
	look(&w, &d, "    …\n    p\n    q\n[5/11] build … failed: exit 2 3.0 s\n");
	set_step(&d, "rollback", STEP_OK, "b0a5004 serves again", "putting "
	         "back\n", 1100);
	look(&w, &d,
	     "[rollback]\n"
	     "    putting back\n"
	     "[rollback] … b0a5004 serves again 1.1 s\n");
	look(&w, &d, "");
	/* Another record starts over. */
	d.id = 5;
	look(&w, &d,
	     "[1/11] lock … held by pid 7 (deployment 4) 0.0 s\n"
	     "[2/11] validate\n"
	     "    fetched\n"
	     "    branch 'main'\n"
	     "    ✓ tools\n"
	     "[2/11] validate … 9 checks passed 1.2 s\n"
	     "[3/11] backup … skipped: no database 0.0 s\n"
	     "[5/11] build\n"
	     "    p\n"
	     "    q\n"
	     "[5/11] build … failed: exit 2 3.0 s\n"
	     "[rollback]\n"
	     "    putting back\n"
	     "[rollback] … b0a5004 serves again 1.1 s\n");
	watch_release(&w);
	deployment_release(&d);
}

int main(void)
{
	test_steps();
	return check_done("test_hook_watch");
}
