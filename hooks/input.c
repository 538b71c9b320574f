/*
 * input.c — what both receive hooks start from: the refs git says were
 * pushed, and berth's config. A hook that cannot read either tells the
 * pusher why, and does nothing else.
 */
#include <string.h>

#include "hooks.h"

int input_load(struct hook_refs *refs, struct config *cfg,
               const struct hook_opts *o, const char *doing)
{
	struct merrs errs = {0};
	struct berr err;

	memset(refs, 0, sizeof(*refs));
	if (refs_parse(refs, o->input, o->input_len, &err) != 0) {
		pusher_say("cannot read the push: %s", err.msg);
		refs_release(refs);
		return -1;
	}
	if (config_load(cfg, o->config_path, &errs) != 0) {
		pusher_say("%s: the berth config cannot be loaded:", doing);
		pusher_list(&errs);
		merrs_release(&errs);
		refs_release(refs);
		return -1;
	}
	merrs_release(&errs);
	return 0;
}
