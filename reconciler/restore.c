/*
 * restore.c — loading a dump into a database so that it either fully
 * happens or does not happen at all.
 *
 * Three parties run at once: the producer of pg_dump's SQL script (a
 * pg_restore -f - or gzip -dc child, fed by a thread; none for a plain
 * file), a relay thread that passes the script through restore_filter into
 * psql's stdin, and psql itself, run from the calling thread. psql first
 * runs the prelude, which opens the transaction and drops what the
 * database holds, then the script. Only when the producer exited 0 and the
 * script's last line went through does the relay add COMMIT and a marker
 * line that psql echoes once the COMMIT succeeded. Anything else — an SQL
 * error (ON_ERROR_STOP), a truncated file, a producer that died, a timeout,
 * berth killed — ends psql's session without COMMIT, and PostgreSQL rolls
 * the whole restore back.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "berth.h"

/* A line longer than this is data (a COPY row, a large object chunk) and
 * streams through without being held. */
#define RESTORE_HOLD   4096
#define RESTORE_OUT    ((size_t)64 << 10)
#define RESTORE_CHUNK  ((size_t)256 << 10)
#define RESTORE_MARKER "berth: restore committed"

enum { FILTER_SQL, FILTER_COPY, FILTER_BLOBS_HEAD, FILTER_BLOBS };

static const char blobs_header[] =
    "-- Data for Name: BLOBS; Type: BLOBS; Schema: -; Owner: -";
static const char last_line[] = "-- PostgreSQL database dump complete";

/*
 * Runs first, in the restore's transaction: drops the extensions the role
 * may drop (but plpgsql), every schema but public and the system's, and
 * the objects of public that belong to no extension and to no other object
 * (a table's row type, a range's constructors go with their owner). public
 * itself stays: pg_dump never creates it, and its owner and privileges are
 * the database's. What the prelude cannot drop and the dump creates again
 * makes the restore fail — as a whole.
 */
static const char prelude[] =
    "BEGIN;\n"
    "SET LOCAL client_min_messages = warning;\n"
    "SET LOCAL lock_timeout = '60s';\n"
    "DO $berth$\n"
    "DECLARE\n"
    "	stmt text;\n"
    "BEGIN\n"
    "	FOREACH stmt IN ARRAY coalesce((SELECT array_agg(format(\n"
    "	    'DROP EXTENSION IF EXISTS %I CASCADE', extname))\n"
    "	  FROM pg_extension WHERE extname <> 'plpgsql'\n"
    "	  AND pg_has_role(extowner, 'USAGE')), '{}') LOOP\n"
    "		EXECUTE stmt;\n"
    "	END LOOP;\n"
    "	FOREACH stmt IN ARRAY coalesce((SELECT array_agg(format(\n"
    "	    'DROP SCHEMA IF EXISTS %I CASCADE', n.nspname))\n"
    "	  FROM pg_namespace n\n"
    "	  WHERE n.nspname NOT IN ('public', 'information_schema')\n"
    "	  AND n.nspname NOT LIKE 'pg\\_%'\n"
    "	  AND NOT EXISTS (SELECT FROM pg_depend e\n"
    "	    WHERE e.classid = 'pg_namespace'::regclass\n"
    "	    AND e.objid = n.oid AND e.deptype = 'e')), '{}') LOOP\n"
    "		EXECUTE stmt;\n"
    "	END LOOP;\n"
    "	FOREACH stmt IN ARRAY coalesce((SELECT array_agg(format(\n"
    "	    'DROP %s IF EXISTS %s CASCADE',\n"
    "	    CASE WHEN o.type = 'type' AND t.typtype = 'd' THEN 'DOMAIN'\n"
    "	      WHEN o.type IN ('type', 'composite type') THEN 'TYPE'\n"
    "	      WHEN o.type = 'statistics object' THEN 'STATISTICS'\n"
    "	      ELSE upper(o.type) END, o.identity)\n"
    "	    ORDER BY d.classid <> 'pg_class'::regclass, o.type, o.identity)\n"
    "	  FROM pg_depend d\n"
    "	  CROSS JOIN LATERAL pg_identify_object(d.classid, d.objid, 0) o\n"
    "	  LEFT JOIN pg_type t\n"
    "	    ON d.classid = 'pg_type'::regclass AND t.oid = d.objid\n"
    "	  WHERE d.refclassid = 'pg_namespace'::regclass\n"
    "	  AND d.refobjid = 'public'::regnamespace AND d.deptype = 'n'\n"
    "	  AND o.type IN ('table', 'view', 'materialized view', 'sequence',\n"
    "	    'foreign table', 'function', 'procedure', 'aggregate', 'type',\n"
    "	    'composite type', 'collation', 'conversion',\n"
    "	    'statistics object', 'text search configuration',\n"
    "	    'text search dictionary', 'operator', 'operator class',\n"
    "	    'operator family')\n"
    "	  AND NOT EXISTS (SELECT FROM pg_depend e\n"
    "	    WHERE e.classid = d.classid AND e.objid = d.objid\n"
    "	    AND e.deptype IN ('e', 'i')\n"
    "	    AND NOT (e.refclassid = d.classid AND e.refobjid = d.objid))),\n"
    "	  '{}') LOOP\n"
    "		EXECUTE stmt;\n"
    "	END LOOP;\n"
    "	PERFORM lo_unlink(oid) FROM pg_largeobject_metadata;\n"
    "END\n"
    "$berth$;\n";

