/*
 * check.h — the few assertion macros berth's unit tests use. A failed check
 * prints file:line and what was compared, and fails the test at exit.
 */
#ifndef BERTH_CHECK_H
#define BERTH_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                            \
	do {                                                                   \
		check_count++;                                                 \
		if (!(cond)) {                                                 \
			check_failures++;                                      \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,  \
				__LINE__, #cond);                              \
		}                                                              \
	} while (0)

#define CHECK_INT(a, b)                                                        \
	do {                                                                   \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b); \
		check_count++;                                                 \
		if (check_a_ != check_b_) {                                    \
			check_failures++;                                      \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", \
				__FILE__, __LINE__, #a, check_a_, #b, check_b_); \
		}                                                              \
	} while (0)

#define CHECK_STR(a, b)                                                        \
	do {                                                                   \
		const char *check_a_ = (a), *check_b_ = (b);                   \
		check_count++;                                                 \
		if (check_a_ == NULL || check_b_ == NULL ||                    \
		    strcmp(check_a_, check_b_) != 0) {                         \
			check_failures++;                                      \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", \
				__FILE__, __LINE__, #a,                        \
				check_a_ ? check_a_ : "(null)",                \
				check_b_ ? check_b_ : "(null)");               \
		}                                                              \
	} while (0)

/* Creates a fresh directory under $TMPDIR (else /tmp) named after the test
 * and returns its path (malloc'd). Exits the test when it cannot. */
static inline char *check_tempdir(const char *name)
{
	const char *tmp = getenv("TMPDIR");
	size_t len = strlen(tmp ? tmp : "/tmp") + strlen(name) + 16;
	char *path = malloc(len);

	if (path == NULL)
		abort();
	snprintf(path, len, "%s/%s-XXXXXX", tmp ? tmp : "/tmp", name);
	if (mkdtemp(path) == NULL) {
		perror("cannot create a temporary directory");
		exit(1);
	}
	return path;
}

/* The database the test runs against ($DATABASE_URL, which
 * tests/fixtures/with_pg.sh sets). Fails the test, saying so, when it is
 * not set. */
static inline const char *check_database_url(const char *name)
{
	const char *url = getenv("DATABASE_URL");

	if (url == NULL || url[0] == '\0') {
		fprintf(stderr, "FAIL: %s: DATABASE_URL is not set: run it under "
		                "tests/fixtures/with_pg.sh\n", name);
		exit(1);
	}
	return url;
}

/* Ends main(): prints a summary and returns the exit status. */
static inline int check_done(const char *name)
{
	if (check_count == 0) {
		fprintf(stderr, "%s: no checks ran\n", name);
		return 1;
	}
	fprintf(stderr, "%s: %d checks, %d failed\n", name, check_count,
		check_failures);
	return check_failures ? 1 : 0;
}

#endif
