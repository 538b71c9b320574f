/*
 * fuzz_jdoc.c — jdoc_parse() against jansson on arbitrary bytes: both
 * accept the same documents (jansson with JSON_REJECT_DUPLICATES, as the
 * payloads were read before), and what they read is the same, value for
 * value: types, string bytes, numbers, every member and element.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "webhooks.h"

static void must(bool ok)
{
	if (!ok)
		abort();
}

static void same(const struct jval *v, const json_t *j)
{
	const struct jval *c;
	char *text;
	uint32_t i;

	switch (v->type) {
	case JVAL_NULL:
		must(json_is_null(j));
		break;
	case JVAL_TRUE:
		must(json_is_true(j));
		break;
	case JVAL_FALSE:
		must(json_is_false(j));
		break;
	case JVAL_INTEGER:
		must(json_is_integer(j));
		text = xstrndup(v->s, v->n);
		must(strtoll(text, NULL, 10) == json_integer_value(j));
		free(text);
		break;
	case JVAL_REAL:
		must(json_is_real(j));
		text = xstrndup(v->s, v->n);
		must(strtod(text, NULL) == json_real_value(j));
		free(text);
		break;
	case JVAL_STRING:
		must(json_is_string(j) && json_string_length(j) == v->n &&
		     memcmp(json_string_value(j), v->s, v->n) == 0 &&
		     v->s[v->n] == '\0');
		break;
	case JVAL_ARRAY:
		must(json_is_array(j) && json_array_size(j) == v->n);
		for (i = 0, c = v + 1; i < v->n; i++, c = jval_next(c))
			same(c, json_array_get(j, i));
		must(c == jval_next(v));
		break;
	case JVAL_OBJECT:
		must(json_is_object(j) && json_object_size(j) == v->n);
		for (i = 0, c = v + 1; i < v->n; i++, c = jval_next(c + 1)) {
			must(c->type == JVAL_STRING);
			must(jval_member(v, c->s, c->n) == c + 1);
			same(c + 1, json_object_getn(j, c->s, c->n));
		}
		must(c == jval_next(v));
		break;
	default:
		must(false);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_error_t jerr;
	json_t *j = NULL;
	struct berr err = {{0}};
	struct jdoc d;
	int rc = jdoc_parse(&d, (const char *)data, size, &err);

	if (memchr(data, '\0', size) != NULL) {
		must(rc != 0);
		return 0;
	}
	j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	must((rc == 0) == (j != NULL));
	if (rc == 0) {
		must(d.vals[0].span == d.nvals);
		same(d.vals, j);
	} else {
		must(d.vals == NULL && d.text == NULL);
		must(strstr(err.msg, " at line ") != NULL);
	}
	jdoc_release(&d);
	json_decref(j);
	return 0;
}
