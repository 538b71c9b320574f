/*
 * driver_process.c — the process driver: berth starts each service itself,
 * as a process group of its own that outlives berth, and keeps what it
 * started in envs/<env>/services.json (docs/drivers.md).
 *
 * A pid alone does not name a process for long: once the service exits,
 * the kernel may give its number to anything. So each record also holds the
 * process's start time (clock ticks after boot, from /proc/<pid>/stat) and
 * the boot id; a pid whose start time differs is another process, which is
 * never reported as the service and never signalled.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth.h"

#define RUNTIME_VERSION      1
#define LOG_MODE             0640
#define LOG_TAIL_READ        ((size_t)64 << 10)
#define STOP_TIMEOUT_DEFAULT 30
#define STOP_TIMEOUT_MAX     86400
/* How a start is marked in the log; logs() shows what follows the last. */
#define MARK_START "=== berth: starting "

/* One service of services.json; strings borrowed from the JSON. */
struct record {
	const char *name;
	int pid;
	int pgid;
	uint64_t start_ticks;
	const char *boot_id;
	const char *hash;
	const char *commit;
	const char *release;
	const char *log;
	int64_t started_at;
	int stop_timeout_s;
};

/* What has become of a recorded service's process. */
enum ident {
	IDENT_RUNNING,  /* the very process, alive */
	IDENT_EXITED,   /* gone, or a zombie: its group may hold leftovers */
	IDENT_REPLACED, /* its pid belongs to another process now */
	IDENT_REBOOTED, /* recorded during an earlier boot */
	IDENT_UNKNOWN,  /* /proc could not tell */
};

static char *runtime_path(const struct state *st)
{
	return state_path(st, DRIVER_PROCESS_RUNTIME);
}

static char *log_path(const struct state *st, const char *service)
{
	char *rel = xasprintf("logs/%s.log", service);
	char *p = state_path(st, rel);

	free(rel);
	return p;
}

/* Service names become file names: the rule of environment names. */
static int check_name(const char *service, struct berr *err)
{
	if (service == NULL || !state_env_name_ok(service))
		return berr_set(err,
		                "invalid service name '%s': expected letters, "
		                "digits, '.', '_' or '-'",
		                service ? service : "");
	return 0;
}

/* services.json into *root (new); a missing file is no service. */
static int runtime_load(json_t **root, const struct state *st, struct berr *err)
{
	return driver_state_load(root, st, DRIVER_PROCESS_RUNTIME,
	                         RUNTIME_VERSION, err);
}

static int runtime_save(const struct state *st, json_t *root, struct berr *err)
{
	return driver_state_save(st, DRIVER_PROCESS_RUNTIME, root, err);
}

static const char *opt_string(json_t *j, const char *key, bool *bad)
{
	json_t *v = json_object_get(j, key);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v)) {
		*bad = true;
		return NULL;
	}
	return json_string_value(v);
}

static int64_t opt_int(json_t *j, const char *key, int64_t min, int64_t max,
                       int64_t dflt, bool *bad)
{
	json_t *v = json_object_get(j, key);
	int64_t n;

	if (v == NULL || json_is_null(v))
		return dflt;
	n = json_is_integer(v) ? (int64_t)json_integer_value(v) : min - 1;
	if (n < min || n > max) {
		*bad = true;
		return dflt;
	}
	return n;
}

/* Reads the record of service from j, checking every field. */
static int record_parse(struct record *r, const char *service, json_t *j,
                        const struct state *st, struct berr *err)
{
	const char *started;
	bool bad = false;
	char *path;

	memset(r, 0, sizeof(*r));
	r->name = service;
	if (json_is_object(j)) {
		r->pid = (int)opt_int(j, "pid", 2, INT_MAX, 0, &bad);
		r->pgid = (int)opt_int(j, "pgid", 2, INT_MAX, 0, &bad);
		r->start_ticks =
		    (uint64_t)opt_int(j, "start_ticks", 0, INT64_MAX, -1, &bad);
		r->boot_id = opt_string(j, "boot_id", &bad);
		r->hash = opt_string(j, "hash", &bad);
		r->commit = opt_string(j, "commit", &bad);
		r->release = opt_string(j, "release", &bad);
		r->log = opt_string(j, "log", &bad);
		r->stop_timeout_s = (int)opt_int(j, "stop_timeout_s", 0,
		                                 STOP_TIMEOUT_MAX, 0, &bad);
		started = opt_string(j, "started_at", &bad);
		if (started != NULL &&
		    strnum_parse_iso8601(&r->started_at, started) < 0)
			bad = true;
		if (r->pid == 0 || r->pgid == 0 ||
		    json_object_get(j, "start_ticks") == NULL)
			bad = true;
	} else {
		bad = true;
	}
	if (!bad)
		return 0;
	path = runtime_path(st);
	berr_set(err,
	         "invalid runtime state '%s': $.services.%s: expected pid, "
	         "pgid and start_ticks, and fields of the right types",
	         path, service);
	free(path);
	return -1;
}

