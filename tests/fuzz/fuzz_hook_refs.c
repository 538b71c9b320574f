/*
 * fuzz_hook_refs.c — refs_parse() on arbitrary bytes, as a receive hook's
 * stdin. Whatever it accepts has two 40-hex commit ids and a ref name
 * without spaces or control characters per line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hooks.h"

static void must(bool ok)
{
	if (!ok)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hook_refs r;
	struct berr err;
	size_t i, j;

	if (refs_parse(&r, (const char *)data, size, &err) == 0) {
		for (i = 0; i < r.n; i++) {
			const struct hook_ref *h = &r.items[i];

			must(strlen(h->old_sha) == 40 &&
			     strlen(h->new_sha) == 40);
			must(strnum_is_sha(h->old_sha) &&
			     strnum_is_sha(h->new_sha));
			must(h->ref[0] != '\0' &&
			     strlen(h->ref) <= REFS_MAX_NAME);
			for (j = 0; h->ref[j] != '\0'; j++)
				must((unsigned char)h->ref[j] > ' ' &&
				     h->ref[j] != 0x7f);
			if (refs_branch(h) != NULL)
				must(strncmp(h->ref, "refs/heads/", 11) == 0);
		}
	} else {
		must(strncmp(err.msg, "line ", 5) == 0 ||
		     strncmp(err.msg, "hook input", 10) == 0);
	}
	refs_release(&r);
	return 0;
}
