/*
 * config.c — the host config (SPEC §2): config.json parsed with jansson into
 * struct config. Every problem is reported, each with its JSON path, in the
 * manifest parser's style: "config.json: $.listen: expected host:port, got
 * \"8470\"". Secrets are only named here (secret.c reads them); a string
 * that was meant to name a secret is never echoed, in case it is one.
 * docs/config.md is the user reference; keep the two in step.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "berth.h"

static const char *const provider_names[PROVIDER_COUNT] = {
	[PROVIDER_GITHUB] = "github",	  [PROVIDER_GITLAB] = "gitlab",
	[PROVIDER_GITEA] = "gitea",	  [PROVIDER_BITBUCKET] = "bitbucket",
	[PROVIDER_GENERIC] = "generic", [PROVIDER_STRIPE] = "stripe",
	[PROVIDER_SENTRY] = "sentry",
};

#define DEFAULT_STATE_DIR "/var/lib/berth"
#define DEFAULT_LISTEN "127.0.0.1:8470"
#define DEFAULT_POLL_S 120
#define DEFAULT_TOLERANCE_S 300

/* The parse in progress: where messages go and the JSON path of the value
 * being looked at ("$.environments.production"). */
struct parser {
	const char *file;
	const char *base_dir;
	struct merrs *errs;
	char path[512];
	size_t plen;
};

/* A key can be written after a dot when it looks like an identifier; any
 * other is written as ["key"], like jq. */
static bool key_is_simple(const char *key)
{
	size_t i;

	if (!isalpha((unsigned char)key[0]) && key[0] != '_')
		return false;
	for (i = 1; key[i] != '\0'; i++)
		if (!isalnum((unsigned char)key[i]) && key[i] != '_' &&
		    key[i] != '-')
			return false;
	return i <= 64;
}

/* Appends s to the path, truncating rather than overflowing. */
static void path_append(struct parser *p, const char *s)
{
	size_t room = sizeof(p->path) - p->plen;
	int n = snprintf(p->path + p->plen, room, "%s", s);

	if (n < 0 || (size_t)n >= room)
		p->plen = sizeof(p->path) - 1;
	else
		p->plen += (size_t)n;
}

/* Pushes ".key" (or ["key"]); returns the length to pop back to. */
static size_t path_push(struct parser *p, const char *key)
{
	size_t old = p->plen;
	char quoted[96];

	if (key_is_simple(key)) {
		path_append(p, ".");
		path_append(p, key);
	} else {
		config_check_quote(quoted, sizeof(quoted), key, strlen(key));
		path_append(p, "[");
		path_append(p, quoted);
		path_append(p, "]");
	}
	return old;
}

static size_t path_push_index(struct parser *p, size_t i)
{
	size_t old = p->plen;
	char idx[32];

	snprintf(idx, sizeof(idx), "[%zu]", i);
	path_append(p, idx);
	return old;
}

static void path_pop(struct parser *p, size_t old)
{
	p->plen = old;
	p->path[old] = '\0';
}

/* Reports a problem at the current path. */
static void perr(struct parser *p, const char *fmt, ...) BERTH_PRINTF(2, 3);
static void perr(struct parser *p, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	merrs_add(p->errs, "%s: %s: %s", p->file, p->path, msg);
}

/* "\"a string\"", "5", "an object" ... for "got VALUE"; v NULL is
 * "nothing". Scalars other than strings are shown as JSON. */
static void describe(char *out, size_t size, json_t *v)
{
	char *dump;

	if (v == NULL) {
		snprintf(out, size, "nothing");
	} else if (json_is_string(v)) {
		config_check_quote(out, size, json_string_value(v),
				   json_string_length(v));
	} else if (json_is_object(v) || json_is_array(v)) {
		snprintf(out, size, "%s",
			 json_is_object(v) ? "an object" : "an array");
	} else {
		dump = json_dumps(v, JSON_ENCODE_ANY);
		snprintf(out, size, "%s", dump ? dump : "a value");
		free(dump);
	}
}

/* Reports "expected WHAT, got VALUE" at the current path. */
static void expected(struct parser *p, const char *what, json_t *got)
{
	char desc[128];

	describe(desc, sizeof(desc), got);
	perr(p, "expected %s, got %s", what, desc);
}

/* The same for obj.key. */
static void expected_at(struct parser *p, const char *key, const char *what,
			json_t *got)
{
	size_t old = path_push(p, key);

	expected(p, what, got);
	path_pop(p, old);
}

