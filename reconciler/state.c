/*
 * state.c — one environment's state directory (SPEC §11, docs/state.md):
 * the deployment journal (deployments/<id>.json), the current pointer
 * (current -> releases/<commit>, current.json) and the freeze marker.
 *
 * Every write goes through fs_write_atomic or fs_symlink_atomic, so a
 * process killed at any instant leaves each file either as it was or as it
 * was going to be. What a kill can leave behind is temporary files; they are
 * ignored by every reader and removed by state_open once their writer is
 * gone.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth.h"

#define STATE_DIR_MODE 0750
#define STATE_FILE_MODE 0640
/* Database dumps are the most sensitive thing berth writes. */
#define STATE_BACKUP_DIR_MODE 0700
/* Ids are kept far from INT64_MAX so that max + 1 never overflows. */
#define STATE_ID_MAX ((int64_t)1 << 53)
/* Attempts at publishing a new record before giving up (each lost race to
 * another creator costs one). */
#define STATE_CREATE_TRIES 1000

bool state_env_name_ok(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > 64 || name[0] == '.' || name[0] == '-')
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* The pid of the writer of a temporary file called name ("x.tmp.<pid>" or
 * ".new.<pid>.json"), or 0 when name is not a temporary file's. */
static int temp_pid(const char *name)
{
	const char *p = strstr(name, ".tmp."), *end;
	char digits[16];
	int pid;

	if (p != NULL) {
		p += strlen(".tmp.");
		end = p + strlen(p);
	} else if (strncmp(name, ".new.", 5) == 0) {
		p = name + 5;
		end = strstr(p, ".json");
		if (end == NULL || end[5] != '\0')
			return 0;
	} else {
		return 0;
	}
	if (end == p || (size_t)(end - p) >= sizeof(digits))
		return 0;
	snprintf(digits, sizeof(digits), "%.*s", (int)(end - p), p);
	if (strnum_int(&pid, digits, 1, INT32_MAX) != 0)
		return 0;
	return pid;
}

/*
 * Removes the temporary files of writers that no longer exist in dir:
 * "<name>.tmp.<pid>" (fs_write_atomic, fs_symlink_atomic) and
 * ".new.<pid>.json" (state_create_deployment). A live writer's file is
 * left alone, so this is safe next to concurrent writers. A failure only
 * leaves files that every reader ignores anyway, so it is not an error.
 */
static void clean_temp(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct buf kv;

	if (d == NULL)
		return;
	buf_init(&kv, 4096);
	while ((e = readdir(d)) != NULL) {
		int pid = temp_pid(e->d_name);

		if (pid == 0 || pid == getpid())
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0) {
			buf_reset(&kv);
			log_kv(&kv, "dir", dir);
			log_kv(&kv, "file", e->d_name);
			log_debug("msg=\"removed a temporary file left by a "
				  "killed writer\"%s", buf_str(&kv));
		}
	}
	closedir(d);
	buf_release(&kv);
}

int state_open(struct state *st, const char *state_dir, const char *env,
	       struct berr *err)
{
	static const char *const subdirs[] = {"releases", "deployments",
					      "logs"};
	char *p = NULL;
	size_t i;

	memset(st, 0, sizeof(*st));
	if (!state_env_name_ok(env))
		return berr_set(err, "invalid environment name '%s': expected "
				     "letters, digits, '.', '_' or '-'", env);
	st->root = xstrdup(state_dir);
	st->env = xstrdup(env);
	p = fs_join(state_dir, "envs");
	st->env_dir = fs_join(p, env);
	free(p);
	if (fs_mkdir_p(st->env_dir, STATE_DIR_MODE, err) != 0)
		goto fail;
	for (i = 0; i < BERTH_ARRAY_LEN(subdirs); i++) {
		p = state_path(st, subdirs[i]);
		if (fs_mkdir_p(p, STATE_DIR_MODE, err) != 0)
			goto fail;
		free(p);
	}
	p = state_path(st, "backups");
	if (fs_mkdir_p(p, STATE_BACKUP_DIR_MODE, err) != 0)
		goto fail;
	free(p);
	p = state_path(st, "deployments");
	clean_temp(p);
	free(p);
	clean_temp(st->env_dir);
	return 0;
fail:
	free(p);
	state_close(st);
	return -1;
}

