/*
 * pgtool.c — PostgreSQL's client tools (pg_dump, pg_restore, psql) run for a
 * database URL, on this host or through a prefix command that reaches the
 * database's container (docker compose exec -T db).
 *
 * The URL carries the password, so it never becomes an argument: its
 * parameters go into the tool's environment (pg_url_env), and every message
 * built from a tool's output has the password blotted out in case a tool
 * ever echoes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth.h"

/* Output of a psql query read back, at most. */
#define PGTOOL_QUERY_MAX ((size_t)16 << 20)
/* Lines of a failed tool's output quoted in its error. */
#define PGTOOL_TAIL_LINES 4

void pgtool_cmd_local(struct pgtool_cmd *out, const struct pgtool *t,
                      const char *tool)
{
	memset(out, 0, sizeof(*out));
	kvlist_init(&out->env);
	out->tool = tool;
	out->timeout_s = t->timeout_s;
	if (t->env != NULL)
		kvlist_merge(&out->env, t->env);
	else
		spawn_env_base(&out->env);
	strv_push(&out->argv, tool);
}

int pgtool_cmd_init(struct pgtool_cmd *out, const struct pgtool *t,
                    const char *tool, const char *dbname, struct berr *err)
{
	const char *pw;
	size_t i;

	pgtool_cmd_local(out, t, tool);
	if (pg_url_env(&out->env, t->url, err) != 0)
		return -1;
	if (dbname != NULL)
		kvlist_set(&out->env, "PGDATABASE", dbname);
	if (kvlist_get(&out->env, "PGAPPNAME") == NULL)
		kvlist_set(&out->env, "PGAPPNAME", "berth");
	if (kvlist_get(&out->env, "PGCONNECT_TIMEOUT") == NULL)
		kvlist_set(&out->env, "PGCONNECT_TIMEOUT", "10");
	pw = kvlist_get(&out->env, "PGPASSWORD");
	if (pw != NULL && pw[0] != '\0')
		out->password = xstrdup(pw);
	if (t->prefix == NULL || t->prefix[0] == NULL)
		return 0;
	/* The prefix goes before the tool. */
	strv_release(&out->argv);
	for (i = 0; t->prefix[i] != NULL; i++)
		strv_push(&out->argv, t->prefix[i]);
	strv_push(&out->argv, tool);
	return 0;
}

void pgtool_cmd_release(struct pgtool_cmd *c)
{
	if (c == NULL)
		return;
	strv_release(&c->argv);
	kvlist_release(&c->env);
	free(c->password);
	memset(c, 0, sizeof(*c));
}

void pgtool_blot(char *s, const char *secret)
{
	size_t n = secret != NULL ? strlen(secret) : 0;
	char *p;

	if (n == 0)
		return;
	while ((p = strstr(s, secret)) != NULL) {
		/* "***" is never longer than what it replaces once n >= 3; a
		 * shorter secret is replaced by as many stars. */
		size_t stars = n < 3 ? n : 3;

		memset(p, '*', stars);
		memmove(p + stars, p + n, strlen(p + n) + 1);
	}
}

/* The last PGTOOL_TAIL_LINES non-empty lines of out, joined by "; ". */
static void put_tail(struct buf *b, const char *out)
{
	const char *end = out + strlen(out), *start = end;
	int lines = 0;

	while (start > out && lines < PGTOOL_TAIL_LINES) {
		const char *line_end = start;

		while (line_end > out &&
		       (line_end[-1] == '\n' || line_end[-1] == '\r' ||
		        line_end[-1] == ' '))
			line_end--;
		if (line_end == out)
			break;
		start = line_end;
		while (start > out && start[-1] != '\n')
			start--;
		lines++;
	}
	/* Lines joined by "; ", without their indentation (psql indents
	 * its hints with a tab). */
	for (; start < end; start++) {
		if (*start == '\r')
			continue;
		if (*start != '\n') {
			if (!((*start == ' ' || *start == '\t') &&
			      (b->len == 0 || b->data[b->len - 1] == ' ')))
				buf_putc(b, *start);
		} else if (start + 1 < end && b->len > 0) {
			buf_puts(b, "; ");
		}
	}
}

int pgtool_failed(const struct pgtool_cmd *c, const struct spawn_result *res,
                  struct berr *err)
{
	char *status = spawn_describe_status(res);
	struct buf b;

