/*
 * docker.c — the Docker Engine API over its unix socket, through
 * http_client: what the compose driver reads of live containers and the
 * few things it asks the engine to do (stop, remove, logs, images).
 *
 * What runs is read from the engine's JSON, never from the text a CLI
 * prints. The JSON comes from a daemon that reflects containers anyone
 * with access to the socket may have made: every field is checked for its
 * type, sizes are capped, and anything unexpected is skipped rather than
 * trusted (tests/fuzz/fuzz_docker_containers.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "berth.h"

#define DOCKER_SOCKET_DEFAULT "/var/run/docker.sock"
#define DOCKER_URL_BASE       "http://localhost"
#define DOCKER_TIMEOUT_MS     30000
#define DOCKER_LIST_MAX       ((size_t)8 << 20)
#define DOCKER_INSPECT_MAX    ((size_t)2 << 20)
#define DOCKER_LOGS_MAX       ((size_t)4 << 20)
#define DOCKER_CONTAINERS_MAX 4096
#define DOCKER_PORTS_MAX      256
#define DOCKER_FIELD_MAX      4096
#define DOCKER_OUTPUT_MAX     300
#define DOCKER_ARGV_MAX       256
#define DOCKER_ENV_MAX        1024
/* Extra time given to a stop request beyond the container's timeout. */
#define DOCKER_STOP_SLACK_MS 30000

int docker_init(struct docker *d, const struct kvlist *vars, struct berr *err)
{
	const char *host = vars ? kvlist_get(vars, "DOCKER_HOST") : NULL;

	memset(d, 0, sizeof(*d));
	if (host == NULL || host[0] == '\0') {
		d->socket = xstrdup(DOCKER_SOCKET_DEFAULT);
		return 0;
	}
	if (strncmp(host, "unix://", 7) != 0 || host[7] != '/')
		return berr_set(err,
		                "DOCKER_HOST '%s': only unix:///path sockets "
		                "are supported",
		                host);
	d->socket = xstrdup(host + 7);
	return 0;
}

void docker_release(struct docker *d)
{
	if (d == NULL)
		return;
	free(d->socket);
	memset(d, 0, sizeof(*d));
}

/* Percent-encodes s for a query value or a path segment: new string. */
static char *url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b;

	buf_init(&b, 0);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c) != NULL) {
			buf_putc(&b, (char)c);
		} else {
			buf_putc(&b, '%');
			buf_putc(&b, hex[c >> 4]);
			buf_putc(&b, hex[c & 15]);
		}
	}
	return buf_detach(&b);
}

/* The engine's "message" of an error answer, or the status: new. */
static char *api_message(const struct http_response *r)
{
	json_t *j = json_loadb(buf_str(&r->body), r->body.len, 0, NULL);
	const char *m = json_string_value(json_object_get(j, "message"));
	char *out;

	if (m != NULL)
		out = xasprintf("HTTP %ld: %.300s", r->status, m);
	else
		out = xasprintf("HTTP %ld", r->status);
	json_decref(j);
	return out;
}

/*
 * One request to the engine. Returns 0 with *res holding an answer of any
 * status (release it), or -1: "docker engine at '/var/run/docker.sock': …".
 */
static int api(struct http_response *res, const struct docker *d,
               const char *method, const char *path, size_t max, int timeout_ms,
               struct berr *err)
{
	struct http_request req = {0};
	char *url = xasprintf("%s%s", DOCKER_URL_BASE, path);
	int rc;

	req.method = method;
	req.url = url;
	req.unix_socket = d->socket;
	req.timeout_ms = timeout_ms > 0 ? timeout_ms : DOCKER_TIMEOUT_MS;
	req.connect_timeout_ms = 5000;
	req.max_response = max;
	rc = http_request(res, &req, err);
	if (rc != 0)
		berr_prefix(err, "docker engine at '%s'", d->socket);
	free(url);
	return rc == 0 ? 0 : -1;
}

int docker_ping(const struct docker *d, struct berr *err)
{
	struct http_response r;
	int rc = -1;

	if (api(&r, d, "GET", "/_ping", 4096, 10000, err) < 0)
		goto out;
	if (r.status != 200) {
		char *m = api_message(&r);

		berr_set(err, "docker engine at '%s' does not answer: %s",
		         d->socket, m);
		free(m);
		goto out;
	}
	rc = 0;
out:
	http_response_release(&r);
	return rc;
}

