/*
 * daemon.c — `berth serve`: starting, the signals, reloading the config and
 * stopping (SPEC §7; docs/webhooks.md). The queue is daemon_queue.c, the
 * poll daemon_poll.c, the HTTP side webhooks/server.c.
 *
 * Start: load the config and the secrets, open the inbox, every
 * environment's state and what it had queued, bind, then act on what a
 * previous run accepted and did not finish (queued.json files and queued
 * inbox records). Signals are libevent events on the one base: TERM/INT
 * stop accepting and wait for running deployments, HUP reloads, CHLD reaps.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "berth.h"
#include "webhooks.h"

#define MAINT_INTERVAL_S 60

struct daemon_env *daemon_env_find(struct daemon *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->nenvs; i++)
		if (strcmp(d->envs[i]->name, name) == 0)
			return d->envs[i];
	return NULL;
}

void daemon_child_gone(struct daemon *d)
{
	if (d->stopping && daemon_queue_running(d) == 0 && d->poll == NULL &&
	    d->status_run == NULL && daemon_sched_running(d) == 0) {
		log_info("msg=\"stopped\"");
		event_base_loopexit(d->base, NULL);
	}
}

/* ---- secrets ---- */

static void secrets_wipe(struct buf *secrets, struct buf *tokens,
			 struct buf *api)
{
	size_t i;

	for (i = 0; i < PROVIDER_COUNT; i++) {
		secret_wipe(&secrets[i]);
		secret_wipe(&tokens[i]);
	}
	secret_wipe(api);
}

/* Loads ref into out when the config names it (an unnamed ref stays
 * empty); a named secret that cannot be read is an error in errs. */
static int secret_load_named(struct buf *out, const struct secret_ref *ref,
			     const char *what, struct merrs *errs)
{
	struct berr err;

	if (ref->env == NULL && ref->file == NULL)
		return 0;
	if (secret_load(out, ref, what, &err) != 0) {
		merrs_add(errs, "%s", err.msg);
		return -1;
	}
	return 0;
}

/* Reads every secret cfg names; each must load and suit its provider. */
static int secrets_load(struct buf *secrets, struct buf *tokens,
			struct buf *api, const struct config *cfg,
			struct merrs *errs)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < PROVIDER_COUNT; i++) {
		const struct webhook_config *w = &cfg->webhooks[i];
		const char *name = config_provider_name((enum webhook_provider)i);
		struct verify_secrets vs = {0};
		char what[64], what_token[64];
		struct berr err;

		buf_init(&secrets[i], SECRET_MAX_BYTES);
		buf_init(&tokens[i], SECRET_MAX_BYTES);
		if (!w->enabled)
			continue;
		snprintf(what, sizeof(what), "webhooks.%s secret", name);
		snprintf(what_token, sizeof(what_token), "webhooks.%s token", name);
		if (secret_load_named(&secrets[i], &w->secret, what, errs) != 0 ||
		    secret_load_named(&tokens[i], &w->token, what_token, errs) != 0) {
			rc = -1;
			continue;
		}
		vs.secret = secrets[i].len ? secrets[i].data : NULL;
		vs.secret_len = secrets[i].len;
		vs.token = tokens[i].len ? tokens[i].data : NULL;
		vs.token_len = tokens[i].len;
		vs.tolerance_s = w->tolerance_s;
		if (verify_check_secrets((enum webhook_provider)i, &vs, &err) != 0) {
			merrs_add(errs, "%s", err.msg);
			rc = -1;
		}
	}
	buf_init(api, SECRET_MAX_BYTES);
	if (secret_load_named(api, &cfg->api_token, "api token", errs) != 0)
		rc = -1;
	return rc;
}

static void server_config_fill(struct server_config *sc, struct daemon *d)
{
	size_t i;

	memset(sc, 0, sizeof(*sc));
	sc->cfg = &d->cfg;
	for (i = 0; i < PROVIDER_COUNT; i++) {
		struct verify_secrets *vs = &sc->secrets[i];

		vs->secret = d->secrets[i].len ? d->secrets[i].data : NULL;
		vs->secret_len = d->secrets[i].len;
		vs->token = d->tokens[i].len ? d->tokens[i].data : NULL;
		vs->token_len = d->tokens[i].len;
		vs->tolerance_s = d->cfg.webhooks[i].tolerance_s;
	}
	sc->api_token = d->api_token.len ? d->api_token.data : NULL;
	sc->api_token_len = d->api_token.len;
}

/* ---- environments ---- */

