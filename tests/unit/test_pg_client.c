/*
 * test_pg_client.c — pg.c against a real PostgreSQL cluster: connecting
 * (good, bad password, unreachable, malformed URLs that carry a password),
 * statements, parameters, error positions, and table statistics.
 * Run by ctest under tests/fixtures/with_pg.sh, which sets DATABASE_URL.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth.h"
#include "check.h"

static const char *url;
static char password[128];

/* The password of DATABASE_URL, to check that no message contains it. */
static void find_password(void)
{
	const char *p = strstr(url, "://"), *colon, *at;

	password[0] = '\0';
	if (p == NULL)
		return;
	p += 3;
	at = strchr(p, '@');
	colon = strchr(p, ':');
	if (at == NULL || colon == NULL || colon > at ||
	    (size_t)(at - colon) >= sizeof(password))
		return;
	memcpy(password, colon + 1, (size_t)(at - colon - 1));
	password[at - colon - 1] = '\0';
}

/* DATABASE_URL with its password replaced by pw. */
static char *url_with_password(const char *pw)
{
	const char *p = strstr(url, "://") + 3, *colon = strchr(p, ':');
	const char *at = strchr(p, '@');

	return xasprintf("%.*s:%s%s", (int)(colon - url), url, pw, at);
}

static bool no_secret(const char *msg)
{
	return password[0] != '\0' && strstr(msg, password) == NULL;
}

static void test_connect(void)
{
	struct pg_conn *c = NULL;
	struct berr err;
	char *bad, *shown;

	CHECK_INT(pg_connect(&c, url, 5, &err), 0);
	CHECK(c != NULL);
	if (c != NULL)
		CHECK(pg_server_version(c) >= 150000);
	pg_close(c);
	CHECK(strncmp(pg_lib_version(), "15.", 3) == 0);

	bad = url_with_password("not-the-s3cret-pw");
	c = NULL;
	CHECK_INT(pg_connect(&c, bad, 5, &err), -1);
	CHECK(c == NULL);
	CHECK(strstr(err.msg, "password authentication failed") != NULL);
	CHECK(strstr(err.msg, "not-the-s3cret-pw") == NULL);
	CHECK(no_secret(err.msg));
	shown = pg_url_display(url);
	CHECK(strstr(err.msg, shown) != NULL);
	CHECK(strncmp(shown, "postgresql://127.0.0.1:", 23) == 0);
	CHECK(strstr(shown, "/berth_test") != NULL);
	CHECK(no_secret(shown));
	CHECK(strchr(shown, '@') == NULL);
	fprintf(stderr, "bad password: %s\n", err.msg);
	free(shown);
	free(bad);
}

/* A loopback port nobody listens on (bound, then closed). */
static int closed_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		return 1;
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void test_unreachable(void)
{
	struct pg_conn *c = NULL;
	struct berr err;
	char *u = xasprintf("postgresql://berth:s3cret-unreach@127.0.0.1:%d/db",
	                    closed_port());

	CHECK_INT(pg_connect(&c, u, 2, &err), -1);
	CHECK(strstr(err.msg, "cannot connect to postgresql://127.0.0.1:") !=
	      NULL);
	CHECK(strstr(err.msg, "Connection refused") != NULL);
	CHECK(strstr(err.msg, "s3cret") == NULL);
	fprintf(stderr, "unreachable: %s\n", err.msg);
	free(u);
}

/* URLs libpq cannot parse: some of its messages quote the whole URL. */
static void test_malformed(void)
{
	static const char *const urls[] = {
	    "postgresql://u:s3cret-pw@[::1/db",
	    "postgresql://u:s3cret%zz@127.0.0.1/db",
	    "postgresql://u:pw@127.0.0.1/db?password=s3cret&bogus",
	    "postgresql://u:s3cret@127.0.0.1:5432/db?nosuchoption=s3cret",
	    "host=127.0.0.1 password=s3cret nosuchkey",
	};
	struct pg_conn *c = NULL;
	struct berr err;
	size_t i;

	for (i = 0; i < BERTH_ARRAY_LEN(urls); i++) {
		CHECK_INT(pg_connect(&c, urls[i], 2, &err), -1);
		CHECK(strstr(err.msg, "s3cret") == NULL);
		CHECK(strstr(err.msg, "database") != NULL);
		fprintf(stderr, "malformed: %s\n", err.msg);
	}
}

