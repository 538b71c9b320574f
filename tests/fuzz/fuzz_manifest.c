/*
 * fuzz_manifest.c — manifest_parse() on arbitrary bytes (a manifest comes
 * from whoever can push to the repository). Beyond not crashing, checks
 * the model's invariants: an error list exactly when there is no model,
 * every message naming the file, a start order that is a permutation with
 * dependencies first, name lookups that work, and a diff of a manifest
 * against itself that is empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_model(const struct manifest *m)
{
	struct manifest_changes changes = {0};
	bool *seen = calloc(m->nservices + 1, sizeof(*seen));
	size_t i, k;

	if (seen == NULL)
		abort();
	for (i = 0; i < m->nservices; i++) {
		const struct manifest_service *s = &m->services[m->order[i]];

		if (m->order[i] >= m->nservices || seen[m->order[i]])
			abort();
		/* Every dependency has started before. */
		for (k = 0; k < s->depends_on.n; k++) {
			const struct manifest_service *d =
			    manifest_service(m, s->depends_on.v[k]);

			if (d == NULL || !seen[d - m->services])
				abort();
		}
		seen[m->order[i]] = true;
		if (manifest_service(m, s->name) != s)
			abort();
		if (s->hash == NULL || strlen(s->hash) != 64)
			abort();
	}
	free(seen);
	manifest_diff(&changes, m, m);
	if (changes.n != 0)
		abort();
	manifest_diff(&changes, NULL, m);
	if (changes.n != m->nservices)
		abort();
	manifest_changes_release(&changes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvlist vars;
	struct merrs errs = {0};
	struct manifest_ctx ctx = {.file = "berth.json"};
	struct manifest *m;
	size_t i;

	kvlist_init(&vars);
	kvlist_set(&vars, "PORT", "3000");
	kvlist_set(&vars, "HOST", "127.0.0.1");
	kvlist_set(&vars, "EMPTY", "");
	ctx.vars = &vars;
	ctx.env_file_hash = "0123456789abcdef";
	m = manifest_parse((const char *)data, size, &ctx, &errs);
	if ((m == NULL) != (errs.n > 0))
		abort();
	for (i = 0; i < errs.n; i++)
		if (strncmp(errs.items[i], "berth.json: ", 12) != 0)
			abort();
	if (m != NULL)
		check_model(m);
	manifest_free(m);
	merrs_release(&errs);
	kvlist_release(&vars);
	return 0;
}
