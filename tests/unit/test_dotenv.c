/*
 * test_dotenv.c — the env_file format, data-driven: each
 * tests/data/dotenv/NAME.env is parsed and compared with NAME.out, which
 * lists KEY=value lines (values escaped: \\ \n \t \r, other control bytes
 * \xHH) or one "error: MESSAGE" line. Values in the error cases contain
 * "s3cr3t", which no message may contain. Then dotenv_load() on real files:
 * permissions, hash, limits.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "berth.h"
#include "check.h"
#include "tmpdir.h"

#define DATA_DIR "tests/data/dotenv"

static void escape_value(struct buf *out, const char *v)
{
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;

		if (c == '\\')
			buf_puts(out, "\\\\");
		else if (c == '\n')
			buf_puts(out, "\\n");
		else if (c == '\t')
			buf_puts(out, "\\t");
		else if (c == '\r')
			buf_puts(out, "\\r");
		else if (c < 0x20 || c == 0x7f)
			buf_printf(out, "\\x%02x", c);
		else
			buf_putc(out, (char)c);
	}
}

/* Runs one case; returns 0 when it ran (pass or fail), -1 when its files
 * could not be read. */
static int run_case(const char *name)
{
	char *in_path = xasprintf(DATA_DIR "/%s.env", name);
	char *out_path = xasprintf(DATA_DIR "/%s.out", name);
	char *file = xasprintf("%s.env", name);
	struct buf in = {0}, want = {0}, got = {0};
	struct kvlist vars;
	struct berr err = {""};
	size_t i;
	int rc = -1;

	kvlist_init(&vars);
	if (fs_read_file(&in, in_path, 1 << 20, &err) != 0 ||
	    fs_read_file(&want, out_path, 1 << 20, &err) != 0) {
		fprintf(stderr, "dotenv case %s: %s\n", name, err.msg);
		check_failures++;
		goto out;
	}
	if (dotenv_parse(&vars, in.data ? in.data : "", in.len, file, &err) ==
	    0) {
		for (i = 0; i < vars.n; i++) {
			buf_printf(&got, "%s=", vars.items[i].key);
			escape_value(&got, vars.items[i].value);
			buf_putc(&got, '\n');
		}
	} else {
		buf_printf(&got, "error: %s\n", err.msg);
		CHECK(strstr(err.msg, "s3cr3t") == NULL);
		CHECK_INT(vars.n, 0);
	}
	check_count++;
	if (strcmp(buf_str(&got), buf_str(&want)) != 0) {
		check_failures++;
		fprintf(stderr, "dotenv case %s differs:\n--- got\n%s--- expected\n%s",
			name, buf_str(&got), buf_str(&want));
	}
	rc = 0;
out:
	kvlist_release(&vars);
	buf_release(&in);
	buf_release(&want);
	buf_release(&got);
	free(in_path);
	free(out_path);
	free(file);
	return rc;
}

static void test_data(void)
{
	DIR *d = opendir(DATA_DIR);
	struct dirent *e;
	int ran = 0;

	if (d == NULL) {
		fprintf(stderr, "cannot open '%s' (run from the source root)\n",
			DATA_DIR);
		check_failures++;
		return;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		char *name;

		if (len < 5 || strcmp(e->d_name + len - 4, ".env") != 0)
			continue;
		name = xstrndup(e->d_name, len - 4);
		if (run_case(name) == 0)
			ran++;
		free(name);
	}
	closedir(d);
	/* The set above holds 30 cases; losing files must not go unnoticed. */
	CHECK(ran >= 30);
}

static void test_inline(void)
{
	struct kvlist vars;
	struct berr err;
	const char nul[] = "A=1\nB=s3cr3t\0x\n";

	kvlist_init(&vars);
	/* A NUL byte cannot go into an environment. */
	CHECK_INT(dotenv_parse(&vars, nul, sizeof(nul) - 1, "x.env", &err), -1);
	CHECK_STR(err.msg, "x.env:2: contains a NUL byte");
	CHECK_INT(vars.n, 0);
	/* Parsing into a list that holds variables merges; on error the list
	 * is left as it was. */
	kvlist_set(&vars, "KEEP", "k");
	kvlist_set(&vars, "A", "old");
	CHECK_INT(dotenv_parse(&vars, "A=new\nB=b\n", 10, "x.env", &err), 0);
	CHECK_INT(vars.n, 3);
	CHECK_STR(kvlist_get(&vars, "KEEP"), "k");
	CHECK_STR(kvlist_get(&vars, "A"), "new");
	CHECK_STR(kvlist_get(&vars, "B"), "b");
	CHECK_INT(dotenv_parse(&vars, "C=1\nA='x", 8, "x.env", &err), -1);
	CHECK_INT(vars.n, 3);
	CHECK_STR(kvlist_get(&vars, "A"), "new");
	CHECK(kvlist_get(&vars, "C") == NULL);
	/* (data, len) is not read past len. */
	kvlist_release(&vars);
	CHECK_INT(dotenv_parse(&vars, "A=12345", 3, "x.env", &err), 0);
	CHECK_STR(kvlist_get(&vars, "A"), "1");
	kvlist_release(&vars);
	CHECK_INT(dotenv_parse(&vars, "A='1'", 4, "x.env", &err), -1);
	CHECK_STR(err.msg, "x.env:1: unterminated single quote in the value "
			   "of 'A'");
	kvlist_release(&vars);
}

