/*
 * fuzz_webhook_generic.c — the generic endpoint: Standard Webhooks headers
 * and {"ref", "after"} bodies.
 * Input framing: fuzz_webhook.h.
 */
#include "fuzz_webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_webhook_run(PROVIDER_GENERIC, data, size);
}
