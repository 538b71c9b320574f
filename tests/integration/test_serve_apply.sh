#!/usr/bin/env bash
# berth serve running the real pipeline (berth apply) on a small app: a
# signed push is deployed with its webhook trigger; pushes during a
# deployment coalesce into one follow-up that deploys the last commit; a
# push accepted right before a SIGKILL of the daemon is deployed after the
# restart; a push nobody announced is deployed by the poll; /api/rollback
# puts an earlier release back with berth rollback.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"
. "$BERTH_SRC/tests/integration/serve_lib.sh"

unset BERTH_DEPLOY_PROGRAM
GATE=$T_DIR/gate
# The build waits while the gate file exists: a deployment the test holds.
APP_BUILD="[[\"sh\", \"-c\", \"while [ -e $GATE ]; do sleep 0.1; done; cat VERSION > built.txt\"]]"
app_init
c1=$(app_commit "v1")
s_app_config 'webhooks={"github": {"secret_env": "GH_SECRET"}}'
s_start

# deployed FIELD — a field of the latest deployment record.
latest() { B status production --json | python3 -c 'import json,sys; d=json.load(sys.stdin)["deployment"] or {}; print(d.get(sys.argv[1]))' "$1"; }
ndeploys() { B history production --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["deployments"]))'; }
idle() { [ "$(s_metric 'berth_deployments_running{env="production"}')" = 0 ] && [ "$(s_metric 'berth_queue_depth{env="production"}')" = 0 ]; }

t_log "a signed push is deployed by the real pipeline, with its trigger"
s_push d-v1 "$c1"
s_wait "v1 deployed" '[ "$(latest status)" = succeeded ]' 900
t_eq "$(latest commit)" "$c1" "deployed commit"
t_eq "$(latest trigger)" "webhook:github:d-v1" "trigger"
t_eq "$(app_version)" '{"version":"1"}' "the service's version"

t_log "pushes during a deployment: one follow-up, deploying the last commit"
touch "$GATE"
echo 2 >"$T_DIR/app/VERSION"
c2=$(app_commit "v2")
s_push d-v2 "$c2"
s_wait "the v2 deployment to run" '[ "$(latest status)" = running ]' 600
last=
for i in $(seq 3 12); do
	echo "$i" >"$T_DIR/app/VERSION"
	last=$(app_commit "v$i")
	s_push "d-v$i" "$last"
done
rm "$GATE"
s_wait "the follow-up" '[ "$(ndeploys)" = 3 ] && idle' 1200
t_eq "$(ndeploys)" 3 "deployments after the burst"
t_eq "$(latest status)" succeeded "follow-up status"
t_eq "$(latest commit)" "$last" "the follow-up deploys the last commit"
t_eq "$(latest trigger)" "webhook:github:d-v12" "follow-up trigger"
t_eq "$(app_version)" '{"version":"12"}' "the service's version"

t_log "SIGKILL right after a 202: deployed after the restart"
touch "$GATE"
echo 13 >"$T_DIR/app/VERSION"
c13=$(app_commit "v13")
s_push d-v13 "$c13"
s_wait "the v13 deployment to run" '[ "$(latest status)" = running ]' 600
echo 14 >"$T_DIR/app/VERSION"
c14=$(app_commit "v14")
s_push d-v14 "$c14"
kill -9 "$S_PID"
wait "$S_PID" 2>/dev/null || true
rm "$GATE"
s_start
s_wait "v14 deployed after the restart" '[ "$(latest commit)" = "$c14" ] && [ "$(latest status)" = succeeded ]' 1200
t_eq "$(latest trigger)" "webhook:github:d-v14" "trigger after the restart"
t_eq "$(app_version)" '{"version":"14"}' "the service's version"

t_log "a push nobody announced is deployed by the poll"
sed -i 's/"poll_interval_s": 0/"poll_interval_s": 1/' "$T_DIR/config.json"
kill -HUP "$S_PID"
s_wait "the reload" "[ \"\$(s_metric 'berth_config_reloads_total{result=\"ok\"}')\" = 1 ]"
echo 15 >"$T_DIR/app/VERSION"
c15=$(app_commit "v15, no webhook")
s_wait "the poll's deployment" '[ "$(latest commit)" = "$c15" ] && [ "$(latest status)" = succeeded ]' 1200
t_eq "$(latest trigger)" poll "trigger"
t_eq "$(app_version)" '{"version":"15"}' "the service's version"

t_log "/api/rollback runs berth rollback: an earlier release back, trigger api"
sed -i 's/"poll_interval_s": 1/"poll_interval_s": 0/' "$T_DIR/config.json"
kill -HUP "$S_PID"
s_wait "the reload" "[ \"\$(s_metric 'berth_config_reloads_total{result=\"ok\"}')\" = 2 ]"
out=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $S_TOKEN" \
	--data "{\"env\":\"production\",\"to\":\"$last\"}" "$S_URL/api/rollback")
t_contains "$out" " 202"
s_wait "the rollback" '[ "$(latest kind)" = rollback ] && [ "$(latest status)" = succeeded ]' 1200
t_eq "$(latest commit)" "$last" "commit put back"
t_eq "$(latest trigger)" api "trigger of the rollback"
t_eq "$(app_version)" '{"version":"12"}' "the service's version after the rollback"

s_stop
echo "ok: $T_NAME"