/* Opens (or reopens, after a reload) every configured environment. */
static void envs_sync(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->nenvs; i++)
		d->envs[i]->configured = false;
	for (i = 0; i < d->cfg.nenvs; i++) {
		const char *name = d->cfg.envs[i].name;
		struct daemon_env *e = daemon_env_find(d, name);
		struct merrs errs = {0};
		struct envctx *ctx = xcalloc(1, sizeof(*ctx));
		size_t k;

		if (e == NULL) {
			e = daemon_env_new(d, name);
			d->envs = xrealloc(d->envs, (d->nenvs + 1) * sizeof(*d->envs));
			d->envs[d->nenvs++] = e;
		}
		e->configured = true;
		if (envctx_open(ctx, d->config_path, name, &errs) != 0) {
			for (k = 0; k < errs.n; k++)
				log_error("msg=\"cannot open environment\" env=%s "
					  "error=\"%s\"", name, errs.items[k]);
			envctx_close(ctx);
			free(ctx);
			ctx = NULL;
		}
		merrs_release(&errs);
		if (e->ctx != NULL) {
			envctx_close(e->ctx);
			free(e->ctx);
		}
		e->ctx = ctx;
	}
}

/* What the last run left: queued.json, and the last commit deployed. */
static void env_restore(struct daemon *d, struct daemon_env *e)
{
	struct deployment rec;
	struct queued q;
	struct berr err;
	int rc;

	if (e->ctx == NULL)
		return;
	if (state_latest(&e->ctx->st, &rec, &err) == 0) {
		if (rec.commit[0])
			memcpy(e->last_seen, rec.commit, 41);
		deployment_release(&rec);
	}
	rc = queued_read(&q, &e->ctx->st, &err);
	if (rc == 0) {
		log_info("msg=\"resuming a queued deployment\" env=%s trigger=%s",
			 e->name, q.trigger ? q.trigger : "-");
		daemon_queue_add(d, e, &q);
		queued_release(&q);
	} else if (rc != BERTH_ENOTFOUND) {
		log_error("msg=\"cannot read the queue\" env=%s error=\"%s\"",
			  e->name, err.msg);
	}
}

/* A delivery accepted before a crash whose deployment never finished. */
static void replay_one(const struct inbox_view *v, void *arg)
{
	struct daemon *d = arg;
	const char *p = v->envs;
	size_t i = 0;

	while (p != NULL && *p) {
		const char *comma = strchr(p, ',');
		char name[65];
		struct daemon_env *e;

		snprintf(name, sizeof(name), "%.*s",
			 (int)(comma ? (size_t)(comma - p) : strlen(p)), p);
		e = daemon_env_find(d, name);
		if ((v->pending & (1u << i)) && e != NULL && e->configured) {
			struct queued q;
			char trigger[SERVER_TRIGGER_MAX];

			if (strcmp(v->provider, "api") == 0)
				snprintf(trigger, sizeof(trigger), "api");
			else
				snprintf(trigger, sizeof(trigger), "webhook:%s:%s",
					 v->provider, v->delivery);
			log_info("msg=\"acting on a delivery accepted before a "
				 "restart\" env=%s trigger=%s", name, trigger);
			queued_init(&q);
			q.kind = v->kind;
			q.trigger = trigger;
			q.rev = (char *)v->rev;
			memcpy(q.hint, v->after, 41);
			q.seq = v->seq;
			q.requests = 1;
			daemon_queue_add(d, e, &q);
		}
		p = comma ? comma + 1 : NULL;
		i++;
	}
}

/* ---- signals ---- */

