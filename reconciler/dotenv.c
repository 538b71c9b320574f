/*
 * dotenv.c — the env_file of an environment: KEY=value lines whose variables
 * every command of that environment receives. The format is the common
 * subset of docker compose's and python-dotenv's, without any expansion:
 * a value is exactly what is written (docs/config.md). Values are secrets,
 * so messages name the file, the line and at most a valid key, never a
 * value nor a line's text.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "berth.h"

struct dotenv_parser {
	const char *pos, *end;
	size_t line; /* line of pos, from 1 */
	const char *file;
	struct berr *err;
};

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* At a line end: "\n", "\r\n", or a lone "\r" before the end of input. */
static bool at_eol(const struct dotenv_parser *p)
{
	if (p->pos >= p->end)
		return true;
	if (*p->pos == '\n')
		return true;
	return *p->pos == '\r' && (p->pos + 1 == p->end || p->pos[1] == '\n');
}

/* Steps over the line end at pos (if any). */
static void eat_eol(struct dotenv_parser *p)
{
	if (p->pos < p->end && *p->pos == '\r')
		p->pos++;
	if (p->pos < p->end && *p->pos == '\n') {
		p->pos++;
		p->line++;
	}
}

static void skip_blanks(struct dotenv_parser *p)
{
	while (p->pos < p->end && is_blank(*p->pos))
		p->pos++;
}

static void skip_to_eol(struct dotenv_parser *p)
{
	while (!at_eol(p))
		p->pos++;
}

static bool key_char(char c, bool first)
{
	if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_')
		return true;
	return !first && c >= '0' && c <= '9';
}

static int perr(struct dotenv_parser *p, size_t line, const char *what,
		const char *key)
{
	if (key != NULL)
		return berr_set(p->err, "%s:%zu: %s of '%s'", p->file, line,
				what, key);
	return berr_set(p->err, "%s:%zu: %s", p->file, line, what);
}

/*
 * Reads a quoted value starting at the opening quote into val. Single
 * quotes are literal; double quotes know \n \t \" \\ \$ and keep any other
 * backslash as written. Both may span lines; "\r\n" inside becomes "\n".
 */
static int read_quoted(struct dotenv_parser *p, struct buf *val,
		       const char *key)
{
	char q = *p->pos++;
	size_t start = p->line;

	while (p->pos < p->end && *p->pos != q) {
		char c = *p->pos++;

		if (c == '\r' && p->pos < p->end && *p->pos == '\n')
			continue;
		if (c == '\n')
			p->line++;
		if (c == '\\' && q == '"' && p->pos < p->end) {
			char e = *p->pos;

			if (e == 'n' || e == 't' || e == '"' || e == '\\' ||
			    e == '$') {
				c = e == 'n' ? '\n' : e == 't' ? '\t' : e;
				p->pos++;
			}
		}
		if (buf_putc(val, c) != 0)
			return perr(p, start, "value too long", NULL);
	}
	if (p->pos >= p->end)
		return perr(p, start,
			    q == '"' ? "unterminated double quote in the value"
				     : "unterminated single quote in the value",
			    key);
	p->pos++;
	skip_blanks(p);
	if (p->pos < p->end && *p->pos == '#')
		skip_to_eol(p);
	if (!at_eol(p))
		return perr(p, p->line,
			    "unexpected characters after the closing quote of "
			    "the value",
			    key);
	return 0;
}

/* Reads an unquoted value to the end of the line, stopping at a '#' that
 * follows a blank in the line ("A= #c" is empty, "A=#c" is "#c"), with
 * trailing blanks trimmed. pos[-1] is the '=' or a blank after it. */
static int read_plain(struct dotenv_parser *p, struct buf *val)
{
	const char *start = p->pos, *stop;

	while (!at_eol(p)) {
		if (*p->pos == '#' && is_blank(p->pos[-1]))
			break;
		p->pos++;
	}
	stop = p->pos;
	skip_to_eol(p);
	while (stop > start && is_blank(stop[-1]))
		stop--;
	if (buf_append(val, start, (size_t)(stop - start)) != 0)
		return perr(p, p->line, "value too long", NULL);
	return 0;
}

