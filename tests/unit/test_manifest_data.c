/*
 * test_manifest_data.c — the data-driven manifest tests. For each
 * tests/data/manifests/CASE.json (with CASE.vars, KEY=VALUE lines, as the
 * env file's variables, when present) the output is compared with
 * CASE.out: every error line of a manifest that fails, or a canonical dump
 * of the model (services in start order, with their hashes) of one that
 * parses. BERTH_UPDATE_EXPECTED=1 rewrites the .out files instead: review
 * the diff by hand before committing it.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "manifest.h"

#define DATA_DIR "tests/data/manifests"

struct text {
	char *s;
	size_t len, cap;
};

static void add(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	while (t->len + (size_t)n + 1 > t->cap) {
		t->cap = t->cap ? t->cap * 2 : 4096;
		t->s = realloc(t->s, t->cap);
		if (t->s == NULL)
			abort();
	}
	va_start(ap, fmt);
	vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

/* A string as a JSON literal (new), or "null". */
static char *q(const char *s)
{
	json_t *j = s ? json_string(s) : json_null();
	char *d = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;

	json_decref(j);
	if (d == NULL)
		d = strdup("<not utf-8>");
	return d;
}

static void add_str(struct text *t, const char *label, const char *s)
{
	char *x = q(s);

	add(t, "%s%s", label, x);
	free(x);
}

static void add_strv(struct text *t, const char *label, const struct strv *sv)
{
	size_t i;

	add(t, "%s[", label);
	for (i = 0; i < sv->n; i++)
		add_str(t, i ? "," : "", sv->v[i]);
	add(t, "]");
}

static void add_ports(struct text *t, const char *label, const int *p, size_t n)
{
	size_t i;

	add(t, "%s[", label);
	for (i = 0; i < n; i++)
		add(t, "%s%d", i ? "," : "", p[i]);
	add(t, "]");
}

static void dump_service(struct text *t, const struct manifest_service *s,
                         size_t index)
{
	size_t i;
	bool same;

	add(t, "service %s (file index %zu)\n", s->name, index);
	add(t, "  hash %s\n", s->hash);
	add_strv(t, "  command ", &s->command);
	add(t, "\n");
	same = s->command.n == s->command_raw.n;
	for (i = 0; same && i < s->command.n; i++)
		same = strcmp(s->command.v[i], s->command_raw.v[i]) == 0;
	if (!same) {
		add_strv(t, "  command_raw ", &s->command_raw);
		add(t, "\n");
	}
	add(t, "  env {");
	for (i = 0; i < s->env.n; i++) {
		add_str(t, i ? "," : "", s->env.items[i].key);
		add_str(t, ":", s->env.items[i].value);
	}
	add(t, "}\n");
	if (s->has_health) {
		add_str(t, "  health http=", s->health.http);
		if (s->health.http_raw &&
		    strcmp(s->health.http, s->health.http_raw))
			add_str(t, " http_raw=", s->health.http_raw);
		add(t,
		    " expect_status=%d interval_s=%d timeout_s=%d "
		    "start_period_s=%d retries=%d\n",
		    s->health.expect_status, s->health.interval_s,
		    s->health.timeout_s, s->health.start_period_s,
		    s->health.retries);
	} else {
		add(t, "  health none\n");
	}
	add(t, "  stop_timeout_s %d\n", s->stop_timeout_s);
	add_strv(t, "  depends_on ", &s->depends_on);
	add_ports(t, "\n  ports ", s->ports, s->nports);
	add(t, "\n");
}

