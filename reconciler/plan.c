/*
 * plan.c — what `apply` would change: the commit, the build, the backup, the
 * migrations pending, and the services to start, stop and restart, with why.
 * `berth plan`, `apply --dry-run` and the pre-receive hook share it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "berth.h"

/* Largest migration file read from Git for a plan (checksums only). */
#define PLAN_MIGRATION_MAX ((size_t)64 << 20)

static void join_argv(struct buf *b, const struct strv *argv)
{
	size_t i;

	for (i = 0; i < argv->n; i++)
		buf_printf(b, "%s%s", i ? " " : "", argv->v[i]);
}

static bool listed(const struct manifest_changes *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->items[i].name, name) == 0 &&
		    (strcmp(c->items[i].kind, "start") == 0 ||
		     strcmp(c->items[i].kind, "restart") == 0 ||
		     strcmp(c->items[i].kind, "stop") == 0))
			return true;
	return false;
}

static void append_all(struct manifest_changes *to,
		       const struct manifest_changes *from)
{
	size_t i;

	for (i = 0; i < from->n; i++)
		manifest_changes_add(to, from->items[i].kind,
				     from->items[i].name, from->items[i].detail);
}

int plan_read_migrations(struct buf **bufs, struct migrate_source **srcs,
			 size_t *n, struct strv *names, struct git_mirror *gm,
			 const char *sha, const char *dir, struct berr *err)
{
	size_t i, k = 0;
	int rc;

	*bufs = NULL;
	*srcs = NULL;
	*n = 0;
	rc = git_mirror_list_dir(names, gm, sha, dir, err);
	if (rc != 0)
		return rc;
	*bufs = xcalloc(names->n, sizeof(**bufs));
	*srcs = xcalloc(names->n, sizeof(**srcs));
	for (i = 0; i < names->n; i++) {
		char *path;

		if (!migrate_is_file_name(names->v[i]))
			continue;
		path = fs_join(dir, names->v[i]);
		buf_init(&(*bufs)[k], PLAN_MIGRATION_MAX + 1);
		rc = git_mirror_read_file(&(*bufs)[k], gm, sha, path,
					  PLAN_MIGRATION_MAX, err);
		free(path);
		if (rc != 0) {
			buf_release(&(*bufs)[k]);
			*n = k;
			return rc;
		}
		(*srcs)[k].name = names->v[i];
		(*srcs)[k].data = buf_str(&(*bufs)[k]);
		(*srcs)[k].len = (*bufs)[k].len;
		k++;
	}
	*n = k;
	return 0;
}

void plan_free_migrations(struct buf *bufs, struct migrate_source *srcs,
			  size_t n)
{
	size_t i;

	for (i = 0; bufs != NULL && i < n; i++)
		buf_release(&bufs[i]);
	free(bufs);
	free(srcs);
}

/* Lists the pending migrations of the new commit: asks the database when it
 * answers, else compares with the files of the running commit. */
static void plan_migrations(struct plan *p, struct manifest_changes *out,
			    struct envctx *ctx, struct git_mirror *gm)
{
	const struct manifest_database *db = &p->to->db;
	struct migrate_source *srcs = NULL;
	struct buf *bufs = NULL;
	struct strv names = {0};
	struct migrate_plan mp;
	struct pg_conn *conn = NULL;
	const char *url;
	struct berr err;
	size_t n = 0, i;
	int rc;