void state_close(struct state *st)
{
	if (st == NULL)
		return;
	free(st->root);
	free(st->env);
	free(st->env_dir);
	memset(st, 0, sizeof(*st));
}

char *state_path(const struct state *st, const char *rel)
{
	return fs_join(st->env_dir, rel);
}

static char *record_path(const struct state *st, int64_t id)
{
	char rel[64];

	snprintf(rel, sizeof(rel), "deployments/%lld.json", (long long)id);
	return state_path(st, rel);
}

/* Reads the JSON file at path into *out (new reference). */
static int read_json(json_t **out, const char *path, size_t max,
		     struct berr *err)
{
	struct buf b;
	json_error_t je;
	int rc;

	*out = NULL;
	buf_init(&b, max);
	rc = fs_read_file(&b, path, max, err);
	if (rc == 0) {
		*out = json_loadb(buf_str(&b), b.len, 0, &je);
		if (*out == NULL)
			rc = berr_set(err, "'%s' is not valid JSON: %s (line %d)",
				      path, je.text, je.line);
	}
	if (rc != 0 && rc != BERTH_ENOTFOUND)
		rc = -1;
	buf_release(&b);
	return rc;
}

static int write_json(const char *path, const json_t *j, struct berr *err)
{
	char *text = json_dumps(j, JSON_INDENT(2));
	struct buf b;
	int rc;

	if (text == NULL)
		return berr_set(err, "cannot serialise '%s'", path);
	buf_init(&b, 0);
	buf_puts(&b, text);
	buf_putc(&b, '\n');
	free(text);
	rc = fs_write_atomic(path, b.data, b.len, STATE_FILE_MODE, err);
	buf_release(&b);
	return rc;
}

static int save_record(const char *path, const struct deployment *d,
		       struct berr *err)
{
	json_t *j = deployment_to_json(d);
	int rc = write_json(path, j, err);

	json_decref(j);
	return rc;
}

/* Loads the record file of id, checking that it is the record it claims to
 * be: its id and environment must match its place. */
static int load_record(struct state *st, int64_t id, struct deployment *out,
		       struct berr *err)
{
	char *path = record_path(st, id);
	json_t *j = NULL;
	int rc;

	deployment_init(out);
	rc = read_json(&j, path, STATE_RECORD_MAX, err);
	if (rc != 0)
		goto out;
	if (deployment_from_json(out, j, err) != 0) {
		rc = berr_prefix(err, "invalid deployment record '%s'", path);
		goto out;
	}
	if (out->id != id || strcmp(out->env, st->env) != 0) {
		rc = berr_set(err, "invalid deployment record '%s': it says "
				   "deployment %lld of '%s'", path,
			      (long long)out->id, out->env);
		deployment_release(out);
	}
out:
	json_decref(j);
	free(path);
	return rc;
}

int state_load_deployment(struct state *st, int64_t id, struct deployment *out,
			  struct berr *err)
{
	int rc = load_record(st, id, out, err);

	if (rc == BERTH_ENOTFOUND)
		berr_set(err, "no deployment %lld in environment '%s'",
			 (long long)id, st->env);
	return rc;
}

static int cmp_desc(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* The ids in the journal ("<id>.json", nothing else), newest first, into a
 * new array. */
static int list_ids(int64_t **ids, size_t *n, struct state *st,
		    struct berr *err)
{
	char *dir = state_path(st, "deployments");
	size_t cap = 0;
	struct dirent *e;
	DIR *d;

	*ids = NULL;
	*n = 0;
	d = opendir(dir);
	if (d == NULL) {
		berr_errno(err, errno, "cannot list '%s'", dir);
		free(dir);
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		const char *dot = strchr(e->d_name, '.');
		char digits[24];
		int64_t id;

		if (dot == NULL || strcmp(dot, ".json") != 0 ||
		    e->d_name[0] == '0' ||
		    (size_t)(dot - e->d_name) >= sizeof(digits))
			continue;
		snprintf(digits, sizeof(digits), "%.*s",
			 (int)(dot - e->d_name), e->d_name);
		if (strnum_i64(&id, digits, 1, STATE_ID_MAX) != 0)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			*ids = xrealloc(*ids, cap * sizeof(**ids));
		}
		(*ids)[(*n)++] = id;
	}
	closedir(d);
	free(dir);
	if (*n > 1)
		qsort(*ids, *n, sizeof(**ids), cmp_desc);
	return 0;
}

