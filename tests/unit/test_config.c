/*
 * test_config.c — config.json: defaults, every validation rule, every error
 * reported, relative paths, the ways to find the file, and the example in
 * contrib/. Validation cases parse from memory with config_parse(); file
 * cases write real files into a temporary directory and use config_load().
 *
 * To keep the JSON readable, config texts and the expected messages of
 * EXPECT_ERRORS() are written with ' where the real text has ", and with `
 * where it has '.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "berth.h"
#include "check.h"
#include "tmpdir.h"

#define REPO "'repo':{'url':'https://github.com/acme/pos.git'}"

/* text with every ' turned into " and every ` into ' (new). */
static char *dq(const char *text)
{
	char *s = xstrdup(text), *p;

	for (p = s; *p; p++) {
		if (*p == '\'')
			*p = '"';
		else if (*p == '`')
			*p = '\'';
	}
	return s;
}

static int parse(struct config *cfg, struct merrs *errs, const char *text)
{
	char *json = dq(text);
	int rc = config_parse(cfg, json, strlen(json), "config.json",
			      "/etc/berth", errs);

	free(json);
	return rc;
}

static void print_list(const char *title, char *const *items, size_t n)
{
	size_t i;

	fprintf(stderr, "  %s:\n", title);
	for (i = 0; i < n; i++)
		fprintf(stderr, "    %s\n", items[i]);
}

/* Parses text and checks that it fails with exactly the messages in want
 * (NULL-terminated), in order. */
static void expect_errors(int line, const char *text, const char *const *want)
{
	struct config cfg;
	struct merrs errs = {0};
	char *wants[64];
	size_t n = 0, i;
	bool ok;
	int rc = parse(&cfg, &errs, text);

	while (want[n] != NULL && n < BERTH_ARRAY_LEN(wants)) {
		wants[n] = dq(want[n]);
		n++;
	}
	ok = rc == -1 && errs.n == n;
	for (i = 0; ok && i < n; i++)
		ok = strcmp(errs.items[i], wants[i]) == 0;
	check_count++;
	if (!ok) {
		check_failures++;
		fprintf(stderr, "%s:%d: errors differ (rc %d) for %s\n",
			__FILE__, line, rc, text);
		print_list("got", errs.items, errs.n);
		print_list("expected", wants, n);
	}
	for (i = 0; i < n; i++)
		free(wants[i]);
	if (rc == 0)
		config_release(&cfg);
	merrs_release(&errs);
}

#define EXPECT_ERRORS(text, ...)                                               \
	expect_errors(__LINE__, text, (const char *const[]){__VA_ARGS__, NULL})

/* Parses text, which must be valid; the caller releases cfg. */
static int parse_ok(int line, struct config *cfg, const char *text)
{
	struct merrs errs = {0};
	int rc = parse(cfg, &errs, text);

	check_count++;
	if (rc != 0) {
		check_failures++;
		fprintf(stderr, "%s:%d: config rejected: %s\n", __FILE__, line,
			text);
		print_list("errors", errs.items, errs.n);
		memset(cfg, 0, sizeof(*cfg));
	}
	merrs_release(&errs);
	return rc;
}

#define PARSE_OK(cfg, text) parse_ok(__LINE__, cfg, text)

/* One valid config around a fragment: "{REPO, fragment}". */
static char *with_repo(const char *fragment)
{
	return xasprintf("{" REPO "%s%s}", *fragment ? "," : "", fragment);
}

static void expect_valid(int line, const char *fragment)
{
	struct config cfg;
	char *text = with_repo(fragment);

	if (parse_ok(line, &cfg, text) == 0)
		config_release(&cfg);
	free(text);
}

#define EXPECT_VALID(fragment) expect_valid(__LINE__, fragment)

/* tmpl with every "<>" replaced by value (new). */
static char *fill(const char *tmpl, const char *value)
{
	struct buf b = {0};
	const char *p;

	while ((p = strstr(tmpl, "<>")) != NULL) {
		buf_append(&b, tmpl, (size_t)(p - tmpl));
		buf_puts(&b, value);
		tmpl = p + 2;
	}
	buf_puts(&b, tmpl);
	return buf_detach(&b);
}

/* For each value: {REPO, frag} is refused with exactly msg, where "<>" in
 * frag and msg stands for the value. */
static void expect_each_error(int line, const char *frag, const char *msg,
			      const char *const *values, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char *f = fill(frag, values[i]);
		char *text = with_repo(f);
		char *m = fill(msg, values[i]);
		const char *const want[] = {m, NULL};

		expect_errors(line, text, want);
		free(f);
		free(text);
		free(m);
	}
}

#define EXPECT_EACH_ERROR(frag, msg, values)                                   \
	expect_each_error(__LINE__, frag, msg, values, BERTH_ARRAY_LEN(values))

/* For each value: {REPO, frag} is valid. */
static void expect_each_valid(int line, const char *frag,
			      const char *const *values, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char *f = fill(frag, values[i]);

		expect_valid(line, f);
		free(f);
	}
}

#define EXPECT_EACH_VALID(frag, values)                                        \
	expect_each_valid(__LINE__, frag, values, BERTH_ARRAY_LEN(values))

