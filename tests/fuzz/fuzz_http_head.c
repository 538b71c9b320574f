/*
 * fuzz_http_head.c — http_head_end() and http_head_parse() on arbitrary
 * bytes, as a client may send them. The end of a head is the same whether
 * it is searched at once or as the bytes trickle in, and a head that
 * parses holds only pointers into its own bytes; a refusal has a status
 * the server knows and a reason.
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

/* A small generator seeded from the input, for where to cut it. */
static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The end found when data[0..size) arrives in pieces (one byte each when
 * bytewise), each search passing what the previous one had seen. */
static size_t end_in_pieces(const char *data, size_t size, uint64_t seed,
			    bool bytewise)
{
	size_t have = 0, prev = 0, end;

	while (have < size) {
		size_t step = 1;

		if (!bytewise)
			step += (size_t)(next_rand(&seed) % 40);

		have = size - have < step ? size : have + step;
		end = http_head_end(data, have, prev);
		if (end != 0) {
			must(end <= have && end > prev);
			return end;
		}
		prev = have;
	}
	return 0;
}

/* Is p within buf[0..len], its terminating NUL included? */
static bool inside(const char *p, const char *buf, size_t len)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)buf;

	return a >= b && a <= b + len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	struct http_head h;
	const char *why;
	size_t end, i;
	char *head;
	int rc;

	for (i = 0; i < size && i < 8; i++)
		seed = seed * 31 + data[i];
	end = http_head_end(in, size, 0);
	must(end <= size);
	must(end_in_pieces(in, size, seed, false) == end);
	if (size <= 2048)
		must(end_in_pieces(in, size, seed, true) == end);
	if (end == 0)
		return 0;
	/* A head ends with its empty line, and is found in itself alone. */
	must(in[end - 1] == '\n');
	must(http_head_end(in, end, 0) == end);
	must(http_head_end(in, end - 1, 0) == 0);

	head = malloc(end + 1);
	if (head == NULL)
		abort();
	memcpy(head, in, end);
	head[end] = '\0';
	why = NULL;
	rc = http_head_parse(&h, head, end, &why);
	if (rc == 0) {
		must(h.method != NULL && inside(h.method, head, end) &&
		     h.method[0] != '\0');
		must(h.path != NULL && h.path[0] != '\0');
		must(inside(h.path, head, end) || strcmp(h.path, "/") == 0);
		must(h.query == NULL || inside(h.query, head, end));
		must(h.minor >= 0 && h.minor <= 9);
		must(h.nfields <= HTTP_MAX_FIELDS);
		must(!(h.chunked && h.has_length));
		must(!h.chunked || h.minor >= 1);
		must(!h.expect_continue || h.minor >= 1);
		for (i = 0; i < h.nfields; i++) {
			const char *name = h.fields[i].name;
			const char *value = h.fields[i].value;

			must(name != NULL && inside(name, head, end));
			must(value != NULL && inside(value, head, end));
			must(name[0] != '\0' && strchr(name, ':') == NULL);
			must(inside(name + strlen(name), head, end));
			must(inside(value + strlen(value), head, end));
			must(http_head_field(&h, name) != NULL);
		}
	} else {
		must(rc == 400 || rc == 417 || rc == 431 || rc == 501 ||
		     rc == 505);
		must(why != NULL && why[0] != '\0');
	}
	free(head);
	return 0;
}
