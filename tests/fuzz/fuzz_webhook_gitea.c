/*
 * fuzz_webhook_gitea.c — Gitea and Forgejo: bare hex signatures and push,
 * delete and other event payloads.
 * Input framing: fuzz_webhook.h.
 */
#include "fuzz_webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_webhook_run(PROVIDER_GITEA, data, size);
}
