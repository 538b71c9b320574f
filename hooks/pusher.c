/*
 * pusher.c — what the person running `git push` reads. git relays a
 * hook's stdout and stderr to them as "remote: ..." lines; everything berth
 * says there goes through here, one flushed line at a time, so that lines
 * arrive as they happen and never interleave in the middle.
 */
#include <stdarg.h>
#include <stdio.h>

#include "hooks.h"

void pusher_say(const char *fmt, ...)
{
	va_list ap;

	fputs("berth: ", stdout);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	clearerr(stdout);
}

void pusher_line(const char *line, size_t len)
{
	fwrite(line, 1, len, stdout);
	fputc('\n', stdout);
	fflush(stdout);
	clearerr(stdout);
}

void pusher_on_line(const char *line, size_t len, void *arg)
{
	const char *prefix = arg;

	if (prefix != NULL)
		fputs(prefix, stdout);
	pusher_line(line, len);
}

void pusher_list(const struct merrs *errs)
{
	size_t i;

	for (i = 0; i < errs->n; i++)
		printf("  %s\n", errs->items[i]);
	fflush(stdout);
	clearerr(stdout);
}