static void test_display(void)
{
	static const char *const cases[][2] = {
	    {"postgresql://u:pw@db.example:5433/pos?sslmode=require",
	     "postgresql://db.example:5433/pos"},
	    {"postgres://u@h/x", "postgresql://h/x"},
	    {"host=/run/pg port=5432 dbname=pos password=pw",
	     "postgresql:///run/pg:5432/pos"},
	    {"postgresql://u:p%zz@h:1/d?password=x", "postgresql://h:1/d"},
	    {"postgresql://u:p@[::1/d", "postgresql://[::1/d"},
	    {"nonsense", "the database connection string"},
	};
	size_t i;

	for (i = 0; i < BERTH_ARRAY_LEN(cases); i++) {
		char *s = pg_url_display(cases[i][0]);

		CHECK_STR(s, cases[i][1]);
		free(s);
	}
}

static void test_statements(struct pg_conn *c)
{
	const char *params[3] = {"7", NULL, "it's"};
	struct pg_rows rows;
	struct berr err;

	CHECK_INT(pg_exec(c,
	                  "CREATE TABLE t (id int PRIMARY KEY, note text);"
	                  " INSERT INTO t VALUES (1, 'one'), (2, NULL);"
	                  " SELECT 1;",
	                  &err),
	          0);
	CHECK_INT(pg_exec_params(c, "INSERT INTO t VALUES ($1, $2), (8, $3)", 3,
	                         params, &err),
	          0);
	CHECK_INT(pg_query(&rows, c,
	                   "SELECT id, note FROM t WHERE id >= $1 ORDER BY id",
	                   1, params, &err),
	          0);
	CHECK_INT(rows.nrows, 2);
	CHECK_INT(rows.ncols, 2);
	CHECK_STR(pg_rows_get(&rows, 0, 0), "7");
	CHECK(pg_rows_get(&rows, 0, 1) == NULL);
	CHECK_STR(pg_rows_get(&rows, 1, 1), "it's");
	CHECK(pg_rows_get(&rows, 2, 0) == NULL);
	pg_rows_release(&rows);

	CHECK_INT(pg_query(&rows, c, "SELECT count(*) FROM t", 0, NULL, &err),
	          0);
	CHECK_STR(pg_rows_get(&rows, 0, 0), "4");
	pg_rows_release(&rows);

	/* A parse error: the server's position becomes a byte offset, also
	 * after multi-byte characters. */
	CHECK_INT(pg_exec(c, "SELECT 'é';\nSELEC 1;", &err), -1);
	CHECK(strstr(err.msg, "syntax error at or near \"SELEC\"") != NULL);
	CHECK_STR(pg_last_error(c)->sqlstate, "42601");
	CHECK_INT(pg_last_error(c)->offset, 13);

	/* A run-time error has no position: the statement index tells. */
	CHECK_INT(pg_exec(c,
	                  "SELECT 1; INSERT INTO t VALUES (1, 'x'); SELECT 2",
	                  &err),
	          -1);
	CHECK(strstr(err.msg, "duplicate key value violates unique "
	                      "constraint \"t_pkey\": Key (id)=(1) already "
	                      "exists") != NULL);
	CHECK_INT(pg_last_error(c)->offset, -1);
	CHECK_INT(pg_last_error(c)->statement, 1);
	CHECK_STR(pg_last_error(c)->sqlstate, "23505");

	/* Errors in PL/pgSQL carry the place in their context. */
	CHECK_INT(pg_exec(c, "DO $$ BEGIN RAISE EXCEPTION 'boom %', 42; END $$",
	                  &err),
	          -1);
	CHECK(strstr(err.msg, "boom 42 (PL/pgSQL function inline_code_block "
	                      "line 1 at RAISE)") != NULL);

	/* Success clears the last error. */
	CHECK_INT(pg_exec(c, "SELECT 1", &err), 0);
	CHECK_INT(pg_last_error(c)->statement, -1);
	CHECK_STR(pg_last_error(c)->sqlstate, "");

	/* pg_query takes one statement only. */
	CHECK_INT(pg_query(&rows, c, "SELECT 1; SELECT 2", 0, NULL, &err), -1);
	pg_rows_release(&rows);

	/* COPY FROM STDIN has no data to read: refused, connection fine. */
	CHECK_INT(pg_exec(c, "COPY t FROM STDIN; SELECT 1", &err), -1);
	CHECK(strstr(err.msg, "COPY FROM STDIN is not supported") != NULL);
	CHECK_INT(pg_exec(c, "COPY t TO STDOUT; SELECT 1", &err), 0);

	CHECK(!pg_in_transaction(c));
	CHECK_INT(pg_exec(c, "BEGIN", &err), 0);
	CHECK(pg_in_transaction(c));
	CHECK_INT(pg_exec(c, "SELECT 1/0", &err), -1);
	CHECK(strstr(err.msg, "division by zero") != NULL);
	CHECK(pg_in_transaction(c));
	CHECK_INT(pg_exec(c, "ROLLBACK", &err), 0);
	CHECK(!pg_in_transaction(c));
}

