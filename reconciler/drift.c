/*
 * drift.c — what runs compared with what should run (SPEC §8;
 * docs/drift.md): the remote branch head against the deployed commit, each
 * service's live state against the deployed manifest, the applied
 * migrations against the deployed commit's files, and the env file against
 * the one deployed. Every finding says concretely what differs (LESSONS.md:
 * never an empty diff); values of the env file are never shown.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "berth.h"

/* Database connect timeout of the schema check. */
#define DRIFT_DB_CONNECT_S 5
/* One health probe's bound. */
#define DRIFT_PROBE_MS 5000

void drift_finding_add(struct drift_finding **items, size_t *n,
                       const char *kind, const char *name, const char *detail)
{
	struct drift_finding *f;

	*items = xrealloc(*items, (*n + 1) * sizeof(**items));
	f = &(*items)[(*n)++];
	memset(f, 0, sizeof(*f));
	f->kind = xstrdup(kind);
	f->name = xstrdup(name);
	f->detail = xstrdup(detail);
}

/* Adds a finding; returns it (valid until the next add). */
static struct drift_finding *finding(struct drift_report *r, const char *kind,
                                     const char *name, const char *fmt, ...)
    BERTH_PRINTF(4, 5);

static struct drift_finding *finding(struct drift_report *r, const char *kind,
                                     const char *name, const char *fmt, ...)
{
	struct buf b;
	va_list ap;

	buf_init(&b, 0);
	va_start(ap, fmt);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	drift_finding_add(&r->findings, &r->nfindings, kind, name, buf_str(&b));
	buf_release(&b);
	return &r->findings[r->nfindings - 1];
}

/* Records that check could not run. */
static void check_failed(struct drift_report *r, const char *check,
                         const char *detail)
{
	drift_finding_add(&r->errors, &r->nerrors, check, "", detail);
}

/* The remote's branch head: git_mirror_ls_remote in a child process that
 * is killed after timeout_ms (libgit2 has no network timeout). When the
 * mirror lacks that commit, the child fetches it too, so that it can be
 * counted and deployed. */

