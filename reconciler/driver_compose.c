/*
 * driver_compose.c — the compose driver: the application's services as
 * the containers of one docker compose project, run by `docker compose`
 * (v2) or `docker-compose` (v1), whichever the host has (docs/drivers.md).
 *
 * Compose does the work — build, create, recreate — through its command
 * line, always with an argv vector and with the env file's variables in
 * its environment (it interpolates ${VAR} from there), never on the
 * command line. berth adds a generated override file to the release's
 * compose file: it tags every image the release builds with the commit,
 * so that an earlier release can start again without a rebuild, and puts
 * berth's labels (the service's manifest hash, the commit, the
 * environment) on every container. What runs is then read from the Docker
 * Engine API (docker.c), not from text a command prints.
 *
 * envs/<env>/compose.json records the project and the services berth
 * started, so that stop, live, status and logs, which get no manifest,
 * know where to look. envs/<env>/compose/<commit>.yml are the overrides.
 */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "berth.h"

#define RUNTIME_VERSION      1
#define OVERRIDE_MODE        0640
#define STOP_TIMEOUT_DEFAULT 30
#define STOP_TIMEOUT_MAX     86400
#define CONFIG_MAX           ((size_t)8 << 20)
#define OUTPUT_TAIL          ((size_t)16 << 10)

/* Everything one compose invocation of a release needs. */
struct invocation {
	struct strv argv; /* compose -p P -f F -f O --project-directory R */
	struct compose_config config; /* the release's services */
	char *override;               /* path of the override file */
};

static char *runtime_path(const struct state *st)
{
	return state_path(st, DRIVER_COMPOSE_RUNTIME);
}

static int check_name(const char *service, struct berr *err)
{
	if (service == NULL || !state_env_name_ok(service))
		return berr_set(err,
		                "invalid service name '%s': expected letters, "
		                "digits, '.', '_' or '-'",
		                service ? service : "");
	return 0;
}

/* A compose project name as the manifest allows it: [a-z0-9][a-z0-9_-]*,
 * at most 63 characters. */
static bool project_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n <= 63 && s[0] != '_' && s[0] != '-' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* [A-Za-z_][A-Za-z0-9_]* */
static bool var_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && !(s[0] >= '0' && s[0] <= '9') &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz"
	                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n;
}

/* --- compose.json --------------------------------------------------------- */

/* compose.json into *root (new): driver_state_load, plus the project. */
static int runtime_load(json_t **root, const struct state *st, struct berr *err)
{
	const json_t *project;
	char *path;

	if (driver_state_load(root, st, DRIVER_COMPOSE_RUNTIME, RUNTIME_VERSION,
	                      err) < 0)
		return -1;
	project = json_object_get(*root, "project");
	if (project == NULL || json_is_null(project) ||
	    project_ok(json_string_value(project)))
		return 0;
	path = runtime_path(st);
	berr_set(err,
	         "invalid runtime state '%s': $.project: expected a compose "
	         "project name",
	         path);
	free(path);
	json_decref(*root);
	*root = NULL;
	return -1;
}

static int runtime_save(const struct state *st, json_t *root, struct berr *err)
{
	return driver_state_save(st, DRIVER_COMPOSE_RUNTIME, root, err);
}

/* The project of the recorded services (borrowed), or NULL. */
static const char *runtime_project(const json_t *root)
{
	return json_string_value(json_object_get(root, "project"));
}

static json_t *runtime_services(const json_t *root)
{
	return json_object_get(root, "services");
}

/* --- running compose ------------------------------------------------------ */

/* The commit a release directory is named by ("releases/<commit>", or a
 * temporary export "<commit>.tmp.<pid>"). */
static int release_commit(char out[41], const char *release_dir,
                          struct berr *err)
{
	const char *base = strrchr(release_dir, '/');
	char c[41];

	base = base ? base + 1 : release_dir;
	if (strlen(base) >= 40) {
		memcpy(c, base, 40);
		c[40] = '\0';
		if (strnum_is_sha(c) && (base[40] == '\0' || base[40] == '.')) {
			memcpy(out, c, 41);
			return 0;
		}
	}
	return berr_set(err, "release directory '%s' is not named by a commit",
	                release_dir);
}

/* Runs argv with env in release_dir; its stdout goes to stdout_fd (-1:
 * with stderr into the error's last line). Returns 0 when it exited 0. */