static void test_defaults(void)
{
	struct config cfg;
	size_t i;

	if (PARSE_OK(&cfg, "{" REPO "}") != 0)
		return;
	CHECK_STR(cfg.path, "config.json");
	CHECK_STR(cfg.state_dir, "/var/lib/berth");
	CHECK_STR(cfg.listen, "127.0.0.1:8470");
	CHECK_STR(cfg.listen_host, "127.0.0.1");
	CHECK_INT(cfg.listen_port, 8470);
	CHECK_STR(cfg.repo.url, "https://github.com/acme/pos.git");
	CHECK(cfg.repo.token.env == NULL && cfg.repo.token.file == NULL);
	CHECK(cfg.repo.ssh_key_file == NULL);
	CHECK_INT(cfg.repo.poll_interval_s, 120);
	CHECK_INT(cfg.nenvs, 1);
	CHECK_STR(cfg.envs[0].name, "production");
	CHECK_STR(cfg.envs[0].branch, "main");
	CHECK_STR(cfg.envs[0].manifest, "berth.json");
	CHECK(cfg.envs[0].env_file == NULL);
	CHECK(cfg.envs[0].auto_deploy);
	for (i = 0; i < PROVIDER_COUNT; i++) {
		CHECK(!cfg.webhooks[i].enabled);
		CHECK_INT(cfg.webhooks[i].tolerance_s, 300);
	}
	CHECK(cfg.api_token.env == NULL && cfg.api_token.file == NULL);
	CHECK_INT(cfg.nnotify, 0);
	CHECK_INT(cfg.server.max_body_bytes, 25 << 20);
	CHECK_INT(cfg.server.max_header_bytes, 64 << 10);
	CHECK_INT(cfg.server.read_timeout_s, 10);
	CHECK_INT(cfg.server.write_timeout_s, 10);
	CHECK_INT(cfg.server.max_connections, 256);
	config_release(&cfg);
	CHECK(cfg.envs == NULL && cfg.path == NULL);
	config_release(&cfg); /* twice is harmless */
	config_release(NULL);
}

static void test_full(void)
{
	struct config cfg;
	const struct env_config *e;

	if (PARSE_OK(&cfg,
		     "{'state_dir':'state','listen':'[::1]:9000',"
		     "'repo':{'url':'https://github.com/acme/pos.git',"
		     "'token_env':'GIT_TOKEN','poll_interval_s':0},"
		     "'environments':{"
		     "'production':{'branch':'main','manifest':'deploy/berth.json',"
		     "'env_file':'production.env','auto_deploy':false},"
		     "'staging':{'branch':'main','env_file':'/etc/berth/staging.env'},"
		     "'review-1':{'branch':'feature/x'}},"
		     "'webhooks':{'github':{'secret_env':'GH'},"
		     "'gitlab':{'secret_file':'secrets/gitlab','tolerance_s':60},"
		     "'stripe':{'secret_env':'STRIPE','tolerance_s':30}},"
		     "'api':{'token_file':'/etc/berth/api-token'},"
		     "'notify':[{'type':'slack','url_env':'SLACK'},"
		     "{'type':'webhook','url_file':'hook-url'}],"
		     "'server':{'max_body_bytes':1024,'max_header_bytes':2048,"
		     "'read_timeout_s':1,'write_timeout_s':3600,"
		     "'max_connections':65536}}") != 0)
		return;
	CHECK_STR(cfg.state_dir, "/etc/berth/state");
	CHECK_STR(cfg.listen, "[::1]:9000");
	CHECK_STR(cfg.listen_host, "::1");
	CHECK_INT(cfg.listen_port, 9000);
	CHECK_STR(cfg.repo.token.env, "GIT_TOKEN");
	CHECK_INT(cfg.repo.poll_interval_s, 0);
	CHECK_INT(cfg.nenvs, 3);
	/* File order is kept. */
	CHECK_STR(cfg.envs[0].name, "production");
	CHECK_STR(cfg.envs[1].name, "staging");
	CHECK_STR(cfg.envs[2].name, "review-1");
	CHECK_STR(cfg.envs[0].manifest, "deploy/berth.json");
	CHECK_STR(cfg.envs[0].env_file, "/etc/berth/production.env");
	CHECK(!cfg.envs[0].auto_deploy);
	CHECK_STR(cfg.envs[1].env_file, "/etc/berth/staging.env");
	CHECK_STR(cfg.envs[1].manifest, "berth.json");
	CHECK(cfg.envs[1].auto_deploy);
	CHECK_STR(cfg.envs[2].branch, "feature/x");
	CHECK(cfg.envs[2].env_file == NULL);

	/* Two environments may track one branch: both are found. */
	e = config_env_for_branch(&cfg, "main", NULL);
	CHECK(e == &cfg.envs[0]);
	e = config_env_for_branch(&cfg, "main", e);
	CHECK(e == &cfg.envs[1]);
	CHECK(config_env_for_branch(&cfg, "main", e) == NULL);
	CHECK(config_env_for_branch(&cfg, "feature/x", NULL) == &cfg.envs[2]);
	CHECK(config_env_for_branch(&cfg, "develop", NULL) == NULL);
	CHECK(config_env(&cfg, "staging") == &cfg.envs[1]);
	CHECK(config_env(&cfg, "review-1") == &cfg.envs[2]);
	CHECK(config_env(&cfg, "Staging") == NULL);
	CHECK(config_env(&cfg, "qa") == NULL);

	CHECK(cfg.webhooks[PROVIDER_GITHUB].enabled);
	CHECK_STR(cfg.webhooks[PROVIDER_GITHUB].secret.env, "GH");
	CHECK(cfg.webhooks[PROVIDER_GITLAB].enabled);
	CHECK_STR(cfg.webhooks[PROVIDER_GITLAB].secret.file,
		  "/etc/berth/secrets/gitlab");
	CHECK(cfg.webhooks[PROVIDER_GITLAB].token.env == NULL);
	CHECK_INT(cfg.webhooks[PROVIDER_GITLAB].tolerance_s, 60);
	CHECK_INT(cfg.webhooks[PROVIDER_STRIPE].tolerance_s, 30);
	CHECK(!cfg.webhooks[PROVIDER_GITEA].enabled);
	CHECK_STR(cfg.api_token.file, "/etc/berth/api-token");
	CHECK_INT(cfg.nnotify, 2);
	CHECK_INT(cfg.notify[0].type, MANIFEST_NOTIFY_SLACK);
	CHECK_STR(cfg.notify[0].url.env, "SLACK");
	CHECK_INT(cfg.notify[1].type, MANIFEST_NOTIFY_WEBHOOK);
	CHECK_STR(cfg.notify[1].url.file, "/etc/berth/hook-url");
	CHECK_INT(cfg.server.max_body_bytes, 1024);
	CHECK_INT(cfg.server.max_header_bytes, 2048);
	CHECK_INT(cfg.server.read_timeout_s, 1);
	CHECK_INT(cfg.server.write_timeout_s, 3600);
	CHECK_INT(cfg.server.max_connections, 65536);
	config_release(&cfg);
}

