/*
 * test_secret.c — secrets from environment variables and from files: the
 * value read, the permission and file-type refusals, and that no message
 * ever contains the value. Files are real, in a temporary directory.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth.h"
#include "check.h"
#include "tmpdir.h"

#define VALUE "s3cr3t-value"

/* Loads ref and checks the result: rc, and the value when rc is 0. Every
 * message must be free of the value. */
static void expect_load(int line, const struct secret_ref *ref, int want_rc,
			const char *want_value, const char *want_in_msg)
{
	struct buf out;
	struct berr err = {""};
	int rc;

	buf_init(&out, 0);
	rc = secret_load(&out, ref, "test secret", &err);
	check_count++;
	if (rc != want_rc) {
		check_failures++;
		fprintf(stderr, "%s:%d: secret_load returned %d, expected %d (%s)\n",
			__FILE__, line, rc, want_rc, err.msg);
	}
	if (want_value != NULL)
		CHECK_STR(buf_str(&out), want_value);
	if (rc != 0) {
		CHECK_INT(out.len, 0);
		CHECK(out.data == NULL);
		CHECK(strstr(err.msg, "s3cr3t") == NULL);
		CHECK(strncmp(err.msg, "test secret: ", 13) == 0);
		if (want_in_msg != NULL && strstr(err.msg, want_in_msg) == NULL) {
			check_failures++;
			fprintf(stderr, "%s:%d: '%s' not in '%s'\n", __FILE__,
				line, want_in_msg, err.msg);
		}
	}
	secret_wipe(&out);
}

#define EXPECT_LOAD(ref, rc, value, msg) expect_load(__LINE__, ref, rc, value, msg)

static void test_env(void)
{
	char name[] = "BERTH_TEST_SECRET";
	struct secret_ref ref = {NULL, NULL};

	EXPECT_LOAD(&ref, BERTH_ENOTFOUND, NULL, "not configured");
	ref.env = name;
	unsetenv("BERTH_TEST_SECRET");
	EXPECT_LOAD(&ref, BERTH_ENOTFOUND, NULL,
		    "environment variable 'BERTH_TEST_SECRET' is not set");
	setenv("BERTH_TEST_SECRET", VALUE "\n", 1);
	/* A variable is taken as it is: only files lose a newline. */
	EXPECT_LOAD(&ref, 0, VALUE "\n", NULL);
	setenv("BERTH_TEST_SECRET", "", 1);
	EXPECT_LOAD(&ref, -1, NULL, "is empty");
	unsetenv("BERTH_TEST_SECRET");
}

