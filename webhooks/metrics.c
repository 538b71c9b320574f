/*
 * metrics.c — the daemon's counters, gauges and histograms, and their
 * Prometheus text exposition for GET /metrics (docs/webhooks.md lists
 * every metric). Everything lives in the event loop's thread: no locking.
 * Label sets are few (providers, results, environments), so series are kept
 * in a flat array and found by a linear search.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webhooks.h"

/* Every metric berth exports, with its type and help text. */
static const struct metric_def {
	const char *name;
	const char *type;
	const char *help;
} defs[] = {
	{"berth_build_info", "gauge", "Always 1; the version label says which berth runs."},
	{"berth_start_time_seconds", "gauge", "When the daemon started (unix time)."},
	{"berth_ready", "gauge", "1 once the state is loaded and the daemon accepts work, 0 while starting or stopping."},
	{"berth_http_requests_total", "counter", "HTTP requests answered, by status code."},
	{"berth_http_connections", "gauge", "HTTP connections open now."},
	{"berth_http_request_duration_seconds", "histogram", "From a request's arrival (complete) to its reply, inbox fsync included."},
	{"berth_http_connections_refused_total", "counter", "Times the connection limit made the server stop accepting."},
	{"berth_webhooks_total", "counter", "Webhook deliveries by provider and result."},
	{"berth_inbox_entries", "gauge", "Deliveries kept in the inbox (dedupe window)."},
	{"berth_inbox_sync_seconds", "histogram", "Time of one inbox fsync (one per batch of deliveries)."},
	{"berth_inbox_batch_size", "histogram", "Deliveries made durable by one inbox fsync."},
	{"berth_queue_depth", "gauge", "Deployments waiting per environment (0 or 1: pushes coalesce)."},
	{"berth_deployments_running", "gauge", "Deployments running now per environment."},
	{"berth_deployments_total", "counter", "Finished deployments by environment and status."},
	{"berth_deploy_duration_seconds", "histogram", "Duration of finished deployments."},
	{"berth_last_successful_deploy_timestamp_seconds", "gauge", "When the last successful deployment of the environment finished (unix time)."},
	{"berth_lock_waits_total", "counter", "Deployments postponed because another process held the environment lock."},
	{"berth_polls_total", "counter", "Polls of the remote by result."},
	{"berth_config_reloads_total", "counter", "SIGHUP reloads by result."},
	{"berth_drift_checks_total", "counter", "Scheduled drift checks by environment and result (clean, drift, error)."},
	{"berth_drift_findings", "gauge", "Drift findings open per environment after the last check."},
	{"berth_drift_last_check_timestamp_seconds", "gauge", "When the last scheduled drift check of the environment ended (unix time)."},
	{"berth_drift_notifications_total", "counter", "Drift notifications sent (new and cleared findings)."},
	{"berth_drift_heals_total", "counter", "Drift heals by environment and the status of their deployment."},
	{"berth_backups_total", "counter", "Scheduled backups by environment and result (ok, failed)."},
	{"berth_backup_verifications_total", "counter", "Verifications of scheduled backups by result (ok, failed, skipped)."},
	{"berth_backups_pruned_total", "counter", "Backups removed by retention after scheduled backups."},
	{"berth_backup_last_success_timestamp_seconds", "gauge", "When the last good scheduled backup of the environment ended (unix time)."},
	{"berth_backup_size_bytes", "gauge", "Size of the last good scheduled backup."},
};

#define NBUCKETS_MAX 12

struct series {
	const struct metric_def *def;
	char *labels;   /* owned; rendered label set without braces, or "" */
	double value;   /* counter or gauge; histogram: sum */
	uint64_t count; /* histogram */
	uint64_t buckets[NBUCKETS_MAX];
};

struct metrics {
	struct series *s; /* owned */
	size_t n, cap;
	struct buf labels; /* scratch: the label set being looked up */
};

static const double sync_bounds[] = {0.0005, 0.001, 0.002, 0.005, 0.01,
				     0.025, 0.05, 0.1, 0.25, 1};
static const double reply_bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01,
				      0.025, 0.05, 0.1, 0.25, 1};
static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128};
static const double deploy_bounds[] = {5, 10, 30, 60, 120, 300, 600, 1200,
				       1800, 3600};

static const double *bounds_for(const struct metric_def *d, size_t *n)
{
	if (strcmp(d->name, "berth_inbox_sync_seconds") == 0) {
		*n = BERTH_ARRAY_LEN(sync_bounds);
		return sync_bounds;
	}
	if (strcmp(d->name, "berth_http_request_duration_seconds") == 0) {
		*n = BERTH_ARRAY_LEN(reply_bounds);
		return reply_bounds;
	}
	if (strcmp(d->name, "berth_inbox_batch_size") == 0) {
		*n = BERTH_ARRAY_LEN(batch_bounds);
		return batch_bounds;
	}
	*n = BERTH_ARRAY_LEN(deploy_bounds);
	return deploy_bounds;
}