static bool in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

/* Reports every key of obj that is not in allowed (NULL-terminated). */
static void check_keys(struct parser *p, json_t *obj,
		       const char *const *allowed)
{
	const char *key;
	json_t *v;
	char list[512];
	size_t i, len = 0;

	list[0] = '\0';
	for (i = 0; allowed[i] != NULL; i++) {
		int n = snprintf(list + len, sizeof(list) - len, "%s%s",
				 i ? ", " : "", allowed[i]);

		if (n > 0 && (size_t)n < sizeof(list) - len)
			len += (size_t)n;
	}
	json_object_foreach(obj, key, v) {
		size_t old;

		if (in_list(allowed, key))
			continue;
		old = path_push(p, key);
		perr(p, "unknown key (expected one of %s)", list);
		path_pop(p, old);
	}
}

/* obj.key as a non-empty string without control characters (borrowed), or
 * NULL when absent or wrong (reported, as expected `what`). */
static const char *get_string(struct parser *p, json_t *obj, const char *key,
			      const char *what)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return NULL;
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    !config_check_printable(json_string_value(v),
				    json_string_length(v))) {
		expected_at(p, key, what, v);
		return NULL;
	}
	return json_string_value(v);
}

/* obj.key as a boolean into *out, when present and valid. */
static void get_bool(struct parser *p, json_t *obj, const char *key, bool *out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return;
	if (!json_is_boolean(v)) {
		expected_at(p, key, "true or false", v);
		return;
	}
	*out = json_is_true(v);
}

/* obj.key as an integer in [min, max] into *out, when present and valid. */
static void get_int(struct parser *p, json_t *obj, const char *key,
		    long long min, long long max, long long *out)
{
	json_t *v = json_object_get(obj, key);
	char what[96];

	if (v == NULL)
		return;
	if (json_is_integer(v) && json_integer_value(v) >= min &&
	    json_integer_value(v) <= max) {
		*out = json_integer_value(v);
		return;
	}
	snprintf(what, sizeof(what), "an integer from %lld to %lld", min, max);
	expected_at(p, key, what, v);
}

static void get_int_into(struct parser *p, json_t *obj, const char *key,
			 long long min, long long max, int *out)
{
	long long v = *out;

	get_int(p, obj, key, min, max, &v);
	*out = (int)v;
}

/* obj.key as an object (borrowed), or NULL when absent or not an object
 * (reported). */
static json_t *get_object(struct parser *p, json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (v != NULL && !json_is_object(v)) {
		expected_at(p, key, "an object", v);
		return NULL;
	}
	return v;
}

/* obj.key as a host path, made absolute against the config's directory
 * (new), or NULL when absent or invalid (reported). */
static char *get_path(struct parser *p, json_t *obj, const char *key)
{
	const char *s = get_string(p, obj, key, "a file path");

	return s ? config_check_resolve(p->base_dir, s) : NULL;
}

/* Reads PREFIX_env / PREFIX_file of obj into *out. Reports both given, a
 * bad variable name (without echoing it: it may be the secret itself), and,
 * when required, neither given. Returns whether one was set. */
static bool get_secret(struct parser *p, json_t *obj, const char *prefix,
		       struct secret_ref *out, bool required)
{
	char env_key[32], file_key[32];
	json_t *ve, *vf;

	snprintf(env_key, sizeof(env_key), "%s_env", prefix);
	snprintf(file_key, sizeof(file_key), "%s_file", prefix);
	ve = json_object_get(obj, env_key);
	vf = json_object_get(obj, file_key);
	if (ve != NULL && vf != NULL) {
		perr(p, "expected one of %s and %s, got both", env_key,
		     file_key);
		return false;
	}
	if (ve != NULL) {
		size_t old;

		if (json_is_string(ve) &&
		    config_check_var_name(json_string_value(ve))) {
			out->env = xstrdup(json_string_value(ve));
			return true;
		}
		old = path_push(p, env_key);
		if (json_is_string(ve))
			perr(p, "expected the name of an environment variable "
				"([A-Za-z_][A-Za-z0-9_]*), got a string that "
				"is not one (not shown: secrets go in the "
				"variable, not in the config)");
		else
			expected(p, "the name of an environment variable", ve);
		path_pop(p, old);
		return false;
	}
	if (vf != NULL) {
		out->file = get_path(p, obj, file_key);
		return out->file != NULL;
	}
	if (required)
		perr(p, "expected %s or %s, got neither", env_key, file_key);
	return false;
}