/* The record of service in root. Returns 0, BERTH_ENOTFOUND, or -1. */
static int record_find(struct record *r, json_t *root, const char *service,
                       const struct state *st, struct berr *err)
{
	json_t *j = json_object_get(json_object_get(root, "services"), service);

	if (j == NULL) {
		berr_set(err, "service '%s' was not started by berth", service);
		return BERTH_ENOTFOUND;
	}
	return record_parse(r, service, j, st, err);
}

/* How a zombie ended, when it is berth's own child (reaping it). */
static char *reap_status(pid_t pid)
{
	int status;
	const char *name;

	if (waitpid(pid, &status, WNOHANG) != pid)
		return xstrdup("exited");
	if (WIFEXITED(status))
		return xasprintf("exited %d", WEXITSTATUS(status));
	if (WIFSIGNALED(status)) {
		name = sigabbrev_np(WTERMSIG(status));
		if (name != NULL)
			return xasprintf("killed by SIG%s", name);
		return xasprintf("killed by signal %d", WTERMSIG(status));
	}
	return xstrdup("exited");
}

/* What became of r's process; *detail (new) says it for people. */
static enum ident identify(const struct record *r, char **detail)
{
	struct proc_stat ps;
	struct berr err;
	char boot[40];
	int rc;

	proc_boot_id(boot);
	if (r->boot_id != NULL && r->boot_id[0] != '\0' && boot[0] != '\0' &&
	    strcmp(boot, r->boot_id) != 0) {
		*detail = xstrdup("not running: the host restarted since it "
		                  "started");
		return IDENT_REBOOTED;
	}
	rc = proc_stat_read(&ps, r->pid, &err);
	if (rc == BERTH_ENOTFOUND) {
		*detail = xstrdup("exited");
		return IDENT_EXITED;
	}
	if (rc < 0) {
		*detail = xasprintf("unknown: %s", err.msg);
		return IDENT_UNKNOWN;
	}
	if (ps.start_ticks != r->start_ticks) {
		*detail = xasprintf("not running: pid %d is now another "
		                    "process (%s)",
		                    r->pid, ps.comm);
		return IDENT_REPLACED;
	}
	if (ps.state == 'Z' || ps.state == 'X') {
		*detail = reap_status(r->pid);
		return IDENT_EXITED;
	}
	*detail = xstrdup("running");
	return IDENT_RUNNING;
}

static void record_live(struct service_live *out, const struct record *r)
{
	memset(out, 0, sizeof(*out));
	out->name = xstrdup(r->name);
	out->running = identify(r, &out->detail) == IDENT_RUNNING;
	out->hash = r->hash ? xstrdup(r->hash) : NULL;
	out->commit = r->commit ? xstrdup(r->commit) : NULL;
	out->pid = r->pid;
	out->started_at = r->started_at;
}

/* Appends text to a service's log. Returns 0 or -1. */
static int log_append(const char *path, const char *text, struct berr *err)
{
	size_t len = strlen(text), done = 0;
	int fd =
	    open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, LOG_MODE);

	if (fd < 0)
		return berr_errno(err, errno, "cannot open log '%s'", path);
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			berr_errno(err, n < 0 ? errno : EIO,
			           "cannot write to log '%s'", path);
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	close(fd);
	return 0;
}

