/*
 * fuzz_conn_scan.c — conn_scan_feed() on arbitrary bytes, the request
 * heads a client sends before libevent parses them. However the bytes are
 * split into reads, the verdict and the number of heads found are the
 * same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhooks.h"

static void must(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conn_scan whole, pieces;
	enum conn_verdict v1, v2 = CONN_OK;
	size_t step, i;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 7 + 1;
	data++;
	size--;
	conn_scan_init(&whole, 1000, 256);
	conn_scan_init(&pieces, 1000, 256);
	v1 = conn_scan_feed(&whole, (const char *)data, size);
	for (i = 0; i < size; i += step)
		v2 = conn_scan_feed(&pieces, (const char *)data + i,
				    size - i < step ? size - i : step);
	if (size == 0)
		v2 = pieces.verdict;
	must(v1 == v2);
	must(whole.requests == pieces.requests);
	must(whole.head.len <= 256 + 4);
	conn_scan_release(&whole);
	conn_scan_release(&pieces);
	return 0;
}