static int run(struct buf *tail, const struct driver_ctx *ctx,
               const struct strv *argv, const struct kvlist *env,
               const char *release_dir, int stdout_fd, bool stream,
               const char *what, struct berr *err)
{
	struct spawn_opts o = SPAWN_OPTS_INIT;
	struct spawn_result r;
	int rc = 0;

	o.argv = (const char *const *)argv->v;
	o.env = env;
	o.cwd = release_dir;
	o.capture_max = OUTPUT_TAIL;
	o.stdout_fd = stdout_fd;
	if (stream) {
		o.on_line = ctx->on_line;
		o.arg = ctx->arg;
	}
	if (spawn_run(&r, &o, err) < 0) {
		rc = berr_prefix(err, "%s", what);
	} else if (r.exit_code != 0 || r.timed_out) {
		char *status = spawn_describe_status(&r);
		char *line = driver_last_line(&r.output);

		rc = berr_set(err, "%s %s%s%s", what, status,
		              line[0] ? ": " : "", line);
		free(line);
		free(status);
	}
	if (tail != NULL) {
		buf_append(tail, buf_str(&r.output), r.output.len);
		buf_keep_tail(tail, OUTPUT_TAIL);
	}
	spawn_result_release(&r);
	return rc;
}

/* compose -p P -f <release>/<file> [-f override] --project-directory R */
static void base_argv(struct strv *argv, const struct manifest *m,
                      const char *release_dir, const char *override)
{
	char *file = fs_join(release_dir, m->compose_file);

	strv_push(argv, "-p");
	strv_push(argv, m->compose_project);
	strv_push(argv, "-f");
	strv_push(argv, file);
	if (override != NULL) {
		strv_push(argv, "-f");
		strv_push(argv, override);
	}
	strv_push(argv, "--project-directory");
	strv_push(argv, release_dir);
	free(file);
}

