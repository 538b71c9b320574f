/*
 * fuzz_restore_filter.c — the filter that passes pg_dump scripts from a
 * backup file into psql (restore.c). A dump file may be damaged or not a
 * dump at all: the filter must never crash, never add bytes, and pass a
 * script without BEGIN; or COMMIT; lines through unchanged. The first byte
 * chooses the sizes of the pieces it is fed in.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int collect(const char *p, size_t len, void *arg)
{
	return buf_append(arg, p, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct restore_filter f = {.emit = collect};
	const char *in = (const char *)data + 1;
	size_t left = size > 0 ? size - 1 : 0, step = 0;
	struct buf out;

	if (size < 1)
		return 0;
	buf_init(&out, 0);
	f.arg = &out;
	/* Pieces of varying sizes, large ones when the first byte is high. */
	while (left > 0) {
		size_t piece =
		    data[0] >= 192 ? 8192 : 1 + (data[0] + 7 * step++) % 97;

		if (piece > left)
			piece = left;
		if (restore_filter_feed(&f, in + (size - 1 - left), piece) != 0)
			abort();
		left -= piece;
	}
	if (restore_filter_finish(&f) != 0 || out.len > size - 1)
		abort();
	if (memmem(in, size - 1, "BEGIN;", 6) == NULL &&
	    memmem(in, size - 1, "COMMIT;", 7) == NULL &&
	    (out.len != size - 1 ||
	     (out.len > 0 && memcmp(out.data, in, out.len) != 0)))
		abort();
	buf_release(&out);
	return 0;
}
