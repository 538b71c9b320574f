/*
 * driver.c — the interface between the deploy pipeline and the drivers, and
 * what every driver shares: the environment commands get (SPEC §3), looking
 * up the programs they need, running the manifest's build commands, and
 * waiting for a service to be healthy through the driver's own view of it.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

/* Build output kept for the step record. */
#define DRIVER_BUILD_TAIL ((size_t)16 << 10)
/* Longest last line quoted in a build failure message. */
#define DRIVER_LAST_LINE 200
/* A driver's runtime state file: its size limit and mode. */
#define DRIVER_STATE_MAX  ((size_t)4 << 20)
#define DRIVER_STATE_MODE 0640

const struct driver_ops *driver_for(const struct manifest *m)
{
	switch (m->driver) {
	case MANIFEST_DRIVER_PROCESS:
		return &driver_process;
	case MANIFEST_DRIVER_COMPOSE:
		return &driver_compose;
	}
	return NULL;
}

const char *driver_name(enum manifest_driver d)
{
	switch (d) {
	case MANIFEST_DRIVER_PROCESS:
		return "process";
	case MANIFEST_DRIVER_COMPOSE:
		return "compose";
	}
	return "unknown";
}

void driver_live_release(struct service_live *l)
{
	if (l == NULL)
		return;
	free(l->name);
	free(l->hash);
	free(l->commit);
	free(l->detail);
	free(l->health);
	free(l->health_output);
	free(l->image);
	free(l->changed);
	free(l->ports);
	memset(l, 0, sizeof(*l));
}

void driver_live_free(struct service_live *l, size_t n)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; i < n; i++)
		driver_live_release(&l[i]);
	free(l);
}

void driver_env(struct kvlist *env, const struct kvlist *vars,
                const struct kvlist *service_env)
{
	spawn_env_base(env);
	kvlist_merge(env, vars);
	kvlist_merge(env, service_env);
}

void driver_need_program(struct strv *missing, const char *argv0,
                         const struct kvlist *env)
{
	struct berr err;
	char *path = NULL;

	if (argv0 == NULL || argv0[0] == '\0')
		return; /* an empty command is the manifest's error */
	if (argv0[0] != '/' && strchr(argv0, '/') != NULL)
		return;
	if (spawn_which(&path, argv0, env, NULL, &err) < 0 &&
	    !strv_contains(missing, argv0))
		strv_push(missing, argv0);
	free(path);
}

/* True when a shell would need s quoted to read it back as one word. */
static bool needs_quotes(const char *s)
{
	if (s[0] == '\0')
		return true;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && strchr("-_./=:,+@%", c) == NULL)
			return true;
	}
	return false;
}

char *driver_argv_str(const char *const *argv, size_t max)
{
	struct buf b;
	size_t i;

	buf_init(&b, max + 4096);
	for (i = 0; argv != NULL && argv[i] != NULL && b.len <= max; i++) {
		const char *p;

		if (i > 0)
			buf_putc(&b, ' ');
		if (!needs_quotes(argv[i])) {
			buf_puts(&b, argv[i]);
			continue;
		}
		buf_putc(&b, '\'');
		for (p = argv[i]; *p != '\0' && b.len <= max; p++) {
			if (*p == '\'')
				buf_puts(&b, "'\\''");
			else
				buf_putc(&b, *p);
		}
		buf_putc(&b, '\'');
	}
	if (b.len > max) {
		b.len = max > 3 ? max - 3 : 0;
		b.data[b.len] = '\0';
		buf_puts(&b, "...");
	}
	return buf_detach(&b);
}

char *driver_last_line(const struct buf *out)
{
	const char *s = buf_str(out);
	size_t end = out->len, start;

	while (end > 0 && (s[end - 1] == '\n' || s[end - 1] == '\r'))
		end--;
	start = end;
	while (start > 0 && s[start - 1] != '\n')
		start--;
	if (end - start > DRIVER_LAST_LINE)
		start = end - DRIVER_LAST_LINE;
	return xstrndup(s + start, end - start);
}

int driver_run_build(struct buf *output, const struct driver_ctx *ctx,
                     const struct manifest *m, const char *release_dir,
                     struct berr *err)
{
	struct kvlist env;
	struct buf tail;
	size_t i;
	int rc = 0;

	kvlist_init(&env);
	buf_init(&tail, 2 * DRIVER_BUILD_TAIL);
	driver_env(&env, ctx->vars, NULL);
	for (i = 0; rc == 0 && i < m->nbuild; i++) {
		const char *const *argv = (const char *const *)m->build[i].v;
		struct spawn_opts o = SPAWN_OPTS_INIT;
		struct spawn_result res;
		char *shown = driver_argv_str(argv, 120);

		o.argv = argv;
		o.env = &env;
		o.cwd = release_dir;
		o.capture_max = DRIVER_BUILD_TAIL;
		o.on_line = ctx->on_line;
		o.arg = ctx->arg;
		if (spawn_run(&res, &o, err) < 0) {
			rc = berr_prefix(err, "build command '%s'", shown);
		} else if (res.exit_code != 0 || res.timed_out) {
			char *status = spawn_describe_status(&res);
			char *line = driver_last_line(&res.output);

			rc = berr_set(err, "build command '%s' %s%s%s", shown,
			              status, line[0] ? ": " : "", line);
			free(line);
			free(status);
		}
		buf_append(&tail, res.output.data ? res.output.data : "",
		           res.output.len);
		buf_keep_tail(&tail, DRIVER_BUILD_TAIL);
		spawn_result_release(&res);
		free(shown);
	}
	if (output != NULL)
		buf_append(output, buf_str(&tail), tail.len);
	buf_release(&tail);
	kvlist_release(&env);
	return rc;
}