/* `compose config` of the release alone, parsed. */
static int read_config(struct compose_config *out, const struct driver_ctx *ctx,
                       const struct manifest *m, const char *release_dir,
                       const struct kvlist *env, struct berr *err)
{
	struct strv argv = {0};
	struct buf yaml;
	char chunk[65536];
	int fd = -1, rc = -1;
	ssize_t n;

	memset(out, 0, sizeof(*out));
	buf_init(&yaml, CONFIG_MAX);
	if (compose_cli(&argv, env, err) < 0)
		goto out;
	base_argv(&argv, m, release_dir, NULL);
	strv_push(&argv, "config");
	/* stdout apart from stderr, where compose prints its warnings. */
	fd = memfd_create("berth-compose-config", MFD_CLOEXEC);
	if (fd < 0) {
		berr_errno(err, errno, "cannot create a memory file");
		goto out;
	}
	if (run(NULL, ctx, &argv, env, release_dir, fd, false, "compose config",
	        err) < 0)
		goto out;
	if (lseek(fd, 0, SEEK_SET) < 0) {
		berr_errno(err, errno, "cannot read compose config");
		goto out;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_append(&yaml, chunk, (size_t)n) != 0) {
			berr_set(err, "compose config is larger than %zu bytes",
			         CONFIG_MAX);
			goto out;
		}
	if (n < 0) {
		berr_errno(err, errno, "cannot read compose config");
		goto out;
	}
	compose_parse_config(out, buf_str(&yaml), yaml.len);
	if (out->services.n == 0) {
		berr_set(err, "'%s' defines no service", m->compose_file);
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	buf_release(&yaml);
	strv_release(&argv);
	return rc;
}

/* Reads the release's configuration and writes its override: what every
 * compose invocation for a release starts with. */
static int prepare(struct invocation *inv, const struct driver_ctx *ctx,
                   const struct manifest *m, const char *release_dir,
                   const char *commit, const struct kvlist *env,
                   struct berr *err)
{
	char *dir = state_path(ctx->st, DRIVER_COMPOSE_OVERRIDES);
	char *rel = NULL, *text = NULL;
	int rc = -1;

	memset(inv, 0, sizeof(*inv));
	if (read_config(&inv->config, ctx, m, release_dir, env, err) < 0 ||
	    fs_mkdir_p(dir, 0750, err) < 0)
		goto out;
	rel = xasprintf(DRIVER_COMPOSE_OVERRIDES "/%s.yml", commit);
	inv->override = state_path(ctx->st, rel);
	text = compose_override(&inv->config, m, ctx->st->env, commit);
	if (fs_write_atomic(inv->override, text, strlen(text), OVERRIDE_MODE,
	                    err) < 0)
		goto out;
	if (compose_cli(&inv->argv, env, err) < 0)
		goto out;
	base_argv(&inv->argv, m, release_dir, inv->override);
	rc = 0;
out:
	free(text);
	free(rel);
	free(dir);
	return rc;
}

static void invocation_release(struct invocation *inv)
{
	strv_release(&inv->argv);
	compose_config_release(&inv->config);
	free(inv->override);
	memset(inv, 0, sizeof(*inv));
}

/* --- the driver operations ------------------------------------------------ */

static int compose_build(struct buf *output, const struct driver_ctx *ctx,
                         const struct manifest *m, const char *release_dir,
                         struct berr *err)
{
	struct invocation inv = {0};
	struct kvlist env;
	struct buf tail;
	char commit[41];
	int rc = -1;

	kvlist_init(&env);
	buf_init(&tail, 2 * OUTPUT_TAIL);
	if (release_commit(commit, release_dir, err) < 0)
		goto out;
	/* The manifest's own build commands first: they may generate what
	 * the images are built from. */
	if (m->nbuild > 0 &&
	    driver_run_build(&tail, ctx, m, release_dir, err) < 0)
		goto out;
	driver_env(&env, ctx->vars, NULL);
	if (prepare(&inv, ctx, m, release_dir, commit, &env, err) < 0)
		goto out;
	if (inv.config.built.n == 0) {
		rc = 0; /* every service runs a ready-made image */
		goto out;
	}
	strv_push(&inv.argv, "build");
	rc = run(&tail, ctx, &inv.argv, &env, release_dir, -1, true,
	         "compose build", err);
out:
	if (output != NULL)
		buf_append(output, buf_str(&tail), tail.len);
	invocation_release(&inv);
	buf_release(&tail);
	kvlist_release(&env);
	return rc;
}

/* The project's containers of one service (NULL: all), newest running
 * first. */
static int containers(struct docker_container **out, size_t *n,
                      const struct driver_ctx *ctx, const char *project,
                      const char *service, struct berr *err)
{
	struct docker d;
	int rc;

	*out = NULL;
	*n = 0;
	if (docker_init(&d, ctx->vars, err) < 0)
		return -1;
	rc = docker_list(out, n, &d, project, service, err);
	docker_release(&d);
	return rc;
}

/* Refuses to start svc when the project belongs to another environment or
 * the service already runs. */
static int check_clear(const struct driver_ctx *ctx, const char *project,
                       const char *service, struct berr *err)
{
	struct docker_container *cs = NULL;
	size_t i, n = 0;
	int rc = 0;

	if (containers(&cs, &n, ctx, project, NULL, err) < 0)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		const struct docker_container *c = &cs[i];

		if (c->env != NULL && strcmp(c->env, ctx->st->env) != 0)
			rc =
			    berr_set(err,
			             "compose project '%s' runs environment "
			             "'%s' (container '%s'): give each "
			             "environment a compose.project of its own",
			             project, c->env, c->name);
		else if (strcmp(c->service, service) == 0 && c->running)
			rc = berr_set(err,
			              "service '%s' is already running "
			              "(container '%s'); stop it first",
			              service, c->name);
	}
	docker_containers_free(cs, n);
	return rc;
}

static json_t *record_json(const struct manifest_service *svc,
                           const char *commit, const char *release_dir)
{
	char when[32];

	strnum_iso8601(when, strnum_now_ms() / 1000);
	return json_pack("{s:s, s:s, s:s?, s:s, s:i}", "commit", commit,
	                 "release", release_dir, "hash", svc->hash,
	                 "started_at", when, "stop_timeout_s",
	                 svc->stop_timeout_s > 0 ? svc->stop_timeout_s
	                                         : STOP_TIMEOUT_DEFAULT);
}

/* Records in root's record of service what the engine says its container
 * runs now that compose started it ("container": id, name, spec), for live
 * to compare with what runs later. A failure only loses the comparison:
 * it is logged. */