/* A line for the log: "=== berth: <what> at <now> ===\n"; new. */
static char *log_mark(const char *what)
{
	char now[32];

	strnum_iso8601(now, strnum_now_ms() / 1000);
	return xasprintf("=== berth: %s at %s ===\n", what, now);
}

static int stop_timeout_ms(int given_s, const struct record *r)
{
	int s = given_s > 0 ? given_s : r->stop_timeout_s;

	return (s > 0 ? s : STOP_TIMEOUT_DEFAULT) * 1000;
}

/*
 * Before starting service again: refuses when its recorded process still
 * runs, and stops what its old process group left running when the main
 * process is gone (its children would hold its ports).
 */
static int clear_previous(const struct record *r, struct berr *err)
{
	char *detail = NULL;
	bool killed;
	int rc = 0;

	switch (identify(r, &detail)) {
	case IDENT_RUNNING:
		rc = berr_set(err,
		              "service '%s' is already running (pid %d); stop "
		              "it first",
		              r->name, r->pid);
		break;
	case IDENT_UNKNOWN:
		rc = berr_set(err,
		              "cannot tell whether service '%s' still "
		              "runs: %s",
		              r->name, detail);
		break;
	case IDENT_EXITED:
		if (spawn_stop_group(r->pgid, stop_timeout_ms(0, r), &killed,
		                     err) < 0)
			rc = berr_prefix(err,
			                 "cannot stop what is left of "
			                 "service '%s'",
			                 r->name);
		break;
	case IDENT_REPLACED:
	case IDENT_REBOOTED:
		break;
	}
	free(detail);
	return rc;
}

static json_t *str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *record_json(pid_t pgid, uint64_t ticks,
                           const struct manifest_service *svc,
                           const char *commit, const char *release,
                           const char *log, int64_t now)
{
	char boot[40], when[32];

	proc_boot_id(boot);
	strnum_iso8601(when, now);
	return json_pack(
	    "{s:i, s:i, s:I, s:o, s:o, s:o, s:s, s:s, s:s, s:i}", "pid",
	    (int)pgid, "pgid", (int)pgid, "start_ticks", (json_int_t)ticks,
	    "boot_id", str_or_null(boot[0] ? boot : NULL), "hash",
	    str_or_null(svc->hash), "commit", str_or_null(commit), "release",
	    release, "log", log, "started_at", when, "stop_timeout_s",
	    svc->stop_timeout_s > 0 ? svc->stop_timeout_s
	                            : STOP_TIMEOUT_DEFAULT);
}

/* Stops a group just started that berth could not record. */
static void undo_start(pid_t pgid)
{
	struct berr err;
	bool killed;

	if (spawn_stop_group(pgid, 1000, &killed, &err) < 0)
		log_error("msg=\"cannot stop a service berth failed to "
		          "record\" pgid=%d",
		          (int)pgid);
}

static int process_start(const struct driver_ctx *ctx, const struct manifest *m,
                         const struct manifest_service *svc,
                         const char *release_dir, const char *commit,
                         struct berr *err)
{
	struct spawn_opts o = SPAWN_OPTS_INIT;
	char *log = NULL, *mark = NULL, *what = NULL;
	json_t *root = NULL;
	struct kvlist env;
	struct proc_stat ps;
	struct record old;
	int64_t now = strnum_now_ms() / 1000;
	pid_t pgid = -1;
	int rc = -1, found;

	(void)m;
	kvlist_init(&env);
	if (check_name(svc->name, err) < 0)
		goto out;
	if (svc->command.n == 0) {
		berr_set(err, "service '%s' has no command", svc->name);
		goto out;
	}
	if (runtime_load(&root, ctx->st, err) < 0)
		goto out;
	found = record_find(&old, root, svc->name, ctx->st, err);
	if ((found < 0 && found != BERTH_ENOTFOUND) ||
	    (found == 0 && clear_previous(&old, err) < 0))
		goto out;