struct metrics *metrics_new(void)
{
	return xcalloc(1, sizeof(struct metrics));
}

void metrics_free(struct metrics *m)
{
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->n; i++)
		free(m->s[i].labels);
	free(m->s);
	buf_release(&m->labels);
	free(m);
}

/* Label pairs ("provider", "github", "result", "queued", NULL) rendered
 * into b with Prometheus escaping (called for every update: no
 * allocation once b has grown). */
static void render_labels(struct buf *b, const char *const *kv)
{
	size_t i;

	buf_reset(b);
	for (i = 0; kv != NULL && kv[i] != NULL && kv[i + 1] != NULL; i += 2) {
		const char *v;

		if (i > 0)
			buf_putc(b, ',');
		buf_puts(b, kv[i]);
		buf_puts(b, "=\"");
		for (v = kv[i + 1]; *v; v++) {
			if (*v == '\\' || *v == '"')
				buf_putc(b, '\\');
			if (*v == '\n')
				buf_puts(b, "\\n");
			else
				buf_putc(b, *v);
		}
		buf_putc(b, '"');
	}
}

static struct series *series_get(struct metrics *m, const char *name,
				 const char *const *kv)
{
	const struct metric_def *def = NULL;
	const char *labels;
	size_t i;

	for (i = 0; i < BERTH_ARRAY_LEN(defs) && def == NULL; i++)
		if (strcmp(defs[i].name, name) == 0)
			def = &defs[i];
	if (def == NULL)
		fatal("metric '%s' is not declared", name);
	if (m->labels.max == 0)
		buf_init(&m->labels, 4096);
	render_labels(&m->labels, kv);
	labels = buf_str(&m->labels);
	for (i = 0; i < m->n; i++)
		if (m->s[i].def == def && strcmp(m->s[i].labels, labels) == 0)
			return &m->s[i];
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 32;
		m->s = xrealloc(m->s, m->cap * sizeof(*m->s));
	}
	memset(&m->s[m->n], 0, sizeof(m->s[0]));
	m->s[m->n].def = def;
	m->s[m->n].labels = xstrdup(labels);
	return &m->s[m->n++];
}

void metrics_add(struct metrics *m, const char *name, const char *const *labels,
		 double delta)
{
	series_get(m, name, labels)->value += delta;
}

void metrics_set(struct metrics *m, const char *name, const char *const *labels,
		 double value)
{
	series_get(m, name, labels)->value = value;
}

void metrics_observe(struct metrics *m, const char *name,
		     const char *const *labels, double value)
{
	struct series *s = series_get(m, name, labels);
	size_t n, i;
	const double *b = bounds_for(s->def, &n);

	s->value += value;
	s->count++;
	for (i = 0; i < n; i++)
		if (value <= b[i])
			s->buckets[i]++;
}

double metrics_value(struct metrics *m, const char *name,
		     const char *const *labels)
{
	return series_get(m, name, labels)->value;
}

static void put_number(struct buf *out, double v)
{
	if (v > -1e15 && v < 1e15 && (double)(int64_t)v == v)
		buf_printf(out, "%.0f", v);
	else
		buf_printf(out, "%.6g", v);
}

static void put_series(struct buf *out, const char *name, const char *suffix,
		       const char *labels, const char *extra, double v)
{
	bool any = labels[0] || (extra && extra[0]);

	buf_printf(out, "%s%s", name, suffix);
	if (any)
		buf_printf(out, "{%s%s%s}", labels,
			   labels[0] && extra && extra[0] ? "," : "",
			   extra ? extra : "");
	buf_putc(out, ' ');
	put_number(out, v);
	buf_putc(out, '\n');
}

void metrics_render(struct buf *out, const struct metrics *m)
{
	size_t d, i, k;

	for (d = 0; d < BERTH_ARRAY_LEN(defs); d++) {
		const struct metric_def *def = &defs[d];
		bool header = false;

		for (i = 0; i < m->n; i++) {
			const struct series *s = &m->s[i];

			if (s->def != def)
				continue;
			if (!header) {
				buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n",
					   def->name, def->help, def->name,
					   def->type);
				header = true;
			}
			if (strcmp(def->type, "histogram") != 0) {
				put_series(out, def->name, "", s->labels, NULL,
					   s->value);
				continue;
			}
			{
				size_t n;
				const double *b = bounds_for(def, &n);
				char le[48];

				for (k = 0; k < n; k++) {
					snprintf(le, sizeof(le), "le=\"%g\"", b[k]);
					put_series(out, def->name, "_bucket",
						   s->labels, le,
						   (double)s->buckets[k]);
				}
				put_series(out, def->name, "_bucket", s->labels,
					   "le=\"+Inf\"", (double)s->count);
				put_series(out, def->name, "_sum", s->labels,
					   NULL, s->value);
				put_series(out, def->name, "_count", s->labels,
					   NULL, (double)s->count);
			}
		}
	}
}
