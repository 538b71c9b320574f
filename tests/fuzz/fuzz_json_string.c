/*
 * fuzz_json_string.c — buf_put_json_string() on arbitrary bytes: what the
 * inbox writes for branch names, reasons and delivery ids a sender chose.
 * The output always parses as one JSON string, and a string that was
 * well-formed UTF-8 reads back unchanged.
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
	char *s = xstrndup((const char *)data, size);
	json_t *direct = json_string(s); /* NULL unless valid UTF-8 */
	json_error_t jerr;
	struct buf b;
	json_t *back;

	buf_init(&b, 0);
	must(buf_put_json_string(&b, s) == 0);
	back = json_loadb(buf_str(&b), b.len, JSON_DECODE_ANY, &jerr);
	must(back != NULL && json_is_string(back));
	if (direct != NULL)
		must(strcmp(json_string_value(back), s) == 0);
	json_decref(back);
	json_decref(direct);
	buf_release(&b);
	free(s);
	return 0;
}
