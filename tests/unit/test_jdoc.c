/*
 * test_jdoc.c — the one-pass JSON reader of webhook payloads: what a
 * document reads as (layout, decoded strings, numbers, lookups by path),
 * every refusal with its reason and position, and agreement with jansson
 * (json_loadb with JSON_REJECT_DUPLICATES) on each of those documents, on
 * the depth limit and on large objects with and without a duplicate key.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "berth.h"
#include "check.h"
#include "webhooks.h"

/* Parses (s, n) with both readers; returns jdoc's result and checks that
 * jansson agrees. */
static int parse_both(struct jdoc *d, const char *s, size_t n,
		      struct berr *err)
{
	json_error_t jerr;
	json_t *j = json_loadb(s, n, JSON_REJECT_DUPLICATES, &jerr);
	int rc = jdoc_parse(d, s, n, err);

	CHECK_INT(rc == 0, j != NULL);
	if (rc == 0 && j == NULL)
		fprintf(stderr, "  jansson refused %.60s: %s\n", s, jerr.text);
	if (rc != 0 && j != NULL)
		fprintf(stderr, "  jdoc refused %.60s: %s\n", s, err->msg);
	json_decref(j);
	return rc;
}

static void test_layout(void)
{
	static const char doc[] =
		"{\"ref\": \"refs/heads/main\", \"n\": [1, -2.5e3, true, "
		"false, null, [], {}], \"repository\": {\"full_name\": "
		"\"acme/pos\", \"owner\": {\"login\": \"a\\\"b\"}}, "
		"\"last\": 0}";
	const struct jval *v, *n, *e;
	struct berr err;
	struct jdoc d;

	CHECK_INT(parse_both(&d, doc, sizeof(doc) - 1, &err), 0);
	v = d.vals;
	CHECK_INT(v->type, JVAL_OBJECT);
	CHECK_INT(v->n, 4);
	CHECK_INT(v->span, d.nvals);
	CHECK_STR(jval_str(jval_path(v, "ref")), "refs/heads/main");
	CHECK_STR(jval_str(jval_path(v, "repository.full_name")), "acme/pos");
	CHECK_STR(jval_str(jval_path(v, "repository.owner.login")), "a\"b");
	CHECK(jval_path(v, "repository.owner.name") == NULL);
	CHECK(jval_path(v, "ref.x") == NULL);    /* not an object */
	CHECK(jval_path(v, "repository.") == NULL);
	CHECK(jval_str(jval_path(v, "n")) == NULL);
	CHECK(jval_member(NULL, "ref", 3) == NULL);

	n = jval_path(v, "n");
	CHECK(jval_is(n, JVAL_ARRAY));
	CHECK_INT(n->n, 7);
	CHECK_INT(n->span, 8);
	e = n + 1;
	CHECK(jval_is(e, JVAL_INTEGER) && e->n == 1 && e->s[0] == '1');
	e = jval_next(e);
	CHECK(jval_is(e, JVAL_REAL) && e->n == 6 &&
	      memcmp(e->s, "-2.5e3", 6) == 0);
	CHECK(jval_is(e = jval_next(e), JVAL_TRUE));
	CHECK(jval_is(e = jval_next(e), JVAL_FALSE));
	CHECK(jval_is(e = jval_next(e), JVAL_NULL));
	CHECK(jval_is(e = jval_next(e), JVAL_ARRAY) && e->n == 0);
	CHECK(jval_is(e = jval_next(e), JVAL_OBJECT) && e->n == 0);
	/* After the array: the key "repository". */
	e = jval_next(e);
	CHECK(e == jval_next(n));
	CHECK(e->n == 10 && memcmp(e->s, "repository", 10) == 0);
	CHECK(jval_is(jval_path(v, "last"), JVAL_INTEGER));
	jdoc_release(&d);
	CHECK(d.vals == NULL && d.text == NULL);
	jdoc_release(&d); /* twice is harmless */
}

