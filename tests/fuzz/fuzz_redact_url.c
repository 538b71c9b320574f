/*
 * fuzz_redact_url.c — http_redact_url() on arbitrary bytes: URLs come from
 * manifests and configs, and what it returns goes into logs. Besides memory
 * errors it checks the promise: no userinfo, query or fragment survives,
 * and without the path no path either.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *url, bool keep_path)
{
	char *out = http_redact_url(url, keep_path);
	const char *rest;

	if (strcmp(out, "(invalid URL)") != 0) {
		rest = strstr(out, "://");
		if (rest == NULL)
			abort();
		rest += 3;
		/* The authority never keeps an '@': that was userinfo. */
		if (memchr(rest, '@', strcspn(rest, "/")) != NULL)
			abort();
		if (strpbrk(out, "?#") != NULL)
			abort();
		if (!keep_path && strchr(rest, '/') != NULL &&
		    strcmp(strchr(rest, '/'), "/…") != 0)
			abort();
		if (strlen(out) > strlen(url) + strlen("/…"))
			abort();
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = xstrndup((const char *)data, size);

	check(url, true);
	check(url, false);
	free(url);
	return 0;
}