	log = log_path(ctx->st, svc->name);
	what = xasprintf("%s%s, commit %s, config %s", "starting ", svc->name,
	                 commit ? commit : "unknown",
	                 svc->hash ? svc->hash : "unknown");
	mark = log_mark(what);
	if (log_append(log, mark, err) < 0)
		goto out;
	driver_env(&env, ctx->vars, &svc->env);
	o.argv = (const char *const *)svc->command.v;
	o.env = &env;
	o.cwd = release_dir;
	if (spawn_detached(&pgid, &o, log, err) < 0) {
		char *failed =
		    xasprintf("%s did not start: %s", svc->name, err->msg);
		char *line = log_mark(failed);
		struct berr ignored;

		log_append(log, line, &ignored);
		free(line);
		free(failed);
		berr_prefix(err, "cannot start service '%s'", svc->name);
		goto out;
	}
	/* The child is not reaped before this: its stat is there. */
	if (proc_stat_read(&ps, pgid, err) != 0) {
		undo_start(pgid);
		berr_prefix(err, "cannot start service '%s'", svc->name);
		goto out;
	}
	json_object_set_new(json_object_get(root, "services"), svc->name,
	                    record_json(pgid, ps.start_ticks, svc, commit,
	                                release_dir, log, now));
	if (runtime_save(ctx->st, root, err) < 0) {
		undo_start(pgid);
		berr_prefix(err, "service '%s' stopped again: cannot record it",
		            svc->name);
		goto out;
	}
	rc = 0;
out:
	kvlist_release(&env);
	json_decref(root);
	free(what);
	free(mark);
	free(log);
	return rc;
}

static int process_stop(bool *killed, const struct driver_ctx *ctx,
                        const char *service, int stop_timeout_s,
                        struct berr *err)
{
	json_t *root = NULL;
	struct record r;
	char *detail = NULL, *how = NULL, *mark = NULL, *log = NULL;
	enum ident id;
	int64_t start = strnum_mono_ms();
	int timeout_ms, rc = -1;
	struct berr ignored;

	*killed = false;
	if (check_name(service, err) < 0 ||
	    runtime_load(&root, ctx->st, err) < 0)
		goto out;
	rc = record_find(&r, root, service, ctx->st, err);
	if (rc != 0)
		goto out;
	rc = -1;
	timeout_ms = stop_timeout_ms(stop_timeout_s, &r);
	id = identify(&r, &detail);
	if (id == IDENT_UNKNOWN) {
		berr_set(err,
		         "cannot stop service '%s': cannot tell whether "
		         "pid %d is still its process: %s",
		         service, r.pid, detail);
		goto out;
	}
	if (id == IDENT_RUNNING || id == IDENT_EXITED) {
		if (spawn_stop_group(r.pgid, timeout_ms, killed, err) < 0) {
			berr_prefix(err, "cannot stop service '%s'", service);
			goto out;
		}
	}
	if (id != IDENT_RUNNING)
		how = xasprintf("forgot %s, which had %s", service,
		                id == IDENT_EXITED ? "exited" : "gone");
	else if (*killed)
		how = xasprintf("stopped %s with SIGKILL after %d s", service,
		                timeout_ms / 1000);
	else
		how = xasprintf("stopped %s with SIGTERM in %.1f s", service,
		                (double)(strnum_mono_ms() - start) / 1000.0);
	json_object_del(json_object_get(root, "services"), service);
	if (runtime_save(ctx->st, root, err) < 0) {
		berr_prefix(err, "service '%s' stopped, but", service);
		goto out;
	}
	log = log_path(ctx->st, service);
	mark = log_mark(how);
	log_append(log, mark, &ignored); /* only for people reading it */
	rc = 0;
out:
	json_decref(root);
	free(detail);
	free(how);
	free(mark);
	free(log);
	return rc;
}

static int process_status(struct service_live *out,
                          const struct driver_ctx *ctx, const char *service,
                          struct berr *err)
{
	json_t *root = NULL;
	struct record r;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = runtime_load(&root, ctx->st, err);
	if (rc == 0)
		rc = record_find(&r, root, service, ctx->st, err);
	if (rc == 0)
		record_live(out, &r);
	json_decref(root);
	return rc;
}

static int cmp_live(const void *a, const void *b)
{
	const struct service_live *x = a, *y = b;

	return strcmp(x->name, y->name);
}