static void parse_listen(struct parser *p, struct config *cfg, json_t *root)
{
	const char *what = "host:port (e.g. 127.0.0.1:8470 or [::1]:8470)";
	const char *s = get_string(p, root, "listen", what);

	if (s == NULL)
		return;
	free(cfg->listen);
	free(cfg->listen_host);
	cfg->listen_host = NULL;
	cfg->listen = xstrdup(s);
	if (config_check_listen(&cfg->listen_host, &cfg->listen_port, s) != 0)
		expected_at(p, "listen", what, json_object_get(root, "listen"));
}

static void parse_repo(struct parser *p, struct config *cfg, json_t *root)
{
	static const char *const keys[] = {"url", "token_env", "token_file",
					   "ssh_key_file", "poll_interval_s",
					   NULL};
	const char *what = "a local path or a file://, https://, ssh:// or "
			   "user@host:path URL";
	json_t *repo = json_object_get(root, "repo");
	enum config_url_kind kind;
	const char *url;
	size_t old;

	if (repo == NULL) {
		perr(p, "expected a \"repo\" object with the repository url, "
			"got nothing");
		return;
	}
	old = path_push(p, "repo");
	if (!json_is_object(repo)) {
		expected(p, "an object", repo);
		goto out;
	}
	check_keys(p, repo, keys);
	url = get_string(p, repo, "url", what);
	if (url != NULL) {
		const char *why = NULL;

		if (config_check_url(&kind, &why, url) == 0) {
			cfg->repo.url = kind == CONFIG_URL_LOCAL
					    ? config_check_resolve(p->base_dir, url)
					    : xstrdup(url);
		} else {
			char *shown = config_check_redact_url(url);
			char quoted[160];
			size_t old_url = path_push(p, "url");

			config_check_quote(quoted, sizeof(quoted), shown,
					   strlen(shown));
			perr(p, "expected %s, got %s", why ? why : what, quoted);
			path_pop(p, old_url);
			free(shown);
		}
	} else if (json_object_get(repo, "url") == NULL) {
		expected_at(p, "url", what, NULL);
	}
	get_secret(p, repo, "token", &cfg->repo.token, false);
	cfg->repo.ssh_key_file = get_path(p, repo, "ssh_key_file");
	get_int_into(p, repo, "poll_interval_s", 0, 86400,
		     &cfg->repo.poll_interval_s);
out:
	path_pop(p, old);
}

static void parse_env(struct parser *p, struct env_config *env, json_t *v)
{
	static const char *const keys[] = {"branch", "manifest", "env_file",
					   "auto_deploy", NULL};
	const char *s;

	if (!json_is_object(v)) {
		expected(p, "an object", v);
		return;
	}
	check_keys(p, v, keys);
	s = get_string(p, v, "branch", "a branch name");
	if (s != NULL) {
		if (strncmp(s, "refs/", 5) == 0)
			expected_at(p, "branch",
				    "a branch name without refs/heads/",
				    json_object_get(v, "branch"));
		else if (!config_check_branch(s))
			expected_at(p, "branch", "a valid Git branch name",
				    json_object_get(v, "branch"));
		else {
			free(env->branch);
			env->branch = xstrdup(s);
		}
	}
	s = get_string(p, v, "manifest", "a path in the repository");
	if (s != NULL) {
		if (!config_check_repo_path(s))
			expected_at(p, "manifest",
				    "a relative path inside the repository",
				    json_object_get(v, "manifest"));
		else {
			free(env->manifest);
			env->manifest = xstrdup(s);
		}
	}
	env->env_file = get_path(p, v, "env_file");
	get_bool(p, v, "auto_deploy", &env->auto_deploy);
}

static void env_defaults(struct env_config *env, const char *name)
{
	env->name = xstrdup(name);
	env->branch = xstrdup("main");
	env->manifest = xstrdup("berth.json");
	env->env_file = NULL;
	env->auto_deploy = true;
}