static void test_file(void)
{
	struct secret_ref ref = {NULL, NULL};
	char name[] = "BERTH_TEST_SECRET";
	char *big, *link_path;
	size_t i;
	static const struct {
		const char *content, *value;
	} cases[] = {
	    {VALUE, VALUE},
	    {VALUE "\n", VALUE},
	    {VALUE "\r\n", VALUE},
	    {VALUE "\n\n", VALUE "\n"},
	    {" " VALUE " ", " " VALUE " "},
	    {"line1\nline2\n", "line1\nline2"},
	};

	for (i = 0; i < BERTH_ARRAY_LEN(cases); i++) {
		ref.file = tmpdir_put("s", cases[i].content, strlen(cases[i].content),
			       0600);
		EXPECT_LOAD(&ref, 0, cases[i].value, NULL);
		free(ref.file);
	}
	/* Owner read-only and owner execute bits are fine. */
	ref.file = tmpdir_put("s", VALUE, strlen(VALUE), 0400);
	EXPECT_LOAD(&ref, 0, VALUE, NULL);
	free(ref.file);
	ref.file = tmpdir_put("s", VALUE, strlen(VALUE), 0700);
	EXPECT_LOAD(&ref, 0, VALUE, NULL);
	free(ref.file);

	/* Any access for group or others is refused, without the content. */
	{
		static const mode_t bad[] = {0640, 0604, 0620, 0602, 0610,
					     0601, 0644, 0666, 0660};

		for (i = 0; i < BERTH_ARRAY_LEN(bad); i++) {
			char mode[16];

			ref.file = tmpdir_put("s", VALUE "\n", strlen(VALUE) + 1, bad[i]);
			EXPECT_LOAD(&ref, -1, NULL, "chmod 600");
			snprintf(mode, sizeof(mode), "mode %04o", (unsigned)bad[i]);
			EXPECT_LOAD(&ref, -1, NULL, mode);
			CHECK_INT(secret_check_file(ref.file, "test secret", NULL),
				  -1);
			free(ref.file);
		}
	}

	/* Empty, missing, a directory, a FIFO (must not hang), too big. */
	ref.file = tmpdir_put("s", "\n", 1, 0600);
	EXPECT_LOAD(&ref, -1, NULL, "is empty");
	free(ref.file);
	ref.file = tmpdir_put("s", "", 0, 0600);
	EXPECT_LOAD(&ref, -1, NULL, "is empty");
	free(ref.file);
	ref.file = fs_join(tmpdir, "missing");
	EXPECT_LOAD(&ref, -1, NULL, "No such file or directory");
	CHECK_INT(secret_check_file(ref.file, "test secret", NULL),
		  BERTH_ENOTFOUND);
	free(ref.file);
	ref.file = fs_join(tmpdir, "dir");
	CHECK_INT(mkdir(ref.file, 0700), 0);
	EXPECT_LOAD(&ref, -1, NULL, "is not a regular file");
	free(ref.file);
	ref.file = fs_join(tmpdir, "fifo");
	CHECK_INT(mkfifo(ref.file, 0600), 0);
	EXPECT_LOAD(&ref, -1, NULL, "is not a regular file");
	free(ref.file);
	big = xmalloc(SECRET_MAX_BYTES + 1);
	memset(big, 'a', SECRET_MAX_BYTES + 1);
	ref.file = tmpdir_put("big", big, SECRET_MAX_BYTES, 0600);
	EXPECT_LOAD(&ref, 0, NULL, NULL);
	free(ref.file);
	ref.file = tmpdir_put("big", big, SECRET_MAX_BYTES + 1, 0600);
	EXPECT_LOAD(&ref, -1, NULL, "larger than 65536 bytes");
	free(ref.file);
	free(big);

	/* A symlink is followed; the checks apply to its target. */
	ref.file = tmpdir_put("target", VALUE, strlen(VALUE), 0600);
	link_path = fs_join(tmpdir, "link");
	CHECK_INT(symlink(ref.file, link_path), 0);
	free(ref.file);
	ref.file = link_path;
	EXPECT_LOAD(&ref, 0, VALUE, NULL);
	CHECK_INT(secret_check_file(ref.file, "test secret", NULL), 0);
	free(tmpdir_put("target", VALUE, strlen(VALUE), 0644));
	EXPECT_LOAD(&ref, -1, NULL, "chmod 600");
	free(ref.file);

	/* The file is used even when a variable is named too. */
	setenv("BERTH_TEST_SECRET", "from-env", 1);
	ref.env = name;
	ref.file = tmpdir_put("s", VALUE, strlen(VALUE), 0600);
	EXPECT_LOAD(&ref, 0, VALUE, NULL);
	free(ref.file);
	unsetenv("BERTH_TEST_SECRET");
}

static void test_wipe(void)
{
	struct buf b;

	buf_init(&b, 0);
	buf_puts(&b, VALUE);
	secret_wipe(&b);
	CHECK(b.data == NULL);
	CHECK_INT(b.len, 0);
	secret_wipe(&b);
	secret_wipe(NULL);
}

int main(void)
{
	tmpdir_make("test-secret");
	test_env();
	test_file();
	test_wipe();
	tmpdir_remove();
	return check_done("test_secret");
}
