/*
 * checks.c — the pre-deploy checks (SPEC §5 step 2): everything that can
 * be known to fail a deployment before anything is changed. Each check
 * measures something and compares it with what passes; all of them run,
 * so one report shows every problem. docs/drivers.md says what each one
 * measures.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "berth.h"

#define CHECKS_MAX          12
#define CHECKS_DB_TIMEOUT_S 5
#define MEMINFO_MAX         ((size_t)64 << 10)

/* One run of the checks. */
struct run {
	const struct checks_input *in;
	const struct manifest *m; /* NULL: checks needing it are skipped */
	struct checks_report *out;
	void (*on_result)(const struct checks_item *c, void *arg);
	void *arg;
};

/* Records a result; value and threshold are stolen. */
static void add(struct run *run, const char *name, bool ok, char *value,
                char *threshold)
{
	struct checks_item *c = &run->out->items[run->out->n++];

	c->name = name;
	c->ok = ok;
	c->value = value;
	c->threshold = threshold;
	if (!ok)
		run->out->failed++;
	if (run->on_result != NULL)
		run->on_result(c, run->arg);
}

/* A check that cannot run without a manifest. Returns true when skipped. */
static bool skip_without_manifest(struct run *run, const char *name)
{
	struct checks_item *c;

	if (run->m != NULL)
		return false;
	c = &run->out->items[run->out->n++];
	c->name = name;
	c->ok = true;
	c->skipped = true;
	c->value = xstrdup("the manifest is not valid");
	if (run->on_result != NULL)
		run->on_result(c, run->arg);
	return true;
}

/* "a, b, c" from a strv, new. */
static char *join(const struct strv *sv)
{
	struct buf b;
	size_t i;

	buf_init(&b, 0);
	for (i = 0; i < sv->n; i++)
		buf_printf(&b, "%s%s", i ? ", " : "", sv->v[i]);
	return buf_detach(&b);
}

static void check_tools(struct run *run)
{
	const struct manifest *m = run->m;
	const struct driver_ops *drv;
	struct strv missing = {0};
	struct kvlist env;
	struct berr err;
	char *list;

	if (skip_without_manifest(run, "tools"))
		return;
	drv = run->in->driver ? run->in->driver : driver_for(m);
	if (drv == NULL) {
		add(run, "tools", false,
		    xasprintf("no '%s' driver in this build",
		              driver_name(m->driver)),
		    NULL);
		return;
	}
	if (drv->check_tools(&missing, run->in->ctx, m, &err) < 0) {
		add(run, "tools", false, xstrdup(err.msg), NULL);
		strv_release(&missing);
		return;
	}
	kvlist_init(&env);
	driver_env(&env, run->in->ctx->vars, NULL);
	if (m->db.present) {
		driver_need_program(&missing, "pg_dump", &env);
		driver_need_program(
		    &missing,
		    m->db.backup_format == MANIFEST_BACKUP_CUSTOM ? "pg_restore"
		                                                  : "psql",
		    &env);
		if (m->db.migrations == MANIFEST_MIGRATIONS_COMMAND &&
		    m->db.migrate_command.n > 0)
			driver_need_program(&missing,
			                    m->db.migrate_command.v[0], &env);
	}
	kvlist_release(&env);
	if (missing.n == 0) {
		add(run, "tools", true, xstrdup("all found"), NULL);
	} else {
		list = join(&missing);
		add(run, "tools", false, xasprintf("missing: %s", list), NULL);
		free(list);
	}
	strv_release(&missing);
}

static void check_env(struct run *run)
{
	const struct strv *req;
	struct strv missing = {0}, empty = {0};
	const char *v;
	char *a, *b;
	size_t i;

	if (skip_without_manifest(run, "env vars"))
		return;
	req = &run->m->checks.env_required;
	for (i = 0; i < req->n; i++) {
		v = kvlist_get(run->in->ctx->vars, req->v[i]);
		if (v == NULL)
			strv_push(&missing, req->v[i]);
		else if (v[0] == '\0')
			strv_push(&empty, req->v[i]);
	}
	if (req->n == 0) {
		add(run, "env vars", true, xstrdup("none required"), NULL);
	} else if (missing.n == 0 && empty.n == 0) {
		add(run, "env vars", true,
		    xasprintf("%zu of %zu set", req->n, req->n), NULL);
	} else {
		a = join(&missing);
		b = join(&empty);
		add(run, "env vars", false,
		    xasprintf("%s%s%s%s%s", missing.n ? "missing: " : "", a,
		              missing.n && empty.n ? "; " : "",
		              empty.n ? "empty: " : "", b),
		    NULL);
		free(a);
		free(b);
	}
	strv_release(&missing);
	strv_release(&empty);
}