static void parse_envs(struct parser *p, struct config *cfg, json_t *root)
{
	json_t *envs = json_object_get(root, "environments"), *v;
	const char *name;
	size_t old;

	if (envs == NULL) {
		cfg->envs = xcalloc(1, sizeof(*cfg->envs));
		cfg->nenvs = 1;
		env_defaults(&cfg->envs[0], "production");
		return;
	}
	old = path_push(p, "environments");
	if (!json_is_object(envs) || json_object_size(envs) == 0) {
		expected(p, "an object with at least one environment", envs);
		goto out;
	}
	cfg->envs = xcalloc(json_object_size(envs), sizeof(*cfg->envs));
	json_object_foreach(envs, name, v) {
		size_t old_env = path_push(p, name);

		if (!config_check_env_name(name)) {
			perr(p, "expected an environment name of at most 64 "
				"characters a-z, 0-9, _ and -, starting with "
				"a letter or digit");
		} else {
			struct env_config *env = &cfg->envs[cfg->nenvs++];

			env_defaults(env, name);
			parse_env(p, env, v);
		}
		path_pop(p, old_env);
	}
out:
	path_pop(p, old);
}

static void parse_webhook(struct parser *p, struct config *cfg,
			  enum webhook_provider prov, json_t *v)
{
	static const char *const keys_plain[] = {"secret_env", "secret_file",
						 NULL};
	static const char *const keys_tolerance[] = {
	    "secret_env", "secret_file", "tolerance_s", NULL};
	static const char *const keys_gitlab[] = {
	    "token_env", "token_file", "secret_env", "secret_file",
	    "tolerance_s", NULL};
	struct webhook_config *w = &cfg->webhooks[prov];
	bool token, secret;

	if (!json_is_object(v)) {
		expected(p, "an object", v);
		return;
	}
	w->enabled = true;
	switch (prov) {
	case PROVIDER_GITLAB:
		check_keys(p, v, keys_gitlab);
		token = get_secret(p, v, "token", &w->token, false);
		secret = get_secret(p, v, "secret", &w->secret, false);
		if (token && secret)
			perr(p, "expected a token (token_env or token_file) "
				"or a signing token (secret_env or "
				"secret_file), got both");
		else if (!token && !secret &&
			 json_object_get(v, "token_env") == NULL &&
			 json_object_get(v, "token_file") == NULL &&
			 json_object_get(v, "secret_env") == NULL &&
			 json_object_get(v, "secret_file") == NULL)
			perr(p, "expected token_env, token_file, secret_env "
				"or secret_file, got none of them");
		break;
	case PROVIDER_GENERIC:
	case PROVIDER_STRIPE:
		check_keys(p, v, keys_tolerance);
		get_secret(p, v, "secret", &w->secret, true);
		break;
	case PROVIDER_GITHUB:
	case PROVIDER_GITEA:
	case PROVIDER_BITBUCKET:
	case PROVIDER_SENTRY:
	case PROVIDER_COUNT:
		check_keys(p, v, keys_plain);
		get_secret(p, v, "secret", &w->secret, true);
		break;
	}
	get_int_into(p, v, "tolerance_s", 1, 86400, &w->tolerance_s);
}

static void parse_webhooks(struct parser *p, struct config *cfg, json_t *root)
{
	json_t *hooks = get_object(p, root, "webhooks"), *v;
	const char *name;
	size_t old;

	if (hooks == NULL)
		return;
	old = path_push(p, "webhooks");
	json_object_foreach(hooks, name, v) {
		enum webhook_provider prov;
		size_t old_hook = path_push(p, name);

		if (config_provider_parse(&prov, name) != 0)
			perr(p, "unknown key (expected one of github, gitlab, "
				"gitea, bitbucket, generic, stripe, sentry)");
		else
			parse_webhook(p, cfg, prov, v);
		path_pop(p, old_hook);
	}
	path_pop(p, old);
}

static void parse_api(struct parser *p, struct config *cfg, json_t *root)
{
	static const char *const keys[] = {"token_env", "token_file", NULL};
	json_t *api = get_object(p, root, "api");
	size_t old;

	if (api == NULL)
		return;
	old = path_push(p, "api");
	check_keys(p, api, keys);
	get_secret(p, api, "token", &cfg->api_token, true);
	path_pop(p, old);
}

static void parse_notifier(struct parser *p, struct notifier_config *n,
			   json_t *v)
{
	static const char *const keys[] = {"type", "url_env", "url_file", NULL};
	json_t *type;

	if (!json_is_object(v)) {
		expected(p, "an object", v);
		return;
	}
	check_keys(p, v, keys);
	type = json_object_get(v, "type");
	if (json_is_string(type) &&
	    strcmp(json_string_value(type), "slack") == 0)
		n->type = MANIFEST_NOTIFY_SLACK;
	else if (json_is_string(type) &&
		 strcmp(json_string_value(type), "webhook") == 0)
		n->type = MANIFEST_NOTIFY_WEBHOOK;
	else
		expected_at(p, "type", "\"slack\" or \"webhook\"", type);
	get_secret(p, v, "url", &n->url, true);
}