/* --- parsing ------------------------------------------------------------ */

/* A copy of j's string when it is one of at most DOCKER_FIELD_MAX bytes
 * without NUL, else NULL. */
static char *str_field(const json_t *j)
{
	const char *s = json_string_value(j);
	size_t len = json_string_length(j);

	if (s == NULL || len > DOCKER_FIELD_MAX || strlen(s) != len)
		return NULL;
	return xstrdup(s);
}

static char *label(const json_t *labels, const char *key)
{
	return str_field(json_object_get(labels, key));
}

static int64_t int_field(const json_t *j, int64_t min, int64_t max)
{
	json_int_t v;

	if (!json_is_integer(j))
		return 0;
	v = json_integer_value(j);
	return v < min || v > max ? 0 : (int64_t)v;
}

/* Docker's RFC 3339 time with nanoseconds, to unix seconds; 0 for its
 * "never" (year 1) and anything unreadable. */
static int64_t parse_time(const char *s)
{
	char whole[21];
	int64_t t;

	if (s == NULL || strlen(s) < 20 || strncmp(s, "0001-", 5) == 0)
		return 0;
	memcpy(whole, s, 19);
	whole[19] = 'Z';
	whole[20] = '\0';
	return strnum_parse_iso8601(&t, whole) == 0 && t > 0 ? t : 0;
}

/* One line for people from a health check's output: control characters
 * become spaces, runs of spaces one, at most DOCKER_OUTPUT_MAX bytes. */
static char *one_line(const char *s)
{
	struct buf b;
	bool space = false;

	buf_init(&b, 0);
	for (; *s != '\0' && b.len < DOCKER_OUTPUT_MAX; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || c == ' ') {
			space = b.len > 0;
			continue;
		}
		if (space)
			buf_putc(&b, ' ');
		space = false;
		buf_putc(&b, (char)c);
	}
	return buf_detach(&b);
}

static void read_ports(struct docker_container *c, const json_t *ports)
{
	size_t i, n = json_array_size(ports);

	if (n > DOCKER_PORTS_MAX)
		n = DOCKER_PORTS_MAX;
	c->ports = n > 0 ? xcalloc(n, sizeof(*c->ports)) : NULL;
	for (i = 0; i < n; i++) {
		const json_t *p = json_array_get(ports, i);
		const char *type =
		    json_string_value(json_object_get(p, "Type"));
		int port =
		    (int)int_field(json_object_get(p, "PublicPort"), 0, 65535);
		size_t k;

		if (port == 0 || type == NULL || strcmp(type, "tcp") != 0)
			continue;
		for (k = 0; k < c->nports && c->ports[k] != port; k++)
			;
		if (k == c->nports)
			c->ports[c->nports++] = port;
	}
	if (c->nports == 0) {
		free(c->ports);
		c->ports = NULL;
	}
}

/* The labels berth and compose put on a container. */
static void read_labels(struct docker_container *c, const json_t *labels)
{
	char *oneoff;

	if (!json_is_object(labels))
		return;
	free(c->project);
	free(c->service);
	free(c->hash);
	free(c->commit);
	free(c->env);
	c->project = label(labels, "com.docker.compose.project");
	c->service = label(labels, "com.docker.compose.service");
	c->hash = label(labels, DOCKER_LABEL_HASH);
	c->commit = label(labels, DOCKER_LABEL_COMMIT);
	c->env = label(labels, DOCKER_LABEL_ENV);
	oneoff = label(labels, "com.docker.compose.oneoff");
	c->oneoff = oneoff != NULL && strcmp(oneoff, "True") == 0;
	free(oneoff);
}

/* An id the engine could have made: hex, 1–128 characters. */
static bool id_ok(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	return n > 0 && n <= 128 && strspn(id, "0123456789abcdef") == n;
}