/* Parses one assignment, pos at its first non-blank character. */
static int parse_assignment(struct dotenv_parser *p, struct kvlist *out,
			    struct buf *val)
{
	const char *k;
	char *key = NULL;
	size_t line = p->line;
	int rc = -1;

	if (p->end - p->pos > 6 && memcmp(p->pos, "export", 6) == 0 &&
	    is_blank(p->pos[6])) {
		const char *save = p->pos;

		p->pos += 6;
		skip_blanks(p);
		if (p->pos < p->end && *p->pos == '=')
			p->pos = save; /* "export = 1" sets "export" */
	}
	k = p->pos;
	while (p->pos < p->end && key_char(*p->pos, p->pos == k))
		p->pos++;
	if (p->pos == k ||
	    (p->pos < p->end && !is_blank(*p->pos) && *p->pos != '=' &&
	     !at_eol(p)))
		return perr(p, line,
			    "invalid variable name (expected "
			    "[A-Za-z_][A-Za-z0-9_]*=value)",
			    NULL);
	key = xstrndup(k, (size_t)(p->pos - k));
	if (!config_check_var_name(key)) { /* e.g. longer than allowed */
		perr(p, line,
		     "invalid variable name (expected "
		     "[A-Za-z_][A-Za-z0-9_]*=value)",
		     NULL);
		goto out;
	}
	skip_blanks(p);
	if (p->pos >= p->end || *p->pos != '=') {
		/* Not even the name is shown: a line holding only a token
		 * looks like a name. */
		perr(p, line, "expected KEY=value", NULL);
		goto out;
	}
	p->pos++;
	skip_blanks(p);
	buf_reset(val);
	if (p->pos < p->end && (*p->pos == '"' || *p->pos == '\''))
		rc = read_quoted(p, val, key);
	else
		rc = read_plain(p, val);
	if (rc == 0)
		kvlist_set(out, key, buf_str(val));
out:
	free(key);
	return rc;
}

/* Frees a list whose values may be secrets, overwriting them first. */
static void wipe_list(struct kvlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		OPENSSL_cleanse(l->items[i].value, strlen(l->items[i].value));
	kvlist_release(l);
}

int dotenv_parse(struct kvlist *out, const char *data, size_t len,
		 const char *file, struct berr *err)
{
	struct dotenv_parser p = {data, data + len, 1, file, err};
	struct kvlist vars;
	struct buf val;
	const char *nul = memchr(data, '\0', len);
	int rc = 0;

	if (nul != NULL) {
		size_t line = 1;
		const char *c;

		for (c = data; c < nul; c++)
			line += *c == '\n';
		return berr_set(err, "%s:%zu: contains a NUL byte", file, line);
	}
	kvlist_init(&vars);
	buf_init(&val, DOTENV_MAX_BYTES);
	while (p.pos < p.end) {
		skip_blanks(&p);
		if (at_eol(&p)) {
			eat_eol(&p);
			continue;
		}
		if (*p.pos == '#') {
			skip_to_eol(&p);
			eat_eol(&p);
			continue;
		}
		rc = parse_assignment(&p, &vars, &val);
		if (rc != 0)
			break;
		eat_eol(&p);
	}
	secret_wipe(&val);
	if (rc != 0) {
		wipe_list(&vars);
		return rc;
	}
	if (out->n == 0) {
		kvlist_release(out);
		*out = vars;
	} else {
		kvlist_merge(out, &vars);
		wipe_list(&vars);
	}
	return 0;
}

int dotenv_load(struct kvlist *out, char hash_hex[65], const char *path,
		struct berr *err)
{
	struct buf data;
	int rc;

	/* Group may read it (a deploy group); nobody else may, and only the
	 * owner may write what every command of the environment receives. */
	buf_init(&data, DOTENV_MAX_BYTES);
	rc = secret_read_file(&data, path, S_IROTH | S_IWGRP | S_IWOTH,
			      DOTENV_MAX_BYTES, "env file", err);
	if (rc != 0)
		goto out;
	rc = -1;
	if (dotenv_parse(out, buf_str(&data), data.len, path, err) != 0)
		goto out;
	if (hash_hex != NULL)
		sha256_hex(hash_hex, buf_str(&data), data.len);
	rc = 0;
out:
	secret_wipe(&data);
	return rc;
}
