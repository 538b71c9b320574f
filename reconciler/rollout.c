/*
 * rollout.c — putting a release's services in place through a driver: stop
 * what runs (dependents first, SIGTERM then SIGKILL after stop_timeout_s),
 * start a manifest's services in dependency order, each healthy before the
 * next starts, and run the smoke tests (SPEC §5 steps 7 and 8). The deploy
 * step and the rollback both use it, and say what they do under their step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

/* Stops one service, with a line saying how it went. Returns 0, or -1
 * with err set. */
static int stop_one(struct pipeline *p, const struct driver_ops *ops,
                    const struct driver_ctx *dctx, const struct service_live *l,
                    struct berr *err)
{
	int64_t t0 = strnum_mono_ms();
	bool killed = false;
	double secs;
	int rc;

	rc = ops->stop(&killed, dctx, l->name, 0, err);
	secs = (double)(strnum_mono_ms() - t0) / 1000.0;
	if (rc == BERTH_ENOTFOUND)
		return 0; /* gone meanwhile */
	if (rc != 0) {
		pipeline_line(p, "cannot stop %s: %s", l->name, err->msg);
		return -1;
	}
	if (!l->running)
		pipeline_line(p, "forgot %s, which was not running (%s)",
		              l->name, l->detail ? l->detail : "exited");
	else if (killed)
		pipeline_line(p,
		              "stopped %s with SIGKILL after %.1f s: it did "
		              "not exit on SIGTERM within its stop timeout",
		              l->name, secs);
	else
		pipeline_line(p, "stopped %s in %.1f s", l->name, secs);
	return 0;
}

/* Stops the entries of live[0..n-1] whose done is false, dependents
 * before what they depend on (m's start order reversed; m may be NULL),
 * then those m does not know of (removed from the manifest, or started by
 * another release). Sets their done. Stops all it can; returns 0, or -1
 * with the first failure in err. */
static int stop_listed(struct pipeline *p, const struct driver_ops *ops,
                       const struct driver_ctx *dctx, const struct manifest *m,
                       const struct service_live *live, size_t n, bool *done,
                       struct berr *err)
{
	struct berr e;
	size_t i, k;
	int rc = 0;

	for (i = m != NULL ? m->nservices : 0; i-- > 0;) {
		const char *name = m->services[m->order[i]].name;

		for (k = 0; k < n; k++) {
			if (done[k] || strcmp(live[k].name, name) != 0)
				continue;
			done[k] = true;
			if (stop_one(p, ops, dctx, &live[k], &e) != 0 &&
			    rc == 0) {
				*err = e;
				rc = -1;
			}
		}
	}
	for (k = n; k-- > 0;) {
		if (done[k])
			continue;
		done[k] = true;
		if (stop_one(p, ops, dctx, &live[k], &e) != 0 && rc == 0) {
			*err = e;
			rc = -1;
		}
	}
	return rc;
}

int rollout_stop_all(struct pipeline *p, const struct driver_ops *ops,
                     const struct driver_ctx *dctx, const struct manifest *m,
                     struct berr *err)
{
	struct service_live *live = NULL;
	bool *done = NULL;
	size_t n = 0;
	int rc;

	if (ops->live(&live, &n, dctx, err) != 0)
		return -1;
	done = xcalloc(n + 1, sizeof(*done));
	rc = stop_listed(p, ops, dctx, m, live, n, done, err);
	free(done);
	driver_live_free(live, n);
	return rc;
}

/* Starts svc and waits for it to be healthy, with lines saying so.
 * Returns 0, or -1 with err set. */
static int start_one(struct pipeline *p, const struct driver_ops *ops,
                     const struct driver_ctx *dctx, const struct manifest *m,
                     const struct manifest_service *svc,
                     const char *release_dir, const char *commit,
                     struct berr *err)
{
	struct health_result res;
	struct service_live l;
	struct berr e;
	char *desc;
	int rc;

	if (ops->start(dctx, m, svc, release_dir, commit, err) != 0) {
		pipeline_line(p, "%s", err->msg);
		return -1;
	}
	if (ops->status(&l, dctx, svc->name, &e) == 0 && l.pid > 0)
		pipeline_line(p, "started %s (pid %d)", svc->name, l.pid);
	else
		pipeline_line(p, "started %s", svc->name);
	driver_live_release(&l);
	rc = driver_wait_healthy(&res, ops, dctx, svc);
	desc = health_describe(&res, svc->name);
	pipeline_text(p, desc);
	free(desc);
	if (rc != 0) {
		if (res.exited)
			berr_set(err, "%s %s", svc->name,
			         res.reason ? res.reason : "exited");
		else
			berr_set(err, "%s never became healthy (%s)", svc->name,
			         res.reason ? res.reason : "unknown");
	}
	health_result_release(&res);
	return rc != 0 ? -1 : 0;
}

int rollout_start_all(struct pipeline *p, const struct driver_ops *ops,
                      const struct driver_ctx *dctx, const struct manifest *m,
                      const char *release_dir, const char *commit,
                      struct berr *err)
{
	size_t i;

