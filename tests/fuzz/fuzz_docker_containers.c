/*
 * fuzz_docker_containers.c — the parsers of the Docker Engine API's answers
 * (docker.c) on arbitrary bytes. The first byte says which: 'L' the
 * container list, 'I' one container's inspect answer, 'G' the image list,
 * 'D' a multiplexed log stream. Whatever they are given, entries keep the
 * invariants the compose driver relies on: an id of hex digits, a state,
 * ports in range, a health verdict only with a known name, output on one
 * line, the spec of what it runs the same as itself and its diff one line;
 * and the log payloads never exceed the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

static void must(bool ok)
{
	if (!ok)
		abort();
}

static void check_container(const struct docker_container *c)
{
	size_t i;

	must(c->id != NULL && c->id[0] != '\0' &&
	     strspn(c->id, "0123456789abcdef") == strlen(c->id));
	must(c->name != NULL && c->state != NULL);
	must(c->nports == 0 || c->ports != NULL);
	for (i = 0; i < c->nports; i++)
		must(c->ports[i] > 0 && c->ports[i] < 65536);
	must(c->health == NULL || c->health[0] != '\0');
	must(c->health_output == NULL ||
	     strchr(c->health_output, '\n') == NULL);
	must(!c->running || c->pid >= 0);
}

/* The value of the first "Id":"..." in text, or "0": new. */
static char *first_id(const char *text, size_t len)
{
	const char *key = "\"Id\":\"", *p = memmem(text, len, key, 6), *q;

	if (p == NULL)
		return strdup("0");
	p += 6;
	q = memchr(p, '"', len - (size_t)(p - text));
	return q ? strndup(p, (size_t)(q - p)) : strdup("0");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data + 1;
	struct docker_container *list = NULL, one;
	struct strv tags = {0};
	struct berr err;
	struct buf out;
	size_t i, n = 0, len;

	if (size == 0)
		return 0;
	len = size - 1;
	switch (data[0]) {
	case 'L':
		if (docker_parse_list(&list, &n, text, len, &err) == 0)
			for (i = 0; i < n; i++)
				check_container(&list[i]);
		docker_containers_free(list, n);
		break;
	case 'I':
		memset(&one, 0, sizeof(one));
		one.id = first_id(text, len);
		one.name = strdup("fuzz");
		one.state = strdup("unknown");
		if (docker_parse_inspect(&one, text, len, &err) == 0 &&
		    strspn(one.id, "0123456789abcdef") == strlen(one.id) &&
		    one.id[0] != '\0') {
			char *d = docker_spec_diff(NULL, one.spec);

			check_container(&one);
			/* A spec is the same as itself; a diff is a line. */
			must(docker_spec_diff(one.spec, one.spec) == NULL);
			must(d == NULL || strchr(d, '\n') == NULL);
			free(d);
		}
		docker_container_release(&one);
		break;
	case 'G':
		if (docker_parse_image_tags(&tags, text, len, "berth.invalid/",
		                            &err) == 0)
			for (i = 0; i < tags.n; i++)
				must(strncmp(tags.v[i], "berth.invalid/", 14) ==
				     0);
		strv_release(&tags);
		break;
	case 'D':
		buf_init(&out, 0);
		docker_demux_logs(&out, text, len);
		must(out.len <= len);
		buf_release(&out);
		break;
	default:
		break;
	}
	return 0;
}