static void reload(struct daemon *d)
{
	struct buf secrets[PROVIDER_COUNT], tokens[PROVIDER_COUNT], api;
	struct server_config sc;
	struct merrs errs = {0};
	struct config cfg;
	size_t i;

	log_info("msg=\"reloading the config\" config=%s", d->config_path);
	if (config_load(&cfg, d->config_path, &errs) != 0) {
		for (i = 0; i < errs.n; i++)
			log_error("msg=\"config reload refused: keeping the old "
				  "config\" error=\"%s\"", errs.items[i]);
		merrs_release(&errs);
		metrics_add(d->m, "berth_config_reloads_total",
			    (const char *[]){"result", "error", NULL}, 1);
		return;
	}
	if (strcmp(cfg.state_dir, d->cfg.state_dir) != 0)
		merrs_add(&errs, "state_dir cannot change while berth serve "
				 "runs: restart it");
	if (secrets_load(secrets, tokens, &api, &cfg, &errs) != 0 || errs.n > 0) {
		for (i = 0; i < errs.n; i++)
			log_error("msg=\"config reload refused: keeping the old "
				  "config\" error=\"%s\"", errs.items[i]);
		secrets_wipe(secrets, tokens, &api);
		config_release(&cfg);
		merrs_release(&errs);
		metrics_add(d->m, "berth_config_reloads_total",
			    (const char *[]){"result", "error", NULL}, 1);
		return;
	}
	if (strcmp(cfg.listen, d->cfg.listen) != 0)
		log_warn("msg=\"listen changed: it takes effect at the next "
			 "start\" listen=%s", cfg.listen);
	secrets_wipe(d->secrets, d->tokens, &d->api_token);
	config_release(&d->cfg);
	d->cfg = cfg;
	memcpy(d->secrets, secrets, sizeof(secrets));
	memcpy(d->tokens, tokens, sizeof(tokens));
	d->api_token = api;
	server_config_fill(&sc, d);
	server_set_config(d->srv, &sc);
	envs_sync(d);
	for (i = 0; i < d->nenvs; i++)
		daemon_queue_kick(d, d->envs[i]);
	daemon_poll_schedule(d);
	daemon_sched_schedule(d);
	metrics_add(d->m, "berth_config_reloads_total",
		    (const char *[]){"result", "ok", NULL}, 1);
	log_info("msg=\"config reloaded\" environments=%zu", d->cfg.nenvs);
}

static void on_signal(int sig, short what, void *arg)
{
	struct daemon *d = arg;
	size_t n;

	(void)what;
	if (sig == SIGHUP) {
		reload(d);
		return;
	}
	if (sig == SIGCHLD) {
		int wstatus;
		pid_t pid;

		while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0) {
			if (!daemon_queue_reaped(d, pid, wstatus) &&
			    !daemon_poll_reaped(d, pid, wstatus) &&
			    !daemon_sched_reaped(d, pid, wstatus) &&
			    !daemon_status_reaped(d, pid, wstatus))
				log_debug("msg=\"reaped an unknown child\" pid=%d",
					  (int)pid);
		}
		return;
	}
	if (d->stopping) {
		log_info("msg=\"already stopping\" running=%zu",
			 daemon_queue_running(d));
		return;
	}
	d->stopping = true;
	server_drain(d->srv);
	daemon_poll_stop(d);
	daemon_sched_stop(d);
	daemon_status_stop(d);
	metrics_set(d->m, "berth_ready", NULL, 0);
	daemon_queue_flush(d);
	n = daemon_queue_running(d);
	log_info("msg=\"stopping: no new work is accepted\" signal=%s "
		 "running=%zu", sig == SIGTERM ? "TERM" : "INT", n);
	daemon_child_gone(d);
}

static void on_maint(int fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct berr err;

	(void)fd;
	(void)what;
	if (inbox_maintain(d->ib, strnum_now_ms() / 1000, &err) != 0)
		log_error("msg=\"inbox maintenance failed\" error=\"%s\"", err.msg);
	metrics_set(d->m, "berth_inbox_entries", NULL, (double)inbox_count(d->ib));
}

static void daemon_release(struct daemon *d)
{
	size_t i;

	server_free(d->srv);
	for (i = 0; i < BERTH_ARRAY_LEN(d->sigs); i++)
		if (d->sigs[i] != NULL)
			event_free(d->sigs[i]);
	for (i = 0; i < d->nenvs; i++)
		daemon_env_free(d->envs[i]);
	free(d->envs);
	daemon_child_free(d->poll);
	if (d->maint)
		event_free(d->maint);
	if (d->flush)
		event_free(d->flush);
	if (d->poll_timer)
		event_free(d->poll_timer);
	if (d->poll_deadline)
		event_free(d->poll_deadline);
	inbox_close(d->ib);
	metrics_free(d->m);
	secrets_wipe(d->secrets, d->tokens, &d->api_token);
	config_release(&d->cfg);
	free(d->config_path);
	if (d->base)
		event_base_free(d->base);
}

static int write_port_file(const char *path, int port)
{
	char text[16];
	struct berr err;
	int n = snprintf(text, sizeof(text), "%d\n", port);

	if (fs_write_atomic(path, text, (size_t)n, 0644, &err) != 0) {
		log_error("msg=\"cannot write the port file\" error=\"%s\"", err.msg);
		return -1;
	}
	return 0;
}