/* The nearest existing directory at or above path (new). */
static char *existing_ancestor(const char *path)
{
	char *p = xstrdup(path), *slash;

	while (!fs_is_dir(p)) {
		slash = strrchr(p, '/');
		if (slash == NULL) {
			free(p);
			return xstrdup(".");
		}
		if (slash == p) {
			p[1] = '\0';
			break;
		}
		*slash = '\0';
	}
	return p;
}

/* A filesystem's free space, as the check reports it. */
struct disk {
	dev_t dev;
	double pct;  /* free for unprivileged users, of the total */
	char *error; /* owned; why it could not be measured, or NULL */
};

static void measure_disk(struct disk *d, const char *path)
{
	char *dir = existing_ancestor(path);
	struct statvfs vfs;
	struct stat st;

	memset(d, 0, sizeof(*d));
	if (statvfs(dir, &vfs) < 0 || stat(dir, &st) < 0)
		d->error =
		    xasprintf("cannot measure '%s': %s", dir, strerror(errno));
	else if (vfs.f_blocks == 0)
		d->error = xasprintf("cannot measure '%s': no blocks", dir);
	else
		d->pct = 100.0 * (double)vfs.f_bavail / (double)vfs.f_blocks;
	if (d->error == NULL)
		d->dev = st.st_dev;
	free(dir);
}

static void add_disk(struct run *run, const char *name, struct disk *d)
{
	int need = run->m->checks.disk_free_pct;

	if (d->error != NULL)
		add(run, name, false, d->error, xasprintf("≥ %d%%", need));
	else
		add(run, name, d->pct >= (double)need,
		    xasprintf("%d%%", (int)d->pct), xasprintf("≥ %d%%", need));
	d->error = NULL;
}

/* The backup directory of SPEC §3: relative to the environment's state
 * directory, or absolute. New string. */
static char *backup_dir_of(const struct run *run)
{
	const char *dir = run->m->db.backup_dir;

	if (dir == NULL || dir[0] == '\0')
		dir = "backups";
	if (dir[0] == '/')
		return xstrdup(dir);
	return state_path(run->in->ctx->st, dir);
}

static void check_disks(struct run *run)
{
	struct disk state, backups;
	char *dir;

	if (skip_without_manifest(run, "disk free"))
		return;
	measure_disk(&state, run->in->ctx->st->root);
	add_disk(run, "disk free", &state);
	if (!run->m->db.present)
		return;
	/* Backups may live on another filesystem: then it is checked too. */
	dir = backup_dir_of(run);
	measure_disk(&backups, dir);
	if (backups.error != NULL || backups.dev != state.dev)
		add_disk(run, "backup disk free", &backups);
	free(dir);
}

/* MemAvailable from /proc/meminfo in MiB, or -1. */
static long long mem_available_mb(void)
{
	struct buf b;
	struct berr err;
	const char *p;
	long long kb = -1;

	buf_init(&b, MEMINFO_MAX);
	if (fs_read_file(&b, "/proc/meminfo", MEMINFO_MAX, &err) == 0 &&
	    (p = strstr(buf_str(&b), "MemAvailable:")) != NULL &&
	    sscanf(p, "MemAvailable: %lld kB", &kb) != 1)
		kb = -1;
	buf_release(&b);
	return kb < 0 ? -1 : kb / 1024;
}

