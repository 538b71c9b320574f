/*
 * jdoc.c — reads a webhook payload, in one pass, into one flat array of
 * values: the path every delivery takes. A tree of jansson objects costs
 * an allocation or more per value and a hash table per object, most of it
 * for fields berth never looks at; here a document costs two allocations
 * (the values and the decoded strings), whatever its shape.
 *
 * It accepts exactly the documents json_loadb(..., JSON_REJECT_DUPLICATES)
 * accepts, which is what the payloads were read with before: an object or
 * array at the top, well-formed UTF-8, no "\u0000" and no lone surrogate,
 * integers that fit in 64 bits, reals that do not overflow, no duplicate
 * key in an object, and at most JDOC_MAX_DEPTH values nested. The fuzz
 * target fuzz_jdoc holds it to that, value for value.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "webhooks.h"

#define JDOC_MAX_DEPTH 2048 /* jansson's: values (scalars too) nested */
#define SMALL_OBJECT 8      /* members compared pairwise up to this many */

struct jparse {
	const unsigned char *p, *end, *begin;
	struct jdoc *d;
	char *out;                      /* next free byte of d->text */
	unsigned depth;
	const char *why;                /* static */
	const unsigned char *at;        /* where it went wrong */
	const struct jval **keys;       /* owned; scratch for large objects */
	size_t nkeys_cap;
};

static int fail(struct jparse *ps, const unsigned char *at, const char *why)
{
	ps->why = why;
	ps->at = at;
	return -1;
}