static const struct pg_table_stat *find_stat(const struct pg_table_stats *s,
                                             const char *name)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->tables[i].name, name) == 0)
			return &s->tables[i];
	return NULL;
}

static void test_table_stats(struct pg_conn *c)
{
	struct pg_table_stats s;
	const struct pg_table_stat *t;
	struct berr err;

	CHECK_INT(pg_exec(c,
	                  "CREATE SCHEMA \"Shop\";"
	                  " CREATE TABLE \"Shop\".orders (id int);"
	                  " INSERT INTO \"Shop\".orders"
	                  " SELECT generate_series(1, 5);"
	                  " UPDATE \"Shop\".orders SET id = 10 WHERE id = 1;"
	                  " DELETE FROM \"Shop\".orders WHERE id = 2;"
	                  " CREATE TABLE quiet (id int);",
	                  &err),
	          0);
	/* A backend publishes its counters when it goes idle, at most once a
	 * second; ask for the next idle moment. */
	CHECK_INT(pg_exec(c, "SELECT pg_stat_force_next_flush()", &err), 0);
	CHECK_INT(pg_table_stats(&s, c, &err), 0);
	t = find_stat(&s, "\"Shop\".orders");
	CHECK(t != NULL);
	if (t != NULL) {
		CHECK_INT(t->writes, 7);
		CHECK_INT(t->live_rows, 4);
	}
	t = find_stat(&s, "public.quiet");
	CHECK(t != NULL);
	if (t != NULL)
		CHECK_INT(t->writes, 0);
	CHECK(find_stat(&s, "public.t") != NULL);
	pg_table_stats_release(&s);
	pg_table_stats_release(NULL);
}

int main(void)
{
	struct pg_conn *c = NULL;
	struct berr err;

	url = check_database_url("test_pg_client");
	if (strstr(url, "://") == NULL) {
		fprintf(stderr, "FAIL: test_pg_client: DATABASE_URL is not a "
		                "URL (tests/fixtures/with_pg.sh sets one)\n");
		return 1;
	}
	find_password();
	CHECK(password[0] != '\0');
	test_display();
	test_connect();
	test_unreachable();
	test_malformed();
	if (pg_connect(&c, url, 5, &err) != 0) {
		fprintf(stderr, "test_pg_client: %s\n", err.msg);
		return 1;
	}
	test_statements(c);
	test_table_stats(c);
	pg_close(c);
	pg_close(NULL);
	return check_done("test_pg_client");
}