static void remember_container(const struct driver_ctx *ctx, json_t *root,
                               const char *project, const char *service)
{
	json_t *rec = json_object_get(runtime_services(root), service);
	struct docker_container *cs = NULL;
	struct berr err;
	size_t n = 0;

	if (containers(&cs, &n, ctx, project, service, &err) < 0) {
		log_warn("msg=\"cannot read the started container\" "
		         "service=%s error=\"%s\"",
		         service, err.msg);
		goto out;
	}
	if (n == 0 || cs[0].spec == NULL) {
		log_warn("msg=\"no container after compose up\" "
		         "service=%s",
		         service);
		goto out;
	}
	json_object_set_new(rec, "container",
	                    json_pack("{s:s, s:s, s:O}", "id", cs[0].id, "name",
	                              cs[0].name, "spec", cs[0].spec));
	if (runtime_save(ctx->st, root, &err) < 0)
		log_warn("msg=\"cannot record the started container\" "
		         "service=%s error=\"%s\"",
		         service, err.msg);
out:
	docker_containers_free(cs, n);
}

static int compose_start(const struct driver_ctx *ctx, const struct manifest *m,
                         const struct manifest_service *svc,
                         const char *release_dir, const char *commit,
                         struct berr *err)
{
	struct invocation inv = {0};
	const char *recorded;
	json_t *root = NULL;
	struct kvlist env;
	int rc = -1;

	kvlist_init(&env);
	if (check_name(svc->name, err) < 0)
		goto out;
	if (commit == NULL || !strnum_is_sha(commit)) {
		berr_set(err, "cannot start service '%s': no commit given",
		         svc->name);
		goto out;
	}
	if (runtime_load(&root, ctx->st, err) < 0)
		goto out;
	recorded = runtime_project(root);
	if (recorded != NULL && strcmp(recorded, m->compose_project) != 0 &&
	    json_object_size(runtime_services(root)) > 0) {
		berr_set(err,
		         "services of compose project '%s' are still "
		         "recorded as started; stop them before starting "
		         "project '%s'",
		         recorded, m->compose_project);
		goto out;
	}
	if (check_clear(ctx, m->compose_project, svc->name, err) < 0)
		goto out;
	driver_env(&env, ctx->vars, &svc->env);
	if (prepare(&inv, ctx, m, release_dir, commit, &env, err) < 0)
		goto out;
	if (!strv_contains(&inv.config.services, svc->name)) {
		berr_set(err, "service '%s' is not defined in '%s'", svc->name,
		         m->compose_file);
		goto out;
	}
	/* Recorded first: a start that fails half-way is still stopped. */
	json_object_set_new(root, "project", json_string(m->compose_project));
	json_object_set_new(runtime_services(root), svc->name,
	                    record_json(svc, commit, release_dir));
	if (runtime_save(ctx->st, root, err) < 0)
		goto out;
	strv_push(&inv.argv, "up");
	strv_push(&inv.argv, "-d");
	strv_push(&inv.argv, "--no-deps");
	strv_push(&inv.argv, "--no-build");
	strv_push(&inv.argv, "--force-recreate");
	strv_push(&inv.argv, svc->name);
	rc = run(NULL, ctx, &inv.argv, &env, release_dir, -1, false,
	         "compose up", err);
	if (rc < 0)
		berr_prefix(err, "cannot start service '%s'", svc->name);
	else
		remember_container(ctx, root, m->compose_project, svc->name);
out:
	invocation_release(&inv);
	kvlist_release(&env);
	json_decref(root);
	return rc;
}

static int compose_stop(bool *killed, const struct driver_ctx *ctx,
                        const char *service, int stop_timeout_s,
                        struct berr *err)
{
	struct docker_container *cs = NULL;
	struct docker d = {0};
	const json_t *rec;
	const char *project;
	json_t *root = NULL;
	size_t i, n = 0;
	int timeout, rc = -1;
	bool one;

	*killed = false;
	if (check_name(service, err) < 0 ||
	    runtime_load(&root, ctx->st, err) < 0)
		goto out;
	project = runtime_project(root);
	rec = json_object_get(runtime_services(root), service);
	if (project == NULL || rec == NULL) {
		berr_set(err, "service '%s' was not started by berth", service);
		rc = BERTH_ENOTFOUND;
		goto out;
	}
	timeout = stop_timeout_s;
	if (timeout <= 0)
		timeout = (int)json_integer_value(
		    json_object_get(rec, "stop_timeout_s"));
	if (timeout <= 0 || timeout > STOP_TIMEOUT_MAX)
		timeout = STOP_TIMEOUT_DEFAULT;
	if (docker_init(&d, ctx->vars, err) < 0 ||
	    docker_list(&cs, &n, &d, project, service, err) < 0)
		goto out;
	/* `compose stop -t` then `rm -f`, through the API: no compose file
	 * is needed to stop what runs. */
	for (i = 0; i < n; i++) {
		if (docker_stop(&one, &d, &cs[i], timeout, err) < 0 ||
		    docker_remove(&d, &cs[i], err) < 0) {
			berr_prefix(err, "cannot stop service '%s'", service);
			goto out;
		}
		*killed = *killed || one;
	}
	json_object_del(runtime_services(root), service);
	if (runtime_save(ctx->st, root, err) < 0) {
		berr_prefix(err, "service '%s' stopped, but", service);
		goto out;
	}
	rc = 0;
out:
	docker_containers_free(cs, n);
	docker_release(&d);
	json_decref(root);
	return rc;
}

