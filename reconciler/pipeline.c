/*
 * pipeline.c — one deployment's journal and progress (SPEC §5,
 * docs/pipeline.md): every step is written to the deployment record when
 * it starts and when it ends, so that after a crash the record says which
 * step was running, and shown to people as it happens, one flushed line per
 * step with what it printed indented under it. Also the notify step, which
 * apply and crash recovery share, and the pause points of the debugging aid
 * BERTH_DEBUG_PAUSE.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "berth.h"

/* How often a paused berth looks for the file that lets it go on. */
#define PAUSE_POLL_MS 50

void pipeline_init(struct pipeline *p, struct envctx *ctx, struct deployment *d,
                   void *out)
{
	memset(p, 0, sizeof(*p));
	p->ctx = ctx;
	p->d = d;
	p->out = out;
	buf_init(&p->tail, 2 * PIPELINE_TAIL);
}

void pipeline_release(struct pipeline *p)
{
	if (p == NULL)
		return;
	buf_release(&p->tail);
	memset(p, 0, sizeof(*p));
}

int pipeline_save(struct pipeline *p, struct berr *err)
{
	struct berr e;
	struct buf kv;

	p->saved_ms = strnum_mono_ms();
	if (state_save_deployment(&p->ctx->st, p->d, &e) == 0)
		return 0;
	/* Logged here once; the caller decides whether it matters. */
	buf_init(&kv, 1024);
	log_kv(&kv, "error", e.msg);
	log_error("msg=\"cannot write the deployment record\" id=%lld%s",
	          (long long)p->d->id, buf_str(&kv));
	buf_release(&kv);
	p->save_failed = true;
	if (err != NULL)
		*err = e;
	return -1;
}

/* The step being run (its address changes when steps are added). */
static struct step_record *current_step(struct pipeline *p)
{
	return p->in_step ? &p->d->steps[p->step] : NULL;
}

static void print_header(struct pipeline *p)
{
	struct step_record *s = current_step(p);
	FILE *f = p->out;

	if (f == NULL || s == NULL || p->header)
		return;
	if (p->number > 0)
		fprintf(f, "[%d/%d] %s\n", p->number, PIPELINE_STEPS, s->name);
	else
		fprintf(f, "[%s]\n", s->name);
	p->header = true;
}