static int parse_one(struct docker_container *c, const json_t *j)
{
	const json_t *names = json_object_get(j, "Names");
	const char *name = json_string_value(json_array_get(names, 0));

	memset(c, 0, sizeof(*c));
	c->id = str_field(json_object_get(j, "Id"));
	if (!id_ok(c->id)) {
		docker_container_release(c);
		return -1;
	}
	if (name != NULL && name[0] == '/')
		name++;
	c->name = name != NULL && strlen(name) <= DOCKER_FIELD_MAX
	              ? xstrdup(name)
	              : xstrdup(c->id);
	c->image = str_field(json_object_get(j, "Image"));
	c->image_id = str_field(json_object_get(j, "ImageID"));
	c->state = str_field(json_object_get(j, "State"));
	if (c->state == NULL)
		c->state = xstrdup("unknown");
	c->running = strcmp(c->state, "running") == 0;
	c->created = int_field(json_object_get(j, "Created"), 0, INT64_MAX);
	read_labels(c, json_object_get(j, "Labels"));
	read_ports(c, json_object_get(j, "Ports"));
	return 0;
}

int docker_parse_list(struct docker_container **out, size_t *n,
                      const char *json, size_t len, struct berr *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr);
	size_t i, count;

	*out = NULL;
	*n = 0;
	if (!json_is_array(root)) {
		json_decref(root);
		return berr_set(err, "invalid container list from the docker "
		                     "engine: expected a JSON array");
	}
	count = json_array_size(root);
	if (count > DOCKER_CONTAINERS_MAX) {
		json_decref(root);
		return berr_set(err,
		                "the docker engine lists %zu containers: more "
		                "than %d",
		                count, DOCKER_CONTAINERS_MAX);
	}
	*out = xcalloc(count + 1, sizeof(**out));
	for (i = 0; i < count; i++)
		if (parse_one(&(*out)[*n], json_array_get(root, i)) == 0)
			(*n)++;
	json_decref(root);
	if (*n == 0) {
		free(*out);
		*out = NULL;
	}
	return 0;
}

/* --- what a container runs ---------------------------------------------- */

/* A string of j as a JSON string, or null. */
static json_t *spec_str(const json_t *j)
{
	char *s = str_field(j);
	json_t *out = s != NULL ? json_string(s) : json_null();

	free(s);
	return out ? out : json_null();
}

