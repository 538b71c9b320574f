/*
 * cli.c — option parsing shared by every command. Each cmd_<name>.c owns its
 * option table; the same table drives parsing and --help.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "berth.h"

static int find_opt(const struct cli_cmd *cmd, const char *name, size_t len)
{
	int i;

	for (i = 0; cmd->opts != NULL && cmd->opts[i].name != NULL; i++)
		if (strlen(cmd->opts[i].name) == len &&
		    strncmp(cmd->opts[i].name, name, len) == 0)
			return i;
	return -1;
}

int cli_parse(struct cli *out, const struct cli_cmd *cmd, int argc,
	      char **argv, struct berr *err)
{
	bool options_done = false;
	int i;

	out->cmd = cmd;
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *eq;
		size_t len;
		int k;

		if (!options_done && strcmp(a, "--") == 0) {
			options_done = true;
			continue;
		}
		if (!options_done && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
			out->help = true;
			continue;
		}
		if (options_done || a[0] != '-' || a[1] == '\0') {
			if (out->nargs >= cmd->max_args)
				return berr_set(err, "%s: unexpected argument '%s'",
						cmd->name, a);
			out->args[out->nargs++] = a;
			continue;
		}
		if (a[1] != '-')
			return berr_set(err, "%s: unknown option '%s' (options are spelled --name)",
					cmd->name, a);
		a += 2;
		eq = strchr(a, '=');
		len = eq ? (size_t)(eq - a) : strlen(a);
		k = find_opt(cmd, a, len);
		if (k < 0 || k >= CLI_MAX_OPTS)
			return berr_set(err, "%s: unknown option '--%.*s'", cmd->name,
					(int)len, a);
		if (cmd->opts[k].arg == NULL) {
			if (eq != NULL)
				return berr_set(err, "%s: option '--%s' takes no value",
						cmd->name, cmd->opts[k].name);
			out->set[k] = true;
			continue;
		}
		if (eq != NULL) {
			out->values[k] = eq + 1;
		} else {
			if (i + 1 >= argc)
				return berr_set(err, "%s: option '--%s' needs a value (%s)",
						cmd->name, cmd->opts[k].name,
						cmd->opts[k].arg);
			out->values[k] = argv[++i];
		}
		out->set[k] = true;
	}
	if (out->nargs < cmd->min_args)
		return berr_set(err, "%s: missing argument (usage: berth %s %s)",
				cmd->name, cmd->name, cmd->args ? cmd->args : "");
	return 0;
}

const char *cli_value(const struct cli *c, const char *name)
{
	int k = find_opt(c->cmd, name, strlen(name));

	return k >= 0 && c->set[k] ? c->values[k] : NULL;
}

bool cli_flag(const struct cli *c, const char *name)
{
	int k = find_opt(c->cmd, name, strlen(name));

	return k >= 0 && c->set[k];
}

const char *cli_env(const struct cli *c)
{
	return c->nargs > 0 ? c->args[0] : "production";
}

void cli_usage(const struct cli_cmd *cmd, void *fp)
{
	FILE *f = fp;
	size_t i;

	fprintf(f, "usage: berth [--config FILE] %s%s%s\n\n%s\n", cmd->name,
		cmd->args ? " " : "", cmd->args ? cmd->args : "", cmd->summary);
	if (cmd->opts == NULL || cmd->opts[0].name == NULL)
		return;
	fputs("\noptions:\n", f);
	for (i = 0; cmd->opts[i].name != NULL; i++) {
		char left[64];

		snprintf(left, sizeof(left), "--%s%s%s", cmd->opts[i].name,
			 cmd->opts[i].arg ? " " : "",
			 cmd->opts[i].arg ? cmd->opts[i].arg : "");
		fprintf(f, "  %-24s %s\n", left, cmd->opts[i].help);
	}
	fprintf(f, "  %-24s %s\n", "--help", "show this help");
}


static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig)
{
	stop_signal = sig;
}

bool cli_stop_requested(void)
{
	return stop_signal != 0;
}

void cli_catch_stop_signals(void)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < BERTH_ARRAY_LEN(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
}
