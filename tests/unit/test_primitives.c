/*
 * test_primitives.c — buf, berr, strnum, fs and cli.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth.h"
#include "check.h"

static void test_buf(void)
{
	struct buf b;
	char *s;

	buf_init(&b, 8);
	CHECK_STR(buf_str(&b), "");
	CHECK_INT(buf_puts(&b, "abc"), 0);
	CHECK_INT(buf_printf(&b, "%d", 1234), 0);
	CHECK_STR(buf_str(&b), "abc1234");
	CHECK_INT(buf_puts(&b, "xy"), BERTH_ETOOBIG);
	CHECK(b.toobig);
	CHECK_STR(buf_str(&b), "abc1234");
	CHECK_INT(buf_putc(&b, 'z'), 0);
	CHECK_INT(b.len, 8);
	buf_keep_tail(&b, 3);
	CHECK_STR(buf_str(&b), "34z");
	s = buf_detach(&b);
	CHECK_STR(s, "34z");
	CHECK_INT(b.len, 0);
	free(s);
	buf_release(&b);
}

static void test_berr(void)
{
	struct berr err;
	char long_text[1000];

	CHECK_INT(berr_set(&err, "cannot open '%s'", "x"), -1);
	CHECK_STR(err.msg, "cannot open 'x'");
	berr_prefix(&err, "config");
	CHECK_STR(err.msg, "config: cannot open 'x'");
	berr_errno(&err, 2, "cannot read '%s'", "y");
	CHECK_STR(err.msg, "cannot read 'y': No such file or directory");
	memset(long_text, 'a', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	berr_set(&err, "%s", long_text);
	CHECK_INT(strlen(err.msg), sizeof(err.msg) - 1);
	CHECK_STR(err.msg + sizeof(err.msg) - 4, "...");
}

static void test_strnum(void)
{
	int64_t v;
	int i;
	char ts[32];

	CHECK_INT(strnum_i64(&v, "42", 0, 100), 0);
	CHECK_INT(v, 42);
	CHECK_INT(strnum_i64(&v, "42x", 0, 100), -1);
	CHECK_INT(strnum_i64(&v, "", 0, 100), -1);
	CHECK_INT(strnum_i64(&v, " 4", 0, 100), -1);
	CHECK_INT(strnum_i64(&v, "101", 0, 100), -1);
	CHECK_INT(strnum_i64(&v, "99999999999999999999", 0, INT64_MAX), -1);
	CHECK_INT(strnum_int(&i, "-5", -10, 10), 0);
	CHECK_INT(i, -5);
	CHECK_INT(strnum_hhmm(&i, "02:30"), 0);
	CHECK_INT(i, 150);
	CHECK_INT(strnum_hhmm(&i, "24:00"), -1);
	CHECK_INT(strnum_hhmm(&i, "2:30"), -1);
	CHECK(strnum_is_sha("0123456789abcdef0123456789abcdef01234567"));
	CHECK(!strnum_is_sha("0123456789ABCDEF0123456789abcdef01234567"));
	CHECK(!strnum_is_sha("0123"));
	strnum_iso8601(ts, 1767614400);
	CHECK_STR(ts, "2026-01-05T12:00:00Z");
	CHECK_INT(strnum_parse_iso8601(&v, ts), 0);
	CHECK_INT(v, 1767614400);
	CHECK_INT(strnum_parse_iso8601(&v, "yesterday"), -1);
}

static void test_fs(void)
{
	char tmpl[] = "/tmp/berth-test-fs-XXXXXX";
	char *dir = mkdtemp(tmpl), *deep, *file, *link;
	struct buf b;
	struct berr err;
	struct stat st;

	CHECK(dir != NULL);
	deep = fs_join(dir, "a/b/c");
	CHECK_INT(fs_mkdir_p(deep, 0755, &err), 0);
	CHECK(fs_is_dir(deep));
	file = fs_join(deep, "state.json");
	CHECK_INT(fs_write_atomic(file, "{}", 2, 0600, &err), 0);
	CHECK_INT(stat(file, &st), 0);
	CHECK_INT(st.st_mode & 0777, 0600);
	buf_init(&b, 0);
	CHECK_INT(fs_read_file(&b, file, 100, &err), 0);
	CHECK_STR(buf_str(&b), "{}");
	buf_reset(&b);
	CHECK_INT(fs_read_file(&b, file, 1, &err), BERTH_ETOOBIG);
	buf_reset(&b);
	CHECK_INT(fs_read_file(&b, "/nonexistent/x", 10, &err), BERTH_ENOTFOUND);
	CHECK(strstr(err.msg, "/nonexistent/x") != NULL);
	link = fs_join(dir, "current");
	CHECK_INT(fs_symlink_atomic("a/b", link, &err), 0);
	CHECK_INT(fs_symlink_atomic("a/b/c", link, &err), 0);
	CHECK(fs_is_dir(link));
	CHECK_INT(fs_mkdir_p(file, 0755, &err), -1);
	CHECK_INT(fs_remove_tree(dir, &err), 0);
	CHECK(!fs_exists(dir));
	CHECK_INT(fs_remove_tree(dir, &err), 0);
	buf_release(&b);
	free(deep);
	free(file);
	free(link);
}

static int dummy_run(struct cli *c)
{
	(void)c;
	return 0;
}

static void test_cli(void)
{
	static const struct cli_opt opts[] = {
		{"commit", "REV", "deploy REV"},
		{"json", NULL, "print JSON"},
		{NULL, NULL, NULL},
	};
	static const struct cli_cmd cmd = {"plan", "[ENV]", "show", opts, 0, 1, dummy_run};
	char a_staging[] = "staging", a_commit[] = "--commit", a_abc[] = "abc",
	     a_json[] = "--json", a_commit_def[] = "--commit=def", a_a[] = "a",
	     a_b[] = "b", a_bogus[] = "--bogus", a_json1[] = "--json=1";
	char *argv1[] = {a_staging, a_commit, a_abc, a_json};
	char *argv2[] = {a_commit_def};
	char *argv3[] = {a_commit};
	char *argv4[] = {a_a, a_b};
	char *argv5[] = {a_bogus};
	char *argv6[] = {a_json1};
	struct cli c;
	struct berr err;

	memset(&c, 0, sizeof(c));
	CHECK_INT(cli_parse(&c, &cmd, 4, argv1, &err), 0);
	CHECK_STR(cli_env(&c), "staging");
	CHECK_STR(cli_value(&c, "commit"), "abc");
	CHECK(cli_flag(&c, "json"));
	memset(&c, 0, sizeof(c));
	CHECK_INT(cli_parse(&c, &cmd, 1, argv2, &err), 0);
	CHECK_STR(cli_value(&c, "commit"), "def");
	CHECK_STR(cli_env(&c), "production");
	CHECK(!cli_flag(&c, "json"));
	memset(&c, 0, sizeof(c));
	CHECK_INT(cli_parse(&c, &cmd, 1, argv3, &err), -1);
	CHECK(strstr(err.msg, "needs a value") != NULL);
	memset(&c, 0, sizeof(c));
	CHECK_INT(cli_parse(&c, &cmd, 2, argv4, &err), -1);
	CHECK(strstr(err.msg, "unexpected argument 'b'") != NULL);
	memset(&c, 0, sizeof(c));
	CHECK_INT(cli_parse(&c, &cmd, 1, argv5, &err), -1);
	CHECK(strstr(err.msg, "unknown option '--bogus'") != NULL);
	memset(&c, 0, sizeof(c));
	CHECK_INT(cli_parse(&c, &cmd, 1, argv6, &err), -1);
}

int main(void)
{
	test_buf();
	test_berr();
	test_strnum();
	test_fs();
	test_cli();
	return check_done("test_primitives");
}
