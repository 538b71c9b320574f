# tests/integration/compose_lib.sh — the application the test_compose_*.sh
# tests deploy with the compose driver on the real Docker engine, sourced
# after lib.sh with PROJECT set to a compose project of the test's own: a
# static HTTP server (tests/fixtures/compose_service.c, built by the
# manifest's build command) in a FROM scratch image, a docker-compose.yml
# with host networking on port $PORT of 127.0.0.1, an env file and a host
# config. Every container and image of the project is removed at the end.
# Defines B (berth with the config), get PATH (an answer of the service, or
# "-"), web (the id of the project's running web container) and
# compose_write HEALTHY (the compose file, HEALTHY=0: never healthy).

for cmd in docker cc curl python3; do
	command -v "$cmd" >/dev/null ||
		t_fail "'$cmd' is missing (run contrib/test.sh, which installs what tests need)"
done
docker info >/dev/null 2>&1 ||
	t_fail "the Docker engine does not answer (run contrib/test.sh, which installs docker.io and starts dockerd)"
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 ||
	t_fail "neither docker compose nor docker-compose is installed (apt-get install docker-compose)"

PORT=$(t_free_port)
cd "$T_DIR" || t_fail "cannot enter $T_DIR"

compose_cleanup() {
	local ids
	ids=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT")
	[ -z "$ids" ] || docker rm -f $ids
	ids=$(docker images -q "berth.invalid/$PROJECT/*" | sort -u)
	[ -z "$ids" ] || docker rmi -f $ids
}
t_on_exit compose_cleanup

t_make_repo "$T_DIR/app"
cp "$BERTH_SRC/tests/fixtures/compose_service.c" app/service.c
cat >app/Dockerfile <<'EOF'
FROM scratch
COPY srv /srv
COPY VERSION /version
HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD ["/srv", "--check"]
CMD ["/srv"]
EOF
printf '/srv\n' >app/.gitignore
compose_write() { # HEALTHY
	cat >app/docker-compose.yml <<EOF
version: "3.7"
services:
  web:
    build: .
    network_mode: host
    stop_grace_period: 5s
    environment:
      PORT: "\${PORT}"
      HEALTHY: "$1"
EOF
}
compose_write 1
cat >app/berth.json <<EOF
{
  "version": 1,
  "app": "demo",
  "driver": "compose",
  "compose": { "project": "$PROJECT" },
  "build": [ ["cc", "-static", "-O2", "-o", "srv", "service.c"] ],
  "services": {
    "web": {
      "health": { "http": "http://127.0.0.1:\${PORT}/health", "interval_s": 1,
                  "timeout_s": 2, "start_period_s": 20, "retries": 2 },
      "stop_timeout_s": 5,
      "ports": [$PORT]
    }
  },
  "smoke": [ { "name": "version", "url": "http://127.0.0.1:\${PORT}/version" } ],
  "releases": { "keep": 1 }
}
EOF
echo "PORT=$PORT" >prod.env
chmod 600 prod.env
cat >config.json <<EOF
{ "state_dir": "$T_DIR/state", "repo": { "url": "$T_DIR/app.git" },
  "environments": { "production": { "branch": "main", "env_file": "$T_DIR/prod.env" } } }
EOF
B() { "$BERTH" --config "$T_DIR/config.json" "$@"; }
get() { curl -s --max-time 5 "http://127.0.0.1:$PORT/$1" || echo -; }
web() {
	docker ps -q --filter "label=com.docker.compose.project=$PROJECT" \
		--filter label=com.docker.compose.service=web
}
