/*
 * test_primitives.c — buf (and its JSON strings), berr, strnum, fs, sha256
 * and cli.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

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

	/* printf: short and long results, and one over the cap that leaves
	 * the buffer as it was. */
	{
		char long_arg[201];

		memset(long_arg, 'x', 200);
		long_arg[200] = '\0';
		buf_init(&b, 0);
		CHECK_INT(buf_printf(&b, "<%s>", long_arg), 0);
		CHECK_INT(b.len, 202);
		CHECK_INT(buf_printf(&b, "%d", 7), 0);
		CHECK_INT(b.len, 203);
		CHECK_STR(buf_str(&b) + 200, "x>7");
		buf_release(&b);
		buf_init(&b, 100);
		CHECK_INT(buf_puts(&b, "head"), 0);
		CHECK_INT(buf_printf(&b, "%.90s", long_arg), 0);
		CHECK_INT(b.len, 94);
		CHECK_INT(buf_printf(&b, "%d", 5), 0); /* near the cap */
		CHECK(!b.toobig);
		CHECK_INT(b.len, 95);
		CHECK_INT(buf_printf(&b, "%.7s", long_arg), BERTH_ETOOBIG);
		CHECK(b.toobig);
		CHECK_INT(b.len, 95);
		CHECK_INT(strlen(buf_str(&b)), 95);
		buf_release(&b);
	}
}

/* s as buf_put_json_string writes it, read back by jansson. */
static char *json_roundtrip(const char *s)
{
	struct buf b;
	json_error_t jerr;
	json_t *j;
	char *out = NULL;

	buf_init(&b, 0);
	CHECK_INT(buf_put_json_string(&b, s), 0);
	j = json_loadb(buf_str(&b), b.len, JSON_DECODE_ANY, &jerr);
	CHECK(j != NULL && json_is_string(j));
	if (j != NULL && json_is_string(j))
		out = xstrdup(json_string_value(j));
	json_decref(j);
	buf_release(&b);
	return out != NULL ? out : xstrdup("(did not parse)");
}

static void test_put_u64(void)
{
	static const struct {
		uint64_t v;
		const char *text;
	} cases[] = {
		{0, "0"}, {7, "7"}, {10, "10"}, {1767614400, "1767614400"},
		{UINT64_MAX, "18446744073709551615"},
	};
	struct buf b;
	size_t i;

	buf_init(&b, 0);
	for (i = 0; i < BERTH_ARRAY_LEN(cases); i++) {
		buf_reset(&b);
		buf_puts(&b, "x=");
		CHECK_INT(buf_put_u64(&b, cases[i].v), 0);
		CHECK_STR(buf_str(&b) + 2, cases[i].text);
	}
	buf_release(&b);
	/* Over the buffer's limit: refused, the buffer unchanged. */
	buf_init(&b, 4);
	buf_puts(&b, "ab");
	CHECK_INT(buf_put_u64(&b, 12345), BERTH_ETOOBIG);
	CHECK_STR(buf_str(&b), "ab");
	buf_release(&b);
}

static void test_json_string(void)
{
	static const char *same[] = {
		"", "plain", "quote \" and backslash \\", "tab\tnew\nline\x01\x1f",
		"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80", "del \x7f",
		"refs/heads/feature/\xe6\x97\xa5\xe6\x9c\xac",
	};
	struct buf b;
	size_t i;
	char *got;

	for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		got = json_roundtrip(same[i]);
		CHECK_STR(got, same[i]);
		free(got);
	}
	/* Not UTF-8: a lone continuation byte, a truncated sequence, an
	 * overlong form, a surrogate, a code point past U+10FFFF. */
#define FFFD "\xef\xbf\xbd"
	got = json_roundtrip("a\x80" "b\xe2\x82" "c\xc0\xaf" "d\xed\xa0\x80"
			     "e\xf4\x90\x80\x80");
	CHECK_STR(got, "a" FFFD "b" FFFD FFFD "c" FFFD FFFD "d" FFFD FFFD FFFD
		       "e" FFFD FFFD FFFD FFFD);
#undef FFFD
	free(got);
	/* Escapes as written. */
	buf_init(&b, 0);
	buf_put_json_string(&b, "\"\\\n");
	CHECK_STR(buf_str(&b), "\"\\\"\\\\\\u000a\"");
	buf_release(&b);
	/* The buffer's cap is honoured. */
	buf_init(&b, 8);
	CHECK(buf_put_json_string(&b, "longer than eight") != 0);
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
	CHECK_INT(strnum_hex_digit('0'), 0);
	CHECK_INT(strnum_hex_digit('9'), 9);
	CHECK_INT(strnum_hex_digit('a'), 10);
	CHECK_INT(strnum_hex_digit('F'), 15);
	CHECK_INT(strnum_hex_digit('g'), -1);
	CHECK_INT(strnum_hex_digit('/'), -1);
	CHECK_INT(strnum_hex_digit(':'), -1);
	strnum_iso8601(ts, 1767614400);
	CHECK_STR(ts, "2026-01-05T12:00:00Z");
	/* The last second is kept: asking again, or for another, is exact. */
	strnum_iso8601(ts, 1767614400);
	CHECK_STR(ts, "2026-01-05T12:00:00Z");
	strnum_iso8601(ts, 1767614401);
	CHECK_STR(ts, "2026-01-05T12:00:01Z");
	strnum_iso8601(ts, 0);
	CHECK_STR(ts, "1970-01-01T00:00:00Z");
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

/* FIPS 180-2's "abc" and two-block examples, and the empty string. */
static void test_sha256(void)
{
	static const char two[] =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char hex[65];

	sha256_hex(hex, "abc", 3);
	CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223"
		       "b00361a396177a9cb410ff61f20015ad");
	sha256_hex(hex, two, strlen(two));
	CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039"
		       "a33ce45964ff2167f6ecedd419db06c1");
	sha256_hex(hex, "", 0);
	CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb924"
		       "27ae41e4649b934ca495991b7852b855");
}

/* A library that is not there, and a function a library does not have:
 * errors that say what to install or what is missing. */
static void test_lazylib(void)
{
	struct berr err;
	size_t (*fn)(const char *) = NULL;
	void *lib;

	CHECK(lazylib_open("libberth-missing.so.9", "berth-missing", &err) == NULL);
	CHECK(strstr(err.msg, "cannot load libberth-missing.so.9") != NULL);
	CHECK(strstr(err.msg, "install the package berth-missing") != NULL);
	lib = lazylib_open("libc.so.6", "libc6", &err);
	CHECK(lib != NULL);
	CHECK_INT(lazylib_sym(lib, "libc.so.6", "strlen", &fn, sizeof(fn), &err), 0);
	CHECK(fn != NULL && fn("four") == 4);
	CHECK_INT(lazylib_sym(lib, "libc.so.6", "berth_no_such_function", &fn,
			      sizeof(fn), &err), -1);
	CHECK(strstr(err.msg, "libc.so.6 has no function berth_no_such_function") != NULL);
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
	test_put_u64();
	test_berr();
	test_strnum();
	test_fs();
	test_json_string();
	test_sha256();
	test_lazylib();
	test_cli();
	return check_done("test_primitives");
}
