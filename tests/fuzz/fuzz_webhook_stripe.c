/*
 * fuzz_webhook_stripe.c — Stripe: the Stripe-Signature header and event
 * bodies.
 * Input framing: fuzz_webhook.h.
 */
#include "fuzz_webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	return fuzz_webhook_run(PROVIDER_STRIPE, data, size);
}
