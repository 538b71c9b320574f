/*
 * fuzz_sqlscan.c — sqlscan_statements over arbitrary bytes (migration files
 * come from the repository being deployed). Checks that statements lie
 * inside the text, in order, without overlap, with their line right.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *sql = (const char *)data;
	struct sqlscan_stmt *st = NULL;
	size_t n = 0, i, k, prev_end = 0;

	sqlscan_statements(&st, &n, sql, size);
	for (i = 0; i < n; i++) {
		if (st[i].offset < prev_end || st[i].offset >= st[i].end ||
		    st[i].end > size)
			abort();
		if (sqlscan_line(sql, size, st[i].offset) != st[i].line)
			abort();
		for (k = 0; k < 4; k++)
			if (memchr(st[i].words[k], '\0',
			           sizeof(st[i].words[k])) == NULL)
				abort();
		prev_end = st[i].end;
	}
	free(st);
	return 0;
}
