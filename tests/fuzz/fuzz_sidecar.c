/*
 * fuzz_sidecar.c — backup sidecars as read back from the backup directory
 * (sidecar_from_json). berth writes them, but a disk can be edited by hand:
 * whatever a file holds, reading it must fail cleanly or yield a backup
 * that writes back and reads back identically.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "berth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct backup_info b, again;
	struct berr err;
	json_t *j, *out, *out2;

	j = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);
	if (j == NULL)
		return 0;
	if (sidecar_from_json(&b, j, &err) == 0) {
		out = sidecar_to_json(&b);
		if (sidecar_from_json(&again, out, &err) != 0)
			abort();
		out2 = sidecar_to_json(&again);
		if (!json_equal(out, out2))
			abort();
		json_decref(out);
		json_decref(out2);
		backup_info_release(&again);
		backup_info_release(&b);
	}
	json_decref(j);
	return 0;
}