/* Filter. */

static bool line_is(const char *line, size_t len, const char *s)
{
	return len == strlen(s) && memcmp(line, s, len) == 0;
}

static bool has_prefix(const char *p, size_t len, const char *s)
{
	return len >= strlen(s) && memcmp(p, s, strlen(s)) == 0;
}

static bool has_suffix(const char *p, size_t len, const char *s)
{
	size_t n = strlen(s);

	return len >= n && memcmp(p + len - n, s, n) == 0;
}

static void filter_ordinary(struct restore_filter *f, const char *line,
                            size_t len)
{
	if (line_is(line, len, blobs_header))
		f->state = FILTER_BLOBS_HEAD;
	else if (has_prefix(line, len, "COPY ") &&
	         has_suffix(line, len, " FROM stdin;"))
		f->state = FILTER_COPY;
	else if (line_is(line, len, last_line))
		f->complete = true;
}

/* Moves f past one whole line (without its newline). Returns whether the
 * line is passed on. */
static bool filter_line(struct restore_filter *f, const char *line, size_t len)
{
	if (len > 0 && line[len - 1] == '\r')
		len--;
	switch (f->state) {
	case FILTER_COPY:
		if (line_is(line, len, "\\."))
			f->state = FILTER_SQL;
		return true;
	case FILTER_BLOBS:
		if (!line_is(line, len, "COMMIT;"))
			return true;
		f->state = FILTER_SQL;
		return false;
	case FILTER_BLOBS_HEAD:
		if (line_is(line, len, "BEGIN;")) {
			f->state = FILTER_BLOBS;
			return false;
		}
		if (len == 0 || has_prefix(line, len, "--"))
			return true;
		f->state = FILTER_SQL;
		break;
	default:
		break;
	}
	filter_ordinary(f, line, len);
	return true;
}

/* End of a line too long to hold: only a COPY header can matter. */
static void filter_long_line(struct restore_filter *f)
{
	size_t tail = strlen(f->tail);

	if (f->state == FILTER_BLOBS_HEAD)
		f->state = FILTER_SQL;
	if (f->state == FILTER_SQL && memcmp(f->head, "COPY ", 5) == 0 &&
	    has_suffix(f->tail, tail, " FROM stdin;"))
		f->state = FILTER_COPY;
}

static int filter_flush(struct restore_filter *f)
{
	int rc = 0;

	if (f->out.len > 0)
		rc = f->emit(f->out.data, f->out.len, f->arg);
	buf_reset(&f->out);
	return rc;
}