static void check_memory(struct run *run)
{
	int need;
	long long mb;

	if (skip_without_manifest(run, "memory"))
		return;
	need = run->m->checks.mem_free_mb;
	mb = mem_available_mb();
	if (mb < 0)
		add(run, "memory", false,
		    xstrdup("cannot read MemAvailable from /proc/meminfo"),
		    xasprintf("≥ %d MB", need));
	else
		add(run, "memory", mb >= need, xasprintf("%lld MB", mb),
		    xasprintf("≥ %d MB", need));
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Every port the manifest wants free: checks.ports_free and the services'
 * ports, sorted, without duplicates. *ports is new. */
static size_t wanted_ports(int **ports, const struct manifest *m)
{
	size_t i, j, n = 0, cap = m->checks.nports_free;

	for (i = 0; i < m->nservices; i++)
		cap += m->services[i].nports;
	*ports = xcalloc(cap + 1, sizeof(**ports));
	for (i = 0; i < m->checks.nports_free; i++)
		(*ports)[n++] = m->checks.ports_free[i];
	for (i = 0; i < m->nservices; i++)
		for (j = 0; j < m->services[i].nports; j++)
			(*ports)[n++] = m->services[i].ports[j];
	qsort(*ports, n, sizeof(**ports), cmp_int);
	for (i = j = 0; i < n; i++)
		if (j == 0 || (*ports)[j - 1] != (*ports)[i])
			(*ports)[j++] = (*ports)[i];
	return j;
}

/* True when pid is one of the running services of the current release,
 * or in the process group of one. */
static bool owned_by_current(const struct run *run, pid_t pid)
{
	struct proc_stat ps;
	struct berr err;
	size_t i;
	bool have = proc_stat_read(&ps, pid, &err) == 0;

	for (i = 0; i < run->in->ncurrent; i++) {
		const struct service_live *s = &run->in->current[i];

		if (!s->running || s->pid <= 1)
			continue;
		if (s->pid == pid || (have && ps.pgrp == s->pid))
			return true;
	}
	return false;
}

/* True when pid is a docker-proxy (the engine's process that listens on a
 * container's published port) and a running service of the current
 * release publishes port through it. */
static bool proxied_for_current(const struct run *run,
                                const struct proc_stat *ps, int port)
{
	size_t i, k;

	if (strcmp(ps->comm, "docker-proxy") != 0)
		return false;
	for (i = 0; i < run->in->ncurrent; i++) {
		const struct service_live *s = &run->in->current[i];

		for (k = 0; s->running && k < s->nports; k++)
			if (s->ports[k] == port)
				return true;
	}
	return false;
}

/* Describes who holds port (listening sockets inodes[0..n)) into b.
 * Returns true when it is free for the deployment. */
static bool port_state(struct buf *b, const struct run *run, int port,
                       const unsigned long *inodes, size_t n)
{
	pid_t *owners;
	struct proc_stat ps;
	struct berr err;
	size_t i;
	bool own = n > 0;

	if (n == 0) {
		buf_printf(b, "%d free", port);
		return true;
	}
	owners = xcalloc(n, sizeof(*owners));
	proc_socket_owners(owners, inodes, n);
	for (i = 0; i < n; i++) {
		if (owners[i] == 0) {
			buf_printf(b,
			           "%d in use (by a process berth cannot "
			           "see)",
			           port);
			free(owners);
			return false;
		}
		if (!owned_by_current(run, owners[i]) &&
		    !(proc_stat_read(&ps, owners[i], &err) == 0 &&
		      proxied_for_current(run, &ps, port))) {
			if (proc_stat_read(&ps, owners[i], &err) == 0)
				buf_printf(b, "%d in use by pid %d (%s)", port,
				           (int)owners[i], ps.comm);
			else
				buf_printf(b, "%d in use by pid %d", port,
				           (int)owners[i]);
			free(owners);
			return false;
		}
	}
	free(owners);
	if (own)
		buf_printf(b, "%d held by the current release", port);
	return true;
}

static void check_ports(struct run *run)
{
	struct buf busy, fine;
	struct berr err;
	int *ports = NULL;
	size_t i, n;
	bool ok = true;

	if (skip_without_manifest(run, "ports free"))
		return;
	n = wanted_ports(&ports, run->m);
	buf_init(&busy, 0);
	buf_init(&fine, 0);
	for (i = 0; i < n; i++) {
		unsigned long *inodes = NULL;
		size_t ninodes = 0;
		struct buf one;

		if (proc_tcp_listeners(&inodes, &ninodes, ports[i], &err) < 0) {
			add(run, "ports free", false, xstrdup(err.msg), NULL);
			goto out;
		}
		buf_init(&one, 0);
		if (port_state(&one, run, ports[i], inodes, ninodes)) {
			buf_printf(&fine, "%s%s", fine.len ? ", " : "",
			           buf_str(&one));
		} else {
			ok = false;
			buf_printf(&busy, "%s%s", busy.len ? "; " : "",
			           buf_str(&one));
		}
		buf_release(&one);
		free(inodes);
	}
	if (n == 0)
		add(run, "ports free", true, xstrdup("none to check"), NULL);
	else if (ok)
		add(run, "ports free", true, buf_detach(&fine), NULL);
	else
		add(run, "ports free", false, buf_detach(&busy), NULL);
out:
	buf_release(&busy);
	buf_release(&fine);
	free(ports);
}

static void check_manifest(struct run *run)
{
	if (run->in->manifest_valid)
		add(run, "manifest", true, xstrdup("valid"), NULL);
	else
		add(run, "manifest", false,
		    xstrdup(run->in->manifest_error ? run->in->manifest_error
		                                    : "invalid"),
		    NULL);
}

/* Counts the migration files of dir; -1 when it cannot be listed. */
static long count_migrations(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (migrate_is_file_name(e->d_name))
			n++;
	closedir(d);
	return n;
}

static void check_migrations(struct run *run)
{
	const struct manifest_database *db;
	const char *dir;
	char *path;
	long n;

	if (skip_without_manifest(run, "migrations"))
		return;
	db = &run->m->db;
	dir = db->sql_dir ? db->sql_dir : "";
	if (!db->present || db->migrations == MANIFEST_MIGRATIONS_NONE) {
		add(run, "migrations", true, xstrdup("none configured"), NULL);
		return;
	}
	if (db->migrations == MANIFEST_MIGRATIONS_COMMAND) {
		add(run, "migrations", true, xstrdup("run by a command"), NULL);
		return;
	}
	switch (run->in->migrations) {
	case CHECKS_MIGRATIONS_PRESENT:
		add(run, "migrations", true, xasprintf("'%s' present", dir),
		    NULL);
		return;
	case CHECKS_MIGRATIONS_MISSING:
		add(run, "migrations", false,
		    xasprintf("'%s' not found at the commit", dir), NULL);
		return;
	case CHECKS_MIGRATIONS_LOOK:
		break;
	}
	if (run->in->release_dir == NULL) {
		add(run, "migrations", false,
		    xasprintf("'%s' not checked: no release directory", dir),
		    NULL);
		return;
	}
	path = fs_join(run->in->release_dir, dir);
	n = fs_is_dir(path) ? count_migrations(path) : -1;
	if (n < 0)
		add(run, "migrations", false,
		    xasprintf("'%s' not found in the release", dir), NULL);
	else
		add(run, "migrations", true,
		    xasprintf("'%s' present, %ld file%s", dir, n,
		              n == 1 ? "" : "s"),
		    NULL);
	free(path);
}

static void check_database(struct run *run)
{
	const struct manifest_database *db;
	struct pg_conn *c = NULL;
	const char *url;
	char *where;
	struct berr err;
	int64_t start;
	int timeout, v;

	if (skip_without_manifest(run, "database"))
		return;
	db = &run->m->db;
	if (!db->present) {
		add(run, "database", true, xstrdup("none configured"), NULL);
		return;
	}
	url = kvlist_get(run->in->ctx->vars,
	                 db->url_env ? db->url_env : "DATABASE_URL");
	if (url == NULL || url[0] == '\0') {
		add(run, "database", false,
		    xasprintf("%s is not set in the env file",
		              db->url_env ? db->url_env : "DATABASE_URL"),
		    NULL);
		return;
	}
	timeout = run->in->db_timeout_s > 0 ? run->in->db_timeout_s
	                                    : CHECKS_DB_TIMEOUT_S;
	start = strnum_mono_ms();
	if (pg_connect(&c, url, timeout, &err) < 0) {
		add(run, "database", false, xstrdup(err.msg), NULL);
		return;
	}
	v = pg_server_version(c);
	where = pg_url_display(url);
	add(run, "database", true,
	    xasprintf("%s, PostgreSQL %d.%d, in %lld ms", where, v / 10000,
	              v % 10000, (long long)(strnum_mono_ms() - start)),
	    NULL);
	free(where);
	pg_close(c);
}

static bool pid_exists(int pid)
{
	return kill(pid, 0) == 0 || errno == EPERM;
}

/* Looks at one entry of releases/: a release, a temporary export (removed
 * when its writer is gone), or something unexpected (described in bad). */
static void release_entry(struct buf *bad, int *removed, const char *dir,
                          const char *name)
{
	char *path = fs_join(dir, name);
	struct stat st;
	struct berr err;
	int pid = release_leftover_pid(name);

	if (lstat(path, &st) < 0) {
		if (errno != ENOENT)
			buf_printf(bad, "%scannot inspect '%s': %s",
			           bad->len ? "; " : "", name, strerror(errno));
	} else if (strnum_is_sha(name) && S_ISDIR(st.st_mode)) {
		/* a release */
	} else if (pid > 0 && pid != getpid() && !pid_exists(pid)) {
		if (fs_remove_tree(path, &err) < 0)
			buf_printf(bad, "%s%s", bad->len ? "; " : "", err.msg);
		else
			(*removed)++;
	} else if (pid > 0) {
		buf_printf(bad, "%sexport '%s' in progress (pid %d)",
		           bad->len ? "; " : "", name, pid);
	} else {
		buf_printf(bad, "%sunexpected '%s'", bad->len ? "; " : "",
		           name);
	}
	free(path);
}

static void check_releases(struct run *run)
{
	char *dir = state_path(run->in->ctx->st, "releases");
	struct dirent *e;
	struct buf bad;
	int removed = 0;
	DIR *d;

	buf_init(&bad, 0);
	d = opendir(dir);
	if (d == NULL && errno != ENOENT)
		buf_printf(&bad, "cannot list '%s': %s", dir, strerror(errno));
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			release_entry(&bad, &removed, dir, e->d_name);
	}
	if (d != NULL)
		closedir(d);
	if (bad.len > 0)
		add(run, "release dir", false, buf_detach(&bad), NULL);
	else if (removed > 0)
		add(run, "release dir", true,
		    xasprintf("clean (removed %d leftover export%s)", removed,
		              removed == 1 ? "" : "s"),
		    NULL);
	else
		add(run, "release dir", true, xstrdup("clean"), NULL);
	buf_release(&bad);
	free(dir);
}

