/*
 * test_sqlscan.c — data-driven test of sqlscan.c: every
 * tests/data/sqlscan/NAME.sql is split into statements and described, one
 * line per statement ("LINE [words] text", newlines in the text written as
 * \n), and compared with NAME.expected. BERTH_UPDATE_EXPECTED=1 rewrites
 * the expected files instead (review the diff).
 */
#include <dirent.h>
#include <stdlib.h>

#include "berth.h"
#include "check.h"

#define DATA_DIR "tests/data/sqlscan"

static void describe(struct buf *out, const char *sql, size_t len)
{
	struct sqlscan_stmt *st = NULL;
	size_t n = 0, i, k, j;

	sqlscan_statements(&st, &n, sql, len);
	for (i = 0; i < n; i++) {
		buf_printf(out, "%u [", st[i].line);
		for (k = 0; k < 4 && st[i].words[k][0] != '\0'; k++)
			buf_printf(out, "%s%s", k ? " " : "", st[i].words[k]);
		buf_puts(out, "] ");
		for (j = st[i].offset; j < st[i].end; j++) {
			if (sql[j] == '\n')
				buf_puts(out, "\\n");
			else
				buf_putc(out, sql[j]);
		}
		buf_putc(out, '\n');
		CHECK_INT(sqlscan_line(sql, len, st[i].offset), st[i].line);
	}
	free(st);
}

static void run_case(const char *name)
{
	char *in = xasprintf("%s/%s", DATA_DIR, name);
	char *exp = xasprintf("%.*s.expected", (int)(strlen(in) - 4), in);
	struct buf sql, want, got;
	struct berr err;

	buf_init(&sql, 0);
	buf_init(&want, 0);
	buf_init(&got, 0);
	CHECK_INT(fs_read_file(&sql, in, 1 << 20, &err), 0);
	describe(&got, buf_str(&sql), sql.len);
	if (getenv("BERTH_UPDATE_EXPECTED") != NULL) {
		CHECK_INT(fs_write_atomic(exp, got.data ? got.data : "",
		                          got.len, 0644, &err),
		          0);
	} else if (fs_read_file(&want, exp, 1 << 20, &err) != 0) {
		CHECK_STR(err.msg, "");
	} else if (strcmp(buf_str(&want), buf_str(&got)) != 0) {
		check_count++;
		check_failures++;
		fprintf(stderr, "%s: got\n%s--- expected\n%s", in,
		        buf_str(&got), buf_str(&want));
	} else {
		check_count++;
	}
	buf_release(&sql);
	buf_release(&want);
	buf_release(&got);
	free(in);
	free(exp);
}

int main(void)
{
	DIR *d = opendir(DATA_DIR);
	struct dirent *e;
	int cases = 0;
	unsigned line;

	if (d == NULL) {
		fprintf(stderr,
		        "test_sqlscan: cannot open '%s' (run from the "
		        "source root)\n",
		        DATA_DIR);
		return 1;
	}
	while ((e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (n > 4 && strcmp(e->d_name + n - 4, ".sql") == 0) {
			run_case(e->d_name);
			cases++;
		}
	}
	closedir(d);
	CHECK(cases >= 5);

	line = sqlscan_line("a\nb\nc", 5, 4);
	CHECK_INT(line, 3);
	CHECK_INT(sqlscan_line("a\nb", 3, 99), 2);
	return check_done("test_sqlscan");
}