static void test_document(void)
{
	EXPECT_ERRORS("[1]", "config.json: $: expected an object, got an "
			     "array");
	EXPECT_ERRORS("'x'", "config.json:1:3: invalid JSON: `[` or `{` "
			     "expected near `'x'`");
	EXPECT_ERRORS("{'repo':", "config.json:1:8: invalid JSON: unexpected "
				  "token near end of file");
	EXPECT_ERRORS("", "config.json:1:0: invalid JSON: `[` or `{` expected "
			  "near end of file");
	EXPECT_ERRORS("{" REPO ",'listen':'a:1','listen':'b:2'}",
		      "config.json:1:73: invalid JSON: duplicate object key "
		      "near `'listen'`");
	EXPECT_ERRORS("{}", "config.json: $: expected a 'repo' object with the "
			    "repository url, got nothing");
	EXPECT_ERRORS("{" REPO ",'environment':{},'Listen':'x'}",
		      "config.json: $.environment: unknown key (expected one "
		      "of state_dir, listen, repo, environments, webhooks, "
		      "api, notify, server)",
		      "config.json: $.Listen: unknown key (expected one of "
		      "state_dir, listen, repo, environments, webhooks, api, "
		      "notify, server)");
}

static void test_listen(void)
{
	struct config cfg;
	static const char *const bad[] = {
	    "8470",	   "::1:8470",	   "[::1]",	  "[::1]8470",
	    "[zz]:1",	   "127.0.0.1:70000", "999.1.1.1:80", "host:",
	    ":80",	   "a b:80",	   "-host:80",	  "host:-1",
	    "host:+80",	   "[::1]:",	   "a..b:1",	  "host.:80",
	};
	static const char *const good[] = {
	    "127.0.0.1:8470", "[::1]:8470", "localhost:0", "0.0.0.0:80",
	    "[::]:65535",     "berth.internal:8470",
	};

	EXPECT_EACH_ERROR("'listen':'<>'",
			  "config.json: $.listen: expected host:port (e.g. "
			  "127.0.0.1:8470 or [::1]:8470), got '<>'",
			  bad);
	EXPECT_EACH_VALID("'listen':'<>'", good);
	EXPECT_ERRORS("{" REPO ",'listen':8470}",
		      "config.json: $.listen: expected host:port (e.g. "
		      "127.0.0.1:8470 or [::1]:8470), got 8470");
	if (PARSE_OK(&cfg, "{" REPO ",'listen':'localhost:0'}") == 0) {
		CHECK_STR(cfg.listen_host, "localhost");
		CHECK_INT(cfg.listen_port, 0);
		config_release(&cfg);
	}
}

