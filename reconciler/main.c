/*
 * main.c — global options and dispatch to the command table.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

static const struct cli_cmd *const commands[] = {
	&cmd_plan,
	&cmd_apply,
	&cmd_rollback,
	&cmd_status,
	&cmd_history,
	&cmd_validate,
	&cmd_smoke,
	&cmd_drift,
	&cmd_backup,
	&cmd_unlock,
	&cmd_resume,
	&cmd_serve,
	&cmd_hooks,
	&cmd_version,
};

/* Commands left out of --help: run by programs, not typed by people. */
static const struct cli_cmd *const hidden_commands[] = {
	&cmd_hook,
};

static void usage(FILE *f)
{
	size_t i;

	fputs("usage: berth [--config FILE] COMMAND [ENV] [options]\n\n"
	      "berth keeps what runs on this host in sync with a branch of a Git\n"
	      "repository, with the database backup of each release beside it.\n\n"
	      "commands:\n", f);
	for (i = 0; i < BERTH_ARRAY_LEN(commands); i++)
		fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
	fputs("\nENV defaults to 'production'. 'berth COMMAND --help' shows a command's options.\n"
	      "The config is --config FILE, else $BERTH_CONFIG, else /etc/berth/config.json.\n",
	      f);
}

static const struct cli_cmd *find_command(const char *name)
{
	size_t i;

	if (strcmp(name, "deploy") == 0)
		name = "apply";
	for (i = 0; i < BERTH_ARRAY_LEN(commands); i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	for (i = 0; i < BERTH_ARRAY_LEN(hidden_commands); i++)
		if (strcmp(hidden_commands[i]->name, name) == 0)
			return hidden_commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const char *config_path = NULL;
	const struct cli_cmd *cmd;
	struct cli cli;
	struct berr err;
	int i = 1;

	/* A reader that goes away (a pusher's connection, `| head`) must never
	 * kill a deployment half-way: writes then fail with EPIPE instead. */
	signal(SIGPIPE, SIG_IGN);
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config_path = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			config_path = argv[i] + 9;
			i++;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			argv[i] = (char *)"version";
			break;
		} else {
			fprintf(stderr, "berth: unknown global option '%s'\n\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = find_command(argv[i]);
	if (cmd == NULL) {
		fprintf(stderr, "berth: '%s' is not a berth command; see 'berth --help'\n",
			argv[i]);
		return EXIT_USAGE;
	}
	memset(&cli, 0, sizeof(cli));
	cli.config_path = config_path;
	if (cli_parse(&cli, cmd, argc - i - 1, argv + i + 1, &err) != 0) {
		fprintf(stderr, "berth: %s\n\n", err.msg);
		cli_usage(cmd, stderr);
		return EXIT_USAGE;
	}
	if (cli.help) {
		cli_usage(cmd, stdout);
		return EXIT_OK;
	}
	return cmd->run(&cli);
}
