/*
 * cmd_hook.c — `berth hook pre-receive|post-receive [--env ENV] [--chain
 * PATH]`: what the Git hooks that `berth hooks install` writes run. Not
 * meant to be typed: it reads git's hook input on stdin and talks to the
 * pusher on stdout. Hidden from `berth --help`.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "hooks.h"

static const struct cli_opt opts[] = {
    {"env", "ENV",
     "only this environment (default: every environment whose branch was "
     "pushed)"},
    {"chain", "PATH",
     "run the hook at PATH first, with the same input, when it exists"},
    {NULL, NULL, NULL},
};

/* Reads all of stdin into b. Returns 0 or -1. */
static int read_stdin(struct buf *b, struct berr *err)
{
	char chunk[65536];
	ssize_t n;

	for (;;) {
		n = read(STDIN_FILENO, chunk, sizeof(chunk));
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return berr_errno(err, errno,
			                  "cannot read the hook's "
			                  "input");
		}
		if (buf_append(b, chunk, (size_t)n) != 0)
			return berr_set(err, "hook input over %zu bytes",
			                REFS_MAX_INPUT);
	}
}

static int run(struct cli *cli)
{
	const char *which = cli->args[0], *chain = cli_value(cli, "chain");
	struct hook_opts o;
	struct berr err;
	struct buf input;
	bool ran = false;
	int chained = 0, status;

	memset(&o, 0, sizeof(o));
	if (strcmp(which, "pre-receive") != 0 &&
	    strcmp(which, "post-receive") != 0) {
		fprintf(stderr,
		        "berth: hook: expected pre-receive or "
		        "post-receive, got '%s'\n",
		        which);
		return EXIT_USAGE;
	}
	/* The pusher may go away (Ctrl-C, a dropped connection): the hook
	 * carries on, writing into the void, rather than dying halfway. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	buf_init(&input, REFS_MAX_INPUT);
	if (read_stdin(&input, &err) != 0) {
		printf("berth: %s\n", err.msg);
		buf_release(&input);
		return EXIT_FAILED;
	}
	if (chain != NULL && chain_run(&ran, &chained, chain, buf_str(&input),
	                               input.len, &err) != 0) {
		printf("berth: %s\n", err.msg);
		ran = true;
		chained = EXIT_FAILED;
	}
	fflush(stdout);
	o.config_path = cli->config_path;
	o.only_env = cli_value(cli, "env");
	o.input = buf_str(&input);
	o.input_len = input.len;
	if (strcmp(which, "pre-receive") == 0)
		status = prereceive_run(&o);
	else
		status = postreceive_run(&o);
	buf_release(&input);
	if (ran && chained != 0) {
		printf("berth: the %s hook kept from before berth's (%s) "
		       "%s%s\n",
		       which, chain, chained > 0 ? "failed" : "was killed",
		       strcmp(which, "pre-receive") == 0
		           ? ": the push is rejected"
		           : "");
		fflush(stdout);
		return chained > 0 ? chained : EXIT_FAILED;
	}
	return status;
}

const struct cli_cmd cmd_hook = {
    .name = "hook",
    .args = "pre-receive|post-receive",
    .summary = "run by the Git hooks that 'berth hooks install' writes",
    .opts = opts,
    .min_args = 1,
    .max_args = 1,
    .run = run,
};
