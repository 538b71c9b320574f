/*
 * sqlscan.c — finds where the statements of a SQL text begin and end, the
 * way psql does before it sends them. The migration runner sends a whole file
 * as one query and lets the server parse it; this scan only serves to name
 * the line of the statement that failed and to look at each statement's
 * first words. It never rejects anything: the server is the judge of syntax.
 *
 * Lexical rules followed (PostgreSQL's): '…' strings with '' inside, E'…'
 * strings with backslash escapes, "…" identifiers, $tag$…$tag$ dollar
 * quotes, -- comments to the end of the line, nested block comments.
 * A ';' ends a statement outside parentheses and outside the BEGIN … END
 * body of a CREATE [OR REPLACE] FUNCTION/PROCEDURE (BEGIN ATOMIC; a CASE
 * inside such a body also ends with END).
 */
#include <stdlib.h>
#include <string.h>

#include "berth.h"

struct scan {
	const char *s;
	size_t len, pos;
	unsigned line;            /* line of s[pos] */
	struct sqlscan_stmt *out; /* owned until returned */
	size_t n, cap;
	bool in_stmt;    /* a token of the current statement seen */
	bool words_done; /* a non-word token ended words[] */
	size_t nwords;
	long parens;
	long begins; /* BEGIN/CASE … END depth in a routine */
};

static bool is_word_start(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       ch == '_' || ch >= 0x80;
}

static bool is_word_char(unsigned char ch)
{
	return is_word_start(ch) || (ch >= '0' && ch <= '9') || ch == '$';
}

static bool is_space(unsigned char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
	       ch == '\f' || ch == '\v';
}

/* Moves to s[to], counting the newlines passed. */
static void advance(struct scan *sc, size_t to)
{
	if (to > sc->len)
		to = sc->len;
	for (; sc->pos < to; sc->pos++)
		if (sc->s[sc->pos] == '\n')
			sc->line++;
}

/* Opens a statement at the current position if none is open. */
static void token(struct scan *sc)
{
	struct sqlscan_stmt *st;

	if (sc->in_stmt)
		return;
	if (sc->n == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 16;
		sc->out = xrealloc(sc->out, sc->cap * sizeof(*sc->out));
	}
	st = &sc->out[sc->n++];
	memset(st, 0, sizeof(*st));
	st->offset = sc->pos;
	st->line = sc->line;
	sc->in_stmt = true;
	sc->words_done = false;
	sc->nwords = 0;
	sc->parens = 0;
	sc->begins = 0;
}

static void end_stmt(struct scan *sc, size_t end)
{
	if (!sc->in_stmt)
		return;
	sc->out[sc->n - 1].end = end;
	sc->in_stmt = false;
}

static bool word_is(const struct sqlscan_stmt *st, size_t i, const char *w)
{
	return strcmp(st->words[i], w) == 0;
}

static bool is_routine(const struct sqlscan_stmt *st)
{
	size_t k = 1;

	if (!word_is(st, 0, "create"))
		return false;
	if (word_is(st, 1, "or") && word_is(st, 2, "replace"))
		k = 3;
	return word_is(st, k, "function") || word_is(st, k, "procedure");
}

