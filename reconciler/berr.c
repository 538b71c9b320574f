/*
 * berr.c — error detail passed from callee to caller.
 */
#include <stdio.h>
#include <string.h>

#include "berth.h"

static void mark_truncated(struct berr *err, int n)
{
	if (n >= (int)sizeof(err->msg))
		memcpy(err->msg + sizeof(err->msg) - 4, "...", 4);
}

int berr_set(struct berr *err, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		err->msg[0] = '\0';
	mark_truncated(err, n);
	return -1;
}

int berr_errno(struct berr *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	int n;
	size_t len;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (n < 0) {
		err->msg[0] = '\0';
		n = 0;
	}
	len = strlen(err->msg);
	if (len < sizeof(err->msg) - 1)
		n = (int)len + snprintf(err->msg + len, sizeof(err->msg) - len,
					": %s", strerror(errnum));
	mark_truncated(err, n);
	return -1;
}

int berr_prefix(struct berr *err, const char *fmt, ...)
{
	char prefix[sizeof(err->msg)];
	char old[sizeof(err->msg)];
	va_list ap;
	int n;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	if (n < 0)
		prefix[0] = '\0';
	memcpy(old, err->msg, sizeof(old));
	n = snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	mark_truncated(err, n);
	return -1;
}
