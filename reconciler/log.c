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

/* Held lines are written together, in writes that end on a line boundary
 * and stay within PIPE_BUF, so that they cannot interleave with another
 * process's lines on a shared pipe. */
#define HELD_MAX 4096

static struct {
	enum log_level level;
	bool json;
	int hold;               /* log_hold() depth */
	size_t held_len;
	char held[HELD_MAX];
} logger = {LOG_INFO, false, 0, 0, {0}};

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
	buf_putc(b, ' ');
	buf_puts(b, key);
	buf_putc(b, '=');
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

static void write_stderr(const char *p, size_t n)
{
	if (write(STDERR_FILENO, p, n) < 0) {
		/* Nowhere left to report it. */
	}
}

static void flush_held(void)
{
	if (logger.held_len > 0)
		write_stderr(logger.held, logger.held_len);
	logger.held_len = 0;
}

void log_hold(void)
{
	logger.hold++;
}

void log_release(void)
{
	if (logger.hold > 0 && --logger.hold == 0)
		flush_held();
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
	buf_puts(&line, "ts=");
	buf_puts(&line, ts);
	buf_puts(&line, " level=");
	buf_puts(&line, level_names[level]);
	buf_putc(&line, ' ');
	va_start(ap, fmt);
	buf_vprintf(&line, fmt, ap);
	va_end(ap);
	for (i = 0; i < line.len; i++)
		if ((unsigned char)line.data[i] < 0x20 && line.data[i] != '\t')
			line.data[i] = '?';
	buf_putc(&line, '\n');
	/* Whole lines per write, so lines from several processes do not
	 * interleave. */
	if (logger.hold > 0 && line.len <= HELD_MAX) {
		if (logger.held_len + line.len > HELD_MAX)
			flush_held();
		memcpy(logger.held + logger.held_len, line.data, line.len);
		logger.held_len += line.len;
	} else {
		flush_held();
		write_stderr(buf_str(&line), line.len);
	}
	buf_release(&line);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	flush_held();
	fputs("berth: fatal: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}
