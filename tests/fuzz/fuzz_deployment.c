/*
 * fuzz_deployment.c — deployment records as read back from the journal
 * (deployment_from_json). Records are written by berth, but a disk can be
 * edited by hand: whatever a file holds, reading it must fail cleanly or
 * yield a record that writes back and reads back identically.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "berth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct deployment d, again;
	struct berr err;
	json_t *j, *out, *out2;

	j = json_loadb((const char *)data, size, 0, NULL);
	if (j == NULL)
		return 0;
	if (deployment_from_json(&d, j, &err) == 0) {
		out = deployment_to_json(&d);
		if (deployment_from_json(&again, out, &err) != 0)
			abort();
		out2 = deployment_to_json(&again);
		if (!json_equal(out, out2))
			abort();
		json_decref(out);
		json_decref(out2);
		deployment_release(&again);
		deployment_release(&d);
	}
	json_decref(j);
	return 0;
}