/* Sleeps ms milliseconds, resuming after signals. */
static void sleep_ms(int64_t ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void pipeline_pause(const char *point)
{
	const char *want = getenv("BERTH_DEBUG_PAUSE");
	const char *dir = getenv("BERTH_DEBUG_PAUSE_DIR");
	char *paused = NULL, *go = NULL, *text = NULL;
	struct berr err;

	if (want == NULL || dir == NULL || dir[0] == '\0' ||
	    strcmp(want, point) != 0)
		return;
	paused = fs_join(dir, "paused");
	go = fs_join(dir, "continue");
	text = xasprintf("%s %ld\n", point, (long)getpid());
	if (fs_write_atomic(paused, text, strlen(text), 0644, &err) != 0) {
		fprintf(stderr, "berth: debug pause: %s\n", err.msg);
		goto out;
	}
	fprintf(stderr,
	        "berth: paused at '%s' (BERTH_DEBUG_PAUSE); create "
	        "'%s' to go on\n",
	        point, go);
	while (!fs_exists(go))
		sleep_ms(PAUSE_POLL_MS);
out:
	free(text);
	free(go);
	free(paused);
}

int pipeline_begin(struct pipeline *p, int number, const char *name,
                   struct berr *err)
{
	struct step_record *s = deployment_step(p->d, name);
	char *point;
	int rc;

	s->status = STEP_RUNNING;
	s->started_ms = strnum_now_ms();
	s->finished_ms = 0;
	deployment_set(&s->detail, NULL);
	deployment_set(&s->output_tail, NULL);
	p->step = (size_t)(s - p->d->steps);
	p->in_step = true;
	p->number = number;
	p->header = false;
	p->t0 = strnum_mono_ms();
	buf_reset(&p->tail);
	rc = pipeline_save(p, err);
	if (rc != 0)
		berr_prefix(err, "cannot record step '%s'", name);
	point = xasprintf("%s:begin", name);
	pipeline_pause(point);
	free(point);
	return rc;
}

/* Appends one line of output to the step's tail and shows it. */
static void add_line(struct pipeline *p, const char *line, size_t len)
{
	FILE *f = p->out;

	buf_append(&p->tail, line, len);
	buf_putc(&p->tail, '\n');
	if (p->tail.len > PIPELINE_TAIL)
		buf_keep_tail(&p->tail, PIPELINE_TAIL);
	/* The record keeps up with the output, at most once a second, so
	 * that a step killed half-way still shows what it was doing. */
	if (p->in_step && strnum_mono_ms() - p->saved_ms >= PIPELINE_SAVE_MS) {
		deployment_set(&p->d->steps[p->step].output_tail,
		               buf_str(&p->tail));
		pipeline_save(p, NULL);
	}
	if (f == NULL)
		return;
	print_header(p);
	fprintf(f, "    %.*s\n", (int)len, line);
	fflush(f);
}

void pipeline_on_line(const char *line, size_t len, void *arg)
{
	add_line(arg, line, len);
}

void pipeline_text(struct pipeline *p, const char *text)
{
	const char *s = text, *nl;

	while (s != NULL && *s != '\0') {
		nl = strchr(s, '\n');
		add_line(p, s, nl ? (size_t)(nl - s) : strlen(s));
		s = nl ? nl + 1 : NULL;
	}
}

void pipeline_line(struct pipeline *p, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b, 0);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	pipeline_text(p, buf_str(&b));
	buf_release(&b);
}

void pipeline_end(struct pipeline *p, enum step_status status, const char *fmt,
                  ...)
{
	struct step_record *s = current_step(p);
	const char *how = status == STEP_FAILED    ? "failed: "
	                  : status == STEP_SKIPPED ? "skipped: "
	                                           : "";
	struct buf detail;
	FILE *f = p->out;
	va_list ap;

	if (s == NULL)
		return;
	if (status != STEP_FAILED)
		pipeline_pause(s->name);
	s = current_step(p);
	if (s == NULL)
		return;
	buf_init(&detail, 0);
	va_start(ap, fmt);
	buf_vprintf(&detail, fmt, ap);
	va_end(ap);
	s->status = status;
	s->finished_ms = strnum_now_ms();
	deployment_set(&s->detail, buf_str(&detail));
	deployment_set(&s->output_tail, p->tail.len ? buf_str(&p->tail) : NULL);
	pipeline_save(p, NULL);
	if (f != NULL) {
		double secs = (double)(strnum_mono_ms() - p->t0) / 1000.0;

		if (p->number > 0)
			fprintf(f, "[%d/%d] %s … %s%s %.1f s\n", p->number,
			        PIPELINE_STEPS, s->name, how, buf_str(&detail),
			        secs);
		else
			fprintf(f, "[%s] … %s%s %.1f s\n", s->name, how,
			        buf_str(&detail), secs);
		fflush(f);
	}
	buf_release(&detail);
	p->in_step = false;
}