static void parse_notify(struct parser *p, struct config *cfg, json_t *root)
{
	json_t *list = json_object_get(root, "notify"), *v;
	size_t old, i;

	if (list == NULL)
		return;
	old = path_push(p, "notify");
	if (!json_is_array(list)) {
		expected(p, "an array", list);
		goto out;
	}
	cfg->notify = json_array_size(list)
			  ? xcalloc(json_array_size(list), sizeof(*cfg->notify))
			  : NULL;
	json_array_foreach(list, i, v) {
		size_t old_item = path_push_index(p, i);

		parse_notifier(p, &cfg->notify[cfg->nnotify++], v);
		path_pop(p, old_item);
	}
out:
	path_pop(p, old);
}

static void parse_server(struct parser *p, struct config *cfg, json_t *root)
{
	static const char *const keys[] = {
	    "max_body_bytes",  "max_header_bytes", "read_timeout_s",
	    "write_timeout_s", "max_connections",  NULL};
	json_t *server = get_object(p, root, "server");
	long long v;
	size_t old;

	if (server == NULL)
		return;
	old = path_push(p, "server");
	check_keys(p, server, keys);
	v = (long long)cfg->server.max_body_bytes;
	get_int(p, server, "max_body_bytes", 1024, 1LL << 30, &v);
	cfg->server.max_body_bytes = (size_t)v;
	v = (long long)cfg->server.max_header_bytes;
	get_int(p, server, "max_header_bytes", 1024, 1LL << 20, &v);
	cfg->server.max_header_bytes = (size_t)v;
	get_int_into(p, server, "read_timeout_s", 1, 3600,
		     &cfg->server.read_timeout_s);
	get_int_into(p, server, "write_timeout_s", 1, 3600,
		     &cfg->server.write_timeout_s);
	get_int_into(p, server, "max_connections", 1, 65536,
		     &cfg->server.max_connections);
	path_pop(p, old);
}

static void set_defaults(struct config *cfg)
{
	size_t i;

	cfg->state_dir = xstrdup(DEFAULT_STATE_DIR);
	cfg->listen = xstrdup(DEFAULT_LISTEN);
	cfg->listen_host = xstrdup("127.0.0.1");
	cfg->listen_port = 8470;
	cfg->repo.poll_interval_s = DEFAULT_POLL_S;
	for (i = 0; i < PROVIDER_COUNT; i++)
		cfg->webhooks[i].tolerance_s = DEFAULT_TOLERANCE_S;
	cfg->server.max_body_bytes = (size_t)25 << 20;
	cfg->server.max_header_bytes = (size_t)64 << 10;
	cfg->server.read_timeout_s = 10;
	cfg->server.write_timeout_s = 10;
	cfg->server.max_connections = 256;
}

static void parse_root(struct parser *p, struct config *cfg, json_t *root)
{
	static const char *const keys[] = {"state_dir",	   "listen",  "repo",
					   "environments", "webhooks", "api",
					   "notify",	   "server",  NULL};
	char *state_dir;

	if (!json_is_object(root)) {
		expected(p, "an object", root);
		return;
	}
	check_keys(p, root, keys);
	state_dir = get_path(p, root, "state_dir");
	if (state_dir != NULL) {
		free(cfg->state_dir);
		cfg->state_dir = state_dir;
	}
	parse_listen(p, cfg, root);
	parse_repo(p, cfg, root);
	parse_envs(p, cfg, root);
	parse_webhooks(p, cfg, root);
	parse_api(p, cfg, root);
	parse_notify(p, cfg, root);
	parse_server(p, cfg, root);
}

int config_parse(struct config *cfg, const char *data, size_t len,
		 const char *file, const char *base_dir, struct merrs *errs)
{
	struct parser p;
	json_error_t jerr;
	json_t *root;
	size_t nerrs = errs->n;

	memset(cfg, 0, sizeof(*cfg));
	memset(&p, 0, sizeof(p));
	p.file = file;
	p.base_dir = base_dir;
	p.errs = errs;
	path_append(&p, "$");
	root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		merrs_add(errs, "%s:%d:%d: invalid JSON: %s", file, jerr.line,
			  jerr.column, jerr.text);
		return -1;
	}
	cfg->path = xstrdup(file);
	set_defaults(cfg);
	parse_root(&p, cfg, root);
	json_decref(root);
	if (errs->n != nerrs) {
		config_release(cfg);
		return -1;
	}
	return 0;
}