static void test_strings(void)
{
	static const struct {
		const char *doc, *value;
		size_t len;
	} cases[] = {
		{"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]", "\"\\/\b\f\n\r\t", 8},
		{"[\"\\u00e9\\u20AC\"]", "\xc3\xa9\xe2\x82\xac", 5},
		{"[\"\\ud83d\\ude00\"]", "\xf0\x9f\x98\x80", 4},
		{"[\"\\u007f\\u0001\"]", "\x7f\x01", 2},
		{"[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"]",
		 "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 13},
		{"[\"\"]", "", 0},
	};
	struct berr err;
	struct jdoc d;
	size_t i;

	for (i = 0; i < BERTH_ARRAY_LEN(cases); i++) {
		if (parse_both(&d, cases[i].doc, strlen(cases[i].doc), &err) !=
		    0) {
			CHECK_STR(err.msg, "(accepted)");
			continue;
		}
		CHECK(jval_is(d.vals + 1, JVAL_STRING));
		CHECK_INT(d.vals[1].n, cases[i].len);
		CHECK(memcmp(d.vals[1].s, cases[i].value, cases[i].len) == 0);
		CHECK(d.vals[1].s[cases[i].len] == '\0');
		jdoc_release(&d);
	}
}

/* Every refusal: its reason, where it points, and jansson refusing too. */
static void test_refusals(void)
{
	static const struct {
		const char *doc, *msg;
	} cases[] = {
		{"", "expected '{' or '[' at line 1, column 1"},
		{" \n ", "expected '{' or '[' at line 2, column 2"},
		{"\"top\"", "expected '{' or '[' at line 1, column 1"},
		{"1", "expected '{' or '[' at line 1, column 1"},
		{"{", "expected a string key at line 1, column 2"},
		{"[", "unexpected end of input at line 1, column 2"},
		{"[1,]", "invalid token at line 1, column 4"},
		{"[1 2]", "expected ',' or ']' at line 1, column 4"},
		{"{\"a\" 1}", "expected ':' at line 1, column 6"},
		{"{\"a\":1,}", "expected a string key at line 1, column 8"},
		{"{\"a\":1 \"b\":2}", "expected ',' or '}' at line 1, column 8"},
		{"{1:2}", "expected a string key at line 1, column 2"},
		{"{\"a\":1}x", "unexpected text after the end at line 1, column 8"},
		{"{\"a\":1}{}", "unexpected text after the end"},
		{"[tru]", "invalid token at line 1, column 2"},
		{"[nul]", "invalid token"},
		{"[True]", "invalid token"},
		{"[\"a]", "unterminated string at line 1, column 2"},
		{"[\"a\\", "unterminated string"},
		{"[\"\\x\"]", "invalid escape at line 1, column 3"},
		{"[\"\\u12\"]", "invalid \\u escape"},
		{"[\"\\u12G4\"]", "invalid \\u escape"},
		{"[\"\\u0000\"]", "\\u0000 in a string"},
		{"[\"\\ud800\"]", "lone UTF-16 surrogate"},
		{"[\"\\ud800\\u0041\"]", "lone UTF-16 surrogate"},
		{"[\"\\udc00\"]", "lone UTF-16 surrogate"},
		{"[\"a\tb\"]", "control character in a string at line 1, column 4"},
		{"[\"a\nb\"]", "control character in a string"},
		{"[\"\xff\"]", "invalid UTF-8 at line 1, column 3"},
		{"[\"\xc0\xaf\"]", "invalid UTF-8"},               /* overlong */
		{"[\"\xe0\x80\xaf\"]", "invalid UTF-8"},           /* overlong */
		{"[\"\xed\xa0\x80\"]", "invalid UTF-8"},           /* surrogate */
		{"[\"\xf4\x90\x80\x80\"]", "invalid UTF-8"},       /* > U+10FFFF */
		{"[\"\xc3\"]", "invalid UTF-8"},                   /* cut short */
		{"[\"\xe2\x82", "invalid UTF-8"},                  /* at the end */
		{"[-]", "malformed number at line 1, column 2"},
		{"[01]", "number with a leading zero"},
		{"[-01]", "number with a leading zero"},
		{"[1.]", "malformed number"},
		{"[.5]", "invalid token"},
		{"[1e]", "malformed number"},
		{"[1e+]", "malformed number"},
		{"[+1]", "invalid token"},
		{"[9223372036854775808]", "integer out of range"},
		{"[-9223372036854775809]", "integer out of range"},
		{"[10000000000000000000000]", "integer out of range"},
		{"[1e400]", "number out of range"},
		{"[-1e400]", "number out of range"},
		{"{\"a\":1,\"b\":2,\"a\":3}",
		 "duplicate key in an object at line 1, column 1"},
		{"{\"x\":{\"\\u0061\":1,\"a\":2}}",
		 "duplicate key in an object at line 1, column 6"},
		{"{\n  \"a\": [\n    \"\xc3\xa9\xc3\xa9\", x]}",
		 "invalid token at line 3, column 11"},
	};
	struct berr err;
	struct jdoc d;
	size_t i;

	for (i = 0; i < BERTH_ARRAY_LEN(cases); i++) {
		memset(&err, 0, sizeof(err));
		CHECK_INT(parse_both(&d, cases[i].doc, strlen(cases[i].doc),
				     &err),
			  -1);
		CHECK(d.vals == NULL && d.text == NULL && d.nvals == 0);
		if (strstr(err.msg, cases[i].msg) == NULL)
			CHECK_STR(err.msg, cases[i].msg);
	}
	/* A NUL byte is refused anywhere (jansson drops one after a number). */
	CHECK_INT(jdoc_parse(&d, "[1\0]", 4, &err), -1);
	CHECK_INT(jdoc_parse(&d, "[\"a\0\"]", 6, &err), -1);
	CHECK(strstr(err.msg, "control character") != NULL);
	/* Numbers at their limits are accepted. */
	{
		static const char limits[] = "[9223372036854775807,"
			"-9223372036854775808,-0,0.0,1e-400,1E+2]";

		CHECK_INT(parse_both(&d, limits, strlen(limits), &err), 0);
	}
	jdoc_release(&d);
}

