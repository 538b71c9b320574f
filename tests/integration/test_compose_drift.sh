#!/usr/bin/env bash
# berth drift with the compose driver on the real Docker engine: the
# application of compose_lib.sh (a static HTTP server in a FROM scratch
# image, host networking, 127.0.0.1 only) deployed once, then
#  - its container removed by hand: `berth drift` exits 2 naming the
#    service, `--heal` recreates it through a deployment with trigger drift
#    and it serves again;
#  - its container replaced by hand by one with the project's compose labels
#    but another environment: reported as changed outside berth, naming the
#    variable (never its value), and healed;
#  - its container replaced by hand by one with every label berth's had
#    (berth.hash included) but another command: reported from what the
#    engine says the container runs, not from the labels, and healed.
# Everything runs under a compose project of the test's own and is removed
# at the end.
. "$BERTH_SRC/tests/integration/lib.sh"

PROJECT=berthdrift$$
. "$BERTH_SRC/tests/integration/compose_lib.sh"
json_get() { # FILE EXPR
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
healed() { # WHAT: the heal's deployment, then no drift and v1 served by berth's container
	t_contains "$T_OUT" "healing production"
	t_contains "$T_OUT" "after the heal:"
	t_contains "$T_OUT" "no drift in production"
	t_eq "$(get version)" v1 "version served after the heal ($1)"
	t_eq "$(docker inspect -f '{{index .Config.Labels "berth.commit"}}' "$(web)")" "$c1" \
		"berth.commit of the container after the heal ($1)"
	t_run 0 B history production --json
	printf '%s' "$T_OUT" >history.json
	t_eq "$(json_get history.json 'd["deployments"][0]["trigger"]')" drift "the heal's trigger ($1)"
	t_eq "$(json_get history.json 'd["deployments"][0]["commit"]')" "$c1" "the heal's commit ($1)"
	t_eq "$(json_get history.json 'd["deployments"][0]["status"]')" succeeded "the heal's status ($1)"
}

t_log "v1 deploys; nothing drifts"
echo v1 >app/VERSION
c1=$(t_commit app v1)
t_run 0 B apply production
t_eq "$(get version)" v1 "version served"
t_run 0 B drift production
t_contains "$T_OUT" "no drift in production"

t_log "a container removed by hand: drift names the service"
docker rm -f "$(web)" >/dev/null
t_eq "$(web)" "" "containers left after docker rm -f"
t_run 2 B drift production
t_contains "$T_OUT" "drift in production"
t_contains "$T_OUT" "web is not running"
t_contains "$T_OUT" "its container is gone"
t_run 2 B drift production --json
printf '%s' "$T_OUT" >drift.json
t_eq "$(json_get drift.json '[f["kind"] + " " + f["name"] for f in d["drift"]]')" "['service web']" "findings"

t_log "--heal recreates it, through a deployment with trigger drift"
t_run 0 B drift production --heal
healed "removed container"

t_log "a container started by hand in its place with another environment"
image=$(docker inspect -f '{{.Image}}' "$(web)")
docker rm -f "$(web)" >/dev/null
docker run -d --name "${PROJECT}_web_byhand" --network host \
	--label "com.docker.compose.project=$PROJECT" --label com.docker.compose.service=web \
	--label com.docker.compose.oneoff=False \
	-e "PORT=$PORT" -e HEALTHY=1 -e EXTRA=by-hand "$image" >/dev/null
for _ in $(seq 1 50); do [ "$(get env/EXTRA)" = by-hand ] && break; sleep 0.2; done
t_eq "$(get env/EXTRA)" by-hand "the hand-made container serves"
t_run 2 B drift production
t_contains "$T_OUT" "web was changed outside berth: container ${PROJECT}_web_byhand: environment: EXTRA added"
t_not_contains "$T_OUT" "by-hand"
t_run 0 B status production
t_contains "$T_OUT" "changed outside berth: container ${PROJECT}_web_byhand: environment: EXTRA added"
t_run 0 B drift production --heal
t_contains "$T_OUT" "changed outside berth"
healed "another environment"
[ "$(docker inspect -f '{{.Name}}' "$(web)")" != "/${PROJECT}_web_byhand" ] ||
	t_fail "the hand-made container still runs after the heal"

t_log "a container with every label of berth's but another command"
labels=()
while IFS= read -r l; do
	[ -n "$l" ] && labels+=(--label "$l")
done < <(docker inspect -f '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}}{{"\n"}}{{end}}' "$(web)")
envs=()
while IFS= read -r e; do
	[ -n "$e" ] && envs+=(-e "$e")
done < <(docker inspect -f '{{range .Config.Env}}{{.}}{{"\n"}}{{end}}' "$(web)")
image=$(docker inspect -f '{{.Image}}' "$(web)")
docker rm -f "$(web)" >/dev/null
docker run -d --name "${PROJECT}_web_copy" --network host "${labels[@]}" "${envs[@]}" \
	"$image" /srv by-hand >/dev/null
for _ in $(seq 1 50); do [ "$(get version)" = v1 ] && break; sleep 0.2; done
t_eq "$(docker inspect -f '{{index .Config.Labels "berth.commit"}}' "$(web)")" "$c1" "berth.commit copied"
t_run 2 B drift production
t_contains "$T_OUT" "web was changed outside berth: container ${PROJECT}_web_copy: command [\"/srv\",\"by-hand\"], berth started [\"/srv\"]"
t_run 0 B drift production --heal
healed "another command"
[ "$(docker inspect -f '{{.Name}}' "$(web)")" != "/${PROJECT}_web_copy" ] ||
	t_fail "the hand-made container still runs after the heal"
