/*
 * fuzz_inbox_line.c — inbox_line_parse() on arbitrary bytes: what the
 * daemon reads back from state_dir/inbox/ at startup, which a crash may
 * have torn and a person may have edited. A line that parses holds only
 * values the inbox could have written itself.
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
	struct inbox_line l;
	struct berr err;

	if (inbox_line_parse(&l, (const char *)data, size, &err) == 0) {
		must(l.seq > 0);
		if (!l.update) {
			must(l.provider != NULL && l.delivery != NULL);
			must(strlen(l.delivery) < VERIFY_KEY_MAX);
			must(strchr(l.delivery, ' ') == NULL);
			must(l.after[0] == '\0' || strnum_is_sha(l.after));
			must(l.rev == NULL || queued_rev_ok(l.rev));
		}
	} else {
		must(err.msg[0] != '\0');
	}
	inbox_line_release(&l);
	return 0;
}
