/*
 * dumpcheck.c — the checks behind backup_verify: the dump is the file pg_dump
 * wrote (size and SHA-256), it reads as an archive or script, and, on
 * request, it restores into a scratch database. Each check says whether a
 * failure is a verdict on the file or only a check that could not run.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "berth.h"

#define VERIFY_CHUNK ((size_t)1 << 20)
/* How much of a script's beginning and end the line checks look at. */
#define VERIFY_EDGE 4096

static const char first_line[] = "\n-- PostgreSQL database dump\n";
static const char last_line[] = "\n-- PostgreSQL database dump complete\n";

int dumpcheck_sha256_fd(char hex[65], int64_t *size, int fd, struct berr *err)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *chunk = xmalloc(VERIFY_CHUNK);
	off_t off = 0;
	int rc = -1;

	if (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		berr_set(err, "cannot start a SHA-256 digest");
		goto out;
	}
	for (;;) {
		ssize_t n = pread(fd, chunk, VERIFY_CHUNK, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			berr_errno(err, errno, "cannot read the dump");
			goto out;
		}
		if (n == 0)
			break;
		if (!EVP_DigestUpdate(ctx, chunk, (size_t)n)) {
			berr_set(err, "SHA-256 digest failed");
			goto out;
		}
		off += n;
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen)) {
		berr_set(err, "SHA-256 digest failed");
		goto out;
	}
	for (i = 0; i < mdlen && i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[2 * i] = '\0';
	*size = (int64_t)off;
	rc = 0;
out:
	free(chunk);
	EVP_MD_CTX_free(ctx);
	return rc;
}

int dumpcheck_checksum(bool *verdict, struct buf *detail,
                    const struct backup_info *b, struct berr *err)
{
	char hex[65];
	int64_t size = 0;
	int fd, rc;

	*verdict = false;
	fd = open(b->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*verdict = errno == ENOENT;
		return berr_errno(err, errno, "cannot open '%s'", b->file);
	}
	rc = dumpcheck_sha256_fd(hex, &size, fd, err);
	close(fd);
	if (rc != 0)
		return berr_prefix(err, "'%s'", b->file);
	*verdict = true;
	if (size != b->size)
		return berr_set(err,
		                "'%s' has %lld bytes, its sidecar says %lld: "
		                "truncated or changed since it was written",
		                b->file, (long long)size, (long long)b->size);
	if (strcmp(hex, b->sha256) != 0)
		return berr_set(err,
		                "'%s' has SHA-256 %.12s…, its sidecar says "
		                "%.12s…: changed since it was written",
		                b->file, hex, b->sha256);
	*verdict = false;
	buf_printf(detail, "size and SHA-256 match");
	return 0;
}

/* pg_restore --list: the table of contents of a custom archive. */
static int check_toc(bool *verdict, struct buf *detail, const struct pgtool *db,
                     int fd, const char *file, struct berr *err)
{
	struct pgtool_cmd c;
	struct buf toc;
	const char *line, *end;
	size_t entries = 0, data = 0;
	int rc = -1;

	buf_init(&toc, 0);
	if (pgtool_cmd_init(&c, db, "pg_restore", NULL, err) != 0)
		goto out;
	strv_push(&c.argv, "--list");
	if (pgtool_capture(&toc, &c, fd, err) != 0) {
		*verdict = true;
		berr_prefix(err, "cannot read the archive '%s'", file);
		goto out;
	}
	for (line = buf_str(&toc); *line != '\0'; line = end) {
		end = strchr(line, '\n');
		end = end != NULL ? end + 1 : line + strlen(line);
		if (*line == ';' || *line == '\n')
			continue;
		entries++;
		if (memmem(line, (size_t)(end - line), " TABLE DATA ", 12))
			data++;
	}
	if (strstr(buf_str(&toc), "Format: CUSTOM\n") == NULL) {
		*verdict = true;
		berr_set(err, "'%s' is not a custom-format archive", file);
		goto out;
	}
	buf_printf(detail, "; archive lists %zu entries, %zu with table data",
	           entries, data);
	rc = 0;
out:
	buf_release(&toc);
	pgtool_cmd_release(&c);
	return rc;
}

/* pg_dump's first and last comment lines, in the script's first and last
 * bytes: a script cut short lacks the last. */
