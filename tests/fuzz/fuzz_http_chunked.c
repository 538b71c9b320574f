/*
 * fuzz_http_chunked.c — http_chunked_feed() on arbitrary bytes taken as a
 * chunked request body. Decoding it whole, in pieces cut where its first
 * bytes say, and byte by byte ends the same way: same status, same data,
 * same bytes consumed; the data never passes the limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "webhooks.h"

#define MAX_BODY 4096
#define MAX_TRAILER 1024

static void must(bool ok)
{
	if (!ok)
		abort();
}

struct result {
	int rc;
	size_t used; /* in all */
	struct buf out;
};

/* Feeds in[0..n) in pieces of steps[0], steps[1]... bytes, round and
 * round (one byte each when nsteps is 0, all at once when steps is NULL),
 * until a call does not return 0. */
static void decode(struct result *r, const char *in, size_t n,
		   const uint8_t *steps, size_t nsteps)
{
	struct http_chunked c;
	size_t from = 0, k = 0;

	http_chunked_init(&c, MAX_TRAILER);
	buf_init(&r->out, 0);
	r->used = 0;
	r->rc = 0;
	do {
		size_t piece = n - from, used = (size_t)-1;
		const char *why = NULL;

		if (steps != NULL) {
			size_t step = nsteps ? steps[k++ % nsteps] : 1;

			if (step < piece)
				piece = step;
		}
		r->rc = http_chunked_feed(&c, &r->out, MAX_BODY, in + from,
					  piece, &used, &why);
		must(used <= piece);
		must(r->out.len <= MAX_BODY);
		r->used += used;
		if (r->rc == 0) {
			must(used == piece);
		} else if (r->rc == 1) {
			must(why == NULL);
		} else {
			must(r->rc == 400 || r->rc == 413 || r->rc == 431);
			must(why != NULL && why[0] != '\0');
		}
		from += piece;
	} while (r->rc == 0 && from < n);
}

static void same(const struct result *a, const struct result *b)
{
	must(a->rc == b->rc);
	must(a->used == b->used);
	must(a->out.len == b->out.len);
	must(a->out.len == 0 ||
	     memcmp(a->out.data, b->out.data, a->out.len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	struct result whole, cut, bytes;
	uint8_t steps[8];
	size_t nsteps = size < sizeof(steps) ? size : sizeof(steps), i;

	/* piece sizes 1..64 from the first bytes */
	for (i = 0; i < nsteps; i++)
		steps[i] = (uint8_t)(1 + data[i] % 64);
	decode(&whole, in, size, NULL, 0);
	must(whole.used <= size);
	if (whole.rc == 0)
		must(whole.used == size);
	decode(&cut, in, size, steps, nsteps);
	same(&whole, &cut);
	decode(&bytes, in, size, steps, 0);
	same(&whole, &bytes);
	if (whole.rc == 1) {
		struct result again;

		/* the body alone, without what followed it */
		decode(&again, in, whole.used, NULL, 0);
		same(&whole, &again);
		buf_release(&again.out);
	}
	buf_release(&whole.out);
	buf_release(&cut.out);
	buf_release(&bytes.out);
	return 0;
}