/* "running, healthy", "exited 1", ...: new. */
static char *describe(const struct docker_container *c)
{
	struct buf b;

	buf_init(&b, 0);
	if (c->running) {
		buf_puts(&b, "running");
		if (c->health != NULL)
			buf_printf(&b, ", %s",
			           strcmp(c->health, "starting") == 0
			               ? "health check starting"
			               : c->health);
		if (c->health != NULL && strcmp(c->health, "unhealthy") == 0 &&
		    c->health_output != NULL && c->health_output[0] != '\0')
			buf_printf(&b, ": %s", c->health_output);
	} else if (strcmp(c->state, "exited") == 0 ||
	           strcmp(c->state, "restarting") == 0) {
		if (strcmp(c->state, "restarting") == 0)
			buf_puts(&b, "restarting after it ");
		if (c->oom_killed)
			buf_puts(&b, "ran out of memory");
		else if (c->exit_code > 128 && c->exit_code < 128 + 65 &&
		         sigabbrev_np(c->exit_code - 128) != NULL)
			buf_printf(&b, "killed by SIG%s",
			           sigabbrev_np(c->exit_code - 128));
		else
			buf_printf(&b, "exited %d", c->exit_code);
	} else if (strcmp(c->state, "created") == 0) {
		buf_puts(&b, "created, never started");
	} else {
		buf_puts(&b, c->state);
	}
	buf_printf(&b, " (container %s", c->name);
	if (c->env == NULL)
		buf_puts(&b, ", not started by berth: no berth labels");
	buf_putc(&b, ')');
	return buf_detach(&b);
}

static void container_live(struct service_live *out,
                           const struct docker_container *c)
{
	memset(out, 0, sizeof(*out));
	out->name = xstrdup(c->service);
	out->running = c->running;
	out->hash = c->hash ? xstrdup(c->hash) : NULL;
	out->commit = c->commit ? xstrdup(c->commit) : NULL;
	out->pid = c->pid;
	out->started_at = c->started_at;
	out->detail = describe(c);
	out->health = c->health ? xstrdup(c->health) : NULL;
	out->health_output =
	    c->health_output ? xstrdup(c->health_output) : NULL;
	out->image = c->image_id ? xstrdup(c->image_id) : NULL;
	if (c->nports > 0) {
		out->ports = xcalloc(c->nports, sizeof(*out->ports));
		memcpy(out->ports, c->ports, c->nports * sizeof(*out->ports));
		out->nports = c->nports;
	}
}

/*
 * Whether c, the container that runs for l's service, is what berth
 * started (rec: its record in compose.json, NULL when berth did not start
 * it): the spec the engine reports against the one recorded at the start,
 * and berth's labels. When it is not, l->changed says why and l->hash is
 * dropped, so that drift reports it and a heal replaces it.
 */
static void compare(struct service_live *l, const struct docker_container *c,
                    const json_t *rec)
{
	const json_t *started = json_object_get(rec, "container");
	const json_t *spec = json_object_get(started, "spec");
	char *diff = NULL;

	if (!c->running || rec == NULL)
		return;
	if (json_is_object(spec) && c->spec != NULL)
		diff = docker_spec_diff(spec, c->spec);
	if (diff != NULL)
		l->changed = xasprintf("container %s: %s", c->name, diff);
	else if (c->env == NULL)
		l->changed = xasprintf("container %s has no berth labels: it "
		                       "was not started by berth",
		                       c->name);
	free(diff);
	if (l->changed != NULL) {
		free(l->hash);
		l->hash = NULL;
	}
}

