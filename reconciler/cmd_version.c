/*
 * cmd_version.c — `berth version`: berth's version and each library's, as
 * linked at run time.
 */
#include <stdio.h>

#include <event2/event.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "berth.h"

static const struct cli_opt opts[] = {
	{"json", NULL, "print one JSON document instead of text"},
	{NULL, NULL, NULL},
};

static int run(struct cli *cli)
{
	const char *git = git_mirror_lib_version();
	const char *pq = pg_lib_version();
	const char *curl = http_client_lib_version();
	const char *ev = event_get_version();
	const char *jn = jansson_version_str();
	const char *ssl = OpenSSL_version(OPENSSL_VERSION);

	if (cli_flag(cli, "json")) {
		json_t *o = json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s}}",
				      "berth", BERTH_VERSION, "libraries",
				      "libgit2", git, "libpq", pq, "libcurl",
				      curl, "libevent", ev, "jansson", jn,
				      "openssl", ssl);

		json_dumpf(o, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(o);
		return EXIT_OK;
	}
	printf("berth %s\n", BERTH_VERSION);
	printf("  %s\n  libpq %s\n  libcurl %s\n  libevent %s\n  jansson %s\n  %s\n",
	       git, pq, curl, ev, jn, ssl);
	return EXIT_OK;
}

const struct cli_cmd cmd_version = {
	.name = "version",
	.args = NULL,
	.summary = "print berth's version and the versions of its libraries",
	.opts = opts,
	.min_args = 0,
	.max_args = 0,
	.run = run,
};