static int filter_put(struct restore_filter *f, const char *p, size_t len)
{
	if (f->out.max == 0)
		buf_init(&f->out, RESTORE_OUT + RESTORE_HOLD + 1);
	if (f->out.len + len > RESTORE_OUT && filter_flush(f) != 0)
		return -1;
	if (len > RESTORE_OUT)
		return f->emit(p, len, f->arg);
	buf_append(&f->out, p, len);
	return 0;
}

/* Keeps the last bytes of a long line in f->tail. */
static void tail_push(struct restore_filter *f, const char *p, size_t len)
{
	size_t keep = sizeof(f->tail) - 1, have = strlen(f->tail);

	if (len >= keep) {
		memcpy(f->tail, p + len - keep, keep);
		f->tail[keep] = '\0';
		return;
	}
	if (have + len > keep) {
		memmove(f->tail, f->tail + (have + len - keep), keep - len);
		have = keep - len;
	}
	memcpy(f->tail + have, p, len);
	f->tail[have + len] = '\0';
}

/* The held line outgrows RESTORE_HOLD: pass it on, stream the rest. */
static int filter_go_long(struct restore_filter *f)
{
	f->long_line = true;
	memset(f->head, 0, sizeof(f->head));
	memcpy(f->head, f->line.data,
	       f->line.len < sizeof(f->head) ? f->line.len : sizeof(f->head));
	f->tail[0] = '\0';
	tail_push(f, f->line.data, f->line.len);
	if (filter_put(f, f->line.data, f->line.len) != 0)
		return -1;
	buf_reset(&f->line);
	return 0;
}

int restore_filter_feed(struct restore_filter *f, const char *p, size_t len)
{
	if (f->line.max == 0)
		buf_init(&f->line, RESTORE_HOLD + 1);
	while (len > 0) {
		const char *nl = memchr(p, '\n', len);
		size_t take = nl != NULL ? (size_t)(nl - p) : len;

		if (!f->long_line && f->line.len + take > RESTORE_HOLD) {
			size_t fill = RESTORE_HOLD - f->line.len;

			buf_append(&f->line, p, fill);
			p += fill;
			len -= fill;
			take -= fill;
			if (filter_go_long(f) != 0)
				return -1;
		}
		if (f->long_line) {
			tail_push(f, p, take);
			if (filter_put(f, p, take) != 0)
				return -1;
		} else {
			buf_append(&f->line, p, take);
		}
		p += take;
		len -= take;
		if (nl == NULL)
			break;
		p++, len--;
		if (f->long_line) {
			filter_long_line(f);
			f->long_line = false;
			if (filter_put(f, "\n", 1) != 0)
				return -1;
		} else {
			bool pass =
			    filter_line(f, buf_str(&f->line), f->line.len);

			buf_putc(&f->line, '\n');
			if (pass &&
			    filter_put(f, f->line.data, f->line.len) != 0)
				return -1;
			buf_reset(&f->line);
		}
	}
	return 0;
}

int restore_filter_finish(struct restore_filter *f)
{
	int rc = 0;

	if (f->long_line)
		filter_long_line(f);
	else if (f->line.len > 0 &&
	         filter_line(f, buf_str(&f->line), f->line.len))
		rc = filter_put(f, f->line.data, f->line.len);
	if (rc == 0)
		rc = filter_flush(f);
	buf_release(&f->line);
	buf_release(&f->out);
	f->long_line = false;
	return rc;
}

/* The pipeline. */

/* A child that writes the script: pg_restore -f - or gzip -dc. */
struct producer {
	struct pgtool_cmd cmd;
	int in_fd;  /* borrowed: the dump file */
	int out_fd; /* owned: the pipe to the relay, closed once the child is
	               done so that the relay sees the end */
	struct spawn_result res;
	struct berr err;
	int rc;
	pthread_t thread;
	bool started;
};

