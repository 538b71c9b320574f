/*
 * fuzz_config.c — config_parse() on arbitrary bytes. Beyond "no crash, no
 * leak, no UB", a config that parses must satisfy what its users rely on:
 * at least one environment, names and branches valid, paths absolute, at
 * most one of a secret's _env and _file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

static void must(bool ok)
{
	if (!ok)
		abort();
}

static void check_secret(const struct secret_ref *s)
{
	must(s->env == NULL || s->file == NULL);
	must(s->env == NULL || config_check_var_name(s->env));
	must(s->file == NULL || s->file[0] == '/');
}

static void check_config(const struct config *cfg)
{
	size_t i;

	must(cfg->nenvs >= 1);
	must(cfg->state_dir != NULL && cfg->state_dir[0] == '/');
	must(cfg->listen != NULL && cfg->listen_host != NULL);
	must(cfg->listen_port >= 0 && cfg->listen_port <= 65535);
	must(cfg->repo.url != NULL);
	check_secret(&cfg->repo.token);
	for (i = 0; i < cfg->nenvs; i++) {
		const struct env_config *e = &cfg->envs[i];

		must(config_check_env_name(e->name));
		must(config_check_branch(e->branch));
		must(config_check_repo_path(e->manifest));
		must(e->env_file == NULL || e->env_file[0] == '/');
		must(config_env(cfg, e->name) == e);
		must(config_env_for_branch(cfg, e->branch, NULL) != NULL);
	}
	for (i = 0; i < PROVIDER_COUNT; i++) {
		const struct webhook_config *w = &cfg->webhooks[i];

		check_secret(&w->secret);
		check_secret(&w->token);
		must(!(w->secret.env || w->secret.file) ||
		     !(w->token.env || w->token.file));
		must(w->tolerance_s >= 1);
	}
	check_secret(&cfg->api_token);
	for (i = 0; i < cfg->nnotify; i++) {
		check_secret(&cfg->notify[i].url);
		must(cfg->notify[i].url.env || cfg->notify[i].url.file);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct merrs errs = {0};

	if (config_parse(&cfg, (const char *)data, size, "config.json",
			 "/etc/berth", &errs) == 0) {
		must(errs.n == 0);
		check_config(&cfg);
		config_release(&cfg);
	} else {
		must(errs.n > 0);
		must(cfg.path == NULL && cfg.envs == NULL);
	}
	merrs_release(&errs);
	return 0;
}
