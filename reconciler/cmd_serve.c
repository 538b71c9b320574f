/*
 * cmd_serve.c — `berth serve`: the daemon (webhooks, API, queue, poll). The
 * work is in daemon*.c; this file owns the options.
 */
#include <stdio.h>

#include "berth.h"

static const struct cli_opt opts[] = {
	{"port-file", "FILE",
	 "write the port bound to FILE once listening (for listen port 0)"},
	{"heads", NULL,
	 "print the remote head of each tracked branch and exit (what the "
	 "daemon's poll runs)"},
	{"backup", "ENV",
	 "take ENV's scheduled backup now: dump, verify, prune; print the "
	 "result as JSON and exit (what the daemon's schedule runs)"},
	{NULL, NULL, NULL},
};

static int run(struct cli *cli)
{
	struct daemon_opts o = {0};

	if (cli_flag(cli, "heads"))
		return daemon_poll_heads(cli->config_path);
	if (cli_value(cli, "backup") != NULL)
		return daemon_sched_backup(cli->config_path,
					   cli_value(cli, "backup"));
	o.config_path = cli->config_path;
	o.port_file = cli_value(cli, "port-file");
	return daemon_run(&o);
}

const struct cli_cmd cmd_serve = {
	.name = "serve",
	.args = "",
	.summary = "the daemon: webhooks, API, deployment queue, poll, drift checks, scheduled backups",
	.opts = opts,
	.min_args = 0,
	.max_args = 0,
	.run = run,
};