static void child_say(int fd, int rc, const char *text)
{
	char line[700];
	int n = snprintf(line, sizeof(line), "%d %s\n", rc, text);
	size_t len, done = 0;

	if (n < 0)
		return;
	len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;

	while (done < len) {
		ssize_t w = write(fd, line + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
}

BERTH_NORETURN static void remote_child(int fd, struct git_mirror *gm,
                                        const char *branch)
{
	struct git_ref_update *u = NULL;
	char sha[41], tree[41];
	struct berr err;
	size_t n = 0;
	int rc;

	rc = git_mirror_ls_remote(sha, gm, branch, &err);
	if (rc != 0) {
		child_say(fd, rc == BERTH_ENOTFOUND ? 2 : 1, err.msg);
		_exit(0);
	}
	if (git_mirror_tree_id(gm, sha, tree, &err) == BERTH_ENOTFOUND &&
	    git_mirror_fetch(gm, &u, &n, &err) == 0)
		git_mirror_updates_free(u, n);
	child_say(fd, 0, sha);
	_exit(0);
}

static int remote_head(char sha[41], struct envctx *ctx, int timeout_ms,
                       struct berr *err)
{
	struct git_mirror *gm;
	char out[800], *url = NULL;
	size_t len = 0;
	int64_t deadline;
	int fds[2] = {-1, -1}, rc = -1, code;
	bool eof = false;
	pid_t pid;

	sha[0] = '\0';
	if (envctx_git(ctx, &gm, err) != 0)
		return -1;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return berr_errno(err, errno, "cannot create a pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		berr_errno(err, errno, "cannot fork");
		goto out;
	}
	if (pid == 0) {
		close(fds[0]);
		remote_child(fds[1], gm, ctx->env->branch);
	}
	close(fds[1]);
	fds[1] = -1;
	deadline = strnum_mono_ms() + timeout_ms;
	while (!eof) {
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		int64_t left = deadline - strnum_mono_ms();
		ssize_t r;

		if (left <= 0 || len + 1 >= sizeof(out))
			break;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			break;
		if (pfd.revents == 0)
			continue;
		r = read(fds[0], out + len, sizeof(out) - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			eof = true; /* the child said all it had */
		else
			len += (size_t)r;
	}
	out[len] = '\0';
	if (!eof) {
		kill(pid, SIGKILL);
		url = envctx_repo_display(ctx);
		berr_set(err,
		         "cannot ask '%s' for branch '%s': no answer within "
		         "%d s",
		         url, ctx->env->branch, timeout_ms / 1000);
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (!eof)
		goto out;
	out[strcspn(out, "\n")] = '\0';
	if (sscanf(out, "%d", &code) != 1 || strchr(out, ' ') == NULL) {
		berr_set(err,
		         "cannot ask the remote for branch '%s': the "
		         "child process said nothing",
		         ctx->env->branch);
		goto out;
	}
	if (code == 0 && strnum_is_sha(strchr(out, ' ') + 1)) {
		memcpy(sha, strchr(out, ' ') + 1, 41);
		rc = 0;
	} else {
		berr_set(err, "%s", strchr(out, ' ') + 1);
		rc = code == 2 ? BERTH_ENOTFOUND : -1;
	}
out:
	free(url);
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	return rc;
}

/* branch: the remote branch head against the deployed commit. */
static void check_branch(struct drift_report *r, struct envctx *ctx,
                         const struct drift_opts *o)
{
	const char *branch = ctx->env->branch;
	struct git_mirror *gm;
	size_t ahead = 0, behind = 0;
	struct berr err;
	int rc;

	rc = remote_head(r->head, ctx,
	                 o->remote_timeout_ms > 0 ? o->remote_timeout_ms
	                                          : DRIFT_REMOTE_TIMEOUT_MS,
	                 &err);
	if (rc == BERTH_ENOTFOUND) {
		finding(r, "branch", branch,
		        "%s no longer exists in the remote; deployed is %.7s",
		        branch, r->commit)
		    ->healable = false;
		return;
	}
	if (rc != 0) {
		check_failed(r, "branch", err.msg);
		return;
	}
	if (strcmp(r->head, r->commit) == 0)
		return;
	if (envctx_git(ctx, &gm, &err) != 0 ||
	    git_mirror_ahead_behind(&ahead, &behind, gm, r->head, r->commit,
	                            &err) != 0) {
		finding(r, "branch", branch,
		        "%s is at %.7s, deployed is %.7s (%s)", branch, r->head,
		        r->commit, err.msg);
	} else if (behind == 0) {
		finding(r, "branch", branch,
		        "%s is at %.7s, %zu commit%s ahead of deployed %.7s",
		        branch, r->head, ahead, ahead == 1 ? "" : "s",
		        r->commit);
	} else if (ahead == 0) {
		finding(r, "branch", branch,
		        "%s is at %.7s, %zu commit%s behind deployed %.7s",
		        branch, r->head, behind, behind == 1 ? "" : "s",
		        r->commit);
	} else {
		finding(r, "branch", branch,
		        "%s is at %.7s, which does not contain deployed %.7s "
		        "(force-pushed? %zu commit%s ahead, %zu behind)",
		        branch, r->head, r->commit, ahead,
		        ahead == 1 ? "" : "s", behind);
	}
	/* A newer head is deployed by a heal only with auto_deploy. */
	r->findings[r->nfindings - 1].healable = ctx->env->auto_deploy;
}

/* env_file: its hash now against the one the deployment recorded. */
static void check_env_file(struct drift_report *r, struct envctx *ctx,
                           const struct deployment *rec)
{
	const char *now = ctx->env_file_hash;
	const char *then = rec->env_file_hash ? rec->env_file_hash : "";
	const char *path = ctx->env->env_file;

	if (strcmp(now, then) == 0)
		return;
	if (then[0] == '\0')
		finding(r, "env_file", path,
		        "env file %s is set now (sha256 %.12s); deployment "
		        "%lld ran without one",
		        path, now, (long long)rec->id)
		    ->healable = true;
	else if (now[0] == '\0')
		finding(r, "env_file", "(none)",
		        "no env file now; deployment %lld ran with one (sha256 "
		        "%.12s)",
		        (long long)rec->id, then)
		    ->healable = true;
	else
		finding(r, "env_file", path,
		        "%s changed since deployment %lld (sha256 %.12s, "
		        "deployed %.12s); values are not shown",
		        path, (long long)rec->id, now, then)
		    ->healable = true;
}

/*
 * The manifest a service was started with: the manifest of the commit it
 * runs, parsed with the env file hash its deployment recorded (the env
 * file's variables are today's: a changed value in a ${NAME} of its command
 * makes the hash differ, and then this finds nothing). New, or NULL.
 */
static struct manifest *started_with(struct envctx *ctx,
                                     const struct service_live *l,
                                     const struct deployment *rec)
{
	const char *hashes[2] = {rec->env_file_hash, NULL};
	struct merrs errs = {0};
	struct manifest_ctx mctx;
	struct manifest *m = NULL;
	const struct manifest_service *svc;
	struct buf text;
	size_t i;

	buf_init(&text, MANIFEST_MAX_BYTES + 1);
	if (l->commit == NULL || !strnum_is_sha(l->commit) ||
	    envctx_manifest_text(&text, ctx, l->commit, &errs) != 0)
		goto out;
	for (i = 0; i < BERTH_ARRAY_LEN(hashes); i++) {
		memset(&mctx, 0, sizeof(mctx));
		mctx.file = ctx->env->manifest;
		mctx.vars = &ctx->vars;
		mctx.env_file_hash = hashes[i] != NULL && hashes[i][0] != '\0'
		                         ? hashes[i]
		                         : NULL;
		m = manifest_parse(buf_str(&text), text.len, &mctx, &errs);
		svc = m != NULL ? manifest_service(m, l->name) : NULL;
		if (svc != NULL && svc->hash != NULL &&
		    strcmp(svc->hash, l->hash) == 0)
			goto out;
		manifest_free(m);
		m = NULL;
	}
out:
	merrs_release(&errs);
	buf_release(&text);
	return m;
}

/* What differs between the configuration l was started with and svc of
 * want: "env file changed", "command changed; stop_timeout_s 30 -> 10"
 * (new string). */
static char *config_diff(struct envctx *ctx, const struct service_live *l,
                         const struct manifest *want,
                         const struct deployment *rec, bool env_changed)
{
	struct manifest_changes ch = {0};
	struct manifest *old = started_with(ctx, l, rec);
	char *out = NULL;
	size_t i;

	if (old != NULL) {
		manifest_diff(&ch, old, want);
		for (i = 0; i < ch.n && out == NULL; i++)
			if (strcmp(ch.items[i].name, l->name) == 0 &&
			    strcmp(ch.items[i].kind, "restart") == 0)
				out = xstrdup(ch.items[i].detail);
		manifest_changes_release(&ch);
		manifest_free(old);
	}
	if (out == NULL)
		out = xasprintf("config %.12s, the manifest asks for %.12s%s",
		                l->hash ? l->hash : "(none)",
		                manifest_service(want, l->name)->hash,
		                env_changed ? " (the env file changed since "
		                              "it started)"
		                            : "");
	return out;
}

/* service: one service of the deployed manifest as it runs. */
static void check_service(struct drift_report *r, struct envctx *ctx,
                          const struct manifest *m,
                          const struct manifest_service *svc,
                          const struct service_live *l,
                          const struct deployment *rec, bool env_changed)
{
	struct buf b;
	char *why = NULL, *diff;

	buf_init(&b, 0);
	if (l == NULL) {
		buf_printf(&b,
		           "%s is not running (never started, or stopped "
		           "outside a deployment)",
		           svc->name);
		goto out;
	}
	if (!l->running) {
		buf_printf(&b, "%s is not running (%s)", svc->name,
		           l->detail ? l->detail : "exited");
		goto out;
	}
	if (l->commit != NULL && strcmp(l->commit, r->commit) != 0)
		buf_printf(&b, "%s runs commit %.7s, deployed is %.7s",
		           svc->name, l->commit, r->commit);
	if (l->changed != NULL) {
		buf_printf(&b, "%s%s was changed outside berth: %s",
		           b.len ? "; " : "", svc->name, l->changed);
	} else if (l->hash == NULL || svc->hash == NULL ||
	           strcmp(l->hash, svc->hash) != 0) {
		diff = config_diff(ctx, l, m, rec, env_changed);
		buf_printf(&b,
		           "%s%s was started with another configuration: %s",
		           b.len ? "; " : "", svc->name, diff);
		free(diff);
	}
	if (!health_probe(&why, svc, DRIFT_PROBE_MS))
		buf_printf(&b, "%s%s is unhealthy: %s", b.len ? "; " : "",
		           svc->name, why ? why : "health check failed");
	free(why);
out:
	if (b.len > 0)
		finding(r, "service", svc->name, "%s", buf_str(&b))->healable =
		    true;
	buf_release(&b);
}

/* service: every service of m, then those running that m does not have. */
static void check_services(struct drift_report *r, struct envctx *ctx,
                           const struct manifest *m,
                           const struct deployment *rec, bool env_changed)
{
	const struct driver_ops *ops = driver_for(m);
	struct service_live *live = NULL;
	struct driver_ctx dctx;
	struct berr err;
	size_t n = 0, i, k;

	if (ops == NULL) {
		check_failed(r, "service",
		             "this berth has no driver for the "
		             "deployed manifest");
		return;
	}
	memset(&dctx, 0, sizeof(dctx));
	dctx.st = &ctx->st;
	dctx.vars = &ctx->vars;
	if (ops->live(&live, &n, &dctx, &err) != 0) {
		check_failed(r, "service", err.msg);
		return;
	}
	for (i = 0; i < m->nservices; i++) {
		const struct manifest_service *svc = &m->services[m->order[i]];
		const struct service_live *l = NULL;

		for (k = 0; k < n; k++)
			if (strcmp(live[k].name, svc->name) == 0)
				l = &live[k];
		check_service(r, ctx, m, svc, l, rec, env_changed);
	}
	for (k = 0; k < n; k++) {
		if (manifest_service(m, live[k].name) != NULL ||
		    !live[k].running)
			continue;
		finding(r, "service", live[k].name,
		        "%s runs (pid %d) but the manifest of %.7s has no such "
		        "service",
		        live[k].name, live[k].pid, r->commit)
		    ->healable = true;
	}
	driver_live_free(live, n);
}

/* schema: berth_schema_migrations against the deployed commit's files. */
static void check_schema(struct drift_report *r, struct envctx *ctx,
                         const struct manifest *m)
{
	const struct manifest_database *db = &m->db;
	struct migrate_source *srcs = NULL;
	struct buf *bufs = NULL;
	struct strv names = {0};
	struct migrate_plan mp;
	struct pg_conn *conn = NULL;
	struct git_mirror *gm;
	const char *url;
	struct berr err;
	size_t n = 0, i;
	int rc;

	memset(&mp, 0, sizeof(mp));
	if (!db->present || db->migrations != MANIFEST_MIGRATIONS_SQL_DIR)
		return;
	url = envctx_var(ctx, db->url_env);
	if (url == NULL || url[0] == '\0') {
		berr_set(&err, "%s is not set in the env file", db->url_env);
		check_failed(r, "schema", err.msg);
		return;
	}
	if (envctx_git(ctx, &gm, &err) != 0) {
		check_failed(r, "schema", err.msg);
		return;
	}
	rc = plan_read_migrations(&bufs, &srcs, &n, &names, gm, r->commit,
	                          db->sql_dir, &err);
	if (rc == BERTH_ENOTFOUND) {
		n = 0; /* no directory: every applied file is missing */
	} else if (rc != 0) {
		check_failed(r, "schema", err.msg);
		goto out;
	}
	if (pg_connect(&conn, url, DRIFT_DB_CONNECT_S, &err) != 0 ||
	    migrate_plan_files(&mp, conn, srcs, n, &err) != 0) {
		check_failed(r, "schema", err.msg);
		goto out;
	}
	for (i = 0; i < mp.nchanged; i++)
		finding(r, "schema", mp.changed[i].name,
		        "%s changed after it was applied (applied with sha256 "
		        "%.12s, the file in %.7s has %.12s)",
		        mp.changed[i].name, mp.changed[i].applied, r->commit,
		        mp.changed[i].current)
		    ->blocks_heal = true;
	for (i = 0; i < mp.npending; i++)
		finding(r, "schema", mp.pending[i].name,
		        "%s is in %.7s but not applied%s%s%s",
		        mp.pending[i].name, r->commit,
		        mp.pending[i].out_of_order
		            ? " (it sorts before an applied file)"
		            : "",
		        mp.pending[i].problem ? "; it cannot run: " : "",
		        mp.pending[i].problem ? mp.pending[i].problem : "")
		    ->healable = mp.pending[i].problem == NULL;
	for (i = 0; i < mp.nmissing; i++)
		finding(r, "schema", mp.missing[i],
		        "%s is applied but not in %.7s: the database is ahead "
		        "of the deployed code",
		        mp.missing[i], r->commit);
out:
	migrate_plan_release(&mp);
	pg_close(conn);
	plan_free_migrations(bufs, srcs, n);
	strv_release(&names);
}

int drift_check(struct drift_report *out, struct envctx *ctx,
                const struct drift_opts *o, struct berr *err)
{
	static const struct drift_opts defaults = {.remote = true};
	struct deployment rec;
	struct merrs errs = {0};
	struct manifest *m = NULL;
	int64_t t0 = strnum_mono_ms();
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	deployment_init(&rec);
	if (o == NULL)
		o = &defaults;
	out->env = xstrdup(ctx->env->name);
	out->checked_at = strnum_now_ms() / 1000;
	out->action = MANIFEST_DRIFT_REPORT;
	out->interval_s = DRIFT_INTERVAL_DEFAULT_S;
	rc = state_get_current(&ctx->st, out->commit, &out->deployment_id, err);
	if (rc == BERTH_ENOTFOUND) {
		out->commit[0] = '\0';
		rc = 0;
		goto out;
	}
	if (rc != 0 || state_load_deployment(&ctx->st, out->deployment_id, &rec,
	                                     err) != 0) {
		rc = -1;
		goto out;
	}
	if (o->remote)
		check_branch(out, ctx, o);
	check_env_file(out, ctx, &rec);
	if (envctx_manifest(&m, ctx, out->commit, &errs) != 0) {
		for (i = 0; i < errs.n; i++)
			check_failed(out, "service", errs.items[i]);
		check_failed(out, "schema",
		             "the deployed manifest cannot be read");
		goto out;
	}
	out->action = m->drift_action;
	out->interval_s = m->drift_interval_s;
	check_services(out, ctx, m, &rec,
	               strcmp(ctx->env_file_hash,
	                      rec.env_file_hash ? rec.env_file_hash : "") != 0);
	check_schema(out, ctx, m);
out:
	out->duration_ms = strnum_mono_ms() - t0;
	manifest_free(m);
	merrs_release(&errs);
	deployment_release(&rec);
	return rc;
}

void drift_findings_free(struct drift_finding *f, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(f[i].kind);
		free(f[i].name);
		free(f[i].detail);
	}
	free(f);
}

void drift_report_release(struct drift_report *r)
{
	if (r == NULL)
		return;
	free(r->env);
	drift_findings_free(r->findings, r->nfindings);
	drift_findings_free(r->errors, r->nerrors);
	memset(r, 0, sizeof(*r));
}

const char *drift_action_name(enum manifest_drift_action a)
{
	switch (a) {
	case MANIFEST_DRIFT_HEAL:
		return "heal";
	case MANIFEST_DRIFT_OFF:
		return "off";
	default:
		return "report";
	}
}

struct json_t *drift_findings_json(const struct drift_finding *f, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "kind",
		                                   f[i].kind, "name", f[i].name,
		                                   "detail", f[i].detail));
	return a;
}

struct json_t *drift_report_to_json(const struct drift_report *r)
{
	json_t *o = json_object(), *errors = json_array();
	char when[32];
	size_t i;

	strnum_iso8601(when, r->checked_at);
	json_object_set_new(o, "env", json_string(r->env));
	json_object_set_new(o, "drift",
	                    drift_findings_json(r->findings, r->nfindings));
	json_object_set_new(
	    o, "commit", r->commit[0] ? json_string(r->commit) : json_null());
	json_object_set_new(o, "deployment",
	                    r->deployment_id > 0
	                        ? json_integer(r->deployment_id)
	                        : json_null());
	json_object_set_new(o, "branch_head",
	                    r->head[0] ? json_string(r->head) : json_null());
	json_object_set_new(o, "checked_at", json_string(when));
	json_object_set_new(o, "duration_ms", json_integer(r->duration_ms));
	json_object_set_new(o, "action",
	                    json_string(drift_action_name(r->action)));
	json_object_set_new(o, "interval_s", json_integer(r->interval_s));
	for (i = 0; i < r->nerrors; i++)
		json_array_append_new(
		    errors, json_pack("{s:s, s:s}", "check", r->errors[i].kind,
		                      "detail", r->errors[i].detail));
	json_object_set_new(o, "errors", errors);
	return o;
}

void drift_report_print(const struct drift_report *r, void *fp)
{
	FILE *f = fp;
	size_t i, w = 4;

	if (r->commit[0] == '\0') {
		fprintf(f, "%s: nothing deployed yet: nothing to compare\n",
		        r->env);
		return;
	}
	for (i = 0; i < r->nfindings; i++)
		if (strlen(r->findings[i].name) > w)
			w = strlen(r->findings[i].name);
	if (w > 32)
		w = 32;
	if (r->nfindings == 0)
		fprintf(f,
		        "no drift in %s: %.7s (deployment %lld) runs as "
		        "deployed (%.1f s)\n",
		        r->env, r->commit, (long long)r->deployment_id,
		        (double)r->duration_ms / 1000.0);
	else
		fprintf(f, "drift in %s, running %.7s (deployment %lld):\n",
		        r->env, r->commit, (long long)r->deployment_id);
	for (i = 0; i < r->nfindings; i++)
		fprintf(f, "  %-8s %-*s %s\n", r->findings[i].kind, (int)w,
		        r->findings[i].name, r->findings[i].detail);
	for (i = 0; i < r->nerrors; i++)
		fprintf(f, "  not checked: %s: %s\n", r->errors[i].kind,
		        r->errors[i].detail);
	fflush(f);
}

int drift_exit_status(const struct drift_report *r)
{
	if (r->nfindings > 0)
		return EXIT_CHANGES;
	return r->nerrors > 0 ? EXIT_FAILED : EXIT_OK;
}

/* What a heal can repair, and what keeps it from trying: *rev is NULL for
 * the branch head (auto_deploy and the branch moved), else the deployed
 * commit. Returns 0 to heal, BERTH_ENOTFOUND when nothing can be healed, or
 * -1 when something makes a redeploy fail (err). */
static int heal_plan(const char **rev, const struct drift_report *r,
                     struct berr *err)
{
	size_t i, healable = 0;
	bool head = false;

	*rev = r->commit;
	for (i = 0; i < r->nfindings; i++) {
		const struct drift_finding *f = &r->findings[i];

		if (f->blocks_heal)
			return berr_set(
			    err,
			    "not healing: %s; a redeploy would fail "
			    "at migrate: put the file back as it was "
			    "applied first",
			    f->detail);
		if (!f->healable)
			continue;
		healable++;
		if (strcmp(f->kind, "branch") == 0)
			head = true;
	}
	if (healable == 0) {
		berr_set(err, "nothing a redeploy can repair");
		return BERTH_ENOTFOUND;
	}
	if (head)
		*rev = NULL;
	return 0;
}

int drift_heal(struct deployment *out, struct envctx *ctx,
               const struct drift_report *r, void *progress,
               bool (*stop_requested)(void), struct berr *err)
{
	struct apply_opts ao;
	const char *rev;
	int rc;

	deployment_init(out);
	if (r->commit[0] == '\0') {
		berr_set(err, "nothing deployed yet: nothing to heal");
		return BERTH_ENOTFOUND;
	}
	rc = heal_plan(&rev, r, err);
	if (rc != 0)
		return rc;
	memset(&ao, 0, sizeof(ao));
	ao.rev = rev;
	ao.trigger = "drift";
	ao.out = progress;
	ao.stop_requested = stop_requested;
	ao.keep_in_place = true;
	return apply_run(out, ctx, &ao, err);
}
