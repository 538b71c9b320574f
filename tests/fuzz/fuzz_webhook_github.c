/*
 * fuzz_webhook_github.c — GitHub: X-Hub-Signature-256 and push, ping and
 * other event payloads.
 * Input framing: fuzz_webhook.h.
 */
#include "fuzz_webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_webhook_run(PROVIDER_GITHUB, data, size);
}