	for (i = 0; i < m->nservices; i++)
		if (start_one(p, ops, dctx, m, &m->services[m->order[i]],
		              release_dir, commit, err) != 0)
			return -1;
	return 0;
}

/* Whether l is svc as m and commit want it, running and answering its
 * health check; *why (new, or NULL) says what is not. */
static bool keeps(char **why, const struct service_live *l,
                  const struct manifest_service *svc, const char *commit)
{
	char *probe = NULL;

	*why = NULL;
	if (svc == NULL)
		*why = xstrdup("not in the manifest");
	else if (!l->running)
		*why = xasprintf("not running (%s)",
		                 l->detail ? l->detail : "exited");
	else if (l->commit == NULL || strcmp(l->commit, commit) != 0)
		*why = xstrdup("runs another commit");
	else if (l->changed != NULL)
		*why = xasprintf("changed outside berth: %s", l->changed);
	else if (l->hash == NULL || svc->hash == NULL ||
	         strcmp(l->hash, svc->hash) != 0)
		*why = xstrdup("started with another configuration");
	else if (!health_probe(&probe, svc, 0))
		*why = xasprintf("unhealthy: %s", probe ? probe : "?");
	free(probe);
	return *why == NULL;
}

int rollout_converge(size_t *restarted, struct pipeline *p,
                     const struct driver_ops *ops,
                     const struct driver_ctx *dctx, const struct manifest *m,
                     const char *release_dir, const char *commit,
                     struct berr *err)
{
	struct service_live *live = NULL;
	bool *keep = NULL, *kept = NULL;
	size_t n = 0, i, k;
	char *why;
	int rc;

	*restarted = 0;
	if (ops->live(&live, &n, dctx, err) != 0)
		return -1;
	keep = xcalloc(n + 1, sizeof(*keep));
	kept = xcalloc(m->nservices + 1, sizeof(*kept));
	for (k = 0; k < n; k++) {
		const struct manifest_service *svc =
		    manifest_service(m, live[k].name);

		keep[k] = keeps(&why, &live[k], svc, commit);
		if (keep[k]) {
			kept[svc - m->services] = true;
			pipeline_line(p,
			              "kept %s: runs %.7s as the manifest "
			              "says and is healthy",
			              live[k].name, commit);
		} else {
			pipeline_line(p, "%s %s", live[k].name, why);
		}
		free(why);
	}
	rc = stop_listed(p, ops, dctx, m, live, n, keep, err);
	for (i = 0; rc == 0 && i < m->nservices; i++) {
		size_t s = m->order[i];

		if (kept[s])
			continue;
		rc = start_one(p, ops, dctx, m, &m->services[s], release_dir,
		               commit, err);
		if (rc == 0)
			(*restarted)++;
	}
	free(kept);
	free(keep);
	driver_live_free(live, n);
	return rc;
}

bool rollout_in_place(const struct driver_ops *ops,
                      const struct driver_ctx *dctx, const struct manifest *m,
                      const char *commit)
{
	struct service_live *live = NULL;
	size_t n = 0, i, running = 0;
	struct berr err;
	bool ok = true;

	if (ops->live(&live, &n, dctx, &err) != 0)
		return false;
	for (i = 0; i < n; i++)
		if (live[i].running)
			running++;
	if (running != m->nservices)
		ok = false;
	for (i = 0; ok && i < n; i++) {
		const struct manifest_service *svc =
		    manifest_service(m, live[i].name);

		ok = svc != NULL && live[i].running && live[i].commit != NULL &&
		     strcmp(live[i].commit, commit) == 0 &&
		     live[i].hash != NULL && svc->hash != NULL &&
		     strcmp(live[i].hash, svc->hash) == 0;
	}
	driver_live_free(live, n);
	return ok;
}

int rollout_wait_healthy(struct pipeline *p, const struct driver_ops *ops,
                         const struct driver_ctx *dctx,
                         const struct manifest *m, struct berr *err)
{
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < m->nservices; i++) {
		const struct manifest_service *svc = &m->services[m->order[i]];
		struct health_result res;
		char *desc;

		rc = driver_wait_healthy(&res, ops, dctx, svc);
		desc = health_describe(&res, svc->name);
		pipeline_text(p, desc);
		free(desc);
		if (rc != 0)
			berr_set(err, "%s is not healthy (%s)", svc->name,
			         res.reason ? res.reason : "unknown");
		health_result_release(&res);
	}
	return rc;
}

static void smoke_line(const struct smoke_result *r, void *arg)
{
	char *line = smoke_format(r);

	pipeline_line(arg, "%s", line);
	free(line);
}

int rollout_smoke(char **summary, struct pipeline *p, const struct manifest *m)
{
	struct smoke_report rep;
	int rc;

	rc = smoke_run(&rep, m, smoke_line, p);
	*summary = smoke_summary(&rep);
	smoke_report_release(&rep);
	return rc;
}
