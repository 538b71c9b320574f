#!/usr/bin/env bash
# berth apply with the compose driver, end to end on the real Docker engine:
# an application repository holding a static HTTP server
# (tests/fixtures/compose_service.c, built by the manifest's build command),
# a FROM scratch Dockerfile and a docker-compose.yml with host networking.
# v1 and v2 deploy and serve from containers labelled with their commit and
# manifest hash; v3, whose container never becomes healthy, is rolled back
# and v2's container serves again from v2's image (not rebuilt); a container
# removed by hand shows in status; after a fix deploys, cleanup removes the
# images of the releases no longer kept. Everything runs under a compose project of the test's own and
# is removed at the end.
. "$BERTH_SRC/tests/integration/lib.sh"

PROJECT=berthapply$$
. "$BERTH_SRC/tests/integration/compose_lib.sh"
version() { get version; }
label() { # COMMIT LABEL: the label of the project's web container
	docker inspect -f "{{index .Config.Labels \"$2\"}}" "$(web)"
}

t_log "v1 deploys, from a container labelled by berth"
echo v1 >app/VERSION
c1=$(t_commit app v1)
t_run 0 B apply production
t_contains "$T_OUT" "web healthy in"
t_eq "$(version)" v1 "version served"
t_eq "$(label "$c1" berth.commit)" "$c1" "berth.commit label"
t_eq "$(label "$c1" berth.env)" production "berth.env label"
[ -n "$(docker images -q "berth.invalid/$PROJECT/web:$c1")" ] || t_fail "no image tagged with $c1"

t_log "v2 replaces it"
echo v2 >app/VERSION
c2=$(t_commit app v2)
t_run 0 B apply production
t_eq "$(version)" v2 "version served"
t_eq "$(label "$c2" berth.commit)" "$c2" "berth.commit label"
image2=$(docker images -q "berth.invalid/$PROJECT/web:$c2")

t_log "v3 never becomes healthy: rolled back, v2's image serves again"
echo v3 >app/VERSION
compose_write 0
c3=$(t_commit app "v3 broken")
t_run 1 B apply production
t_contains "$T_OUT" "rolled back to ${c2:0:7}"
t_eq "$(version)" v2 "version served after the rollback"
t_eq "$(label "$c2" berth.commit)" "$c2" "berth.commit after the rollback"
t_eq "$(docker inspect -f '{{.Image}}' "$(docker ps -q --filter "label=com.docker.compose.project=$PROJECT")")" \
	"$(docker image inspect -f '{{.Id}}' "$image2")" "image after the rollback"

t_log "status reads the containers"
t_run 0 B status production
t_contains "$T_OUT" "web"
t_contains "$T_OUT" "running"

t_log "a container removed by hand is no longer running"
docker rm -f "$(docker ps -q --filter "label=com.docker.compose.project=$PROJECT")" >/dev/null
t_run 0 B status production
t_contains "$T_OUT" "its container is gone"

t_log "a fix deploys; cleanup removes the images of releases no longer kept"
echo v4 >app/VERSION
compose_write 1
c4=$(t_commit app "v4 fixed")
t_run 0 B apply production
t_contains "$T_OUT" "compose: 2 removed"
t_eq "$(version)" v4 "version served"
for c in "$c1" "$c3"; do
	[ -z "$(docker images -q "berth.invalid/$PROJECT/web:$c")" ] || t_fail "image of ${c:0:7} left after cleanup"
done
for c in "$c2" "$c4"; do
	[ -n "$(docker images -q "berth.invalid/$PROJECT/web:$c")" ] || t_fail "image of ${c:0:7} removed by cleanup"
done