	/* No cap here: a cut could leave part of a password to show. */
	buf_init(&b, 0);
	put_tail(&b, buf_str(&res->output));
	if (b.data != NULL) {
		pgtool_blot(b.data, c->password);
		b.len = strlen(b.data);
	}
	if (b.len > 0)
		berr_set(err, "%s %s: %s", c->tool, status, buf_str(&b));
	else
		berr_set(err, "%s %s", c->tool, status);
	buf_release(&b);
	free(status);
	return -1;
}

int pgtool_run(struct spawn_result *res, const struct pgtool_cmd *c, int in_fd,
               int out_fd, struct berr *err)
{
	struct spawn_opts o = SPAWN_OPTS_INIT;

	o.argv = (const char *const *)c->argv.v;
	o.env = &c->env;
	o.timeout_ms = c->timeout_s > 0 ? c->timeout_s * 1000 : 0;
	o.stdin_fd = in_fd;
	o.stdout_fd = out_fd;
	if (spawn_run(res, &o, err) != 0) {
		pgtool_blot(err->msg, c->password);
		return -1;
	}
	if (res->exit_code != 0 || res->timed_out)
		return pgtool_failed(c, res, err);
	return 0;
}

/* Splits psql's output with -z -0 (every field, the last of a record
 * included, ends in a NUL) into rows of ncols fields; ncols 0 expects no
 * output at all. */
static int parse_rows(struct pg_rows *out, const char *p, size_t len,
                      size_t ncols, struct berr *err)
{
	size_t i, start = 0, n = 0, cap = 0;
	char **cells = NULL;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < len; i++) {
		if (p[i] != '\0')
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			cells = xrealloc(cells, cap * sizeof(*cells));
		}
		cells[n++] = xstrndup(p + start, i - start);
		start = i + 1;
	}
	if (start != len || (ncols == 0 ? n != 0 : n % ncols != 0)) {
		while (n > 0)
			free(cells[--n]);
		free(cells);
		return berr_set(err,
		                "cannot read psql's output: expected "
		                "rows of %zu fields",
		                ncols);
	}
	out->cells = cells;
	out->ncols = ncols;
	out->nrows = ncols > 0 ? n / ncols : 0;
	return 0;
}

/* Reads the whole of fd, from its start, into out. */
static int read_back(struct buf *out, int fd, struct berr *err)
{
	char chunk[16384];
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return berr_errno(err, errno, "cannot read a tool's output");
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return berr_errno(err, errno,
			                  "cannot read a tool's output");
		if (n == 0)
			return 0;
		if (buf_append(out, chunk, (size_t)n) != 0)
			return berr_set(err,
			                "a tool's output exceeds %zu bytes",
			                PGTOOL_QUERY_MAX);
	}
}

int pgtool_capture(struct buf *out, const struct pgtool_cmd *c, int in_fd,
                   struct berr *err)
{
	struct spawn_result res;
	const char *dir = getenv("TMPDIR");
	int fd, rc = -1;

	if (dir == NULL || dir[0] == '\0')
		dir = "/tmp";
	/* An unnamed file: nothing to clean up, whatever happens. */
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		return berr_errno(
		    err, errno, "cannot create a temporary file in '%s'", dir);
	out->max = PGTOOL_QUERY_MAX;
	if (pgtool_run(&res, c, in_fd, fd, err) == 0)
		rc = read_back(out, fd, err);
	spawn_result_release(&res);
	close(fd);
	return rc;
}

int pgtool_query(struct pg_rows *out, const struct pgtool *t,
                 const char *dbname, const char *sql, size_t ncols,
                 struct berr *err)
{
	static const char *const args[] = {
	    "-X", "-q", "-w", "-A", "-t", "-z", "-0", "-v", "ON_ERROR_STOP=1",
	    "-c"};
	struct pgtool_cmd c;
	struct buf text;
	size_t i;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	buf_init(&text, PGTOOL_QUERY_MAX);
	if (pgtool_cmd_init(&c, t, "psql", dbname, err) == 0) {
		for (i = 0; i < BERTH_ARRAY_LEN(args); i++)
			strv_push(&c.argv, args[i]);
		strv_push(&c.argv, sql);
		if (pgtool_capture(&text, &c, -1, err) == 0)
			rc = parse_rows(out, buf_str(&text), text.len, ncols,
			                err);
	}
	buf_release(&text);
	pgtool_cmd_release(&c);
	return rc;
}
