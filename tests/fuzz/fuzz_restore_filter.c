/*
 * fuzz_restore_filter.c — the filter that passes pg_dump scripts from a
 * backup file into psql (restore.c). A dump file may be damaged or not a
 * dump at all: the filter must never crash, never add bytes, and pass a
 * script without BEGIN; or COMMIT; lines through unchanged. The first byte
 * chooses the size of the pieces it is fed in.
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
	struct restore_filter f;
	struct buf out;
	size_t piece, off;
	const char *in;

	if (size < 1)
		return 0;
	piece = 1 + data[0] % 64;
	if (data[0] >= 192)
		piece = 8192;
	in = (const char *)data + 1;
	size--;
	memset(&f, 0, sizeof(f));
	buf_init(&out, 0);
	f.emit = collect;
	f.arg = &out;
	for (off = 0; off < size; off += piece)
		if (restore_filter_feed(&f, in + off,
					size - off < piece ? size - off
							   : piece) != 0)
			abort();
	if (restore_filter_finish(&f) != 0)
		abort();
	if (out.len > size)
		abort();
	if (memmem(in, size, "BEGIN;", 6) == NULL &&
	    memmem(in, size, "COMMIT;", 7) == NULL &&
	    (out.len != size || (size > 0 && memcmp(out.data, in, size) != 0)))
		abort();
	buf_release(&out);
	return 0;
}
