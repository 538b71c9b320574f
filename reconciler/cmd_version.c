/*
 * cmd_version.c — `berth version`: berth's version and each library's.
 */
#include <stdio.h>

#include "berth.h"


static int run(struct cli *cli)
{
	(void)cli;
	printf("berth %s\n", BERTH_VERSION);
	return EXIT_OK;
}

static const struct cli_opt opts[] = {{NULL, NULL, NULL}};

const struct cli_cmd cmd_version = {
	.name = "version",
	.args = NULL,
	.summary = "print berth's version and the versions of its libraries",
	.opts = opts,
	.min_args = 0,
	.max_args = 0,
	.run = run,
};