/*
 * The event loop. With epoll's change list, libevent applies the changes
 * made to a descriptor's events during one turn of the loop as one
 * epoll_ctl (or none, when they cancel out) instead of one per change
 * (a connection whose reply waits for the socket, then goes out within
 * the same turn, costs nothing). The change list's
 * caveat (a descriptor dup()ed and closed while registered) does not apply:
 * the only descriptor duplicated here is the inbox file's, never watched.
 */
static struct event_base *new_event_base(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (cfg == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

int daemon_run(const struct daemon_opts *o)
{
	static const int signals[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD};
	struct server_ops ops = {daemon_queue_job, daemon_status_request, NULL};
	struct server_config sc;
	struct merrs errs = {0};
	struct daemon d;
	struct berr err;
	struct timeval maint_tv = {MAINT_INTERVAL_S, 0};
	char *inbox_dir = NULL;
	int status = EXIT_FAILED, port = 0;
	size_t i;

	memset(&d, 0, sizeof(d));
	signal(SIGPIPE, SIG_IGN);
	d.deploy_program = getenv(DAEMON_DEPLOY_PROGRAM_ENV);
	if (d.deploy_program != NULL && d.deploy_program[0] == '\0')
		d.deploy_program = NULL;
	if (config_load(&d.cfg, o->config_path, &errs) != 0) {
		config_print_errors(&errs, stderr);
		goto out;
	}
	d.config_path = xstrdup(d.cfg.path);
	if (secrets_load(d.secrets, d.tokens, &d.api_token, &d.cfg, &errs) != 0) {
		config_print_errors(&errs, stderr);
		goto out;
	}
	d.base = new_event_base();
	if (d.base == NULL) {
		fprintf(stderr, "berth: cannot create the event loop\n");
		goto out;
	}
	d.m = metrics_new();
	metrics_set(d.m, "berth_build_info",
		    (const char *[]){"version", BERTH_VERSION, NULL}, 1);
	metrics_set(d.m, "berth_start_time_seconds", NULL,
		    (double)(strnum_now_ms() / 1000));
	metrics_set(d.m, "berth_ready", NULL, 0);
	inbox_dir = fs_join(d.cfg.state_dir, "inbox");
	if (inbox_open(&d.ib, inbox_dir, strnum_now_ms() / 1000, &err) != 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		goto out;
	}
	ops.arg = &d;
	server_config_fill(&sc, &d);
	d.srv = server_new(d.base, d.ib, d.m, &ops, &sc);
	if (server_listen(d.srv, d.cfg.listen_host, d.cfg.listen_port, &port,
			  &err) != 0) {
		fprintf(stderr, "berth: %s\n", err.msg);
		goto out;
	}
	log_info("msg=\"listening\" address=%s:%d version=%s", d.cfg.listen_host,
		 port, BERTH_VERSION);
	if (o->port_file != NULL && write_port_file(o->port_file, port) != 0)
		goto out;
	for (i = 0; i < BERTH_ARRAY_LEN(signals); i++) {
		d.sigs[i] = evsignal_new(d.base, signals[i], on_signal, &d);
		if (d.sigs[i] == NULL || event_add(d.sigs[i], NULL) != 0)
			fatal("cannot watch signal %d", signals[i]);
	}
	daemon_queue_init(&d);
	d.maint = event_new(d.base, -1, EV_PERSIST, on_maint, &d);
	event_add(d.maint, &maint_tv);
	d.starting = true;
	envs_sync(&d);
	for (i = 0; i < d.nenvs; i++)
		env_restore(&d, d.envs[i]);
	inbox_foreach_queued(d.ib, replay_one, &d);
	d.starting = false;
	for (i = 0; i < d.nenvs; i++)
		daemon_queue_kick(&d, d.envs[i]);
	metrics_set(d.m, "berth_inbox_entries", NULL, (double)inbox_count(d.ib));
	daemon_poll_schedule(&d);
	daemon_sched_schedule(&d);
	server_set_ready(d.srv, true);
	metrics_set(d.m, "berth_ready", NULL, 1);
	log_info("msg=\"ready\" environments=%zu inbox=%zu", d.cfg.nenvs,
		 inbox_count(d.ib));
	if (event_base_dispatch(d.base) != 0) {
		log_error("msg=\"event loop failed\"");
		goto out;
	}
	daemon_queue_flush(&d);
	status = EXIT_OK;
out:
	free(inbox_dir);
	merrs_release(&errs);
	daemon_release(&d);
	return status;
}
