/*
 * fuzz_queued.c — queued_parse() on arbitrary bytes: envs/<env>/queued.json
 * as the daemon and `berth status` read it back. What parses writes back
 * to the same thing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "berth.h"

static void must(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct queued q, again;
	struct berr err;
	json_t *j;
	char *text;

	if (queued_parse(&q, (const char *)data, size, &err) != 0)
		return 0;
	j = queued_to_json(&q);
	text = json_dumps(j, JSON_COMPACT);
	must(queued_parse(&again, text, strlen(text), &err) == 0);
	must(again.kind == q.kind && again.requests == q.requests &&
	     again.seq == q.seq && strcmp(again.hint, q.hint) == 0);
	must((again.rev == NULL) == (q.rev == NULL));
	must(q.rev == NULL || strcmp(again.rev, q.rev) == 0);
	must((again.trigger == NULL) == (q.trigger == NULL));
	free(text);
	json_decref(j);
	queued_release(&again);
	queued_release(&q);
	return 0;
}