static void skip_space(struct jparse *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool is_digit(const struct jparse *ps)
{
	return ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9';
}

/* A new value of type t at the end of the array; its index. */
static size_t add_value(struct jparse *ps, uint8_t t)
{
	struct jdoc *d = ps->d;
	struct jval *v;

	if (d->nvals == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 64;
		d->vals = xrealloc(d->vals, d->cap * sizeof(*d->vals));
	}
	v = &d->vals[d->nvals];
	memset(v, 0, sizeof(*v));
	v->type = t;
	v->span = 1;
	return d->nvals++;
}

/* Four hex digits after "\u", as a code unit, or -1. */
static long hex4(const unsigned char *p, const unsigned char *end)
{
	long v = 0;
	int i, d;

	if (end - p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		if ((d = strnum_hex_digit((char)p[i])) < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

static void put_utf8(struct jparse *ps, unsigned long cp)
{
	char *o = ps->out;

	if (cp < 0x80) {
		*o++ = (char)cp;
	} else if (cp < 0x800) {
		*o++ = (char)(0xc0 | cp >> 6);
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*o++ = (char)(0xe0 | cp >> 12);
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*o++ = (char)(0xf0 | cp >> 18);
		*o++ = (char)(0x80 | (cp >> 12 & 0x3f));
		*o++ = (char)(0x80 | (cp >> 6 & 0x3f));
		*o++ = (char)(0x80 | (cp & 0x3f));
	}
	ps->out = o;
}

/* The escape after a backslash (ps->p is on the letter), decoded. */
static int parse_escape(struct jparse *ps)
{
	static const char plain[] = "\"\\/bfnrt", meant[] = "\"\\/\b\f\n\r\t";
	const unsigned char *at = ps->p - 1;
	const char *k;
	long cp, lo;

	if (ps->p == ps->end)
		return fail(ps, at, "unterminated string");
	if (*ps->p != 'u') {
		k = *ps->p ? strchr(plain, *ps->p) : NULL;
		if (k == NULL)
			return fail(ps, at, "invalid escape");
		*ps->out++ = meant[k - plain];
		ps->p++;
		return 0;
	}
	if ((cp = hex4(ps->p + 1, ps->end)) < 0)
		return fail(ps, at, "invalid \\u escape");
	ps->p += 5;
	if (cp >= 0xdc00 && cp <= 0xdfff)
		return fail(ps, at, "lone UTF-16 surrogate");
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (ps->end - ps->p < 2 || ps->p[0] != '\\' ||
		    ps->p[1] != 'u' ||
		    (lo = hex4(ps->p + 2, ps->end)) < 0xdc00 || lo > 0xdfff)
			return fail(ps, at, "lone UTF-16 surrogate");
		ps->p += 6;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp == 0)
		return fail(ps, at, "\\u0000 in a string");
	put_utf8(ps, (unsigned long)cp);
	return 0;
}

/* A string (ps->p on its opening quote) into a new value; its index. */
static int parse_string(struct jparse *ps, size_t *idx)
{
	const unsigned char *open = ps->p++;
	char *start = ps->out;
	struct jval *v;
	size_t n;

	for (;;) {
		const unsigned char *run = ps->p;

		while (ps->p < ps->end && *ps->p >= 0x20 && *ps->p < 0x80 &&
		       *ps->p != '"' && *ps->p != '\\')
			ps->p++;
		memcpy(ps->out, run, (size_t)(ps->p - run));
		ps->out += ps->p - run;
		if (ps->p == ps->end)
			return fail(ps, open, "unterminated string");
		if (*ps->p == '"')
			break;
		if (*ps->p == '\\') {
			ps->p++;
			if (parse_escape(ps) != 0)
				return -1;
		} else if (*ps->p < 0x20) {
			return fail(ps, ps->p, "control character in a string");
		} else if ((n = utf8_seq_len(ps->p, (size_t)(ps->end - ps->p)))
			   == 0) {
			return fail(ps, ps->p, "invalid UTF-8");
		} else {
			memcpy(ps->out, ps->p, n);
			ps->out += n;
			ps->p += n;
		}
	}
	ps->p++;
	*ps->out++ = '\0';
	*idx = add_value(ps, JVAL_STRING);
	v = &ps->d->vals[*idx];
	v->s = start;
	v->n = (uint32_t)(ps->out - 1 - start);
	return 0;
}

/* Whether the digits at (s, n) exceed those of limit, of the same kind
 * (no leading zeros). */
static bool digits_over(const unsigned char *s, size_t n, const char *limit)
{
	size_t ln = strlen(limit);

	return n != ln ? n > ln : memcmp(s, limit, n) > 0;
}

static int parse_number(struct jparse *ps)
{
	const unsigned char *start = ps->p, *digits;
	bool real = false, neg = false;
	struct jval *v;
	size_t idx;

	if (*ps->p == '-') {
		neg = true;
		ps->p++;
	}
	digits = ps->p;
	if (!is_digit(ps))
		return fail(ps, start, "malformed number");
	if (*ps->p++ == '0') {
		if (is_digit(ps))
			return fail(ps, start, "number with a leading zero");
	} else {
		while (is_digit(ps))
			ps->p++;
	}
	if (ps->p < ps->end && *ps->p == '.') {
		real = true;
		ps->p++;
		if (!is_digit(ps))
			return fail(ps, start, "malformed number");
		while (is_digit(ps))
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		real = true;
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (!is_digit(ps))
			return fail(ps, start, "malformed number");
		while (is_digit(ps))
			ps->p++;
	}
	if (!real && digits_over(digits, (size_t)(ps->p - digits),
				 neg ? "9223372036854775808"
				     : "9223372036854775807"))
		return fail(ps, start, "integer out of range");
	if (real) {
		/* strtod wants a terminated copy: the free part of the text
		 * buffer always has room for the rest of the input. */
		size_t n = (size_t)(ps->p - start);
		double x;

		memcpy(ps->out, start, n);
		ps->out[n] = '\0';
		errno = 0;
		x = strtod(ps->out, NULL);
		if (errno == ERANGE && isinf(x))
			return fail(ps, start, "number out of range");
	}
	idx = add_value(ps, real ? JVAL_REAL : JVAL_INTEGER);
	v = &ps->d->vals[idx];
	v->s = (const char *)start;
	v->n = (uint32_t)(ps->p - start);
	return 0;
}

static int parse_literal(struct jparse *ps)
{
	static const struct {
		const char *word;
		uint8_t type;
	} words[] = {{"true", JVAL_TRUE}, {"false", JVAL_FALSE},
		     {"null", JVAL_NULL}};
	size_t i, n;

	for (i = 0; i < BERTH_ARRAY_LEN(words); i++) {
		n = strlen(words[i].word);
		if ((size_t)(ps->end - ps->p) >= n &&
		    memcmp(ps->p, words[i].word, n) == 0) {
			ps->p += n;
			add_value(ps, words[i].type);
			return 0;
		}
	}
	return fail(ps, ps->p, "invalid token");
}

static int key_cmp(const void *a, const void *b)
{
	const struct jval *x = *(const struct jval *const *)a;
	const struct jval *y = *(const struct jval *const *)b;

	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	return memcmp(x->s, y->s, x->n);
}

/* Whether the object at obj has two equal keys: pairwise when small,
 * else sorted, so that a hostile object costs n log n, not n². */
static bool has_duplicate(struct jparse *ps, const struct jval *obj)
{
	const struct jval *k = obj + 1;
	size_t i, j, n = obj->n;

	if (n > ps->nkeys_cap) {
		ps->nkeys_cap = n > SMALL_OBJECT ? n : SMALL_OBJECT;
		ps->keys = xrealloc(ps->keys,
				    ps->nkeys_cap * sizeof(*ps->keys));
	}
	for (i = 0; i < n; i++) {
		ps->keys[i] = k;
		k = jval_next(k + 1);
	}
	if (n <= SMALL_OBJECT) {
		for (i = 0; i < n; i++)
			for (j = i + 1; j < n; j++)
				if (key_cmp(&ps->keys[i], &ps->keys[j]) == 0)
					return true;
		return false;
	}
	qsort(ps->keys, n, sizeof(*ps->keys), key_cmp);
	for (i = 1; i < n; i++)
		if (key_cmp(&ps->keys[i - 1], &ps->keys[i]) == 0)
			return true;
	return false;
}

static int parse_value(struct jparse *ps);

/* An array or object (ps->p on its opening bracket). */
static int parse_container(struct jparse *ps)
{
	const unsigned char *open = ps->p;
	bool object = *ps->p == '{';
	char close = object ? '}' : ']';
	size_t idx = add_value(ps, object ? JVAL_OBJECT : JVAL_ARRAY), key;
	uint32_t count = 0;

	ps->p++;
	skip_space(ps);
	if (ps->p < ps->end && *ps->p == close) {
		ps->p++;
		return 0;
	}
	for (;;) {
		if (object) {
			if (ps->p == ps->end || *ps->p != '"')
				return fail(ps, ps->p, "expected a string key");
			if (parse_string(ps, &key) != 0)
				return -1;
			skip_space(ps);
			if (ps->p == ps->end || *ps->p != ':')
				return fail(ps, ps->p, "expected ':'");
			ps->p++;
			skip_space(ps);
		}
		if (parse_value(ps) != 0)
			return -1;
		count++;
		skip_space(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			skip_space(ps);
			continue;
		}
		if (ps->p < ps->end && *ps->p == close)
			break;
		return fail(ps, ps->p, object ? "expected ',' or '}'"
					      : "expected ',' or ']'");
	}
	ps->p++;
	ps->d->vals[idx].n = count;
	ps->d->vals[idx].span = (uint32_t)(ps->d->nvals - idx);
	if (object && has_duplicate(ps, &ps->d->vals[idx]))
		return fail(ps, open, "duplicate key in an object");
	return 0;
}

/* One value (ps->p on its first byte). */
static int parse_value(struct jparse *ps)
{
	size_t idx;
	int rc;

	if (++ps->depth > JDOC_MAX_DEPTH)
		return fail(ps, ps->p, "values nested too deep");
	if (ps->p == ps->end)
		return fail(ps, ps->p, "unexpected end of input");
	switch (*ps->p) {
	case '{':
	case '[':
		rc = parse_container(ps);
		break;
	case '"':
		rc = parse_string(ps, &idx);
		break;
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		rc = parse_number(ps);
		break;
	default:
		rc = parse_literal(ps);
		break;
	}
	ps->depth--;
	return rc;
}

/* Line and column (both from 1, the column in characters) of at. */
static void position(const struct jparse *ps, const unsigned char *at,
		     size_t *line, size_t *col)
{
	const unsigned char *p;

	*line = 1;
	*col = 1;
	for (p = ps->begin; p < at && p < ps->end; p++) {
		if (*p == '\n') {
			++*line;
			*col = 1;
		} else if ((*p & 0xc0) != 0x80) {
			++*col;
		}
	}
}

int jdoc_parse(struct jdoc *d, const char *data, size_t len,
	       struct berr *err)
{
	struct jparse ps;
	size_t line, col;
	int rc = -1;

	memset(d, 0, sizeof(*d));
	memset(&ps, 0, sizeof(ps));
	if (len >= UINT32_MAX)
		return berr_set(err, "JSON text over 4 GiB");
	ps.begin = ps.p = (const unsigned char *)data;
	ps.end = ps.p + len;
	ps.d = d;
	/* Decoded strings never outgrow their source text: quotes and
	 * escapes are always longer than what they stand for. */
	d->text = xmalloc(len + 1);
	ps.out = d->text;
	skip_space(&ps);
	if (ps.p == ps.end || (*ps.p != '{' && *ps.p != '['))
		fail(&ps, ps.p, "expected '{' or '['");
	else if (parse_value(&ps) == 0) {
		skip_space(&ps);
		if (ps.p == ps.end)
			rc = 0;
		else
			fail(&ps, ps.p, "unexpected text after the end");
	}
	free(ps.keys);
	if (rc == 0)
		return 0;
	position(&ps, ps.at, &line, &col);
	jdoc_release(d);
	return berr_set(err, "%s at line %zu, column %zu", ps.why, line, col);
}

void jdoc_release(struct jdoc *d)
{
	free(d->vals);
	free(d->text);
	memset(d, 0, sizeof(*d));
}

const struct jval *jval_member(const struct jval *obj, const char *key,
			       size_t n)
{
	const struct jval *k;
	uint32_t i;

	if (obj == NULL || obj->type != JVAL_OBJECT)
		return NULL;
	for (i = 0, k = obj + 1; i < obj->n; i++, k = jval_next(k + 1))
		if (k->n == n && memcmp(k->s, key, n) == 0)
			return k + 1;
	return NULL;
}

const struct jval *jval_path(const struct jval *v, const char *path)
{
	while (v != NULL) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);

		v = jval_member(v, path, n);
		if (dot == NULL)
			return v;
		path = dot + 1;
	}
	return NULL;
}