struct relay {
	int src;               /* owned: the file, or the producer's pipe */
	int dst;               /* owned: psql's stdin */
	struct producer *prod; /* borrowed; NULL for a plain file */
	struct restore_filter filter;
	int read_errno;
	int write_errno;
	bool committed; /* COMMIT and the marker were sent */
	pthread_t thread;
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void *producer_main(void *arg)
{
	struct producer *p = arg;

	p->rc = pgtool_run(&p->res, &p->cmd, p->in_fd, p->out_fd, &p->err);
	close_fd(&p->out_fd);
	return NULL;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int relay_emit(const char *p, size_t len, void *arg)
{
	struct relay *r = arg;

	if (write_all(r->dst, p, len) == 0)
		return 0;
	r->write_errno = errno;
	return -1;
}

static void *relay_main(void *arg)
{
	static const char trailer[] = "\nCOMMIT;\n\\echo " RESTORE_MARKER "\n";
	struct relay *r = arg;
	struct timespec zero = {0, 0};
	char *chunk = xmalloc(RESTORE_CHUNK);
	sigset_t pipe_sig;
	bool stopped = false;
	ssize_t n;

	/* A psql that died makes writes fail with EPIPE; the signal is kept
	 * pending on this thread and taken below. */
	sigemptyset(&pipe_sig);
	sigaddset(&pipe_sig, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_sig, NULL);
	r->filter.emit = relay_emit;
	r->filter.arg = r;
	while (!stopped) {
		n = read(r->src, chunk, RESTORE_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r->read_errno = errno;
		stopped = n <= 0 || restore_filter_feed(&r->filter, chunk,
		                                        (size_t)n) != 0;
	}
	stopped = restore_filter_finish(&r->filter) != 0 ||
	          r->read_errno != 0 || r->write_errno != 0;
	/* Closing our end stops a producer still writing (SIGPIPE). */
	close_fd(&r->src);
	if (r->prod != NULL) {
		pthread_join(r->prod->thread, NULL);
		r->prod->started = false;
		stopped = stopped || r->prod->rc != 0;
	}
	if (!stopped && r->filter.complete) {
		if (write_all(r->dst, trailer, strlen(trailer)) == 0)
			r->committed = true;
		else
			r->write_errno = errno;
	}
	close_fd(&r->dst);
	while (sigtimedwait(&pipe_sig, NULL, &zero) > 0)
		;
	free(chunk);
	return NULL;
}

static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg,
                        struct berr *err)
{
	int rc = pthread_create(t, NULL, fn, arg);

	if (rc != 0)
		return berr_errno(err, rc, "cannot start a thread");
	return 0;
}

/* The producer for format, reading in_fd into out_fd (which it owns from
 * now on, started or not). */
static int producer_start(struct producer *p, const struct pgtool *db,
                          enum manifest_backup_format format, int in_fd,
                          int out_fd, struct berr *err)
{
	p->in_fd = in_fd;
	p->out_fd = out_fd;
	if (format == MANIFEST_BACKUP_PLAIN_GZ) {
		pgtool_cmd_local(&p->cmd, db, "gzip");
		strv_push(&p->cmd.argv, "-dc");
	} else if (pgtool_cmd_init(&p->cmd, db, "pg_restore", NULL, err) != 0) {
		close_fd(&p->out_fd);
		return -1;
	} else {
		strv_push(&p->cmd.argv, "-f");
		strv_push(&p->cmd.argv, "-");
	}
	if (start_thread(&p->thread, producer_main, p, err) != 0) {
		close_fd(&p->out_fd);
		return -1;
	}
	p->started = true;
	return 0;
}

static int make_pipe(int fds[2], struct berr *err)
{
	if (pipe2(fds, O_CLOEXEC) != 0)
		return berr_errno(err, errno, "cannot create a pipe");
	return 0;
}

/* Why the restore did not commit, into err, from the first party that
 * failed. */
static void explain(struct berr *err, int psql_rc, const struct berr *psql_err,
                    const struct relay *r, const struct producer *p,
                    const char *file)
{
	if (psql_rc != 0)
		berr_set(err, "%s", psql_err->msg);
	else if (p->rc != 0)
		berr_set(err, "%s", p->err.msg);
	else if (r->read_errno != 0)
		berr_errno(err, r->read_errno, "cannot read '%s'", file);
	else if (!r->filter.complete)
		berr_set(err,
		         "'%s' ends before pg_dump's last line (\"%s\"): "
		         "truncated, or not a pg_dump script",
		         file, last_line);
	else if (r->write_errno != 0)
		berr_errno(err, r->write_errno, "cannot send '%s' to psql",
		           file);
	else
		berr_set(err, "psql ended before it committed");
}

/* psql reading the script from in_fd, query output discarded; its messages
 * and the marker land in res->output. */
static int run_psql(struct spawn_result *res, const struct pgtool *db,
                    const char *dbname, int in_fd, struct berr *err)
{
	static const char *const args[] = {
	    "-X", "-q",    "-w", "-v", "ON_ERROR_STOP=1", "-o", "/dev/null",
	    "-c", prelude, "-f", "-"};
	struct pgtool_cmd c;
	size_t i;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (pgtool_cmd_init(&c, db, "psql", dbname, err) == 0) {
		for (i = 0; i < BERTH_ARRAY_LEN(args); i++)
			strv_push(&c.argv, args[i]);
		rc = pgtool_run(res, &c, in_fd, -1, err);
	}
	pgtool_cmd_release(&c);
	return rc;
}

int restore_dump(const struct pgtool *db, const char *path,
                 enum manifest_backup_format format, const char *dbname,
                 struct berr *err)
{
	struct producer prod = {.in_fd = -1, .out_fd = -1};
	struct relay relay = {.src = -1, .dst = -1};
	struct spawn_result res = {0};
	const char *file = strrchr(path, '/');
	int fd = -1, to_psql[2] = {-1, -1}, from_prod[2] = {-1, -1};
	bool relay_started = false;
	struct berr psql_err;
	int psql_rc = -1, rc = -1;

	file = file != NULL ? file + 1 : path;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		berr_errno(err, errno, "cannot open '%s'", path);
		goto out;
	}
	if (make_pipe(to_psql, err) != 0)
		goto out;
	relay.dst = to_psql[1];
	to_psql[1] = -1;
	if (format == MANIFEST_BACKUP_PLAIN) {
		relay.src = fd;
		fd = -1;
	} else {
		if (make_pipe(from_prod, err) != 0)
			goto out;
		relay.src = from_prod[0];
		from_prod[0] = -1;
		if (producer_start(&prod, db, format, fd, from_prod[1], err) !=
		    0)
			goto out;
		from_prod[1] = -1;
		relay.prod = &prod;
	}
	if (start_thread(&relay.thread, relay_main, &relay, err) != 0)
		goto out;
	relay_started = true;
	psql_rc = run_psql(&res, db, dbname, to_psql[0], &psql_err);
	/* With psql gone, the relay's writes fail and it winds down. */
	close_fd(&to_psql[0]);
	pthread_join(relay.thread, NULL);
	relay_started = false;
	if (psql_rc == 0 && relay.committed &&
	    strstr(buf_str(&res.output), RESTORE_MARKER) != NULL)
		rc = 0;
	else
		explain(err, psql_rc, &psql_err, &relay, &prod, file);
out:
	close_fd(&to_psql[0]);
	close_fd(&from_prod[0]);
	close_fd(&from_prod[1]);
	if (relay_started)
		pthread_join(relay.thread, NULL);
	close_fd(&relay.src);
	close_fd(&relay.dst);
	if (prod.started)
		pthread_join(prod.thread, NULL);
	close_fd(&prod.out_fd);
	close_fd(&fd);
	spawn_result_release(&res);
	spawn_result_release(&prod.res);
	pgtool_cmd_release(&prod.cmd);
	return rc;
}
