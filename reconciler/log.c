/*
 * log.c — key=value logs on stderr, one line per event.
 *
 * Callers format the fields themselves ("msg=\"deploy started\" env=production")
 * and use log_kv() for values that came from outside, which quotes them. Every
 * control character is replaced before the line is written, so nothing a peer
 * sends can forge a log line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "berth.h"

static struct {
	enum log_level level;
	bool json;
} logger = {LOG_INFO, false};

static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
	logger.level = level;
}

void log_set_json(bool on)
{
	logger.json = on;
}

static bool needs_quotes(const char *v)
{
	if (*v == '\0')
		return true;
	for (; *v; v++)
		if (*v == ' ' || *v == '"' || *v == '=' || *v == '\\' ||
		    (unsigned char)*v < 0x20)
			return true;
	return false;
}

void log_kv(struct buf *b, const char *key, const char *value)
{
	const char *v;

	if (value == NULL)
		value = "";
	buf_printf(b, " %s=", key);
	if (!needs_quotes(value)) {
		buf_puts(b, value);
		return;
	}
	buf_putc(b, '"');
	for (v = value; *v; v++) {
		if (*v == '"' || *v == '\\')
			buf_putc(b, '\\');
		buf_putc(b, *v);
	}
	buf_putc(b, '"');
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	struct buf line;
	char ts[32];
	va_list ap;
	size_t i;

	if (level < logger.level)
		return;
	buf_init(&line, 16384);
	strnum_iso8601(ts, strnum_now_ms() / 1000);
	buf_printf(&line, "ts=%s level=%s ", ts, level_names[level]);
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	for (i = 0; i < line.len; i++)
		if ((unsigned char)line.data[i] < 0x20 && line.data[i] != '\t')
			line.data[i] = '?';
	buf_putc(&line, '\n');
	/* One write per line so lines from several processes do not interleave. */
	if (write(STDERR_FILENO, buf_str(&line), line.len) < 0) {
		/* Nowhere left to report it. */
	}
	buf_release(&line);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	fputs("berth: fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}