/* A recorded service without a container. */
static void gone_live(struct service_live *out, const char *name,
                      const json_t *rec)
{
	const char *hash = json_string_value(json_object_get(rec, "hash"));
	const char *commit = json_string_value(json_object_get(rec, "commit"));

	memset(out, 0, sizeof(*out));
	out->name = xstrdup(name);
	out->hash = hash ? xstrdup(hash) : NULL;
	out->commit = commit ? xstrdup(commit) : NULL;
	out->detail = xstrdup("not running: its container is gone");
}

static int cmp_live(const void *a, const void *b)
{
	const struct service_live *x = a, *y = b;

	return strcmp(x->name, y->name);
}

/* Every service of the recorded project (one only when service is not
 * NULL): the first container of each (running, newest), then the recorded
 * services that have none. */
static int collect(struct service_live **out, size_t *n,
                   const struct driver_ctx *ctx, const char *service,
                   struct berr *err)
{
	struct docker_container *cs = NULL;
	const json_t *services, *rec;
	const char *project, *name;
	json_t *root = NULL;
	size_t i, nc = 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	if (runtime_load(&root, ctx->st, err) < 0)
		return -1;
	project = runtime_project(root);
	services = runtime_services(root);
	if (project == NULL) {
		rc = 0;
		goto out;
	}
	if (containers(&cs, &nc, ctx, project, service, err) < 0)
		goto out;
	*out = xcalloc(nc + json_object_size(services) + 1, sizeof(**out));
	for (i = 0; i < nc; i++)
		if (i == 0 || strcmp(cs[i].service, cs[i - 1].service) != 0) {
			container_live(&(*out)[*n], &cs[i]);
			compare(&(*out)[(*n)++], &cs[i],
			        json_object_get(services, cs[i].service));
		}
	json_object_foreach((json_t *)services, name, rec)
	{
		bool seen = false;

		if (service != NULL && strcmp(name, service) != 0)
			continue;
		for (i = 0; i < *n && !seen; i++)
			seen = strcmp((*out)[i].name, name) == 0;
		if (!seen)
			gone_live(&(*out)[(*n)++], name, rec);
	}
	qsort(*out, *n, sizeof(**out), cmp_live);
	rc = 0;
out:
	if (*n == 0) {
		free(*out);
		*out = NULL;
	}
	docker_containers_free(cs, nc);
	json_decref(root);
	return rc;
}

static int compose_live(struct service_live **out, size_t *n,
                        const struct driver_ctx *ctx, struct berr *err)
{
	return collect(out, n, ctx, NULL, err);
}

static int compose_status(struct service_live *out,
                          const struct driver_ctx *ctx, const char *service,
                          struct berr *err)
{
	struct service_live *l = NULL;
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (check_name(service, err) < 0)
		return -1;
	rc = collect(&l, &n, ctx, service, err);
	if (rc == 0 && n == 0) {
		berr_set(err, "service '%s' was not started by berth", service);
		rc = BERTH_ENOTFOUND;
	}
	if (rc == 0) {
		*out = l[0];
		memset(&l[0], 0, sizeof(l[0]));
	}
	driver_live_free(l, n);
	return rc;
}

static int compose_logs(struct buf *out, const struct driver_ctx *ctx,
                        const char *service, size_t lines, struct berr *err)
{
	struct docker_container *cs = NULL;
	struct docker d = {0};
	json_t *root = NULL;
	const char *project;
	size_t n = 0;
	int rc = -1;

	if (check_name(service, err) < 0 ||
	    runtime_load(&root, ctx->st, err) < 0)
		goto out;
	project = runtime_project(root);
	if (project == NULL) {
		berr_set(err, "service '%s' was not started by berth", service);
		rc = BERTH_ENOTFOUND;
		goto out;
	}
	if (docker_init(&d, ctx->vars, err) < 0 ||
	    docker_list(&cs, &n, &d, project, service, err) < 0)
		goto out;
	if (n == 0) {
		berr_set(err, "service '%s' has no container", service);
		rc = BERTH_ENOTFOUND;
		goto out;
	}
	rc = lines > 0 ? docker_logs(out, &d, &cs[0], lines, err) : 0;
out:
	docker_containers_free(cs, n);
	docker_release(&d);
	json_decref(root);
	return rc;
}