/* An array of strings (Cmd, Entrypoint) as one of strings, or null. */
static json_t *spec_argv(const json_t *j)
{
	json_t *out;
	size_t i, n = json_array_size(j);

	if (!json_is_array(j))
		return json_null();
	if (n > DOCKER_ARGV_MAX)
		n = DOCKER_ARGV_MAX;
	out = json_array();
	for (i = 0; i < n; i++)
		json_array_append_new(out, spec_str(json_array_get(j, i)));
	return out;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Config.Env: the names, sorted, and the SHA-256 of the sorted lines. */
static void spec_env(json_t *spec, const json_t *env)
{
	struct strv lines = {0};
	json_t *names = json_array();
	char hex[65];
	struct buf b;
	size_t i, n = json_array_size(env);

	buf_init(&b, 0);
	if (n > DOCKER_ENV_MAX)
		n = DOCKER_ENV_MAX;
	for (i = 0; i < n; i++) {
		char *line = str_field(json_array_get(env, i));

		if (line != NULL)
			strv_push(&lines, line);
		free(line);
	}
	if (lines.n > 0)
		qsort(lines.v, lines.n, sizeof(*lines.v), cmp_str);
	for (i = 0; i < lines.n; i++) {
		size_t eq = strcspn(lines.v[i], "=");

		json_array_append_new(names, json_stringn(lines.v[i], eq));
		buf_puts(&b, lines.v[i]);
		buf_putc(&b, '\n');
	}
	sha256_hex(hex, buf_str(&b), b.len);
	json_object_set_new(spec, "env", names);
	json_object_set_new(spec, "env_sha256", json_string(hex));
	buf_release(&b);
	strv_release(&lines);
}

/* The fields of a spec read from the inspect answer: key, the object of
 * the answer ("" for the top level), its field, whether it is an argv, and
 * what it is called in a diff. */
static const struct {
	const char *key, *object, *field;
	bool argv;
	const char *what;
} spec_fields[] = {
    {"image", "", "Image", false, "image"},
    {"entrypoint", "Config", "Entrypoint", true, "entrypoint"},
    {"command", "Config", "Cmd", true, "command"},
    {"user", "Config", "User", false, "user"},
    {"working_dir", "Config", "WorkingDir", false, "working directory"},
    {"network_mode", "HostConfig", "NetworkMode", false, "network mode"},
};

/* What the engine says root's container runs (docker_container.spec). */
static json_t *read_spec(const json_t *root)
{
	const json_t *config = json_object_get(root, "Config");
	json_t *spec = json_object();
	size_t i;

	for (i = 0; i < BERTH_ARRAY_LEN(spec_fields); i++) {
		const json_t *o =
		    spec_fields[i].object[0]
		        ? json_object_get(root, spec_fields[i].object)
		        : root;
		const json_t *v = json_object_get(o, spec_fields[i].field);

		json_object_set_new(spec, spec_fields[i].key,
		                    spec_fields[i].argv ? spec_argv(v)
		                                        : spec_str(v));
	}
	spec_env(spec, json_object_get(config, "Env"));
	json_object_set_new(
	    spec, "compose_config_hash",
	    spec_str(json_object_get(json_object_get(config, "Labels"),
	                             "com.docker.compose.config-hash")));
	return spec;
}

/* A spec value for people: strings as they are, "sha256:" ids short,
 * the rest as compact JSON, at most DOCKER_OUTPUT_MAX bytes (new). */
static char *spec_show(const json_t *v)
{
	const char *s = json_string_value(v);
	char *dump, *out;

	if (s != NULL && strncmp(s, "sha256:", 7) == 0 && strlen(s) > 19)
		return xasprintf("%.19s", s);
	if (s != NULL)
		return s[0] ? one_line(s) : xstrdup("(none)");
	if (v == NULL || json_is_null(v))
		return xstrdup("(none)");
	dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	out = one_line(dump ? dump : "?");
	free(dump);
	return out;
}

/* Appends to b the names of array a that array other lacks, ", "-joined;
 * returns how many. */
static size_t names_missing(struct buf *b, const json_t *a, const json_t *other)
{
	size_t i, k, shown = 0;

	for (i = 0; i < json_array_size(a); i++) {
		const json_t *name = json_array_get(a, i);
		bool found = false;
		char *text;

		for (k = 0; k < json_array_size(other) && !found; k++)
			found = json_equal(name, json_array_get(other, k));
		if (found || !json_is_string(name))
			continue;
		text = one_line(json_string_value(name));
		buf_printf(b, "%s%s", shown++ ? ", " : "", text);
		free(text);
	}
	return shown;
}

char *docker_spec_diff(const json_t *was, const json_t *now)
{
	const json_t *ew, *en;
	struct buf b;
	size_t i;

	buf_init(&b, 0);
	for (i = 0; i < BERTH_ARRAY_LEN(spec_fields); i++) {
		const json_t *w = json_object_get(was, spec_fields[i].key);
		const json_t *n = json_object_get(now, spec_fields[i].key);
		char *sw, *sn;

		if (json_equal(w, n) || (w == NULL && n == NULL))
			continue;
		sw = spec_show(w);
		sn = spec_show(n);
		buf_printf(&b, "%s%s %s, berth started %s", b.len ? "; " : "",
		           spec_fields[i].what, sn, sw);
		free(sn);
		free(sw);
	}
	ew = json_object_get(was, "env");
	en = json_object_get(now, "env");
	if (!json_equal(json_object_get(was, "env_sha256"),
	                json_object_get(now, "env_sha256"))) {
		struct buf added, removed;

		buf_init(&added, 0);
		buf_init(&removed, 0);
		buf_printf(&b, "%senvironment: ", b.len ? "; " : "");
		if (names_missing(&added, en, ew) > 0)
			buf_printf(&b, "%s added", buf_str(&added));
		if (names_missing(&removed, ew, en) > 0)
			buf_printf(&b, "%s%s removed", added.len ? ", " : "",
			           buf_str(&removed));
		if (added.len == 0 && removed.len == 0)
			buf_puts(&b, "a value changed (values are not shown)");
		buf_release(&removed);
		buf_release(&added);
	}
	if (b.len == 0 &&
	    !json_equal(json_object_get(was, "compose_config_hash"),
	                json_object_get(now, "compose_config_hash")))
		buf_puts(&b, "its compose configuration differs "
		             "(com.docker.compose.config-hash)");
	if (b.len == 0) {
		buf_release(&b);
		return NULL;
	}
	return buf_detach(&b);
}

int docker_parse_inspect(struct docker_container *c, const char *json,
                         size_t len, struct berr *err)
{
	json_t *root = json_loadb(json, len, 0, NULL);
	const json_t *state, *health, *logs, *config;
	const char *id, *output;
	char *s;

	id = json_string_value(json_object_get(root, "Id"));
	state = json_object_get(root, "State");
	if (!json_is_object(state) || id == NULL || strcmp(id, c->id) != 0) {
		json_decref(root);
		return berr_set(err,
		                "invalid answer from the docker engine about "
		                "container '%s'",
		                c->name);
	}
	s = str_field(json_object_get(state, "Status"));
	if (s != NULL) {
		free(c->state);
		c->state = s;
	}
	c->running = json_is_true(json_object_get(state, "Running")) &&
	             !json_is_true(json_object_get(state, "Restarting")) &&
	             !json_is_true(json_object_get(state, "Paused"));
	c->pid = c->running ? (int)int_field(json_object_get(state, "Pid"), 0,
	                                     INT32_MAX)
	                    : 0;
	c->exit_code =
	    (int)int_field(json_object_get(state, "ExitCode"), -1, 255);
	c->oom_killed = json_is_true(json_object_get(state, "OOMKilled"));
	c->started_at =
	    parse_time(json_string_value(json_object_get(state, "StartedAt")));
	health = json_object_get(state, "Health");
	free(c->health);
	free(c->health_output);
	c->health = NULL;
	c->health_output = NULL;
	if (json_is_object(health)) {
		s = str_field(json_object_get(health, "Status"));
		if (s != NULL && strcmp(s, "none") != 0 && s[0] != '\0')
			c->health = s;
		else
			free(s);
		logs = json_object_get(health, "Log");
		output = json_string_value(json_object_get(
		    json_array_get(logs, json_array_size(logs) - 1), "Output"));
		if (c->health != NULL && output != NULL)
			c->health_output = one_line(output);
	}
	config = json_object_get(root, "Config");
	c->tty = json_is_true(json_object_get(config, "Tty"));
	read_labels(c, json_object_get(config, "Labels"));
	s = str_field(json_object_get(root, "Image"));
	if (s != NULL) {
		free(c->image_id);
		c->image_id = s;
	}
	json_decref(c->spec);
	c->spec = read_spec(root);
	json_decref(root);
	return 0;
}

void docker_demux_logs(struct buf *out, const char *data, size_t len)
{
	size_t off = 0;

	/* Without a TTY the engine frames the stream: one byte for the
	 * stream (0 stdin, 1 stdout, 2 stderr), three zero bytes, a 32-bit
	 * big-endian size, then that many bytes. */
	while (len - off >= 8) {
		const unsigned char *h = (const unsigned char *)data + off;
		size_t size = ((size_t)h[4] << 24) | ((size_t)h[5] << 16) |
		              ((size_t)h[6] << 8) | (size_t)h[7];

		if (h[0] > 2 || h[1] != 0 || h[2] != 0 || h[3] != 0)
			break; /* not a frame: stop rather than guess */
		off += 8;
		if (size > len - off)
			size = len - off;
		buf_append(out, data + off, size);
		off += size;
	}
}

int docker_parse_image_tags(struct strv *out, const char *json, size_t len,
                            const char *prefix, struct berr *err)
{
	json_t *root = json_loadb(json, len, 0, NULL);
	size_t i, k, plen = strlen(prefix);

	if (!json_is_array(root)) {
		json_decref(root);
		return berr_set(err, "invalid image list from the docker "
		                     "engine: expected a JSON array");
	}
	for (i = 0; i < json_array_size(root); i++) {
		const json_t *tags =
		    json_object_get(json_array_get(root, i), "RepoTags");

		for (k = 0; k < json_array_size(tags); k++) {
			char *t = str_field(json_array_get(tags, k));

			if (t != NULL && strncmp(t, prefix, plen) == 0 &&
			    !strv_contains(out, t))
				strv_push(out, t);
			free(t);
		}
	}
	json_decref(root);
	return 0;
}

void docker_container_release(struct docker_container *c)
{
	if (c == NULL)
		return;
	free(c->id);
	free(c->name);
	free(c->service);
	free(c->project);
	free(c->state);
	free(c->health);
	free(c->health_output);
	free(c->image);
	free(c->image_id);
	free(c->hash);
	free(c->commit);
	free(c->env);
	free(c->ports);
	json_decref(c->spec);
	memset(c, 0, sizeof(*c));
}

void docker_containers_free(struct docker_container *c, size_t n)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < n; i++)
		docker_container_release(&c[i]);
	free(c);
}