static void test_env_names(void)
{
	static const char *const bad_simple[] = {"Production", "_x", "A1"};
	static const char *const bad_quoted[] = {
	    "-x", "a/b", "a.b", "prod env", "ümlaut",
	    /* 65 characters */
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
	static const char *const good[] = {
	    "production", "prod-1", "eu_west", "1st", "a", "a-",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};

	EXPECT_EACH_ERROR("'environments':{'<>':{}}",
			  "config.json: $.environments.<>: expected an "
			  "environment name of at most 64 characters a-z, "
			  "0-9, _ and -, starting with a letter or digit",
			  bad_simple);
	EXPECT_EACH_ERROR("'environments':{'<>':{}}",
			  "config.json: $.environments['<>']: expected an "
			  "environment name of at most 64 characters a-z, "
			  "0-9, _ and -, starting with a letter or digit",
			  bad_quoted);
	EXPECT_EACH_VALID("'environments':{'<>':{}}", good);
	EXPECT_ERRORS("{" REPO ",'environments':{}}",
		      "config.json: $.environments: expected an object with at "
		      "least one environment, got an object");
	EXPECT_ERRORS("{" REPO ",'environments':['production']}",
		      "config.json: $.environments: expected an object with at "
		      "least one environment, got an array");
	EXPECT_ERRORS("{" REPO ",'environments':{'production':true}}",
		      "config.json: $.environments.production: expected an "
		      "object, got true");
	EXPECT_ERRORS("{" REPO ",'environments':{'production':{'brnch':'x'}}}",
		      "config.json: $.environments.production.brnch: unknown "
		      "key (expected one of branch, manifest, env_file, "
		      "auto_deploy)");
}

static void test_branches(void)
{
	static const char *const bad[] = {
	    "a b",    "..",	 "a..b", "-x",	 "x.lock", "a.lock/b", "a/.b",
	    ".hidden", "x/",	 "x.",	 "@",	 "a@{b",   "a~b",	   "a^b",
	    "a:b",    "a?b",	 "a*b",	 "a[b",	 "a\\\\b", "a//b",	   "HEAD",
	    "/main",
	};
	static const char *const good[] = {"main", "feature/x", "release-1.2",
					   "a@b", "v1.0_rc", "UPPER/Case"};

	EXPECT_EACH_ERROR("'environments':{'production':{'branch':'<>'}}",
			  "config.json: $.environments.production.branch: "
			  "expected a valid Git branch name, got '<>'",
			  bad);
	EXPECT_EACH_VALID("'environments':{'production':{'branch':'<>'}}", good);
	EXPECT_ERRORS("{" REPO ",'environments':{'production':{'branch':"
		      "'refs/heads/main'}}}",
		      "config.json: $.environments.production.branch: expected "
		      "a branch name without refs/heads/, got "
		      "'refs/heads/main'");
	EXPECT_ERRORS("{" REPO ",'environments':{'production':{'branch':''}}}",
		      "config.json: $.environments.production.branch: expected "
		      "a branch name, got ''");
	EXPECT_ERRORS("{" REPO ",'environments':{'production':{'branch':"
		      "'a\\u0001b'}}}",
		      "config.json: $.environments.production.branch: expected "
		      "a branch name, got 'a\\u0001b'");
	EXPECT_ERRORS("{" REPO ",'environments':{'production':{'branch':"
		      "'a\\tb'}}}",
		      "config.json: $.environments.production.branch: expected "
		      "a branch name, got 'a\\tb'");
	CHECK(config_check_branch("main"));
	CHECK(!config_check_branch("a\x7f"));
}

static void test_env_fields(void)
{
	static const char *const bad_manifest[] = {"../berth.json", "/berth.json",
						   "a//b.json", "./berth.json",
						   "dir/", "a/../b"};

	EXPECT_ERRORS("{" REPO ",'environments':{'production':"
		      "{'auto_deploy':'yes'}}}",
		      "config.json: $.environments.production.auto_deploy: "
		      "expected true or false, got 'yes'");
	EXPECT_ERRORS("{" REPO ",'environments':{'production':"
		      "{'auto_deploy':1}}}",
		      "config.json: $.environments.production.auto_deploy: "
		      "expected true or false, got 1");
	EXPECT_EACH_ERROR("'environments':{'production':{'manifest':'<>'}}",
			  "config.json: $.environments.production.manifest: "
			  "expected a relative path inside the repository, got "
			  "'<>'",
			  bad_manifest);
	EXPECT_ERRORS("{" REPO ",'environments':{'production':"
		      "{'env_file':''}}}",
		      "config.json: $.environments.production.env_file: "
		      "expected a file path, got ''");
	EXPECT_ERRORS("{" REPO ",'environments':{'production':"
		      "{'env_file':['a']}}}",
		      "config.json: $.environments.production.env_file: "
		      "expected a file path, got an array");
	EXPECT_ERRORS("{" REPO ",'environments':{'production':"
		      "{'env_file':null}}}",
		      "config.json: $.environments.production.env_file: "
		      "expected a file path, got null");
}

/* One repo object that must be refused with message. */
static void expect_repo_error(int line, const char *repo, const char *msg)
{
	char *text = xasprintf("{'repo':%s}", repo);
	const char *const want[] = {msg, NULL};

	expect_errors(line, text, want);
	free(text);
}

#define EXPECT_REPO_ERROR(repo, msg) expect_repo_error(__LINE__, repo, msg)

static void test_repo(void)
{
	static const struct {
		const char *url, *resolved;
		enum config_url_kind kind;
	} good[] = {
	    {"repos/pos.git", "/etc/berth/repos/pos.git", CONFIG_URL_LOCAL},
	    {"./pos", "/etc/berth/pos", CONFIG_URL_LOCAL},
	    {"/srv/git/pos.git/", "/srv/git/pos.git", CONFIG_URL_LOCAL},
	    {"/srv/my repo.git", "/srv/my repo.git", CONFIG_URL_LOCAL},
	    {"file:///srv/git/pos.git", NULL, CONFIG_URL_FILE},
	    {"https://github.com/acme/pos.git", NULL, CONFIG_URL_HTTPS},
	    {"https://oauth2@gitlab.example.com:8443/acme/pos.git", NULL,
	     CONFIG_URL_HTTPS},
	    {"http://127.0.0.1:3000/pos.git", NULL, CONFIG_URL_HTTP},
	    {"http://localhost/pos.git", NULL, CONFIG_URL_HTTP},
	    {"http://[::1]:8080/pos.git", NULL, CONFIG_URL_HTTP},
	    {"ssh://git@github.com/acme/pos.git", NULL, CONFIG_URL_SSH},
	    {"ssh://git@[2001:db8::1]:2222/pos.git", NULL, CONFIG_URL_SSH},
	    {"git@github.com:acme/pos.git", NULL, CONFIG_URL_SCP},
	    {"host:pos.git", NULL, CONFIG_URL_SCP},
	};
	static const char *const bad[] = {
	    "file://srv/pos.git", "file://",	       "http://github.com/pos.git",
	    "http://10.0.0.1/x",	  "git://github.com/x",  "ftp://host/x",
	    "https://github.com",	  "https://github.com/", "https://git hub.com/x",
	    "https://host:99999/x",	  "https://host:0/x",	   "https:///x",
	    "github.com:",		  "@host:x",	       "ho st:x",
	    "https://[::1/x",		  "HTTPS://github.com/x",
	};
	const char *what = "expected a local path or a file://, https://, "
			   "ssh:// or user@host:path URL, got ";
	size_t i;

	for (i = 0; i < BERTH_ARRAY_LEN(good); i++) {
		struct config cfg;
		enum config_url_kind kind;
		const char *why;
		char *text = xasprintf("{'repo':{'url':'%s'}}", good[i].url);

		if (PARSE_OK(&cfg, text) == 0) {
			CHECK_STR(cfg.repo.url, good[i].resolved
						    ? good[i].resolved
						    : good[i].url);
			config_release(&cfg);
		}
		CHECK_INT(config_check_url(&kind, &why, good[i].url), 0);
		CHECK_INT(kind, good[i].kind);
		free(text);
	}
	for (i = 0; i < BERTH_ARRAY_LEN(bad); i++) {
		enum config_url_kind kind;
		const char *why;
		char *repo = xasprintf("{'url':'%s'}", bad[i]);
		char *msg;

		CHECK_INT(config_check_url(&kind, &why, bad[i]), -1);
		msg = xasprintf("config.json: $.repo.url: expected %s, got '%s'",
				why, bad[i]);
		EXPECT_REPO_ERROR(repo, msg);
		free(repo);
		free(msg);
	}
	EXPECT_REPO_ERROR("{'url':'http://github.com/x.git'}",
			  "config.json: $.repo.url: expected an https:// URL "
			  "(http:// is only accepted for a loopback host, for "
			  "tests), got 'http://github.com/x.git'");
	/* A password is refused and never shown. */
	EXPECT_REPO_ERROR("{'url':'https://bob:hunter2@github.com/x.git'}",
			  "config.json: $.repo.url: expected a URL without a "
			  "password (put the token in token_env or "
			  "token_file), got 'https://bob:***@github.com/x.git'");
	EXPECT_REPO_ERROR("{'url':'ssh://bob:hunter2@github.com/x.git'}",
			  "config.json: $.repo.url: expected a URL without a "
			  "password (put the token in token_env or "
			  "token_file), got 'ssh://bob:***@github.com/x.git'");
	EXPECT_REPO_ERROR("{'url':'git://github.com/x'}",
			  "config.json: $.repo.url: expected a local path or a "
			  "file://, https://, ssh:// or user@host:path URL, got "
			  "'git://github.com/x'");
	(void)what;
	EXPECT_REPO_ERROR("{}", "config.json: $.repo.url: expected a local "
				"path or a file://, https://, ssh:// or "
				"user@host:path URL, got nothing");
	EXPECT_REPO_ERROR("{'url':7}", "config.json: $.repo.url: expected a "
				       "local path or a file://, https://, "
				       "ssh:// or user@host:path URL, got 7");
	EXPECT_REPO_ERROR("'x'", "config.json: $.repo: expected an object, "
				 "got 'x'");
	EXPECT_REPO_ERROR("{'url':'/srv/x','branch':'main'}",
			  "config.json: $.repo.branch: unknown key (expected "
			  "one of url, token_env, token_file, ssh_key_file, "
			  "poll_interval_s)");
	EXPECT_REPO_ERROR("{'url':'https://h/x','token_env':'A',"
			  "'token_file':'b'}",
			  "config.json: $.repo: expected one of token_env and "
			  "token_file, got both");
	EXPECT_REPO_ERROR("{'url':'/x','poll_interval_s':-1}",
			  "config.json: $.repo.poll_interval_s: expected an "
			  "integer from 0 to 86400, got -1");
	EXPECT_REPO_ERROR("{'url':'/x','poll_interval_s':86401}",
			  "config.json: $.repo.poll_interval_s: expected an "
			  "integer from 0 to 86400, got 86401");
	EXPECT_REPO_ERROR("{'url':'/x','poll_interval_s':'120'}",
			  "config.json: $.repo.poll_interval_s: expected an "
			  "integer from 0 to 86400, got '120'");
	EXPECT_REPO_ERROR("{'url':'/x','poll_interval_s':1.5}",
			  "config.json: $.repo.poll_interval_s: expected an "
			  "integer from 0 to 86400, got 1.5");
	{
		struct config cfg;

		if (PARSE_OK(&cfg, "{'repo':{'url':'git@github.com:a/b.git',"
				   "'ssh_key_file':'keys/deploy'}}") == 0) {
			CHECK_STR(cfg.repo.ssh_key_file,
				  "/etc/berth/keys/deploy");
			config_release(&cfg);
		}
	}
}

static void test_redact(void)
{
	char *s = config_check_redact_url("https://u:p@h/x");

	CHECK_STR(s, "https://u:***@h/x");
	free(s);
	s = config_check_redact_url("https://u@h/x@y");
	CHECK_STR(s, "https://u@h/x@y");
	free(s);
	s = config_check_redact_url("https://h/a:b@c");
	CHECK_STR(s, "https://h/a:b@c");
	free(s);
	s = config_check_redact_url("/srv/a:b@c");
	CHECK_STR(s, "/srv/a:b@c");
	free(s);
}

static void test_webhooks(void)
{
	static const char *const names[] = {"github",  "gitlab", "gitea",
					    "bitbucket", "generic", "stripe",
					    "sentry"};
	static const char *const secret_providers[] = {
	    "github", "gitea", "bitbucket", "generic", "stripe", "sentry"};
	struct config cfg;
	enum webhook_provider p;
	size_t i;

	for (i = 0; i < BERTH_ARRAY_LEN(names); i++) {
		CHECK_STR(config_provider_name((enum webhook_provider)i),
			  names[i]);
		CHECK_INT(config_provider_parse(&p, names[i]), 0);
		CHECK_INT(p, i);
	}
	CHECK_INT(config_provider_parse(&p, "GitHub"), BERTH_ENOTFOUND);
	CHECK_INT(config_provider_parse(&p, ""), BERTH_ENOTFOUND);
	CHECK_STR(config_provider_name(PROVIDER_COUNT), "unknown");

	EXPECT_ERRORS("{" REPO ",'webhooks':{'GitHub':{'secret_env':'X'}}}",
		      "config.json: $.webhooks.GitHub: unknown key (expected "
		      "one of github, gitlab, gitea, bitbucket, generic, "
		      "stripe, sentry)");
	EXPECT_ERRORS("{" REPO ",'webhooks':[]}",
		      "config.json: $.webhooks: expected an object, got an "
		      "array");
	EXPECT_ERRORS("{" REPO ",'webhooks':{'github':'GH_SECRET'}}",
		      "config.json: $.webhooks.github: expected an object, got "
		      "'GH_SECRET'");
	EXPECT_EACH_ERROR("'webhooks':{'<>':{}}",
			  "config.json: $.webhooks.<>: expected secret_env or "
			  "secret_file, got neither",
			  secret_providers);
	EXPECT_EACH_ERROR("'webhooks':{'<>':{'secret_env':'A','secret_file':"
			  "'b'}}",
			  "config.json: $.webhooks.<>: expected one of "
			  "secret_env and secret_file, got both",
			  secret_providers);
	EXPECT_ERRORS("{" REPO ",'webhooks':{'gitlab':{}}}",
		      "config.json: $.webhooks.gitlab: expected token_env, "
		      "token_file, secret_env or secret_file, got none of them");
	EXPECT_ERRORS("{" REPO ",'webhooks':{'gitlab':{'token_env':'A',"
		      "'secret_env':'B'}}}",
		      "config.json: $.webhooks.gitlab: expected a token "
		      "(token_env or token_file) or a signing token (secret_env "
		      "or secret_file), got both");
	EXPECT_ERRORS("{" REPO ",'webhooks':{'github':{'secret_env':'A',"
		      "'tolerance_s':5}}}",
		      "config.json: $.webhooks.github.tolerance_s: unknown key "
		      "(expected one of secret_env, secret_file)");
	EXPECT_ERRORS("{" REPO ",'webhooks':{'github':{'secret':'A'}}}",
		      "config.json: $.webhooks.github.secret: unknown key "
		      "(expected one of secret_env, secret_file)",
		      "config.json: $.webhooks.github: expected secret_env or "
		      "secret_file, got neither");
	EXPECT_ERRORS("{" REPO ",'webhooks':{'stripe':{'secret_env':'A',"
		      "'tolerance_s':0}}}",
		      "config.json: $.webhooks.stripe.tolerance_s: expected an "
		      "integer from 1 to 86400, got 0");
	EXPECT_ERRORS("{" REPO ",'webhooks':{'sentry':{'secret_env':5}}}",
		      "config.json: $.webhooks.sentry.secret_env: expected the "
		      "name of an environment variable, got 5");
	EXPECT_ERRORS("{" REPO ",'webhooks':{'gitea':{'secret_file':''}}}",
		      "config.json: $.webhooks.gitea.secret_file: expected a "
		      "file path, got ''");
	/* A secret written where its variable's name belongs is refused
	 * without being shown. */
	{
		struct merrs errs = {0};

		CHECK_INT(parse(&cfg, &errs,
				"{" REPO ",'webhooks':{'github':{'secret_env':"
				"'whsec_9f8e7d c0ffee'}},"
				"'api':{'token_env':'tok-12345'},"
				"'notify':[{'type':'slack','url_env':"
				"'https://hooks.slack.com/services/T0/B0/xyz'}]}"),
			  -1);
		CHECK_INT(errs.n, 3);
		for (i = 0; i < errs.n; i++) {
			CHECK(strstr(errs.items[i], "c0ffee") == NULL);
			CHECK(strstr(errs.items[i], "12345") == NULL);
			CHECK(strstr(errs.items[i], "slack.com") == NULL);
			CHECK(strstr(errs.items[i], "not shown") != NULL);
		}
		if (errs.n == 3)
			CHECK_STR(errs.items[0],
				  "config.json: $.webhooks.github.secret_env: "
				  "expected the name of an environment variable "
				  "([A-Za-z_][A-Za-z0-9_]*), got a string that is "
				  "not one (not shown: secrets go in the "
				  "variable, not in the config)");
		merrs_release(&errs);
	}
	if (PARSE_OK(&cfg, "{" REPO ",'webhooks':{'gitlab':{'token_env':"
			   "'GL_TOKEN'},'generic':{'secret_file':'/s/gen',"
			   "'tolerance_s':86400},'bitbucket':{'secret_env':"
			   "'_B1'}}}") == 0) {
		CHECK(cfg.webhooks[PROVIDER_GITLAB].enabled);
		CHECK_STR(cfg.webhooks[PROVIDER_GITLAB].token.env, "GL_TOKEN");
		CHECK(cfg.webhooks[PROVIDER_GITLAB].secret.env == NULL);
		CHECK(cfg.webhooks[PROVIDER_GITLAB].secret.file == NULL);
		CHECK_STR(cfg.webhooks[PROVIDER_GENERIC].secret.file, "/s/gen");
		CHECK_INT(cfg.webhooks[PROVIDER_GENERIC].tolerance_s, 86400);
		CHECK_STR(cfg.webhooks[PROVIDER_BITBUCKET].secret.env, "_B1");
		CHECK(!cfg.webhooks[PROVIDER_GITHUB].enabled);
		config_release(&cfg);
	}
}

static void test_api_notify_server(void)
{
	EXPECT_ERRORS("{" REPO ",'api':{}}",
		      "config.json: $.api: expected token_env or token_file, "
		      "got neither");
	EXPECT_ERRORS("{" REPO ",'api':{'token':'x','token_env':'T'}}",
		      "config.json: $.api.token: unknown key (expected one of "
		      "token_env, token_file)");
	EXPECT_ERRORS("{" REPO ",'api':'T'}",
		      "config.json: $.api: expected an object, got 'T'");
	EXPECT_ERRORS("{" REPO ",'notify':{'type':'slack'}}",
		      "config.json: $.notify: expected an array, got an object");
	EXPECT_ERRORS("{" REPO ",'notify':[{'type':'email','url_env':'U'},"
		      "{'url_env':'U'},{'type':'slack'},'x',"
		      "{'type':'webhook','url_env':'U','url':'u'}]}",
		      "config.json: $.notify[0].type: expected 'slack' or "
		      "'webhook', got 'email'",
		      "config.json: $.notify[1].type: expected 'slack' or "
		      "'webhook', got nothing",
		      "config.json: $.notify[2]: expected url_env or url_file, "
		      "got neither",
		      "config.json: $.notify[3]: expected an object, got 'x'",
		      "config.json: $.notify[4].url: unknown key (expected one "
		      "of type, url_env, url_file)");
	EXPECT_VALID("'notify':[]");
	EXPECT_ERRORS("{" REPO ",'server':{'max_body_bytes':1023,"
		      "'max_header_bytes':1048577,'read_timeout_s':0,"
		      "'write_timeout_s':3601,'max_connections':0,'port':1}}",
		      "config.json: $.server.port: unknown key (expected one "
		      "of max_body_bytes, max_header_bytes, read_timeout_s, "
		      "write_timeout_s, max_connections)",
		      "config.json: $.server.max_body_bytes: expected an "
		      "integer from 1024 to 1073741824, got 1023",
		      "config.json: $.server.max_header_bytes: expected an "
		      "integer from 1024 to 1048576, got 1048577",
		      "config.json: $.server.read_timeout_s: expected an "
		      "integer from 1 to 3600, got 0",
		      "config.json: $.server.write_timeout_s: expected an "
		      "integer from 1 to 3600, got 3601",
		      "config.json: $.server.max_connections: expected an "
		      "integer from 1 to 65536, got 0");
	EXPECT_ERRORS("{" REPO ",'server':5}",
		      "config.json: $.server: expected an object, got 5");
	EXPECT_ERRORS("{" REPO ",'state_dir':''}",
		      "config.json: $.state_dir: expected a file path, got ''");
	EXPECT_ERRORS("{" REPO ",'state_dir':'a\\nb'}",
		      "config.json: $.state_dir: expected a file path, got "
		      "'a\\nb'");
}

/* Every problem is reported, not only the first, in file order. */
static void test_all_errors(void)
{
	EXPECT_ERRORS(
	    "{'listen':'nope','repo':{'url':'ftp://x/y','poll_interval_s':-5},"
	    "'environments':{'production':{'branch':'a b','auto_deploy':'yes'},"
	    "'Staging':{}},'webhooks':{'github':{},'jira':{}},"
	    "'notify':[{'type':'sms'}],'extra':1}",
	    "config.json: $.extra: unknown key (expected one of state_dir, "
	    "listen, repo, environments, webhooks, api, notify, server)",
	    "config.json: $.listen: expected host:port (e.g. 127.0.0.1:8470 or "
	    "[::1]:8470), got 'nope'",
	    "config.json: $.repo.url: expected a local path or a file://, "
	    "https://, ssh:// or user@host:path URL, got 'ftp://x/y'",
	    "config.json: $.repo.poll_interval_s: expected an integer from 0 "
	    "to 86400, got -5",
	    "config.json: $.environments.production.branch: expected a valid "
	    "Git branch name, got 'a b'",
	    "config.json: $.environments.production.auto_deploy: expected true "
	    "or false, got 'yes'",
	    "config.json: $.environments.Staging: expected an environment name "
	    "of at most 64 characters a-z, 0-9, _ and -, starting with a letter "
	    "or digit",
	    "config.json: $.webhooks.github: expected secret_env or "
	    "secret_file, got neither",
	    "config.json: $.webhooks.jira: unknown key (expected one of "
	    "github, gitlab, gitea, bitbucket, generic, stripe, sentry)",
	    "config.json: $.notify[0].type: expected 'slack' or 'webhook', got "
	    "'sms'",
	    "config.json: $.notify[0]: expected url_env or url_file, got "
	    "neither");
}

/* Long and odd keys and values are quoted and cut in messages. */
static void test_message_quoting(void)
{
	char quoted[16];

	config_check_quote(quoted, sizeof(quoted), "abc", 3);
	CHECK_STR(quoted, "\"abc\"");
	config_check_quote(quoted, sizeof(quoted), "a\"b\\c\n", 6);
	CHECK_STR(quoted, "\"a\\\"b\\\\c\\n\"");
	config_check_quote(quoted, sizeof(quoted), "abcdefghijklmnop", 16);
	CHECK_STR(quoted, "\"abcdefghij...\"");
	config_check_quote(quoted, sizeof(quoted), "abcdefgh\xc3\xa9xyz", 13);
	CHECK_STR(quoted, "\"abcdefgh...\"");
	EXPECT_ERRORS("{" REPO ",'environments':{'a\\\"b':{}}}",
		      "config.json: $.environments['a\\'b']: expected an "
		      "environment name of at most 64 characters a-z, 0-9, "
		      "_ and -, starting with a letter or digit");
}

/* Writes a config text (written with ' for ") as tmpdir/name. */
static void write_config(const char *name, const char *text)
{
	char *json = dq(text);

	free(tmpdir_put(name, json, strlen(json), 0600));
	free(json);
}

/* Checks that got is dir/rel. */
static void check_in(int line, const char *got, const char *dir,
		     const char *rel)
{
	char *want = fs_join(dir, rel);

	check_count++;
	if (got == NULL || strcmp(got, want) != 0) {
		check_failures++;
		fprintf(stderr, "%s:%d: got '%s', expected '%s'\n", __FILE__,
			line, got ? got : "(null)", want);
	}
	free(want);
}

#define CHECK_IN(got, dir, rel) check_in(__LINE__, got, dir, rel)

static void test_load(void)
{
	struct config cfg;
	struct merrs errs = {0};
	char *path = fs_join(tmpdir, "config.json");
	char *sub = fs_join(tmpdir, "etc");
	char *expect, cwd[4096];
	struct berr err;
	FILE *f;

	write_config("config.json",
		     "{'state_dir':'state','repo':{'url':'../repos/pos.git',"
		     "'ssh_key_file':'./keys//deploy'},"
		     "'environments':{'production':{'env_file':"
		     "'production.env'}},"
		     "'webhooks':{'github':{'secret_file':'secrets/github'}}}");
	CHECK_INT(config_load(&cfg, path, &errs), 0);
	CHECK_INT(errs.n, 0);
	if (errs.n == 0) {
		CHECK_STR(cfg.path, path);
		CHECK_IN(cfg.state_dir, tmpdir, "state");
		CHECK_IN(cfg.repo.url, tmpdir, "../repos/pos.git");
		CHECK_IN(cfg.repo.ssh_key_file, tmpdir, "keys/deploy");
		CHECK_IN(cfg.envs[0].env_file, tmpdir, "production.env");
		CHECK_IN(cfg.webhooks[PROVIDER_GITHUB].secret.file, tmpdir,
			 "secrets/github");
		config_release(&cfg);
	}

	/* A relative config path: its directory is made absolute. */
	CHECK(fs_mkdir_p(sub, 0700, &err) == 0);
	write_config("etc/berth.json", "{'repo':{'url':'pos'}}");
	CHECK(getcwd(cwd, sizeof(cwd)) != NULL);
	CHECK_INT(chdir(tmpdir), 0);
	CHECK_INT(config_load(&cfg, "etc/berth.json", &errs), 0);
	CHECK_INT(chdir(cwd), 0);
	if (errs.n == 0) {
		CHECK_IN(cfg.path, sub, "berth.json");
		CHECK_IN(cfg.repo.url, sub, "pos");
		config_release(&cfg);
	}

	/* $BERTH_CONFIG when no path is given. */
	setenv("BERTH_CONFIG", path, 1);
	CHECK_INT(config_load(&cfg, NULL, &errs), 0);
	CHECK_STR(cfg.path, path);
	config_release(&cfg);

	/* Errors name the file as it was given. */
	write_config("bad.json", "{'repo':{'url':'/x'},'listen':1}");
	free(path);
	path = fs_join(tmpdir, "bad.json");
	CHECK_INT(config_load(&cfg, path, &errs), -1);
	CHECK_INT(errs.n, 1);
	if (errs.n == 1) {
		expect = xasprintf("%s: $.listen: expected host:port (e.g. "
				   "127.0.0.1:8470 or [::1]:8470), got 1",
				   path);
		CHECK_STR(errs.items[0], expect);
		free(expect);
	}
	CHECK(cfg.path == NULL && cfg.envs == NULL);

	/* The CLI prints the list, one message a line. */
	f = tmpfile();
	if (f != NULL) {
		char line[512] = "";

		config_print_errors(&errs, f);
		rewind(f);
		CHECK(fgets(line, sizeof(line), f) != NULL);
		CHECK(strncmp(line, "berth: ", 7) == 0);
		CHECK(strstr(line, "$.listen: expected host:port") != NULL);
		CHECK(fgets(line, sizeof(line), f) == NULL);
		fclose(f);
	}
	merrs_release(&errs);

	/* A missing file says how to point berth at one. */
	free(path);
	path = fs_join(tmpdir, "missing.json");
	CHECK_INT(config_load(&cfg, path, &errs), BERTH_ENOTFOUND);
	CHECK_INT(errs.n, 1);
	if (errs.n == 1) {
		expect = xasprintf("cannot open config '%s': No such file or "
				   "directory; berth reads --config FILE, else "
				   "$BERTH_CONFIG, else /etc/berth/config.json "
				   "(format: docs/config.md)",
				   path);
		CHECK_STR(errs.items[0], expect);
		free(expect);
	}
	merrs_release(&errs);
	setenv("BERTH_CONFIG", path, 1);
	CHECK_INT(config_load(&cfg, NULL, &errs), BERTH_ENOTFOUND);
	CHECK(errs.n == 1 && strstr(errs.items[0], "' (from BERTH_CONFIG): ") !=
				 NULL);
	merrs_release(&errs);
	setenv("BERTH_CONFIG", "", 1);
	if (!fs_exists(CONFIG_DEFAULT_PATH)) {
		CHECK_INT(config_load(&cfg, NULL, &errs), BERTH_ENOTFOUND);
		CHECK(errs.n == 1 &&
		      strstr(errs.items[0], "cannot open config "
					    "'/etc/berth/config.json' (the "
					    "default): ") != NULL);
	} else {
		/* This host has a config: the default path is the one read. */
		if (config_load(&cfg, NULL, &errs) == 0) {
			CHECK_STR(cfg.path, CONFIG_DEFAULT_PATH);
			config_release(&cfg);
		} else {
			CHECK(errs.n > 0 &&
			      strstr(errs.items[0], CONFIG_DEFAULT_PATH) != NULL);
		}
	}
	merrs_release(&errs);
	unsetenv("BERTH_CONFIG");

	/* A directory is not a config. */
	CHECK_INT(config_load(&cfg, tmpdir, &errs), -1);
	CHECK(errs.n == 1 && strstr(errs.items[0], "Is a directory") != NULL);
	merrs_release(&errs);
	free(path);
	free(sub);
}

/* The example shipped in contrib/ is valid and means what it says. */
static void test_example(void)
{
	struct config cfg;
	struct merrs errs = {0};
	size_t i;

	CHECK_INT(config_load(&cfg, "contrib/config.example.json", &errs), 0);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "  %s\n", errs.items[i]);
	merrs_release(&errs);
	if (cfg.path == NULL)
		return;
	CHECK_STR(cfg.state_dir, "/var/lib/berth");
	CHECK_STR(cfg.listen, "127.0.0.1:8470");
	CHECK_STR(cfg.repo.url, "https://github.com/acme/pos.git");
	CHECK_INT(cfg.nenvs, 2);
	CHECK(config_env(&cfg, "production") != NULL);
	CHECK(config_env(&cfg, "staging") != NULL);
	for (i = 0; i < PROVIDER_COUNT; i++)
		CHECK(cfg.webhooks[i].enabled);
	CHECK(cfg.api_token.env != NULL);
	CHECK_INT(cfg.nnotify, 1);
	config_release(&cfg);
}

