/*
 * cmd_hooks.c — `berth hooks install --bare-repo PATH [--env ENV]`: installs
 * the pre-receive and post-receive hooks into the bare repository pushes go
 * to (SPEC §10; docs/hooks.md).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hooks.h"

static const struct cli_opt opts[] = {
    {"bare-repo", "PATH",
     "the bare repository to install the hooks into (required)"},
    {"env", "ENV",
     "deploy only this environment from pushes (default: every environment, by "
     "branch)"},
    {NULL, NULL, NULL},
};

/* One line per environment: what a push of its branch does. */
static void print_envs(const struct config *cfg, const char *only)
{
	size_t i;

	for (i = 0; i < cfg->nenvs; i++) {
		const struct env_config *e = &cfg->envs[i];

		if (only != NULL && strcmp(only, e->name) != 0)
			continue;
		printf("  %-12s push to '%s': %s is checked, %s\n", e->name,
		       e->branch, e->manifest,
		       e->auto_deploy ? "then deployed"
		                      : "not deployed (auto_deploy is off)");
	}
}

/* Whether repo.url names the repository at real (a local path). */
static bool url_is(const char *url, const char *real)
{
	char there[PATH_MAX];

	if (strncmp(url, "file://", 7) == 0)
		url += 7;
	return url[0] == '/' && realpath(url, there) != NULL &&
	       strcmp(there, real) == 0;
}

static int install(struct cli *cli)
{
	struct install_opts o;
	struct install_report rep;
	struct config cfg;
	struct merrs errs = {0};
	struct berr err;
	char exe[PATH_MAX];
	ssize_t len;
	size_t i;
	int status = EXIT_FAILED;

	memset(&o, 0, sizeof(o));
	memset(&rep, 0, sizeof(rep));
	o.bare_repo = cli_value(cli, "bare-repo");
	o.env = cli_value(cli, "env");
	if (o.bare_repo == NULL) {
		fprintf(stderr, "berth: hooks install: --bare-repo PATH is "
		                "required\n");
		return EXIT_USAGE;
	}
	if (config_load(&cfg, cli->config_path, &errs) != 0) {
		config_print_errors(&errs, stderr);
		merrs_release(&errs);
		return EXIT_FAILED;
	}
	if (o.env != NULL && config_env(&cfg, o.env) == NULL) {
		fprintf(stderr,
		        "berth: hooks install: environment '%s' is not "
		        "in %s\n",
		        o.env, cfg.path);
		goto out;
	}
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0) {
		fprintf(stderr, "berth: cannot find the berth binary: %s\n",
		        strerror(errno));
		goto out;
	}
	exe[len] = '\0';
	o.berth_path = exe;
	o.config_path = cfg.path;
	if (install_hooks(&rep, &o, &err) != 0) {
		fprintf(stderr, "berth: hooks install: %s\n", err.msg);
		goto out;
	}
	printf("hooks of %s (in %s):\n", rep.repo, rep.hooks_dir);
	for (i = 0; i < BERTH_ARRAY_LEN(rep.hooks); i++) {
		const struct install_hook *h = &rep.hooks[i];

		printf("  %-13s %s\n", h->name, h->what);
		if (h->chained != NULL)
			printf("  %-13s %s %s, and runs first with the same "
			       "input\n",
			       "",
			       h->chained_now ? "the hook that was there "
			                        "is kept as"
			                      : "the earlier hook stays "
			                        "as",
			       h->chained);
	}
	printf("they run %s --config %s\n", o.berth_path, o.config_path);
	print_envs(&cfg, o.env);
	if (!url_is(cfg.repo.url, rep.repo))
		printf("warning: repo.url in %s is not this repository: berth "
		       "deploys what it fetches from there; set it to "
		       "\"%s\" so that what is pushed here is what is "
		       "deployed\n",
		       cfg.path, rep.repo);
	status = EXIT_OK;
out:
	install_report_release(&rep);
	config_release(&cfg);
	merrs_release(&errs);
	return status;
}

static int run(struct cli *cli)
{
	if (strcmp(cli->args[0], "install") != 0) {
		fprintf(stderr,
		        "berth: hooks: unknown subcommand '%s' "
		        "(expected: install)\n",
		        cli->args[0]);
		return EXIT_USAGE;
	}
	return install(cli);
}

const struct cli_cmd cmd_hooks = {
    .name = "hooks",
    .args = "install --bare-repo PATH [--env ENV]",
    .summary = "install the Git hooks into a bare repository",
    .opts = opts,
    .min_args = 1,
    .max_args = 1,
    .run = run,
};
