/*
 * fuzz_api_body.c — intake_parse_api() on arbitrary bytes: the JSON body of
 * POST /api/deploy and /api/rollback. A body that parses names an
 * environment by a valid name and a revision that can never be taken for
 * an option.
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
	struct api_request ar;
	struct berr err;

	if (intake_parse_api(&ar, (const char *)data, size, &err) == 0) {
		must(state_env_name_ok(ar.env) || config_check_env_name(ar.env));
		must(ar.rev[0] == '\0' || queued_rev_ok(ar.rev));
		must(ar.rev[0] != '-');
	} else {
		must(err.msg[0] != '\0');
	}
	return 0;
}