/* A bare word (keyword or identifier) of length n at the current position. */
static void word(struct scan *sc, size_t n)
{
	struct sqlscan_stmt *st;
	char w[sizeof(st->words[0])];
	size_t i, wl = n < sizeof(w) - 1 ? n : sizeof(w) - 1;

	token(sc);
	st = &sc->out[sc->n - 1];
	for (i = 0; i < wl; i++) {
		char ch = sc->s[sc->pos + i];

		w[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
	}
	w[wl] = '\0';
	if (!sc->words_done && sc->nwords < BERTH_ARRAY_LEN(st->words))
		memcpy(st->words[sc->nwords++], w, wl + 1);
	if (sc->parens == 0 && is_routine(st)) {
		if (strcmp(w, "begin") == 0)
			sc->begins++;
		else if (strcmp(w, "case") == 0 && sc->begins > 0)
			sc->begins++;
		else if (strcmp(w, "end") == 0 && sc->begins > 0)
			sc->begins--;
	}
	advance(sc, sc->pos + n);
}

/* Any other token: it ends the run of leading words. */
static void other(struct scan *sc, size_t n)
{
	token(sc);
	sc->words_done = true;
	advance(sc, sc->pos + n);
}

/* End (one past the closing quote) of the quoted text whose opening quote q
 * ('\'' or '"') is at s[at]; doubled quotes stay inside; the text's end when
 * unclosed. */
static size_t quoted_end(const struct scan *sc, size_t at, char q,
                         bool backslash)
{
	size_t i = at + 1;

	while (i < sc->len) {
		if (backslash && sc->s[i] == '\\') {
			i += 2;
			continue;
		}
		if (sc->s[i] == q) {
			if (i + 1 < sc->len && sc->s[i + 1] == q) {
				i += 2;
				continue;
			}
			return i + 1;
		}
		i++;
	}
	return sc->len;
}

/* Length of the dollar quote opening at pos ($$ or $tag$) through its
 * closing delimiter; 0 when pos does not open one. */
static size_t dollar_len(const struct scan *sc)
{
	size_t i = sc->pos + 1, dl, j;

	if (i < sc->len && is_word_start((unsigned char)sc->s[i]))
		while (i < sc->len && is_word_char((unsigned char)sc->s[i]) &&
		       sc->s[i] != '$')
			i++;
	if (i >= sc->len || sc->s[i] != '$')
		return 0;
	dl = i + 1 - sc->pos; /* the delimiter "$tag$" */
	for (j = i + 1; j + dl <= sc->len; j++)
		if (sc->s[j] == '$' &&
		    memcmp(sc->s + j, sc->s + sc->pos, dl) == 0)
			return j + dl - sc->pos;
	return sc->len - sc->pos;
}

/* Length of the block comment at pos, nesting included. */
static size_t comment_len(const struct scan *sc)
{
	size_t i = sc->pos + 2;
	long depth = 1;

	while (i < sc->len && depth > 0) {
		if (i + 1 < sc->len && sc->s[i] == '/' && sc->s[i + 1] == '*') {
			depth++;
			i += 2;
		} else if (i + 1 < sc->len && sc->s[i] == '*' &&
		           sc->s[i + 1] == '/') {
			depth--;
			i += 2;
		} else {
			i++;
		}
	}
	return i - sc->pos;
}

static void step(struct scan *sc)
{
	const char *s = sc->s;
	size_t pos = sc->pos, n;
	unsigned char ch = (unsigned char)s[pos];
	bool more = pos + 1 < sc->len;

	if (is_space(ch)) {
		advance(sc, pos + 1);
	} else if (ch == '-' && more && s[pos + 1] == '-') {
		for (n = pos; n < sc->len && s[n] != '\n'; n++)
			;
		advance(sc, n);
	} else if (ch == '/' && more && s[pos + 1] == '*') {
		advance(sc, pos + comment_len(sc));
	} else if (ch == '\'' || ch == '"') {
		other(sc, quoted_end(sc, pos, (char)ch, false) - pos);
	} else if (ch == '$' && (n = dollar_len(sc)) > 0) {
		other(sc, n);
	} else if (is_word_start(ch)) {
		for (n = pos + 1;
		     n < sc->len && is_word_char((unsigned char)s[n]); n++)
			;
		if (n == pos + 1 && (ch == 'e' || ch == 'E') && n < sc->len &&
		    s[n] == '\'') {
			/* E'…': backslash escapes */
			other(sc, quoted_end(sc, n, '\'', true) - pos);
		} else {
			word(sc, n - pos);
		}
	} else if (ch == ';') {
		if (sc->in_stmt && sc->parens == 0 && sc->begins == 0)
			end_stmt(sc, pos + 1);
		advance(sc, pos + 1);
	} else {
		other(sc, 1);
		if (ch == '(')
			sc->parens++;
		else if (ch == ')' && sc->parens > 0)
			sc->parens--;
	}
}

void sqlscan_statements(struct sqlscan_stmt **out, size_t *n, const char *sql,
                        size_t len)
{
	struct scan sc;

	memset(&sc, 0, sizeof(sc));
	sc.s = sql;
	sc.len = len;
	sc.line = 1;
	while (sc.pos < sc.len)
		step(&sc);
	end_stmt(&sc, len);
	*out = sc.out;
	*n = sc.n;
}

unsigned sqlscan_line(const char *sql, size_t len, size_t off)
{
	unsigned line = 1;
	size_t i;

	for (i = 0; i < off && i < len; i++)
		if (sql[i] == '\n')
			line++;
	return line;
}