static int check_script_edges(bool *verdict, const char *head, const char *tail,
                              const char *file, struct berr *err)
{
	*verdict = true;
	if (strncmp(head, first_line + 1, strlen(first_line) - 1) != 0 &&
	    strstr(head, first_line) == NULL)
		return berr_set(
		    err, "'%s' does not start like a pg_dump script", file);
	if (strstr(tail, last_line) == NULL)
		return berr_set(
		    err, "'%s' lacks pg_dump's last line: truncated", file);
	*verdict = false;
	return 0;
}

static int read_at(struct buf *out, int fd, off_t off, size_t len,
                   struct berr *err)
{
	char *p = xcalloc(1, len + 1);
	ssize_t n;

	while ((n = pread(fd, p, len, off)) < 0 && errno == EINTR)
		;
	if (n < 0) {
		free(p);
		return berr_errno(err, errno, "cannot read the dump");
	}
	buf_append(out, p, (size_t)n);
	free(p);
	return 0;
}

static int check_plain(bool *verdict, struct buf *detail, int fd,
                       const char *file, struct berr *err)
{
	struct buf head, tail;
	struct stat st;
	off_t from;
	int rc = -1;

	buf_init(&head, 0);
	buf_init(&tail, 0);
	if (fstat(fd, &st) != 0) {
		berr_errno(err, errno, "cannot read '%s'", file);
		goto out;
	}
	from = st.st_size > VERIFY_EDGE ? st.st_size - VERIFY_EDGE : 0;
	if (read_at(&head, fd, 0, VERIFY_EDGE, err) != 0 ||
	    read_at(&tail, fd, from, VERIFY_EDGE, err) != 0 ||
	    check_script_edges(verdict, buf_str(&head), buf_str(&tail), file,
	                       err) != 0)
		goto out;
	buf_puts(detail, "; script starts and ends as pg_dump writes it");
	rc = 0;
out:
	buf_release(&head);
	buf_release(&tail);
	return rc;
}

/* The first VERIFY_EDGE bytes of gzip's output, line by line. */
static void keep_head(const char *line, size_t len, void *arg)
{
	struct buf *head = arg;

	if (head->len + len + 1 > VERIFY_EDGE)
		return;
	buf_append(head, line, len);
	buf_putc(head, '\n');
}

/* gzip -dc: its checksum, then the script's edges. */
static int check_gzip(bool *verdict, struct buf *detail,
                      const struct pgtool *db, int fd, const char *file,
                      struct berr *err)
{
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct spawn_result res;
	struct pgtool_cmd c;
	struct buf head;
	int rc = -1;

	buf_init(&head, VERIFY_EDGE + 1);
	buf_putc(&head, '\n');
	pgtool_cmd_local(&c, db, "gzip");
	strv_push(&c.argv, "-dc");
	o.argv = (const char *const *)c.argv.v;
	o.env = &c.env;
	o.timeout_ms = c.timeout_s * 1000;
	o.stdin_fd = fd;
	o.capture_max = VERIFY_EDGE;
	o.on_line = keep_head;
	o.arg = &head;
	if (spawn_run(&res, &o, err) != 0)
		goto out;
	if (res.exit_code != 0 || res.timed_out) {
		/* The output tail holds the script too: quote gzip's own
		 * words only. */
		const char *said = strstr(buf_str(&res.output), "gzip: ");
		char *status = spawn_describe_status(&res);

		while (said != NULL && strstr(said + 1, "gzip: ") != NULL)
			said = strstr(said + 1, "gzip: ");
		*verdict = true;
		berr_set(err, "'%s' is not intact: gzip %s%s%.*s", file, status,
		         said != NULL ? ": " : "",
		         said != NULL ? (int)strcspn(said, "\n") : 0,
		         said != NULL ? said : "");
		free(status);
		goto out;
	}
	if (check_script_edges(verdict, buf_str(&head) + 1,
	                       buf_str(&res.output), file, err) != 0)
		goto out;
	buf_puts(detail, "; gzip data intact, script starts and ends as "
	                 "pg_dump writes it");
	rc = 0;
out:
	spawn_result_release(&res);
	pgtool_cmd_release(&c);
	buf_release(&head);
	return rc;
}

