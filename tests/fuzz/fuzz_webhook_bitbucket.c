/*
 * fuzz_webhook_bitbucket.c — Bitbucket: X-Hub-Signature and Cloud repo:push
 * / Data Center repo:refs_changed payloads.
 * Input framing: fuzz_webhook.h.
 */
#include "fuzz_webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_webhook_run(PROVIDER_BITBUCKET, data, size);
}