/* --- requests ----------------------------------------------------------- */

/* Fills c's state from GET /containers/{id}/json. BERTH_ENOTFOUND when it
 * is gone. */
static int inspect(struct docker_container *c, const struct docker *d,
                   struct berr *err)
{
	struct http_response r;
	char *path = xasprintf("/containers/%s/json", c->id);
	int rc = -1;

	if (api(&r, d, "GET", path, DOCKER_INSPECT_MAX, 0, err) < 0)
		goto out;
	if (r.status == 404) {
		berr_set(err, "container '%s' is gone", c->name);
		rc = BERTH_ENOTFOUND;
	} else if (r.status != 200) {
		char *m = api_message(&r);

		berr_set(err, "cannot inspect container '%s': %s", c->name, m);
		free(m);
	} else {
		rc = docker_parse_inspect(c, buf_str(&r.body), r.body.len, err);
	}
out:
	http_response_release(&r);
	free(path);
	return rc;
}

static int cmp_containers(const void *a, const void *b)
{
	const struct docker_container *x = a, *y = b;
	int c =
	    strcmp(x->service ? x->service : "", y->service ? y->service : "");

	if (c != 0)
		return c;
	if (x->running != y->running)
		return x->running ? -1 : 1;
	if (x->created != y->created)
		return x->created > y->created ? -1 : 1;
	return strcmp(x->id, y->id);
}