void pipeline_say(struct pipeline *p, const char *fmt, ...)
{
	FILE *f = p->out;
	va_list ap;

	if (f == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fflush(f);
}

void pipeline_driver_ctx(struct driver_ctx *dctx, struct pipeline *p)
{
	memset(dctx, 0, sizeof(*dctx));
	dctx->st = &p->ctx->st;
	dctx->vars = &p->ctx->vars;
	dctx->on_line = pipeline_on_line;
	dctx->arg = p;
}

size_t pipeline_notify_targets(struct notify_target **targets,
                               struct buf **bufs, struct envctx *ctx,
                               const struct manifest *m)
{
	const struct config *cfg = &ctx->cfg;
	size_t n = cfg->nnotify + (m != NULL ? m->nnotify : 0), i, k = 0;

	*targets = xcalloc(n + 1, sizeof(**targets));
	*bufs = xcalloc(n + 1, sizeof(**bufs));
	for (i = 0; i < cfg->nnotify; i++, k++) {
		const struct secret_ref *ref = &cfg->notify[i].url;
		struct berr err;

		buf_init(&(*bufs)[k], SECRET_MAX_BYTES);
		(*targets)[k].type = cfg->notify[i].type;
		(*targets)[k].source = ref->env ? ref->env : ref->file;
		if (secret_load(&(*bufs)[k], ref, "notify url", &err) == 0)
			(*targets)[k].url = buf_str(&(*bufs)[k]);
	}
	for (i = 0; m != NULL && i < m->nnotify; i++, k++) {
		const char *url = envctx_var(ctx, m->notify[i].url_env);

		buf_init(&(*bufs)[k], SECRET_MAX_BYTES);
		(*targets)[k].type = m->notify[i].type;
		(*targets)[k].source = m->notify[i].url_env;
		if (url != NULL && url[0] != '\0') {
			buf_puts(&(*bufs)[k], url);
			(*targets)[k].url = buf_str(&(*bufs)[k]);
		}
	}
	return k;
}

size_t pipeline_notify(struct pipeline *p, const struct manifest *m,
                       enum deploy_status status, int64_t duration_ms)
{
	struct deployment *d = p->d;
	struct notify_target *targets = NULL;
	struct notify_result *results = NULL;
	struct notify_event ev;
	struct buf *bufs = NULL;
	size_t n, i, sent = 0;

	if (pipeline_begin(p, 10, "notify", NULL) != 0)
		pipeline_line(p, "warning: the journal could not be written");
	n = pipeline_notify_targets(&targets, &bufs, p->ctx, m);
	if (n == 0) {
		pipeline_end(p, STEP_SKIPPED, "no notifiers configured");
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.env = d->env;
	ev.commit = d->commit[0] ? d->commit : NULL;
	ev.previous_commit = d->previous_commit[0] ? d->previous_commit : NULL;
	ev.status = deploy_status_name(status);
	ev.trigger = d->trigger;
	ev.deployment_id = d->id;
	ev.duration_ms = duration_ms;
	ev.finished_at = strnum_now_ms() / 1000;
	results = xcalloc(n, sizeof(*results));
	sent = notify_send_all(results, targets, n, &ev, NULL);
	for (i = 0; i < n; i++) {
		char *line = notify_describe_result(&results[i]);

		pipeline_line(p, "%s", line);
		free(line);
		notify_result_release(&results[i]);
	}
	/* A notifier never fails a deployment: the step is ok either way. */
	pipeline_end(p, STEP_OK, "%zu of %zu sent", sent, n);
out:
	pipeline_notify_targets_free(targets, bufs, n);
	free(results);
	return sent;
}

void pipeline_notify_targets_free(struct notify_target *targets,
                                  struct buf *bufs, size_t n)
{
	size_t i;

	for (i = 0; bufs != NULL && i < n; i++)
		secret_wipe(&bufs[i]);
	free(bufs);
	free(targets);
}

int pipeline_record_action(struct deployment *out, struct envctx *ctx,
                           const char *kind, const char *detail,
                           struct berr *err)
{
	struct step_record *s;
	int64_t now = strnum_now_ms();

	deployment_init(out);
	deployment_set(&out->kind, kind);
	deployment_set(&out->trigger, "cli");
	out->status = DEPLOY_SUCCEEDED;
	out->started_at = now / 1000;
	out->finished_at = now / 1000;
	out->pid = (int)getpid();
	s = deployment_step(out, kind);
	s->status = STEP_OK;
	s->started_ms = now;
	s->finished_ms = now;
	s->detail = xstrdup(detail);
	return state_create_deployment(&ctx->st, out, err);
}