int dumpcheck_archive(bool *verdict, struct buf *detail, const struct pgtool *db,
                   const struct backup_info *b, struct berr *err)
{
	int fd, rc;

	*verdict = false;
	fd = open(b->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berr_errno(err, errno, "cannot open '%s'", b->file);
	switch (b->format) {
	case MANIFEST_BACKUP_CUSTOM:
		rc = check_toc(verdict, detail, db, fd, b->file, err);
		break;
	case MANIFEST_BACKUP_PLAIN:
		rc = check_plain(verdict, detail, fd, b->file, err);
		break;
	default:
		rc = check_gzip(verdict, detail, db, fd, b->file, err);
		break;
	}
	close(fd);
	return rc;
}

/* Creates the scratch database like db's own: template0, same encoding and
 * locale. */
static int create_scratch(const struct pgtool *db, const char *name,
                          struct berr *err)
{
	char *sql =
	    xasprintf("SELECT format('CREATE DATABASE %%I TEMPLATE template0 "
	              "ENCODING %%L LC_COLLATE %%L LC_CTYPE %%L', '%s', "
	              "pg_encoding_to_char(encoding), datcollate, datctype) "
	              "FROM pg_database WHERE datname = current_database()",
	              name);
	struct pg_rows rows, none = {0};
	int rc = pgtool_query(&rows, db, NULL, sql, 1, err);

	if (rc == 0 && rows.nrows != 1)
		rc = berr_set(err, "cannot find the database's own settings");
	if (rc == 0)
		rc = pgtool_query(&none, db, NULL, pg_rows_get(&rows, 0, 0), 0,
		                  err);
	pg_rows_release(&none);
	pg_rows_release(&rows);
	free(sql);
	if (rc != 0)
		berr_prefix(err,
		            "cannot create the scratch database '%s' "
		            "(the role needs CREATEDB)",
		            name);
	return rc;
}

/* Every table of the sidecar's snapshot exists in the scratch database. */
static int check_tables(bool *verdict, struct buf *detail,
                        const struct pgtool *db, const struct backup_info *b,
                        const char *name, struct berr *err)
{
	struct pg_rows rows;
	size_t i, j, missing = 0;
	const char *first = NULL;

	if (pgtool_query(&rows, db, name,
	                 "SELECT format('%I.%I', schemaname, relname) "
	                 "FROM pg_stat_user_tables",
	                 1, err) != 0)
		return -1;
	for (i = 0; i < b->stats.n; i++) {
		bool found = false;

		for (j = 0; j < rows.nrows && !found; j++)
			found = strcmp(pg_rows_get(&rows, j, 0),
			               b->stats.tables[i].name) == 0;
		if (!found && missing++ == 0)
			first = b->stats.tables[i].name;
	}
	if (missing > 0) {
		*verdict = true;
		berr_set(err,
		         "restored '%s', but %zu of its %zu tables are "
		         "missing, '%s' among them",
		         b->file, missing, b->stats.n, first);
	} else {
		buf_printf(detail,
		           "; restored into scratch database %s: %zu "
		           "tables%s, dropped",
		           name, rows.nrows,
		           b->has_stats ? ", every table of the snapshot" : "");
	}
	pg_rows_release(&rows);
	return missing > 0 ? -1 : 0;
}

int dumpcheck_restore(bool *verdict, struct buf *detail, const struct pgtool *db,
                   const struct backup_info *b, struct berr *err)
{
	unsigned char rnd[4] = {0};
	char name[32], *drop;
	struct berr drop_err;
	struct pg_rows none;
	int rc;

	*verdict = false;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return berr_errno(err, errno, "cannot draw a random name");
	snprintf(name, sizeof(name), "berth_verify_%02x%02x%02x%02x", rnd[0],
	         rnd[1], rnd[2], rnd[3]);
	if (create_scratch(db, name, err) != 0)
		return -1;
	rc = restore_dump(db, b->path, b->format, name, err);
	if (rc != 0) {
		*verdict = true;
		berr_prefix(err, "cannot restore '%s'", b->file);
	} else {
		rc = check_tables(verdict, detail, db, b, name, err);
	}
	/* Always, whatever happened above. */
	drop = xasprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
	if (pgtool_query(&none, db, NULL, drop, 0, &drop_err) != 0) {
		if (rc == 0)
			berr_set(err,
			         "cannot drop the scratch database '%s': %s",
			         name, drop_err.msg);
		else
			berr_prefix(err,
			            "scratch database '%s' left behind "
			            "(%s)",
			            name, drop_err.msg);
		rc = -1;
	}
	pg_rows_release(&none);
	free(drop);
	return rc;
}