int checks_run(struct checks_report *out, const struct checks_input *in,
               void (*on_result)(const struct checks_item *c, void *arg),
               void *arg)
{
	struct run run = {in, in->m, out, on_result, arg};

	memset(out, 0, sizeof(*out));
	out->items = xcalloc(CHECKS_MAX, sizeof(*out->items));
	check_tools(&run);
	check_env(&run);
	check_disks(&run);
	check_memory(&run);
	check_ports(&run);
	check_manifest(&run);
	check_migrations(&run);
	check_database(&run);
	check_releases(&run);
	return out->failed > 0 ? -1 : 0;
}

void checks_report_release(struct checks_report *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++) {
		free(r->items[i].value);
		free(r->items[i].threshold);
	}
	free(r->items);
	memset(r, 0, sizeof(*r));
}

char *checks_format(const struct checks_item *c)
{
	const char *mark = c->skipped ? "-" : c->ok ? "✓" : "✗";

	if (c->skipped)
		return xasprintf("  %s %-16s not checked: %s", mark, c->name,
		                 c->value ? c->value : "");
	if (c->threshold != NULL)
		return xasprintf("  %s %-16s %s (need %s)", mark, c->name,
		                 c->value ? c->value : "", c->threshold);
	return xasprintf("  %s %-16s %s", mark, c->name,
	                 c->value ? c->value : "");
}