static void dump(struct text *t, const struct manifest *m)
{
	static const char *const drivers[] = {"process", "compose"};
	static const char *const formats[] = {"custom", "plain", "plain.gz"};
	static const char *const verifies[] = {"none", "toc", "restore"};
	static const char *const migrations[] = {"none", "sql_dir", "command"};
	static const char *const notifies[] = {"slack", "webhook"};
	static const char *const rdb[] = {"restore", "keep"};
	static const char *const drift[] = {"report", "heal", "off"};
	const struct manifest_database *db = &m->db;
	size_t i;

	add(t, "version %d\n", m->version);
	add_str(t, "app ", m->app);
	add(t, "\ndriver %s\nhash %s\n", drivers[m->driver], m->hash);
	for (i = 0; i < m->nbuild; i++) {
		add(t, "build[%zu] ", i);
		add_strv(t, "", &m->build[i]);
		add(t, "\n");
	}
	add_str(t, "compose file=", m->compose_file);
	add_str(t, " project=", m->compose_project);
	add(t, "\n");
	for (i = 0; i < m->nservices; i++)
		dump_service(t, &m->services[m->order[i]], m->order[i]);
	if (db->present) {
		add_str(t, "database url_env=", db->url_env);
		add(t, " migrations=%s", migrations[db->migrations]);
		if (db->migrations == MANIFEST_MIGRATIONS_SQL_DIR)
			add_str(t, " sql_dir=", db->sql_dir);
		if (db->migrations == MANIFEST_MIGRATIONS_COMMAND)
			add_strv(t, " command=", &db->migrate_command);
		add(t, " lock_timeout_s=%d statement_timeout_s=%d\n",
		    db->lock_timeout_s, db->statement_timeout_s);
		add_str(t, "backup dir=", db->backup_dir);
		add(t, " format=%s retention=%d/%d/%d",
		    formats[db->backup_format], db->retention_daily,
		    db->retention_weekly, db->retention_monthly);
		add_str(t, " schedule=", db->backup_schedule);
		add(t, " (%d) verify=%s\n", db->backup_schedule_min,
		    verifies[db->backup_verify]);
		if (db->service != NULL)
			add_str(t, "database service=", db->service);
		if (db->service != NULL)
			add(t, "\n");
	} else {
		add(t, "database none\n");
	}
	add(t, "checks disk_free_pct=%d mem_free_mb=%d",
	    m->checks.disk_free_pct, m->checks.mem_free_mb);
	add_ports(t, " ports_free=", m->checks.ports_free,
	          m->checks.nports_free);
	add_strv(t, " env_required=", &m->checks.env_required);
	add(t, "\n");
	for (i = 0; i < m->nsmoke; i++) {
		const struct manifest_smoke *s = &m->smoke[i];

		add(t, "smoke[%zu]", i);
		add_str(t, " name=", s->name);
		add_str(t, " url=", s->url);
		if (strcmp(s->url, s->url_raw) != 0)
			add_str(t, " url_raw=", s->url_raw);
		add(t, " expect_status=%d", s->expect_status);
		add_str(t, " expect_body=", s->expect_body);
		add(t, " timeout_s=%d\n", s->timeout_s);
	}
	add(t, "rollback automatic=%s database=%s\n",
	    m->rollback_automatic ? "true" : "false",
	    rdb[m->rollback_database]);
	add(t, "drift interval_s=%d action=%s\n", m->drift_interval_s,
	    drift[m->drift_action]);
	add(t, "releases keep=%d\n", m->releases_keep);
	for (i = 0; i < m->nnotify; i++) {
		add(t, "notify[%zu] type=%s", i, notifies[m->notify[i].type]);
		add_str(t, " url_env=", m->notify[i].url_env);
		add(t, "\n");
	}
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0)
		goto out;
	rewind(f);
	data = malloc((size_t)n + 1);
	if (data == NULL || fread(data, 1, (size_t)n, f) != (size_t)n) {
		free(data);
		data = NULL;
		goto out;
	}
	data[n] = '\0';
	*len = (size_t)n;
out:
	fclose(f);
	return data;
}

/* KEY=VALUE lines; blank lines and # comments are skipped. */
static void read_vars(struct kvlist *vars, char *text)
{
	char *line = text;

	while (line != NULL && *line != '\0') {
		char *nl = strchr(line, '\n'), *eq;

		if (nl != NULL)
			*nl = '\0';
		eq = strchr(line, '=');
		if (*line != '#' && eq != NULL) {
			*eq = '\0';
			kvlist_set(vars, line, eq + 1);
		}
		line = nl ? nl + 1 : NULL;
	}
}

/* Splits text into its lines (pointers into text, which is modified). */
static char **split_lines(char *text, size_t *n)
{
	char **lines = NULL;
	char *c = text;

	*n = 0;
	while (*c != '\0') {
		char *nl = strchr(c, '\n');

		lines = realloc(lines, (*n + 1) * sizeof(*lines));
		if (lines == NULL)
			abort();
		lines[(*n)++] = c;
		if (nl == NULL)
			break;
		*nl = '\0';
		c = nl + 1;
	}
	return lines;
}

/* Prints a line diff of want (the .out file) and got: " " common lines,
 * "-" only expected, "+" only got (longest common subsequence). */
