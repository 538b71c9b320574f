/*
 * fuzz_compose_config.c — compose_parse_config() on arbitrary bytes
 * (what `compose config` prints reflects the repository), and the override
 * written from what it found: service names compose would accept, listed
 * once, every built service among them, a version of digits and dots; the
 * override quotes every name it writes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

static void must(bool ok)
{
	if (!ok)
		abort();
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz"
	                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct compose_config cfg;
	struct manifest m;
	char project[] = "p";
	char *text, *image;
	size_t i, j;

	compose_parse_config(&cfg, (const char *)data, size);
	for (i = 0; i < cfg.services.n; i++) {
		must(name_ok(cfg.services.v[i]));
		for (j = i + 1; j < cfg.services.n; j++)
			must(strcmp(cfg.services.v[i], cfg.services.v[j]) != 0);
		image =
		    compose_image("p", cfg.services.v[i],
		                  "0123456789abcdef0123456789abcdef01234567");
		must(strncmp(image, "berth.invalid/p/", 16) == 0);
		must(strspn(image + 16,
		            "abcdefghijklmnopqrstuvwxyz0123456789-") ==
		     strcspn(image + 16, ":"));
		free(image);
	}
	for (i = 0; i < cfg.built.n; i++)
		must(strv_contains(&cfg.services, cfg.built.v[i]));
	must(cfg.version == NULL ||
	     strspn(cfg.version, "0123456789.") == strlen(cfg.version));
	memset(&m, 0, sizeof(m));
	m.compose_project = project;
	text = compose_override(&cfg, &m, "production",
	                        "0123456789abcdef0123456789abcdef01234567");
	must(strstr(text, "services:\n") != NULL);
	free(text);
	compose_config_release(&cfg);
	return 0;
}