	memset(&mp, 0, sizeof(mp));
	if (db->migrations == MANIFEST_MIGRATIONS_COMMAND) {
		struct buf cmd;

		if (strcmp(p->from_commit, p->to_commit) == 0)
			return;
		buf_init(&cmd, 4096);
		join_argv(&cmd, &db->migrate_command);
		manifest_changes_add(out, "migrate", buf_str(&cmd),
				     "migration command runs in the new release");
		p->migrations_pending++;
		buf_release(&cmd);
		return;
	}
	if (db->migrations != MANIFEST_MIGRATIONS_SQL_DIR)
		return;
	rc = plan_read_migrations(&bufs, &srcs, &n, &names, gm, p->to_commit,
				  db->sql_dir, &err);
	if (rc == BERTH_ENOTFOUND) {
		manifest_changes_add(out, "error", db->sql_dir,
				     "migrations directory missing in the commit");
		p->errors++;
		goto out;
	}
	if (rc != 0) {
		manifest_changes_add(out, "error", db->sql_dir, err.msg);
		p->errors++;
		goto out;
	}
	url = envctx_var(ctx, db->url_env);
	if (url == NULL) {
		p->db_note = xasprintf("%s is not set in the env file: "
				       "cannot ask the database what is applied",
				       db->url_env);
	} else if (pg_connect(&conn, url, 3, &err) != 0) {
		p->db_note = xasprintf("database not reachable (%s): %s", err.msg,
				       p->from_commit[0]
					       ? "assuming the migrations of the running commit are applied"
					       : "listing every migration file");
	}
	if (conn != NULL) {
		if (migrate_plan_files(&mp, conn, srcs, n, &err) != 0) {
			manifest_changes_add(out, "error", "migrations",
					     err.msg);
			p->errors++;
			goto out;
		}
		p->db_checked = true;
		for (i = 0; i < mp.nchanged; i++) {
			char *d = xasprintf("applied file changed since "
					    "(checksum %.12s, applied %.12s)",
					    mp.changed[i].current,
					    mp.changed[i].applied);

			manifest_changes_add(out, "error",
					     mp.changed[i].name, d);
			p->errors++;
			free(d);
		}
		for (i = 0; i < mp.npending; i++) {
			const char *d = mp.pending[i].problem
					? mp.pending[i].problem
					: mp.pending[i].out_of_order
					? "pending (sorts before an applied file)"
					: "pending";

			manifest_changes_add(out, "migrate",
					     mp.pending[i].name, d);
			p->migrations_pending++;
			if (mp.pending[i].problem != NULL)
				p->errors++;
		}
		goto out;
	}
	/* No database to ask: the files new since the running commit. */
	{
		struct strv old = {0};

		if (p->from_commit[0] != '\0' &&
		    git_mirror_list_dir(&old, gm, p->from_commit, db->sql_dir,
					&err) != 0)
			strv_release(&old);
		for (i = 0; i < n; i++) {
			if (strv_contains(&old, srcs[i].name))
				continue;
			manifest_changes_add(out, "migrate",
					     srcs[i].name, "pending");
			p->migrations_pending++;
		}
		strv_release(&old);
	}
out:
	migrate_plan_release(&mp);
	pg_close(conn);
	plan_free_migrations(bufs, srcs, n);
	strv_release(&names);
}

int plan_build(struct plan *p, struct envctx *ctx, const char *to_sha,
	       struct merrs *errs)
{
	struct manifest_changes services, migrations;
	struct git_mirror *gm;
	struct merrs old_errs = {0};
	struct buf to_text, from_text;
	struct berr err;
	bool same_tree = false, same_manifest = false, new_code;
	size_t i;
	int rc;

	memset(p, 0, sizeof(*p));
	memset(&services, 0, sizeof(services));
	memset(&migrations, 0, sizeof(migrations));
	snprintf(p->to_commit, sizeof(p->to_commit), "%s", to_sha);
	if (envctx_git(ctx, &gm, &err) != 0) {
		merrs_add(errs, "%s", err.msg);
		return -1;
	}
	if (git_mirror_commit_subject(&p->to_subject, gm, to_sha, &err) != 0) {
		merrs_add(errs, "%s", err.msg);
		return -1;
	}
	rc = state_get_current(&ctx->st, p->from_commit, &p->from_deployment,
			       &err);
	if (rc != 0 && rc != BERTH_ENOTFOUND) {
		merrs_add(errs, "%s", err.msg);
		return -1;
	}
	buf_init(&to_text, MANIFEST_MAX_BYTES + 1);
	buf_init(&from_text, MANIFEST_MAX_BYTES + 1);
	rc = envctx_manifest_text(&to_text, ctx, to_sha, errs);
	if (rc == 0 && (p->to = envctx_parse(ctx, &to_text, errs)) == NULL)
		rc = -1;
	if (rc != 0)
		goto out;
	if (p->from_commit[0] != '\0') {
		/* The same bytes parse to the same manifest: the common case of
		 * a code-only change needs one parse, not two. */
		if (envctx_manifest_text(&from_text, ctx, p->from_commit,
					 &old_errs) == 0) {
			same_manifest = from_text.len == to_text.len &&
					memcmp(buf_str(&from_text),
					       buf_str(&to_text), to_text.len) == 0;
			if (!same_manifest)
				p->from = envctx_parse(ctx, &from_text, &old_errs);
		}
		if (!same_manifest && p->from == NULL)
			p->from_note = xasprintf("the running commit's manifest "
						 "cannot be read (%s): every "
						 "service restarts",
						 old_errs.n ? old_errs.items[0] : "?");
		merrs_release(&old_errs);
		if (git_mirror_trees_equal(&same_tree, gm, p->from_commit,
					   to_sha, &err) != 0)
			same_tree = false;
	}
	new_code = p->from_commit[0] == '\0' || !same_tree;
	if (!same_manifest)
		manifest_diff(&services, p->from, p->to);
	if (new_code && p->from_commit[0] != '\0') {
		for (i = 0; i < p->to->nservices; i++) {
			const struct manifest_service *s =
				&p->to->services[p->to->order[i]];
			char *d;

			if (listed(&services, s->name))
				continue;
			d = xasprintf("new release %.7s -> %.7s",
				      p->from_commit, to_sha);
			manifest_changes_add(&services, "restart", s->name, d);
			free(d);
		}
	}
	if (p->to->db.present)
		plan_migrations(p, &migrations, ctx, gm);
	p->service_changes = services.n;
	if (p->to->db.present && (services.n > 0 || p->migrations_pending > 0)) {
		char *d = xasprintf("pg_dump (%s) before anything changes",
				    p->to->db.backup_format == MANIFEST_BACKUP_CUSTOM
					    ? "custom"
				    : p->to->db.backup_format == MANIFEST_BACKUP_PLAIN
					    ? "plain"
					    : "plain.gz");

		manifest_changes_add(&p->changes, "backup", "database", d);
		free(d);
	}
	for (i = 0; new_code && i < p->to->nbuild; i++) {
		struct buf cmd;

		buf_init(&cmd, 4096);
		join_argv(&cmd, &p->to->build[i]);
		manifest_changes_add(&p->changes, "build", buf_str(&cmd),
				     "runs in the new release");
		buf_release(&cmd);
	}
	append_all(&p->changes, &migrations);
	append_all(&p->changes, &services);
	manifest_changes_release(&migrations);
	manifest_changes_release(&services);
	if (p->changes.n == 0 && strcmp(p->from_commit, to_sha) != 0)
		manifest_changes_add(&p->changes, "commit", to_sha,
				     "same tree and manifest as the running "
				     "commit: only the recorded commit changes");
	p->in_sync = p->changes.n == 0;
out:
	buf_release(&to_text);
	buf_release(&from_text);
	return rc;
}

