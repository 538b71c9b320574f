/*
 * test_driver_pipeline.c — the driver, health, smoke and checks modules
 * together as the deploy pipeline uses them, on a parsed berth.json: check,
 * build, start in dependency order, wait for health, smoke, check again
 * while the release runs, stop in reverse order. Real processes, real HTTP.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "berth.h"
#include "check.h"
#include "receiver.h"
#include "service_fixture.h"

static struct sf f;

/* Waits (at most 60 s) until something listens on 127.0.0.1:port: a service
 * without a health check counts as started before it has bound its port,
 * and on a loaded machine that can take a while. */
static int wait_listening(int port)
{
	int i;

	for (i = 0; i < 600; i++) {
		struct sockaddr_in sa;
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

		memset(&sa, 0, sizeof(sa));
		sa.sin_family = AF_INET;
		sa.sin_port = htons((uint16_t)port);
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (fd >= 0)
			close(fd);
		if (ok)
			return 0;
		usleep(100 * 1000);
	}
	return -1;
}

static struct manifest *parse(int api_port, int worker_port)
{
	struct manifest_ctx ctx = {"berth.json", &f.vars, NULL};
	struct merrs errs = {0};
	struct manifest *m;
	char *json = xasprintf(
	    "{\"version\": 1, \"app\": \"shop\", \"driver\": \"process\",\n"
	    " \"build\": [[\"sh\", \"-c\", \"echo built > built.txt\"]],\n"
	    " \"services\": {\n"
	    "  \"worker\": {\"command\": [\"./service.py\", \"--port\", "
	    "\"${WORKER_PORT}\"],\n"
	    "             \"depends_on\": [\"api\"], \"ports\": [%d]},\n"
	    "  \"api\": {\"command\": [\"./service.py\", \"--port\", "
	    "\"${API_PORT}\", \"--listen-after\", \"0.3\"],\n"
	    "          \"env\": {\"GREETING\": \"hello from api\"},\n"
	    "          \"health\": {\"http\": "
	    "\"http://127.0.0.1:${API_PORT}/health\",\n"
	    "                     \"interval_s\": 1, \"start_period_s\": 60},\n"
	    "          \"ports\": [%d], \"stop_timeout_s\": 5}},\n"
	    " \"checks\": {\"disk_free_pct\": 1, \"mem_free_mb\": 1,\n"
	    "            \"env_required\": [\"API_PORT\"]},\n"
	    " \"smoke\": [{\"name\": \"api greeting\", \"url\": "
	    "\"http://127.0.0.1:${API_PORT}/env/GREETING\",\n"
	    "             \"expect_body\": \"hello\"}]}\n",
	    worker_port, api_port);
	size_t i;

	m = manifest_parse(json, strlen(json), &ctx, &errs);
	for (i = 0; i < errs.n; i++)
		fprintf(stderr, "%s\n", errs.items[i]);
	CHECK_INT(errs.n, 0);
	merrs_release(&errs);
	free(json);
	return m;
}

static int run_checks(const struct manifest *m,
                      const struct service_live *current, size_t ncurrent,
                      const char **ports_value)
{
	struct checks_input in = {0};
	struct checks_report r;
	static char value[256];
	size_t i;
	int rc;

	in.m = m;
	in.manifest_valid = true;
	in.ctx = &f.ctx;
	in.release_dir = f.release;
	in.current = current;
	in.ncurrent = ncurrent;
	rc = checks_run(&r, &in, NULL, NULL);
	for (i = 0; i < r.n; i++) {
		if (strcmp(r.items[i].name, "ports free") == 0)
			snprintf(value, sizeof(value), "%s", r.items[i].value);
		if (!r.items[i].ok) {
			char *line = checks_format(&r.items[i]);

			fprintf(stderr, "%s\n", line);
			free(line);
		}
	}
	*ports_value = value;
	checks_report_release(&r);
	return rc;
}

int main(void)
{
	int api = refused_port(), worker = refused_port();
	const struct driver_ops *drv;
	struct service_live *live = NULL;
	struct smoke_report smoke;
	struct manifest *m;
	const char *ports;
	struct berr err;
	size_t i, n = 0;
	char *s, *want;
	bool killed;

	sf_setup(&f, "test_driver_pipeline");
	s = xasprintf("%d", api);
	kvlist_set(&f.vars, "API_PORT", s);
	free(s);
	s = xasprintf("%d", worker);
	kvlist_set(&f.vars, "WORKER_PORT", s);
	free(s);
	m = parse(api, worker);
	if (m == NULL)
		return check_done("test_driver_pipeline");
	drv = driver_for(m);
	CHECK(drv == &driver_process);

	/* validate, build */
	CHECK_INT(run_checks(m, NULL, 0, &ports), 0);
	CHECK_INT(drv->build(NULL, &f.ctx, m, f.release, &err), 0);
	s = fs_join(f.release, "built.txt");
	CHECK(fs_exists(s));
	free(s);

	/* deploy: dependencies first (api, then worker), each healthy
	 * before the next starts */
	CHECK_STR(m->services[m->order[0]].name, "api");
	for (i = 0; i < m->nservices; i++) {
		const struct manifest_service *svc = &m->services[m->order[i]];
		struct health_result res;

		CHECK_INT(
		    drv->start(&f.ctx, m, svc, f.release, SF_COMMIT, &err), 0);
		CHECK_INT(driver_wait_healthy(&res, drv, &f.ctx, svc), 0);
		s = health_describe(&res, svc->name);
		fprintf(stderr, "%s\n", s);
		free(s);
		health_result_release(&res);
	}

	/* smoke */
	CHECK_INT(smoke_run(&smoke, m, NULL, NULL), 0);
	s = smoke_summary(&smoke);
	CHECK_STR(s, "1 passed");
	free(s);
	smoke_report_release(&smoke);

	/* what runs now, with the manifest hashes drift compares */
	CHECK_INT(drv->live(&live, &n, &f.ctx, &err), 0);
	CHECK_INT(n, 2);
	for (i = 0; i < n; i++) {
		CHECK(live[i].running);
		CHECK_STR(live[i].hash,
		          manifest_service(m, live[i].name)->hash);
	}

	/* The worker has no health check: healthy once it stayed up 2 s,
	 * which on a loaded machine may come before it listens. */
	s = state_path(&f.st, "logs/worker.log");
	want = xasprintf("listening on %d", worker);
	CHECK(sf_wait_for_text(s, want));
	free(want);
	free(s);

	/* The next deployment's checks: the release's own ports are not
	 * busy, but they are to anyone else. */
	CHECK_INT(wait_listening(api), 0);
	CHECK_INT(wait_listening(worker), 0);
	CHECK_INT(run_checks(m, live, n, &ports), 0);
	want =
	    xasprintf("%d held by the current release, %d held by the "
	              "current release",
	              api < worker ? api : worker, api < worker ? worker : api);
	CHECK_STR(ports, want);
	free(want);
	CHECK_INT(run_checks(m, NULL, 0, &ports), -1);

	/* stop, dependents first */
	for (i = m->nservices; i-- > 0;)
		CHECK_INT(drv->stop(&killed, &f.ctx,
		                    m->services[m->order[i]].name, 0, &err),
		          0);
	CHECK_INT(run_checks(m, NULL, 0, &ports), 0);

	driver_live_free(live, n);
	manifest_free(m);
	sf_teardown(&f);
	return check_done("test_driver_pipeline");
}
