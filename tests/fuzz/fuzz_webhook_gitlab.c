/*
 * fuzz_webhook_gitlab.c — GitLab: X-Gitlab-Token or the signing token's
 * Standard Webhooks headers, and Push Hook / Tag Push Hook / System Hook
 * payloads.
 * Input framing: fuzz_webhook.h.
 */
#include "fuzz_webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_webhook_run(PROVIDER_GITLAB, data, size);
}