/* How long one answer of the driver's status serves both callbacks. */
#define WATCH_CACHE_MS 50

/* What driver_wait_healthy's callbacks need to ask the driver. */
struct watch {
	const struct driver_ops *ops;
	const struct driver_ctx *ctx;
	const char *service;
	struct service_live last; /* the last status answer */
	int rc;                   /* what status returned */
	struct berr err;
	int64_t at;  /* when (monotonic ms), 0: never */
	bool warned; /* a failure to ask was logged */
};

/* The driver's status of the service, asked at most every WATCH_CACHE_MS:
 * alive and verdict are called one after the other. */
static int watch_status(struct watch *w)
{
	int64_t now = strnum_mono_ms();

	if (w->at != 0 && now - w->at < WATCH_CACHE_MS)
		return w->rc;
	driver_live_release(&w->last);
	w->rc = w->ops->status(&w->last, w->ctx, w->service, &w->err);
	w->at = now;
	return w->rc;
}

static void log_failure(const char *what, const char *service,
                        const char *error)
{
	struct buf kv;

	buf_init(&kv, 4096);
	log_kv(&kv, "service", service);
	log_kv(&kv, "error", error);
	log_warn("msg=\"%s\"%s", what, buf_str(&kv));
	buf_release(&kv);
}

static bool watch_alive(struct buf *why, void *arg)
{
	struct watch *w = arg;
	int rc = watch_status(w);

	if (rc == BERTH_ENOTFOUND) {
		buf_puts(why, "no longer recorded as started");
		return false;
	}
	if (rc < 0) {
		/* Cannot tell: let the health check decide. Said once per
		 * wait: it is asked ten times a second. */
		if (!w->warned)
			log_failure("cannot read a service's state", w->service,
			            w->err.msg);
		w->warned = true;
		return true;
	}
	if (!w->last.running && w->last.detail != NULL)
		buf_puts(why, w->last.detail);
	return w->last.running;
}

static enum health_verdict watch_verdict(struct buf *why, void *arg)
{
	struct watch *w = arg;
	const char *h;

	if (watch_status(w) != 0 || w->last.health == NULL)
		return HEALTH_VERDICT_NONE;
	h = w->last.health;
	if (strcmp(h, "starting") == 0)
		return HEALTH_VERDICT_STARTING;
	if (strcmp(h, "healthy") == 0)
		return HEALTH_VERDICT_HEALTHY;
	buf_printf(why, "its container's health check says %s", h);
	if (w->last.health_output != NULL && w->last.health_output[0] != '\0')
		buf_printf(why, ": %s", w->last.health_output);
	return HEALTH_VERDICT_UNHEALTHY;
}

static void watch_log_tail(struct buf *out, void *arg)
{
	struct watch *w = arg;
	struct berr err;
	int rc;

	rc = w->ops->logs(out, w->ctx, w->service, DRIVER_LOG_TAIL_LINES, &err);
	if (rc < 0 && rc != BERTH_ENOTFOUND)
		log_failure("cannot read a service's log", w->service, err.msg);
}

int driver_wait_healthy(struct health_result *res, const struct driver_ops *ops,
                        const struct driver_ctx *ctx,
                        const struct manifest_service *svc)
{
	struct watch w;
	struct health_opts o = {0};
	int rc;

	memset(&w, 0, sizeof(w));
	w.ops = ops;
	w.ctx = ctx;
	w.service = svc->name;
	o.svc = svc;
	o.alive = watch_alive;
	o.log_tail = watch_log_tail;
	o.verdict = watch_verdict;
	o.arg = &w;
	rc = health_wait(res, &o);
	driver_live_release(&w.last);
	return rc;
}

int driver_state_load(struct json_t **root, const struct state *st,
                      const char *name, int version, struct berr *err)
{
	char *path = state_path(st, name);
	json_error_t jerr;
	json_int_t found;
	struct buf b;
	int rc;

	*root = NULL;
	buf_init(&b, DRIVER_STATE_MAX);
	rc = fs_read_file(&b, path, DRIVER_STATE_MAX, err);
	if (rc == BERTH_ENOTFOUND) {
		*root =
		    json_pack("{s:i, s:{}}", "version", version, "services");
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	*root = json_loadb(buf_str(&b), b.len, JSON_REJECT_DUPLICATES, &jerr);
	if (*root == NULL) {
		rc = berr_set(err, "invalid runtime state '%s': line %d: %s",
		              path, jerr.line, jerr.text);
		goto out;
	}
	found = json_integer_value(json_object_get(*root, "version"));
	if (!json_is_object(*root) ||
	    !json_is_object(json_object_get(*root, "services")))
		rc = berr_set(err,
		              "invalid runtime state '%s': $.services: "
		              "expected an object",
		              path);
	else if (found > version)
		/* Rewriting it would lose what a newer berth recorded. */
		rc = berr_set(err,
		              "runtime state '%s' was written by a newer berth "
		              "(version %lld)",
		              path, (long long)found);
	if (rc != 0) {
		json_decref(*root);
		*root = NULL;
	}
out:
	buf_release(&b);
	free(path);
	return rc;
}

int driver_state_save(const struct state *st, const char *name,
                      struct json_t *root, struct berr *err)
{
	char *path = state_path(st, name);
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	struct buf b;
	int rc;

	buf_init(&b, 0);
	buf_puts(&b, text);
	buf_putc(&b, '\n');
	rc = fs_write_atomic(path, b.data, b.len, DRIVER_STATE_MODE, err);
	buf_release(&b);
	free(text);
	free(path);
	return rc;
}