/* n arrays nested, with a 1 in the innermost when scalar. */
static int nested(struct jdoc *d, size_t n, bool scalar, struct berr *err)
{
	struct buf b;
	size_t i;
	int rc;

	buf_init(&b, 0);
	for (i = 0; i < n; i++)
		buf_putc(&b, '[');
	if (scalar)
		buf_putc(&b, '1');
	for (i = 0; i < n; i++)
		buf_putc(&b, ']');
	rc = parse_both(d, buf_str(&b), b.len, err);
	buf_release(&b);
	return rc;
}

static void test_depth(void)
{
	struct berr err;
	struct jdoc d;

	CHECK_INT(nested(&d, 2048, false, &err), 0);
	CHECK_INT(d.nvals, 2048);
	jdoc_release(&d);
	CHECK_INT(nested(&d, 2049, false, &err), -1);
	CHECK(strstr(err.msg, "nested too deep at line 1, column 2049") != NULL);
	CHECK_INT(nested(&d, 2047, true, &err), 0);
	jdoc_release(&d);
	CHECK_INT(nested(&d, 2048, true, &err), -1);
	CHECK_INT(nested(&d, 100000, false, &err), -1);
}

/* An object of n members k0..k(n-1), and when dup >= 0 one more named
 * after member dup. */
static int wide(struct jdoc *d, size_t n, long dup, struct berr *err)
{
	struct buf b;
	size_t i;
	int rc;

	buf_init(&b, 0);
	buf_putc(&b, '{');
	for (i = 0; i < n; i++)
		buf_printf(&b, "%s\"k%zu\":%zu", i ? "," : "", i, i);
	if (dup >= 0)
		buf_printf(&b, ",\"k%ld\":null", dup);
	buf_putc(&b, '}');
	rc = parse_both(d, buf_str(&b), b.len, err);
	buf_release(&b);
	return rc;
}

static void test_wide_objects(void)
{
	static const size_t sizes[] = {1, 2, 8, 9, 100, 20000};
	const struct jval *v;
	struct berr err;
	struct jdoc d;
	size_t i;

	for (i = 0; i < BERTH_ARRAY_LEN(sizes); i++) {
		CHECK_INT(wide(&d, sizes[i], -1, &err), 0);
		CHECK_INT(d.vals[0].n, sizes[i]);
		/* (Its text is gone with the input: the type is all.) */
		v = jval_member(d.vals, "k0", 2);
		CHECK(jval_is(v, JVAL_INTEGER));
		jdoc_release(&d);
		CHECK_INT(wide(&d, sizes[i], 0, &err), -1);
		CHECK_INT(wide(&d, sizes[i], (long)sizes[i] - 1, &err), -1);
		CHECK_INT(wide(&d, sizes[i], (long)sizes[i] / 2, &err), -1);
	}
	/* Members found in a wide object, first, middle and last. */
	CHECK_INT(wide(&d, 20000, -1, &err), 0);
	CHECK(jval_member(d.vals, "k19999", 6) != NULL);
	CHECK(jval_member(d.vals, "k10000", 6) != NULL);
	CHECK(jval_member(d.vals, "k20000", 6) == NULL);
	CHECK(jval_member(d.vals, "k1", 1) == NULL);
	jdoc_release(&d);
}

int main(void)
{
	test_layout();
	test_strings();
	test_refusals();
	test_depth();
	test_wide_objects();
	return check_done("test_jdoc");
}
