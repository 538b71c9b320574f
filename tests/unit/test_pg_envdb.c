/*
 * test_pg_envdb.c — database.service: the prefix envdb_prefix builds runs
 * pg_dump, pg_restore and psql through `docker compose exec -T ... SERVICE`
 * of the serving release, with the connection passed by variable name only.
 * A stand-in `docker` first on the PATH plays compose: it checks the
 * arguments and that every variable named by -e is in its environment,
 * then maps the host only "the container" knows to the private cluster of
 * tests/fixtures/with_pg.sh and runs the tool; the backup, its
 * verification by restore and a restore go through it against the real
 * server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"
#include "check.h"
#include "manifest_fixture.h"

static const char *url;

/* The stand-in: `docker compose version`, and `docker compose -p pos -f
 * REL/docker-compose.yml --project-directory REL exec -T -e NAME...
 * db TOOL ARG...`. */
static char *write_docker(const char *dir, const char *rel, const char *log)
{
	char *path = xasprintf("%s/docker", dir);
	char *text = xasprintf(
	    "#!/bin/sh\n"
	    "[ \"$1 $2\" = 'compose version' ] && exit 0\n"
	    "printf '%%s\\n' \"$*\" >> '%s'\n"
	    "want='compose -p pos -f %s/docker-compose.yml --project-directory "
	    "%s exec -T'\n"
	    "[ \"$1 $2 $3 $4 $5 $6 $7 $8 $9\" = \"$want\" ] ||"
	    " { echo \"docker: unexpected '$*'\" >&2; exit 91; }\n"
	    "shift 9\n"
	    "while [ \"$1\" = -e ]; do\n"
	    "  eval \"v=\\${$2+set}\"\n"
	    "  [ \"$v\" = set ] || { echo \"docker: $2 is not set\" >&2; "
	    "exit 92; }\n"
	    "  shift 2\n"
	    "done\n"
	    "[ \"$1\" = db ] || { echo \"docker: service '$1'\" >&2; exit 93; "
	    "}\n"
	    "shift\n"
	    "[ \"$PGHOST\" = db.invalid ] ||"
	    " { echo \"docker: PGHOST is '$PGHOST'\" >&2; exit 94; }\n"
	    "PGHOST=127.0.0.1 PGPORT=%s exec \"$@\"\n",
	    log, rel, rel, getenv("PG_PORT") ? getenv("PG_PORT") : "0");
	struct berr err;

	CHECK_INT(fs_write_atomic(path, text, strlen(text), 0755, &err), 0);
	free(text);
	return path;
}

int main(void)
{
	const char *at, *slash, *pw;
	char *root, *dir, *rel, *log, *docker, *u, *path, *backups;
	struct manifest *m = mf_new();
	struct strv prefix = {0};
	struct kvlist env, params;
	struct pgtool t = {0};
	struct backup_create_opts o = {0};
	struct backup_info b, v;
	struct buf seen;
	struct berr err;

	url = check_database_url("test_pg_envdb");
	root = check_tempdir("berth-envdb");
	dir = fs_join(root, "bin");
	rel = fs_join(root, "releases/abc");
	backups = fs_join(root, "backups");
	log = fs_join(root, "log");
	CHECK_INT(fs_mkdir_p(dir, 0755, &err), 0);
	CHECK_INT(fs_mkdir_p(rel, 0755, &err), 0);
	docker = write_docker(dir, rel, log);
	at = strchr(url, '@');
	slash = strrchr(url, '/');
	u = xasprintf("%.*s@db.invalid:5432%s", (int)(at - url), url, slash);

	m->driver = MANIFEST_DRIVER_COMPOSE;
	m->compose_project = xstrdup("pos");
	m->compose_file = xstrdup("docker-compose.yml");
	m->db.present = true;

	/* No service: tools run here. */
	kvlist_init(&env);
	spawn_env_base(&env);
	path = xasprintf("%s:%s", dir, getenv("PATH"));
	kvlist_set(&env, "PATH", path);
	CHECK_INT(envdb_prefix(&prefix, m, rel, u, &env, &err), 0);
	CHECK(prefix.n == 0);

	/* A service, but nothing runs: no container to go into. */
	m->db.service = xstrdup("db");
	CHECK_INT(envdb_prefix(&prefix, m, NULL, u, &env, &err), -1);
	CHECK(strstr(err.msg, "no release runs") != NULL);

	CHECK_INT(envdb_prefix(&prefix, m, rel, u, &env, &err), 0);
	CHECK(prefix.n > 10);
	CHECK_STR(prefix.v[0], "docker");
	CHECK_STR(prefix.v[prefix.n - 1], "db");
	/* Names only: the password is on no command line. */
	kvlist_init(&params);
	CHECK_INT(pg_url_env(&params, url, &err), 0);
	pw = kvlist_get(&params, "PGPASSWORD");
	CHECK(pw != NULL && pw[0] != '\0');
	for (size_t i = 0; i < prefix.n; i++)
		CHECK(strstr(prefix.v[i], pw) == NULL);

	/* A backup, its verification by restore and a restore, through it. */
	t.url = u;
	t.env = &env;
	t.prefix = (const char *const *)prefix.v;
	o.dir = backups;
	o.format = MANIFEST_BACKUP_CUSTOM;
	o.kind = BACKUP_MANUAL;
	memset(&b, 0, sizeof(b));
	memset(&v, 0, sizeof(v));
	if (backup_create(&b, &t, &o, &err) != 0)
		fprintf(stderr, "backup through the prefix: %s\n", err.msg);
	CHECK(b.path != NULL);
	if (b.path != NULL) {
		CHECK_INT(backup_verify(&v, &t, b.path, MANIFEST_VERIFY_RESTORE,
		                        &err),
		          0);
		CHECK(v.verified.ok);
		CHECK_INT(backup_restore(&t, b.path, &err), 0);
	}
	buf_init(&seen, 0);
	CHECK_INT(fs_read_file(&seen, log, 1 << 20, &err), 0);
	CHECK(strstr(buf_str(&seen), " db pg_dump ") != NULL);
	CHECK(strstr(buf_str(&seen), " db pg_restore ") != NULL);
	CHECK(strstr(buf_str(&seen), " db psql ") != NULL);
	CHECK(strstr(buf_str(&seen), "-e PGPASSWORD") != NULL);
	CHECK(strstr(buf_str(&seen), pw) == NULL);

	buf_release(&seen);
	backup_info_release(&v);
	backup_info_release(&b);
	kvlist_release(&params);
	kvlist_release(&env);
	strv_release(&prefix);
	manifest_free(m);
	free(path);
	free(u);
	free(docker);
	free(log);
	free(backups);
	free(rel);
	free(dir);
	free(root);
	return check_done("test_pg_envdb");
}