/* Which of the three places named the file, for the message when it is
 * missing. */
static const char *config_source(const char **path)
{
	const char *env;

	if (*path != NULL)
		return "";
	env = getenv("BERTH_CONFIG");
	if (env != NULL && *env != '\0') {
		*path = env;
		return " (from BERTH_CONFIG)";
	}
	*path = CONFIG_DEFAULT_PATH;
	return " (the default)";
}

int config_load(struct config *cfg, const char *path, struct merrs *errs)
{
	struct buf data = {0};
	struct berr err;
	char *abs = NULL, *dir = NULL, *slash;
	const char *source = config_source(&path);
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	rc = fs_read_file(&data, path, CONFIG_MAX_BYTES, &err);
	if (rc == BERTH_ENOTFOUND) {
		merrs_add(errs,
			  "cannot open config '%s'%s: No such file or "
			  "directory; berth reads --config FILE, else "
			  "$BERTH_CONFIG, else %s (format: docs/config.md)",
			  path, source, CONFIG_DEFAULT_PATH);
		goto out;
	}
	if (rc != 0) {
		merrs_add(errs, "%s", err.msg);
		goto out;
	}
	if (path[0] == '/') {
		abs = xstrdup(path);
	} else {
		char cwd[4096];

		if (getcwd(cwd, sizeof(cwd)) == NULL) {
			merrs_add(errs, "cannot resolve '%s': cannot get the "
					"current directory",
				  path);
			rc = -1;
			goto out;
		}
		abs = config_check_resolve(cwd, path);
	}
	dir = xstrdup(abs);
	slash = strrchr(dir, '/');
	slash[slash == dir ? 1 : 0] = '\0';
	rc = config_parse(cfg, data.data, data.len, path, dir, errs);
	if (rc == 0) {
		free(cfg->path);
		cfg->path = abs;
		abs = NULL;
	}
out:
	free(abs);
	free(dir);
	buf_release(&data);
	return rc;
}

static void secret_ref_release(struct secret_ref *s)
{
	free(s->env);
	free(s->file);
}

void config_release(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->state_dir);
	free(cfg->listen);
	free(cfg->listen_host);
	free(cfg->repo.url);
	secret_ref_release(&cfg->repo.token);
	free(cfg->repo.ssh_key_file);
	for (i = 0; i < cfg->nenvs; i++) {
		free(cfg->envs[i].name);
		free(cfg->envs[i].branch);
		free(cfg->envs[i].manifest);
		free(cfg->envs[i].env_file);
	}
	free(cfg->envs);
	for (i = 0; i < PROVIDER_COUNT; i++) {
		secret_ref_release(&cfg->webhooks[i].secret);
		secret_ref_release(&cfg->webhooks[i].token);
	}
	secret_ref_release(&cfg->api_token);
	for (i = 0; i < cfg->nnotify; i++)
		secret_ref_release(&cfg->notify[i].url);
	free(cfg->notify);
	memset(cfg, 0, sizeof(*cfg));
}

const struct env_config *config_env(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nenvs; i++)
		if (strcmp(cfg->envs[i].name, name) == 0)
			return &cfg->envs[i];
	return NULL;
}

const struct env_config *config_env_for_branch(const struct config *cfg,
					       const char *branch,
					       const struct env_config *prev)
{
	size_t i = prev ? (size_t)(prev - cfg->envs) + 1 : 0;

	for (; i < cfg->nenvs; i++)
		if (strcmp(cfg->envs[i].branch, branch) == 0)
			return &cfg->envs[i];
	return NULL;
}

const char *config_provider_name(enum webhook_provider p)
{
	if ((int)p < 0 || p >= PROVIDER_COUNT)
		return "unknown";
	return provider_names[p];
}

int config_provider_parse(enum webhook_provider *out, const char *name)
{
	int i;

	for (i = 0; i < PROVIDER_COUNT; i++) {
		if (strcmp(provider_names[i], name) == 0) {
			*out = (enum webhook_provider)i;
			return 0;
		}
	}
	return BERTH_ENOTFOUND;
}

void config_print_errors(const struct merrs *errs, void *f)
{
	size_t i;

	for (i = 0; i < errs->n; i++)
		fprintf(f, "berth: %s\n", errs->items[i]);
}