int state_create_deployment(struct state *st, struct deployment *d,
			    struct berr *err)
{
	char *staging = NULL, *path = NULL, *dir = NULL, name[48];
	int64_t *ids = NULL, id;
	size_t n, tries;
	int rc = -1;

	if (d->env == NULL)
		d->env = xstrdup(st->env);
	else if (strcmp(d->env, st->env) != 0)
		return berr_set(err, "cannot record a deployment of '%s' in "
				     "environment '%s'", d->env, st->env);
	if (list_ids(&ids, &n, st, err) != 0)
		return -1;
	id = n > 0 ? ids[0] + 1 : 1;
	free(ids);
	/*
	 * The record is written complete under a name of this process's own,
	 * then published under its id with link(2), which fails with EEXIST
	 * when another creator took the id first: ids stay unique without a
	 * lock, and the journal never shows a half-written record.
	 */
	snprintf(name, sizeof(name), "deployments/.new.%ld.json", (long)getpid());
	staging = state_path(st, name);
	dir = state_path(st, "deployments");
	for (tries = 0; tries < STATE_CREATE_TRIES; tries++, id++) {
		if (id > STATE_ID_MAX) {
			berr_set(err, "deployment ids exhausted in '%s'", dir);
			goto out;
		}
		d->id = id;
		if (save_record(staging, d, err) != 0)
			goto out;
		free(path);
		path = record_path(st, id);
		if (link(staging, path) == 0)
			break;
		if (errno != EEXIST) {
			berr_errno(err, errno, "cannot create '%s'", path);
			goto out;
		}
	}
	if (tries == STATE_CREATE_TRIES) {
		berr_set(err, "cannot create a deployment record in '%s': "
			      "too many concurrent creators", dir);
		goto out;
	}
	/* The record is durable once the directory holding its new name is. */
	unlink(staging);
	rc = fs_fsync_dir(dir, err);
out:
	if (rc != 0) {
		unlink(staging);
		d->id = 0;
	}
	free(staging);
	free(path);
	free(dir);
	return rc;
}

int state_save_deployment(struct state *st, const struct deployment *d,
			  struct berr *err)
{
	char *path = record_path(st, d->id);
	int rc = -1;

	if (d->id < 1 || !fs_exists(path)) {
		rc = berr_set(err, "cannot save deployment %lld: it was never "
				   "created in environment '%s'",
			      (long long)d->id, st->env);
		if (d->id >= 1)
			rc = BERTH_ENOTFOUND;
		goto out;
	}
	if (d->env == NULL || strcmp(d->env, st->env) != 0) {
		berr_set(err, "cannot save deployment %lld of '%s' in "
			      "environment '%s'", (long long)d->id,
			 d->env ? d->env : "", st->env);
		goto out;
	}
	rc = save_record(path, d, err);
out:
	free(path);
	return rc;
}

void state_history_free(struct deployment *d, size_t n)
{
	size_t i;

	for (i = 0; d != NULL && i < n; i++)
		deployment_release(&d[i]);
	free(d);
}

static void warn_unreadable(const char *msg)
{
	struct buf b;

	buf_init(&b, 4096);
	log_kv(&b, "error", msg);
	log_warn("msg=\"skipping an unreadable deployment record\"%s",
		 buf_str(&b));
	buf_release(&b);
}

/* What a scan of the journal keeps. */
typedef bool (*state_match_fn)(const struct deployment *d, const void *arg);

/*
 * Reads the journal newest first and appends each readable record that
 * match accepts (NULL: every one) to *out, up to limit (0: no limit).
 * Unreadable records go to bad, or to the log when bad is NULL.
 */