/* The example of SPEC §2, verbatim, is a valid config. */
static void test_spec_example(void)
{
	struct config cfg;
	struct merrs errs = {0};
	size_t i;

	CHECK_INT(config_load(&cfg, "tests/data/config/spec-example.json",
			      &errs),
		  0);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "  %s\n", errs.items[i]);
	merrs_release(&errs);
	if (cfg.path == NULL)
		return;
	CHECK_STR(cfg.repo.token.env, "GIT_TOKEN");
	CHECK_STR(cfg.repo.ssh_key_file, "/etc/berth/deploy_key");
	CHECK_STR(config_env(&cfg, "staging")->branch, "staging");
	CHECK_STR(config_env(&cfg, "production")->env_file,
		  "/etc/berth/production.env");
	CHECK_STR(cfg.webhooks[PROVIDER_GITLAB].token.env,
		  "GITLAB_WEBHOOK_TOKEN");
	CHECK_STR(cfg.webhooks[PROVIDER_SENTRY].secret.env,
		  "SENTRY_CLIENT_SECRET");
	CHECK_STR(cfg.api_token.env, "BERTH_API_TOKEN");
	CHECK_STR(cfg.notify[0].url.env, "SLACK_WEBHOOK_URL");
	config_release(&cfg);
}

int main(void)
{
	tmpdir_make("test-config");
	test_defaults();
	test_full();
	test_document();
	test_listen();
	test_env_names();
	test_branches();
	test_env_fields();
	test_repo();
	test_redact();
	test_webhooks();
	test_api_notify_server();
	test_all_errors();
	test_message_quoting();
	test_load();
	test_example();
	test_spec_example();
	tmpdir_remove();
	return check_done("test_config");
}