static void oracle_sha256_hex(char out[65], const char *data, size_t len)
{
	unsigned char md[32];
	unsigned int n = 0;
	size_t i;

	EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void test_load(void)
{
	static const char text[] = "# production\nJWT_SECRET=s3cr3t\n"
				   "DATABASE_URL=\"postgres://localhost/pos\"\n";
	/* Group may read (a deploy group), nobody else may read, and only
	 * the owner may write. */
	static const mode_t ok_modes[] = {0600, 0400, 0640, 0440,
					  0700, 0750, 0601};
	static const mode_t bad_modes[] = {0644, 0604, 0620, 0602,
					   0660, 0666, 0606};
	struct kvlist vars;
	struct berr err;
	char hash[65], want[65], *path, *big;
	size_t i;

	kvlist_init(&vars);
	oracle_sha256_hex(want, text, strlen(text));
	for (i = 0; i < BERTH_ARRAY_LEN(ok_modes); i++) {
		path = tmpdir_put("production.env", text, strlen(text), ok_modes[i]);
		memset(hash, 'x', sizeof(hash));
		CHECK_INT(dotenv_load(&vars, hash, path, &err), 0);
		CHECK_STR(hash, want);
		CHECK_STR(kvlist_get(&vars, "JWT_SECRET"), "s3cr3t");
		CHECK_STR(kvlist_get(&vars, "DATABASE_URL"),
			  "postgres://localhost/pos");
		kvlist_release(&vars);
		free(path);
	}
	/* The hash follows every byte, comments included. */
	path = tmpdir_put("production.env", "A=1\n# x\n", 8, 0600);
	CHECK_INT(dotenv_load(&vars, hash, path, &err), 0);
	oracle_sha256_hex(want, "A=1\n# x\n", 8);
	CHECK_STR(hash, want);
	kvlist_release(&vars);
	CHECK_INT(dotenv_load(&vars, NULL, path, &err), 0);
	kvlist_release(&vars);
	free(path);

	for (i = 0; i < BERTH_ARRAY_LEN(bad_modes); i++) {
		char mode[16];

		path = tmpdir_put("production.env", text, strlen(text), bad_modes[i]);
		CHECK_INT(dotenv_load(&vars, hash, path, &err), -1);
		CHECK(strstr(err.msg, "chmod 600") != NULL);
		CHECK(strstr(err.msg, path) != NULL);
		snprintf(mode, sizeof(mode), "mode %04o", (unsigned)bad_modes[i]);
		CHECK(strstr(err.msg, mode) != NULL);
		CHECK(strstr(err.msg, "s3cr3t") == NULL);
		CHECK_INT(vars.n, 0);
		free(path);
	}

	/* A parse error names the path and line, never the value. */
	path = tmpdir_put("bad.env", "A=1\nB=\"s3cr3t\n", 13, 0600);
	CHECK_INT(dotenv_load(&vars, hash, path, &err), -1);
	{
		char *msg = xasprintf("%s:2: unterminated double quote in the "
				      "value of 'B'",
				      path);

		CHECK_STR(err.msg, msg);
		free(msg);
	}
	CHECK_INT(vars.n, 0);
	free(path);

	path = fs_join(tmpdir, "missing.env");
	CHECK_INT(dotenv_load(&vars, hash, path, &err), BERTH_ENOTFOUND);
	CHECK(strstr(err.msg, "env file: cannot open") != NULL);
	free(path);
	CHECK_INT(dotenv_load(&vars, hash, tmpdir, &err), -1);
	CHECK(strstr(err.msg, "is not a regular file") != NULL);
	path = fs_join(tmpdir, "fifo.env");
	CHECK_INT(mkfifo(path, 0600), 0);
	CHECK_INT(dotenv_load(&vars, hash, path, &err), -1);
	CHECK(strstr(err.msg, "is not a regular file") != NULL);
	free(path);

	big = xmalloc(DOTENV_MAX_BYTES + 1);
	memset(big, '#', DOTENV_MAX_BYTES + 1);
	path = tmpdir_put("big.env", big, DOTENV_MAX_BYTES, 0600);
	CHECK_INT(dotenv_load(&vars, hash, path, &err), 0);
	free(path);
	path = tmpdir_put("big.env", big, DOTENV_MAX_BYTES + 1, 0600);
	CHECK_INT(dotenv_load(&vars, hash, path, &err), BERTH_ETOOBIG);
	free(path);
	free(big);
	kvlist_release(&vars);
}

int main(void)
{
	tmpdir_make("test-dotenv");
	test_data();
	test_inline();
	test_load();
	tmpdir_remove();
	return check_done("test_dotenv");
}