static int scan(struct deployment **out, size_t *n, struct state *st,
		state_match_fn match, const void *arg, struct merrs *bad,
		size_t limit, struct berr *err)
{
	struct deployment d;
	struct berr rerr;
	int64_t *ids = NULL;
	size_t nids, i;

	*out = NULL;
	*n = 0;
	if (list_ids(&ids, &nids, st, err) != 0)
		return -1;
	for (i = 0; i < nids && (limit == 0 || *n < limit); i++) {
		int rc = load_record(st, ids[i], &d, &rerr);

		if (rc == BERTH_ENOTFOUND)
			continue; /* removed since the listing */
		if (rc != 0) {
			if (bad != NULL)
				merrs_add(bad, "%s", rerr.msg);
			else
				warn_unreadable(rerr.msg);
			continue;
		}
		if (match != NULL && !match(&d, arg)) {
			deployment_release(&d);
			continue;
		}
		*out = xrealloc(*out, (*n + 1) * sizeof(**out));
		(*out)[(*n)++] = d;
	}
	free(ids);
	return 0;
}

/* Like scan with limit 1, moving the one record into *out. */
static int scan_one(struct deployment *out, struct state *st,
		    state_match_fn match, const void *arg, struct berr *err)
{
	struct deployment *found;
	size_t n;

	deployment_init(out);
	if (scan(&found, &n, st, match, arg, NULL, 1, err) != 0)
		return -1;
	if (n == 0) {
		free(found);
		return BERTH_ENOTFOUND;
	}
	*out = found[0];
	free(found);
	return 0;
}

int state_history(struct state *st, struct deployment **out, size_t *n,
		  struct merrs *bad, size_t limit, struct berr *err)
{
	return scan(out, n, st, NULL, NULL, bad, limit, err);
}

int state_latest(struct state *st, struct deployment *out, struct berr *err)
{
	int rc = scan_one(out, st, NULL, NULL, err);

	if (rc == BERTH_ENOTFOUND)
		berr_set(err, "environment '%s' was never deployed", st->env);
	return rc;
}

/* A succeeded deployment that put a release in place. */
static bool is_good(const struct deployment *d)
{
	return d->status == DEPLOY_SUCCEEDED && d->commit[0] != '\0' &&
	       (strcmp(d->kind, DEPLOY_KIND_DEPLOY) == 0 ||
		strcmp(d->kind, DEPLOY_KIND_ROLLBACK) == 0);
}

static bool match_good_before(const struct deployment *d, const void *arg)
{
	int64_t before = *(const int64_t *)arg;

	return is_good(d) && (before <= 0 || d->id < before);
}

static bool match_good_commit(const struct deployment *d, const void *arg)
{
	return is_good(d) && strcmp(d->commit, arg) == 0;
}

static bool match_good_tree(const struct deployment *d, const void *arg)
{
	return is_good(d) && strcmp(d->tree, arg) == 0;
}

static bool match_running(const struct deployment *d, const void *arg)
{
	(void)arg;
	return d->status == DEPLOY_RUNNING;
}

int state_last_good(struct state *st, int64_t before_id, struct deployment *out,
		    struct berr *err)
{
	int rc = scan_one(out, st, match_good_before, &before_id, err);

	if (rc == BERTH_ENOTFOUND)
		berr_set(err, "no succeeded deployment in environment '%s'%s",
			 st->env, before_id > 0 ? " before this one" : "");
	return rc;
}

int state_find_by_commit(struct state *st, const char *commit,
			 struct deployment *out, struct berr *err)
{
	int rc = scan_one(out, st, match_good_commit, commit, err);

	if (rc == BERTH_ENOTFOUND)
		berr_set(err, "commit %.12s was never deployed successfully in "
			      "environment '%s'", commit, st->env);
	return rc;
}

int state_find_by_tree(struct state *st, const char *tree,
		       struct deployment *out, struct berr *err)
{
	int rc = scan_one(out, st, match_good_tree, tree, err);

	if (rc == BERTH_ENOTFOUND)
		berr_set(err, "no deployment of tree %.12s in environment '%s'",
			 tree, st->env);
	return rc;
}

int state_find_running(struct state *st, struct deployment **out, size_t *n,
		       struct berr *err)
{
	return scan(out, n, st, match_running, NULL, NULL, 0, err);
}

/* The current pointer. */

int state_get_current(struct state *st, char commit[41], int64_t *deployment_id,
		      struct berr *err)
{
	char *path = state_path(st, "current.json");
	const json_t *c, *id;
	json_t *j = NULL;
	int rc;

