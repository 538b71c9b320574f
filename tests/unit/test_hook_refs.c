/*
 * test_hook_refs.c — the hook input parser (what git writes to a receive
 * hook's stdin) and the hook scripts the installer writes: quoting of the
 * paths it records, and the chain to a hook kept from before.
 */
#include <stdlib.h>
#include <string.h>

#include "hooks.h"
#include "check.h"

#define A "1111111111111111111111111111111111111111"
#define B "abcdefabcdefabcdefabcdefabcdefabcdef0123"
#define Z "0000000000000000000000000000000000000000"

static void test_parse(void)
{
	const char *in = Z " " A " refs/heads/main\n" A " " B
	                   " refs/tags/v1\r\n\n" B " " Z " refs/heads/old";
	struct hook_refs r;
	struct berr err;

	CHECK_INT(refs_parse(&r, in, strlen(in), &err), 0);
	CHECK_INT(r.n, 3);
	CHECK_STR(r.items[0].old_sha, Z);
	CHECK_STR(r.items[0].new_sha, A);
	CHECK_STR(r.items[0].ref, "refs/heads/main");
	CHECK_STR(refs_branch(&r.items[0]), "main");
	CHECK(!refs_is_delete(&r.items[0]));
	CHECK_STR(r.items[1].ref, "refs/tags/v1");
	CHECK(refs_branch(&r.items[1]) == NULL);
	CHECK_STR(refs_branch(&r.items[2]), "old");
	CHECK(refs_is_delete(&r.items[2]));
	refs_release(&r);

	CHECK_INT(refs_parse(&r, "", 0, &err), 0);
	CHECK_INT(r.n, 0);
	refs_release(&r);
}

static void test_parse_hostile(void)
{
	/* A branch name git accepts, full of shell syntax: data, kept as is. */
	const char *in = Z " " A " refs/heads/$(touch${IFS}/tmp/x);`id`|a&b\n";
	struct hook_refs r;
	struct berr err;

	CHECK_INT(refs_parse(&r, in, strlen(in), &err), 0);
	CHECK_INT(r.n, 1);
	CHECK_STR(refs_branch(&r.items[0]), "$(touch${IFS}/tmp/x);`id`|a&b");
	refs_release(&r);
}

static void expect_error(const char *in, const char *msg)
{
	struct hook_refs r;
	struct berr err;

	CHECK_INT(refs_parse(&r, in, strlen(in), &err), -1);
	CHECK_STR(err.msg, msg);
	refs_release(&r);
}

static void test_parse_errors(void)
{
	expect_error(Z " " A " refs/heads/main\nnonsense\n",
	             "line 2: expected 'OLD NEW REF' with 40-digit lowercase "
	             "commit ids");
	expect_error(Z " " A " \n",
	             "line 1: expected 'OLD NEW REF' with 40-digit lowercase "
	             "commit ids");
	expect_error(Z " ABCDEF1111111111111111111111111111111111 refs/x\n",
	             "line 1: expected 'OLD NEW REF' with 40-digit lowercase "
	             "commit ids");
	expect_error(Z " " A " refs/heads/a b\n",
	             "line 1: the ref name holds a space or a control "
	             "character");
	expect_error(Z " " A " refs/heads/a\tb\n",
	             "line 1: the ref name holds a space or a control "
	             "character");
	expect_error(Z "  " A " refs/heads/main\n",
	             "line 1: expected 'OLD NEW REF' with 40-digit lowercase "
	             "commit ids");
}

static void test_script(void)
{
	struct install_opts o;
	char *s;

	memset(&o, 0, sizeof(o));
	o.berth_path = "/usr/local/bin/berth";
	o.config_path = "/etc/berth/it's config.json";
	o.env = "production";
	s = install_script(&o, "post-receive");
	CHECK(strncmp(s, "#!/bin/sh\n" INSTALL_MARKER "\n", 10) == 0);
	CHECK(strstr(s, "\nexec '/usr/local/bin/berth' --config "
	                "'/etc/berth/it'\\''s config.json' hook post-receive "
	                "--env 'production' --chain \"$0.berth-chained\"\n") !=
	      NULL);
	free(s);
	o.env = NULL;
	s = install_script(&o, "pre-receive");
	CHECK(strstr(s, " hook pre-receive --chain ") != NULL);
	CHECK(strstr(s, "--env") == NULL);
	free(s);
}

int main(void)
{
	test_parse();
	test_parse_hostile();
	test_parse_errors();
	test_script();
	return check_done("test_hook_refs");
}
