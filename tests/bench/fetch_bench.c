/*
 * fetch_bench.c — one fetch into berth's bare mirror, for timing by hand
 * (tests/bench/fetch_bench.sh runs it next to `git fetch`). Not a test.
 *
 * Usage: fetch_bench MIRROR_DIR URL
 * Opens (or creates) the mirror at MIRROR_DIR, fetches URL into it, prints
 * the changed refs and the time the fetch took. An https token may be given
 * in the environment variable BERTH_BENCH_TOKEN, an ssh key file in
 * BERTH_BENCH_SSH_KEY. Exits 0 on success, 1 on failure.
 */
#include <stdio.h>
#include <stdlib.h>

#include "berth.h"

int main(int argc, char **argv)
{
	struct git_auth auth = {getenv("BERTH_BENCH_TOKEN"),
				getenv("BERTH_BENCH_SSH_KEY")};
	struct git_ref_update *u = NULL;
	struct git_mirror *gm = NULL;
	struct berr err = {""};
	int64_t t0, t1, t2;
	size_t i, n = 0;
	int rc = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: fetch_bench MIRROR_DIR URL\n");
		return 64;
	}
	t0 = strnum_mono_ms();
	if (git_mirror_open(&gm, argv[1], argv[2], &auth, &err) != 0)
		goto out;
	t1 = strnum_mono_ms();
	if (git_mirror_fetch(gm, &u, &n, &err) != 0)
		goto out;
	t2 = strnum_mono_ms();
	for (i = 0; i < n; i++) {
		char *d = git_mirror_update_describe(&u[i]);

		printf("%s\n", d);
		free(d);
	}
	printf("%s: open %lld ms, fetch %lld ms, %zu refs changed\n",
	       git_mirror_lib_version(), (long long)(t1 - t0),
	       (long long)(t2 - t1), n);
	rc = 0;
out:
	if (rc != 0)
		fprintf(stderr, "fetch_bench: %s\n", err.msg);
	git_mirror_updates_free(u, n);
	git_mirror_close(gm);
	return rc;
}