	commit[0] = '\0';
	*deployment_id = 0;
	rc = read_json(&j, path, 65536, err);
	if (rc == BERTH_ENOTFOUND)
		berr_set(err, "nothing is deployed in environment '%s'", st->env);
	if (rc != 0)
		goto out;
	c = json_object_get(j, "commit");
	id = json_object_get(j, "deployment_id");
	if (!json_is_string(c) || !strnum_is_sha(json_string_value(c)) ||
	    !json_is_integer(id) || json_integer_value(id) < 0) {
		rc = berr_set(err, "invalid '%s': expected a commit and a "
				   "deployment_id", path);
		goto out;
	}
	memcpy(commit, json_string_value(c), 41);
	*deployment_id = json_integer_value(id);
out:
	json_decref(j);
	free(path);
	return rc;
}

int state_set_current(struct state *st, const char *commit,
		      int64_t deployment_id, struct berr *err)
{
	char rel[64], since[32];
	char *release = NULL, *link = NULL, *path = NULL;
	json_t *j = NULL;
	int rc = -1;

	if (!strnum_is_sha(commit))
		return berr_set(err, "cannot switch current to '%s': not a "
				     "commit id", commit);
	snprintf(rel, sizeof(rel), "releases/%s", commit);
	release = state_path(st, rel);
	if (!fs_is_dir(release)) {
		berr_set(err, "cannot switch current to '%s': no such release "
			      "directory", release);
		goto out;
	}
	/* Relative, so that the state directory can be moved or restored. */
	link = state_path(st, "current");
	if (fs_symlink_atomic(rel, link, err) != 0)
		goto out;
	strnum_iso8601(since, strnum_now_ms() / 1000);
	j = json_pack("{s:s, s:I, s:s, s:s}", "commit", commit, "deployment_id",
		      (json_int_t)deployment_id, "release", rel, "since", since);
	path = state_path(st, "current.json");
	rc = write_json(path, j, err);
out:
	json_decref(j);
	free(release);
	free(link);
	free(path);
	return rc;
}

int state_clear_current(struct state *st, struct berr *err)
{
	static const char *const names[] = {"current.json", "current"};
	size_t i;
	int rc = 0;

	/* current.json first: it is what berth reads, so a crash in between
	 * leaves "nothing deployed" with a symlink that the next switch
	 * replaces. */
	for (i = 0; i < BERTH_ARRAY_LEN(names) && rc == 0; i++) {
		char *path = state_path(st, names[i]);

		if (unlink(path) != 0 && errno != ENOENT)
			rc = berr_errno(err, errno, "cannot remove '%s'", path);
		free(path);
	}
	if (rc == 0)
		rc = fs_fsync_dir(st->env_dir, err);
	return rc;
}

/* The freeze marker: present means frozen. */

int state_freeze(struct state *st, const char *reason, struct berr *err)
{
	char *path = state_path(st, "frozen");
	char since[32];
	json_t *j;
	int rc;

	strnum_iso8601(since, strnum_now_ms() / 1000);
	j = json_pack("{s:s, s:s}", "reason", reason ? reason : "", "since",
		      since);
	rc = write_json(path, j, err);
	json_decref(j);
	free(path);
	return rc;
}

int state_frozen(struct state *st, char **reason)
{
	char *path = state_path(st, "frozen");
	const json_t *r;
	struct berr err;
	json_t *j = NULL;
	int rc;

	if (reason != NULL)
		*reason = NULL;
	rc = read_json(&j, path, 65536, &err);
	free(path);
	if (rc == BERTH_ENOTFOUND)
		return 0;
	r = json_object_get(j, "reason");
	if (reason != NULL) {
		if (rc != 0)
			*reason = xasprintf("frozen (%s)", err.msg);
		else if (json_is_string(r))
			*reason = xstrdup(json_string_value(r));
		else
			*reason = xstrdup("frozen (no reason recorded)");
	}
	json_decref(j);
	return 1;
}

int state_unfreeze(struct state *st, struct berr *err)
{
	char *path = state_path(st, "frozen");
	int rc;

	if (unlink(path) == 0) {
		rc = fs_fsync_dir(st->env_dir, err);
	} else if (errno == ENOENT) {
		berr_set(err, "environment '%s' is not frozen", st->env);
		rc = BERTH_ENOTFOUND;
	} else {
		rc = berr_errno(err, errno, "cannot remove '%s'", path);
	}
	free(path);
	return rc;
}