void plan_release(struct plan *p)
{
	if (p == NULL)
		return;
	manifest_free(p->from);
	manifest_free(p->to);
	manifest_changes_release(&p->changes);
	free(p->to_subject);
	free(p->from_note);
	free(p->db_note);
	memset(p, 0, sizeof(*p));
}

static const char *mark(const char *kind)
{
	if (strcmp(kind, "start") == 0)
		return "+";
	if (strcmp(kind, "stop") == 0)
		return "-";
	if (strcmp(kind, "restart") == 0)
		return "~";
	if (strcmp(kind, "error") == 0)
		return "!";
	return "*";
}

void plan_print(const struct plan *p, const char *env, void *fp)
{
	FILE *f = fp;
	size_t i, w = 4;

	fprintf(f, "plan for %s: ", env);
	if (p->from_commit[0] == '\0')
		fputs("nothing deployed yet", f);
	else
		fprintf(f, "%.7s", p->from_commit);
	fprintf(f, " -> %.7s \"%s\"\n", p->to_commit,
		p->to_subject ? p->to_subject : "");
	if (p->from_note != NULL)
		fprintf(f, "  note: %s\n", p->from_note);
	if (p->db_note != NULL)
		fprintf(f, "  note: %s\n", p->db_note);
	for (i = 0; i < p->changes.n; i++)
		if (strlen(p->changes.items[i].name) > w)
			w = strlen(p->changes.items[i].name);
	if (w > 40)
		w = 40;
	for (i = 0; i < p->changes.n; i++) {
		const struct manifest_change *c = &p->changes.items[i];

		fprintf(f, "  %s %-8s %-*s %s\n", mark(c->kind), c->kind,
			(int)w, c->name, c->detail);
	}
	if (p->in_sync)
		fputs("in sync: nothing to do\n", f);
	else if (p->errors > 0)
		fprintf(f, "%zu change%s, %zu error%s: apply would fail\n",
			p->changes.n, p->changes.n == 1 ? "" : "s", p->errors,
			p->errors == 1 ? "" : "s");
	else
		fprintf(f, "%zu change%s; 'berth apply %s' makes them\n",
			p->changes.n, p->changes.n == 1 ? "" : "s", env);
}

json_t *plan_to_json(const struct plan *p, const char *env)
{
	json_t *o = json_object(), *changes = json_array();
	size_t i;

	json_object_set_new(o, "env", json_string(env));
	json_object_set_new(o, "from_commit",
			    p->from_commit[0] ? json_string(p->from_commit)
					      : json_null());
	json_object_set_new(o, "to_commit", json_string(p->to_commit));
	for (i = 0; i < p->changes.n; i++) {
		const struct manifest_change *c = &p->changes.items[i];

		json_array_append_new(changes,
				      json_pack("{s:s, s:s, s:s}", "kind",
						c->kind, "name", c->name,
						"detail", c->detail));
	}
	json_object_set_new(o, "changes", changes);
	json_object_set_new(o, "in_sync", json_boolean(p->in_sync));
	if (p->db_note != NULL)
		json_object_set_new(o, "note", json_string(p->db_note));
	return o;
}