static int compose_check_tools(struct strv *missing,
                               const struct driver_ctx *ctx,
                               const struct manifest *m, struct berr *err)
{
	struct strv argv = {0};
	struct kvlist env;
	struct docker d = {0};
	struct berr ignored;
	size_t i;
	int rc = 0;

	kvlist_init(&env);
	driver_env(&env, ctx->vars, NULL);
	for (i = 0; i < m->nbuild; i++)
		driver_need_program(
		    missing, m->build[i].n > 0 ? m->build[i].v[0] : NULL, &env);
	if (compose_cli(&argv, &env, &ignored) < 0 &&
	    !strv_contains(missing, "docker compose or docker-compose"))
		strv_push(missing, "docker compose or docker-compose");
	/* With every program there, the engine must answer too. */
	if (missing->n == 0 &&
	    (docker_init(&d, ctx->vars, err) < 0 || docker_ping(&d, err) < 0))
		rc = -1;
	docker_release(&d);
	strv_release(&argv);
	kvlist_release(&env);
	return rc;
}

int driver_compose_exec_argv(struct strv *out, const struct manifest *m,
                             const char *release_dir, const char *service,
                             const char *const *pass_env,
                             const struct kvlist *env, struct berr *err)
{
	size_t i;

	if (check_name(service, err) < 0)
		return -1;
	for (i = 0; pass_env != NULL && pass_env[i] != NULL; i++)
		if (!var_name_ok(pass_env[i]))
			return berr_set(err, "invalid variable name '%s'",
			                pass_env[i]);
	if (compose_cli(out, env, err) < 0)
		return -1;
	base_argv(out, m, release_dir, NULL);
	strv_push(out, "exec");
	strv_push(out, "-T");
	/* A name alone: compose takes the value from its environment. */
	for (i = 0; pass_env != NULL && pass_env[i] != NULL; i++) {
		strv_push(out, "-e");
		strv_push(out, pass_env[i]);
	}
	strv_push(out, service);
	return 0;
}

/* The commit of an override file's name "<commit>.yml", or NULL. */
static bool override_commit(char out[41], const char *name)
{
	if (strlen(name) != 44 || strcmp(name + 40, ".yml") != 0)
		return false;
	memcpy(out, name, 40);
	out[40] = '\0';
	return strnum_is_sha(out);
}

int driver_compose_cleanup(struct strv *removed, const struct driver_ctx *ctx,
                           const struct manifest *m, const struct strv *keep,
                           struct berr *err)
{
	struct strv tags = {0};
	struct docker d = {0};
	char *prefix =
	    xasprintf("%s%s/", COMPOSE_IMAGE_PREFIX, m->compose_project);
	char *dir = state_path(ctx->st, DRIVER_COMPOSE_OVERRIDES);
	char commit[41];
	struct berr one;
	DIR *dh;
	struct dirent *e;
	size_t i;
	int rc = -1;

	if (docker_init(&d, ctx->vars, err) < 0 ||
	    docker_image_tags(&tags, &d, prefix, err) < 0)
		goto out;
	for (i = 0; i < tags.n; i++) {
		const char *tag = strrchr(tags.v[i], ':');
		int got;

		if (tag == NULL || !strnum_is_sha(tag + 1) ||
		    strv_contains(keep, tag + 1))
			continue;
		got = docker_image_remove(&d, tags.v[i], &one);
		if (got == 0)
			strv_push(removed, tags.v[i]);
		else if (got != BERTH_ENOTFOUND)
			/* In use by a container: kept, said once. */
			log_warn("msg=\"image kept\" image=%s error=\"%s\"",
			         tags.v[i], one.msg);
	}
	dh = opendir(dir);
	while (dh != NULL && (e = readdir(dh)) != NULL) {
		char *path;

		if (!override_commit(commit, e->d_name) ||
		    strv_contains(keep, commit))
			continue;
		path = fs_join(dir, e->d_name);
		if (unlink(path) < 0 && errno != ENOENT)
			log_warn("msg=\"cannot remove an override file\" "
			         "path=%s",
			         path);
		free(path);
	}
	if (dh != NULL)
		closedir(dh);
	rc = 0;
out:
	docker_release(&d);
	strv_release(&tags);
	free(dir);
	free(prefix);
	return rc;
}

const struct driver_ops driver_compose = {
    .name = "compose",
    .check_tools = compose_check_tools,
    .build = compose_build,
    .start = compose_start,
    .stop = compose_stop,
    .status = compose_status,
    .live = compose_live,
    .logs = compose_logs,
    .cleanup = driver_compose_cleanup,
};
