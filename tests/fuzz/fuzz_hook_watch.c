/*
 * fuzz_hook_watch.c — watch_update() over successive looks at a record
 * whose step output is arbitrary bytes (what a build of the pushed commit
 * prints reaches the pusher this way). The input is split at NUL bytes into
 * the tails of successive looks; a chunk's first byte picks the step (odd:
 * build, else deploy) and whether it has ended (bit 1), an empty chunk
 * starts another record. Nothing may crash, leak or read out of bounds; the
 * output goes to /dev/null.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hooks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct deployment d;
	struct watch w;
	int saved, null_fd;

	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	null_fd = open("/dev/null", O_WRONLY);
	if (saved < 0 || null_fd < 0 || dup2(null_fd, STDOUT_FILENO) < 0)
		abort();
	close(null_fd);
	deployment_init(&d);
	watch_init(&w);
	d.id = 1;
	while (p < end) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		size_t len = nul != NULL ? (size_t)(nul - p) : (size_t)(end - p);
		struct step_record *s;
		char *tail = xmalloc(len + 1);

		memcpy(tail, p, len);
		tail[len] = '\0';
		if (len == 0)
			d.id++;
		s = deployment_step(&d, len > 0 && (p[0] & 1) ? "build"
		                                                : "deploy");
		s->status = len > 0 && (p[0] & 2) ? STEP_OK : STEP_RUNNING;
		s->started_ms = 1;
		s->finished_ms = s->status == STEP_OK ? 2 : 0;
		deployment_set(&s->output_tail, tail);
		free(tail);
		watch_update(&w, &d);
		p += len + (nul != NULL);
	}
	watch_release(&w);
	deployment_release(&d);
	fflush(stdout);
	if (dup2(saved, STDOUT_FILENO) < 0)
		abort();
	close(saved);
	return 0;
}
