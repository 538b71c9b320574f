/*
 * fuzz_webhook_sentry.c — Sentry: Sentry-Hook-Signature, Sentry-Hook-
 * Resource and event bodies.
 * Input framing: fuzz_webhook.h.
 */
#include "fuzz_webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_webhook_run(PROVIDER_SENTRY, data, size);
}
