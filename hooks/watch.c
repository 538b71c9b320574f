/*
 * watch.c — a deployment that `berth serve` runs, shown to the pusher from
 * its record. The daemon keeps a deployment's output for its own log; what
 * another process can see of it is the journal record (docs/state.md),
 * rewritten before and after every step and, while a step prints, about
 * once a second with the step's output tail. Each look at the record prints
 * what is new since the previous look, in the format `berth apply` prints
 * on a terminal, so that a push looks the same with or without the daemon.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hooks.h"

/* The numbered steps of SPEC §5, in order; any other (the rollback) has no
 * number. */
static const char *const step_names[] = {
	"lock",  "validate", "backup",  "fetch",  "build",  "migrate",
	"deploy", "smoke",   "cleanup", "notify", "unlock",
};

static int step_number(const char *name)
{
	size_t i;

	for (i = 0; i < BERTH_ARRAY_LEN(step_names); i++)
		if (strcmp(step_names[i], name) == 0)
			return (int)i + 1;
	return 0;
}

/* "[5/11] build" or "[rollback]" into out. */
static void step_label(char *out, size_t size, const char *name)
{
	int n = step_number(name);

	if (n > 0)
		snprintf(out, size, "[%d/%d] %s", n, PIPELINE_STEPS, name);
	else
		snprintf(out, size, "[%s]", name);
}

void watch_init(struct watch *w)
{
	memset(w, 0, sizeof(*w));
}

void watch_release(struct watch *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n; i++)
		buf_release(&w->steps[i].out);
	free(w->steps);
	memset(w, 0, sizeof(*w));
}

static void step_reset(struct watch_step *ws)
{
	ws->header = false;
	ws->ended = false;
	buf_reset(&ws->out);
}

/* Prints each line of text (whole lines, each ending in "\n"),
 * indented as `berth apply` indents a step's output. */
static void print_lines(const char *text, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(text, '\n', len);
		size_t n = nl != NULL ? (size_t)(nl - text) : len;
		char line[8192];

		snprintf(line, sizeof(line), "    %.*s", (int)n, text);
		pusher_line(line, strlen(line));
		if (nl == NULL)
			break;
		len -= n + 1;
		text += n + 1;
	}
}

/*
 * Where the lines of tail that were not printed yet begin, given printed,
 * what the step's tail was when it was last printed. The record keeps only
 * the end of the output, so the new tail is the end of the old one followed
 * by the new lines: the new lines begin after the longest beginning of tail
 * that is also the end of printed. Such an overlap ends with the last line
 * printed, so only the places where that line occurs are tried. *gap is set
 * when there is none (lines were lost between two looks).
 */
static size_t unseen_from(bool *gap, const struct buf *printed,
                          const char *tail, size_t len)
{
	const char *last, *p, *end = tail + len;
	size_t llen, best = 0;

	*gap = false;
	if (printed->len == 0)
		return 0;
	if (printed->len <= len && memcmp(printed->data, tail, printed->len) == 0)
		return printed->len;
	/* The last printed line, its "\n" included. */
	last = printed->data + printed->len - 1;
	while (last > printed->data && last[-1] != '\n')
		last--;
	llen = (size_t)(printed->data + printed->len - last);
	for (p = tail; p + llen <= end; p++) {
		size_t k;

		p = memmem(p, (size_t)(end - p), last, llen);
		if (p == NULL)
			break;
		k = (size_t)(p - tail) + llen;
		if (k <= printed->len &&
		    memcmp(tail, printed->data + printed->len - k, k) == 0)
			best = k;
	}
	if (best == 0)
		*gap = true;
	return best;
}

/* Prints the output of step s that ws has not printed yet. */
static void step_output(struct watch_step *ws, const struct step_record *s,
                        const char *label)
{
	const char *tail = s->output_tail != NULL ? s->output_tail : "";
	size_t len = strlen(tail), from;
	bool gap;

	/* Only whole lines: a line is in the tail with its "\n". */
	while (len > 0 && tail[len - 1] != '\n')
		len--;
	from = unseen_from(&gap, &ws->out, tail, len);
	if (from >= len)
		return;
	if (!ws->header) {
		pusher_line(label, strlen(label));
		ws->header = true;
	}
	if (gap)
		pusher_line("    …", strlen("    …"));
	print_lines(tail + from, len - from);
	buf_reset(&ws->out);
	buf_append(&ws->out, tail, len);
}

static void step_end(const struct step_record *s, const char *label)
{
	const char *how = s->status == STEP_FAILED    ? "failed: "
	                  : s->status == STEP_SKIPPED ? "skipped: "
	                                              : "";
	double secs = s->finished_ms > s->started_ms && s->started_ms > 0
	                  ? (double)(s->finished_ms - s->started_ms) / 1000.0
	                  : 0.0;
	char line[8192];

	snprintf(line, sizeof(line), "%s … %s%s %.1f s", label, how,
	         s->detail != NULL ? s->detail : "", secs);
	pusher_line(line, strlen(line));
}

void watch_update(struct watch *w, const struct deployment *d)
{
	size_t i;

	if (w->id != d->id) {
		watch_release(w);
		w->id = d->id;
	}
	if (w->n < d->nsteps) {
		w->steps = xrealloc(w->steps, d->nsteps * sizeof(*w->steps));
		for (i = w->n; i < d->nsteps; i++) {
			memset(&w->steps[i], 0, sizeof(w->steps[i]));
			buf_init(&w->steps[i].out, 0);
		}
		w->n = d->nsteps;
	}
	for (i = 0; i < d->nsteps; i++) {
		const struct step_record *s = &d->steps[i];
		struct watch_step *ws = &w->steps[i];
		bool ended = s->status == STEP_OK || s->status == STEP_FAILED ||
		             s->status == STEP_SKIPPED;
		char label[96];

		if (s->status == STEP_PENDING)
			continue;
		/* A step begun again starts over. */
		if (ws->ended && !ended)
			step_reset(ws);
		if (ws->ended)
			continue;
		step_label(label, sizeof(label), s->name);
		if (!ws->header && !ended) {
			pusher_line(label, strlen(label));
			ws->header = true;
		}
		step_output(ws, s, label);
		if (ended) {
			step_end(s, label);
			ws->ended = true;
		}
	}
}