static void show_mismatch(const char *name, const char *got, const char *want)
{
	char *g = strdup(got), *w = strdup(want);
	size_t ng, nw, i, j;
	char **gl = split_lines(g, &ng), **wl = split_lines(w, &nw);
	size_t *lcs = calloc((nw + 1) * (ng + 1), sizeof(*lcs));

#define LCS(a, b) lcs[(a) * (ng + 1) + (b)]
	for (i = nw; i-- > 0;)
		for (j = ng; j-- > 0;)
			LCS(i, j) =
			    strcmp(wl[i], gl[j]) == 0 ? LCS(i + 1, j + 1) + 1
			    : LCS(i + 1, j) > LCS(i, j + 1) ? LCS(i + 1, j)
			                                    : LCS(i, j + 1);
	fprintf(stderr, "%s: output differs from %s/%s.out:\n", name, DATA_DIR,
	        name);
	for (i = 0, j = 0; i < nw || j < ng;) {
		if (i < nw && j < ng && strcmp(wl[i], gl[j]) == 0) {
			fprintf(stderr, "  %s\n", wl[i++]);
			j++;
		} else if (j < ng &&
		           (i == nw || LCS(i, j + 1) >= LCS(i + 1, j))) {
			fprintf(stderr, "+ %s\n", gl[j++]);
		} else {
			fprintf(stderr, "- %s\n", wl[i++]);
		}
	}
#undef LCS
	free(lcs);
	free(gl);
	free(wl);
	free(g);
	free(w);
}

static void run_case(const char *name, bool update)
{
	char path[512];
	struct merrs errs = {0};
	struct kvlist vars;
	struct manifest_ctx ctx = {.file = "berth.json"};
	struct text out = {0};
	struct manifest *m;
	char *data, *vtext, *want;
	char vhash[65];
	size_t len = 0, vlen = 0, wlen = 0, i;

	kvlist_init(&vars);
	snprintf(path, sizeof(path), "%s/%s.json", DATA_DIR, name);
	data = read_file(path, &len);
	CHECK(data != NULL);
	if (data == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s.vars", DATA_DIR, name);
	vtext = read_file(path, &vlen);
	if (vtext != NULL) {
		hash_sha256_hex(vhash, vtext, vlen);
		ctx.env_file_hash = vhash;
		read_vars(&vars, vtext);
		ctx.vars = &vars;
	}
	m = manifest_parse(data, len, &ctx, &errs);
	CHECK((m == NULL) == (errs.n > 0));
	add(&out, "%s", "");
	for (i = 0; i < errs.n; i++)
		add(&out, "%s\n", errs.items[i]);
	if (m != NULL)
		dump(&out, m);
	snprintf(path, sizeof(path), "%s/%s.out", DATA_DIR, name);
	if (update) {
		FILE *f = fopen(path, "wb");

		CHECK(f != NULL);
		if (f != NULL) {
			fputs(out.s, f);
			fclose(f);
		}
	} else {
		want = read_file(path, &wlen);
		if (want == NULL)
			fprintf(stderr, "%s: %s is missing\n", name, path);
		else if (strcmp(want, out.s) != 0)
			show_mismatch(name, out.s, want);
		CHECK(want != NULL && strcmp(want, out.s) == 0);
		free(want);
	}
	free(out.s);
	manifest_free(m);
	merrs_release(&errs);
	kvlist_release(&vars);
	free(vtext);
	free(data);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	const char *env = getenv("BERTH_UPDATE_EXPECTED");
	bool update = env != NULL && strcmp(env, "1") == 0;
	DIR *d = opendir(DATA_DIR);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, i;

	CHECK(d != NULL);
	if (d == NULL)
		return check_done("test_manifest_data");
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		if (l <= 5 || strcmp(e->d_name + l - 5, ".json") != 0)
			continue;
		names = realloc(names, (n + 1) * sizeof(*names));
		names[n] = strndup(e->d_name, l - 5);
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_str);
	/* Fewer cases than this means files went missing. */
	CHECK(n >= 45);
	for (i = 0; i < n; i++) {
		run_case(names[i], update);
		free(names[i]);
	}
	free(names);
	fprintf(stderr, "test_manifest_data: %zu cases%s\n", n,
	        update ? " (expected output rewritten)" : "");
	return check_done("test_manifest_data");
}