static int process_live(struct service_live **out, size_t *n,
                        const struct driver_ctx *ctx, struct berr *err)
{
	json_t *root = NULL, *services, *j;
	const char *name;
	struct record r;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (runtime_load(&root, ctx->st, err) < 0)
		return -1;
	services = json_object_get(root, "services");
	*out = xcalloc(json_object_size(services) + 1, sizeof(**out));
	json_object_foreach(services, name, j)
	{
		if (record_parse(&r, name, j, ctx->st, err) < 0) {
			driver_live_free(*out, *n);
			*out = NULL;
			*n = 0;
			goto out;
		}
		record_live(&(*out)[(*n)++], &r);
	}
	qsort(*out, *n, sizeof(**out), cmp_live);
	if (*n == 0) {
		free(*out);
		*out = NULL;
	}
	rc = 0;
out:
	json_decref(root);
	return rc;
}

/* Where the output of the last start begins in (s, len): after the last
 * start mark, else after the first line break (the read may have begun in
 * the middle of a line), else 0. */
static size_t last_run_start(const char *s, size_t len, bool from_start)
{
	size_t mlen = strlen(MARK_START), i;
	const char *nl;

	for (i = len; i-- > 0;) {
		if ((i == 0 || s[i - 1] == '\n') && len - i >= mlen &&
		    memcmp(s + i, MARK_START, mlen) == 0) {
			nl = memchr(s + i, '\n', len - i);
			return nl ? (size_t)(nl - s) + 1 : len;
		}
	}
	if (from_start)
		return 0;
	nl = memchr(s, '\n', len);
	return nl ? (size_t)(nl - s) + 1 : len;
}

static int process_logs(struct buf *out, const struct driver_ctx *ctx,
                        const char *service, size_t lines, struct berr *err)
{
	char *path = NULL, *data = NULL;
	size_t begin, end, start, count = 0;
	struct stat st;
	off_t off;
	ssize_t n = 0;
	int fd = -1, rc = -1;

	if (check_name(service, err) < 0)
		return -1;
	path = log_path(ctx->st, service);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = errno == ENOENT ? BERTH_ENOTFOUND : -1;
		berr_errno(err, errno, "cannot open log '%s'", path);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		berr_errno(err, errno, "cannot read log '%s'", path);
		goto out;
	}
	off = st.st_size > (off_t)LOG_TAIL_READ
	          ? st.st_size - (off_t)LOG_TAIL_READ
	          : 0;
	data = xmalloc(LOG_TAIL_READ);
	do
		n = pread(fd, data, LOG_TAIL_READ, off);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		berr_errno(err, errno, "cannot read log '%s'", path);
		goto out;
	}
	begin = last_run_start(data, (size_t)n, off == 0);
	end = (size_t)n;
	while (end > begin && data[end - 1] == '\n')
		end--;
	/* Back from the end, over `lines` line breaks at most. */
	for (start = end; start > begin; start--) {
		if (data[start - 1] == '\n' && ++count == lines)
			break;
	}
	if (lines > 0 && end > start) {
		buf_append(out, data + start, end - start);
		buf_putc(out, '\n');
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(data);
	free(path);
	return rc;
}

static int process_check_tools(struct strv *missing,
                               const struct driver_ctx *ctx,
                               const struct manifest *m, struct berr *err)
{
	struct kvlist env;
	size_t i;

	(void)err;
	kvlist_init(&env);
	driver_env(&env, ctx->vars, NULL);
	for (i = 0; i < m->nbuild; i++)
		driver_need_program(
		    missing, m->build[i].n > 0 ? m->build[i].v[0] : NULL, &env);
	kvlist_release(&env);
	for (i = 0; i < m->nservices; i++) {
		const struct manifest_service *svc = &m->services[i];

		/* A service's env may set its own PATH. */
		kvlist_init(&env);
		driver_env(&env, ctx->vars, &svc->env);
		driver_need_program(
		    missing, svc->command.n > 0 ? svc->command.v[0] : NULL,
		    &env);
		kvlist_release(&env);
	}
	return 0;
}

const struct driver_ops driver_process = {
    .name = "process",
    .check_tools = process_check_tools,
    .build = driver_run_build,
    .start = process_start,
    .stop = process_stop,
    .status = process_status,
    .live = process_live,
    .logs = process_logs,
};