int docker_list(struct docker_container **out, size_t *n,
                const struct docker *d, const char *project,
                const char *service, struct berr *err)
{
	struct http_response r;
	char *filter = NULL, *q = NULL, *path = NULL;
	size_t i, kept = 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (service != NULL)
		filter =
		    xasprintf("{\"label\":[\"com.docker.compose.project=%s\","
		              "\"com.docker.compose.service=%s\"]}",
		              project, service);
	else
		filter = xasprintf(
		    "{\"label\":[\"com.docker.compose.project=%s\"]}", project);
	q = url_escape(filter);
	path = xasprintf("/containers/json?all=1&filters=%s", q);
	if (api(&r, d, "GET", path, DOCKER_LIST_MAX, 0, err) < 0)
		goto out;
	if (r.status != 200) {
		char *m = api_message(&r);

		berr_set(err, "cannot list the containers of project '%s': %s",
		         project, m);
		free(m);
		goto out;
	}
	if (docker_parse_list(out, n, buf_str(&r.body), r.body.len, err) < 0)
		goto out;
	/* One-off containers (compose run, exec) are not services. */
	for (i = 0; i < *n; i++) {
		struct docker_container *c = &(*out)[i];
		int got;

		if (c->oneoff || c->service == NULL || c->project == NULL ||
		    strcmp(c->project, project) != 0 ||
		    (service != NULL && strcmp(c->service, service) != 0)) {
			docker_container_release(c);
			continue;
		}
		got = inspect(c, d, err);
		if (got == BERTH_ENOTFOUND) {
			docker_container_release(c);
			continue;
		}
		if (got < 0) {
			for (; i < *n; i++)
				docker_container_release(&(*out)[i]);
			*n = kept;
			goto out;
		}
		if (kept != i)
			(*out)[kept] = *c;
		kept++;
	}
	*n = kept;
	if (kept > 0)
		qsort(*out, kept, sizeof(**out), cmp_containers);
	rc = 0;
out:
	if (rc != 0 || *n == 0) {
		docker_containers_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	http_response_release(&r);
	free(path);
	free(q);
	free(filter);
	return rc;
}

int docker_stop(bool *killed, const struct docker *d,
                const struct docker_container *c, int timeout_s,
                struct berr *err)
{
	struct http_response r;
	char *path = xasprintf("/containers/%s/stop?t=%d", c->id, timeout_s);
	int64_t start = strnum_mono_ms();
	int rc = -1;

	*killed = false;
	if (api(&r, d, "POST", path, 64 << 10,
	        timeout_s * 1000 + DOCKER_STOP_SLACK_MS, err) < 0) {
		berr_prefix(err, "cannot stop container '%s'", c->name);
		goto out;
	}
	if (r.status == 204 || r.status == 304 || r.status == 404) {
		/* The engine sends SIGKILL once the timeout has passed. */
		*killed = r.status == 204 &&
		          strnum_mono_ms() - start >= (int64_t)timeout_s * 1000;
		rc = 0;
	} else {
		char *m = api_message(&r);

		berr_set(err, "cannot stop container '%s': %s", c->name, m);
		free(m);
	}
out:
	http_response_release(&r);
	free(path);
	return rc;
}

int docker_remove(const struct docker *d, const struct docker_container *c,
                  struct berr *err)
{
	struct http_response r;
	char *path = xasprintf("/containers/%s?force=1", c->id);
	int rc = -1;

	if (api(&r, d, "DELETE", path, 64 << 10, 0, err) < 0) {
		berr_prefix(err, "cannot remove container '%s'", c->name);
		goto out;
	}
	if (r.status == 204 || r.status == 404) {
		rc = 0;
	} else {
		char *m = api_message(&r);

		berr_set(err, "cannot remove container '%s': %s", c->name, m);
		free(m);
	}
out:
	http_response_release(&r);
	free(path);
	return rc;
}

int docker_logs(struct buf *out, const struct docker *d,
                const struct docker_container *c, size_t lines,
                struct berr *err)
{
	struct http_response r;
	char *path;
	int rc = -1;

	path = xasprintf("/containers/%s/logs?stdout=1&stderr=1&tail=%zu"
	                 "&since=%lld",
	                 c->id, lines, (long long)c->started_at);
	if (api(&r, d, "GET", path, DOCKER_LOGS_MAX, 0, err) < 0)
		goto out;
	if (r.status != 200) {
		char *m = api_message(&r);

		berr_set(err, "cannot read the log of container '%s': %s",
		         c->name, m);
		free(m);
		goto out;
	}
	if (c->tty)
		buf_append(out, buf_str(&r.body), r.body.len);
	else
		docker_demux_logs(out, buf_str(&r.body), r.body.len);
	rc = 0;
out:
	http_response_release(&r);
	free(path);
	return rc;
}

int docker_image_tags(struct strv *out, const struct docker *d,
                      const char *prefix, struct berr *err)
{
	struct http_response r;
	int rc = -1;

	if (api(&r, d, "GET", "/images/json", DOCKER_LIST_MAX, 0, err) < 0)
		goto out;
	if (r.status != 200) {
		char *m = api_message(&r);

		berr_set(err, "cannot list images: %s", m);
		free(m);
		goto out;
	}
	rc = docker_parse_image_tags(out, buf_str(&r.body), r.body.len, prefix,
	                             err);
out:
	http_response_release(&r);
	return rc;
}

int docker_image_remove(const struct docker *d, const char *ref,
                        struct berr *err)
{
	struct http_response r;
	char *q = url_escape(ref), *path = xasprintf("/images/%s", q);
	int rc = -1;

	if (api(&r, d, "DELETE", path, 1 << 20, 0, err) < 0) {
		berr_prefix(err, "cannot remove image '%s'", ref);
		goto out;
	}
	if (r.status == 200) {
		rc = 0;
	} else {
		char *m = api_message(&r);

		rc = r.status == 404 ? BERTH_ENOTFOUND : -1;
		berr_set(err, "cannot remove image '%s': %s", ref, m);
		free(m);
	}
out:
	http_response_release(&r);
	free(path);
	free(q);
	return rc;
}
