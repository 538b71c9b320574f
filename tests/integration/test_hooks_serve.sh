#!/usr/bin/env bash
# Push to deploy with berth serve running: real pushes into a bare
# repository whose hooks berth installed, the real daemon on 127.0.0.1 with
# its API token in a file, the real pipeline. The post-receive hook hands
# the push to the daemon (POST /api/deploy) and the pusher's terminal shows
# the deployment's steps and its result from the daemon's records; a bad
# manifest is rejected before the daemon hears of it; a branch no
# environment tracks is accepted and deploys nothing; of two quick pushes
# the second is told it is queued and is deployed after the first, by the
# daemon's queue (the records never overlap); a push that waits behind a
# newer one is covered by the deployment of the newest.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"
. "$BERTH_SRC/tests/fixtures/hooks_push.sh"
. "$BERTH_SRC/tests/integration/serve_lib.sh"

unset BERTH_DEPLOY_PROGRAM BERTH_API_TOKEN
# The build waits until the gate file exists: a deployment the test holds.
APP_ENV="GATE=$T_DIR/gate"
APP_BUILD='[["sh", "-c", "echo waiting for the gate; while [ ! -e \"$GATE\" ]; do sleep 0.05; done; echo built"]]'
app_init
touch "$T_DIR/gate"
printf '%s' "$S_TOKEN" >"$T_DIR/api_token"
chmod 600 "$T_DIR/api_token"
python3 - "$T_DIR/config.json" "$(t_free_port)" "$T_DIR/api_token" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["listen"] = "127.0.0.1:" + sys.argv[2]
c["repo"]["poll_interval_s"] = 0
c["api"] = {"token_file": sys.argv[3]}
json.dump(c, open(p, "w"), indent=2)
PY
s_start
cd "$T_DIR"
t_run 0 B hooks install --bare-repo app.git

# The API requests the daemon has stored, one "STATUS DELIVERY" a line.
api_requests() {
	curl -fs -H "Authorization: Bearer $S_TOKEN" "$S_URL/api/events?provider=api&limit=100" |
		python3 -c 'import json,sys; [print(e["status"], e["delivery"]) for e in json.load(sys.stdin)["events"]]'
}

t_log "a valid push is handed to berth serve, and the pusher watches it"
push_release 1 "first release"
c1=${C[1]}
t_contains "$PUSH_OUT" "remote: berth: berth serve queued the deployment (request post-receive-${c1:0:12}-"
t_contains "$PUSH_OUT" "remote: [1/11] lock … "
t_contains "$PUSH_OUT" "remote: [5/11] build … "
t_contains "$PUSH_OUT" "remote: [7/11] deploy … 1 service healthy; current -> ${c1:0:7}"
t_contains "$PUSH_OUT" "remote: [11/11] unlock … "
t_contains "$PUSH_OUT" "remote: berth: production: deployment 1 succeeded: ${c1:0:7} runs now"
t_not_contains "$PUSH_OUT" "deploying from the hook"
t_eq "$(app_version)" '{"version":"1"}' "version served"
t_eq "$(json_get state/envs/production/deployments/1.json 'd["trigger"]')" api "trigger: the daemon ran it"
t_eq "$(json_get state/envs/production/deployments/1.json 'd["commit"]')" "$c1" "commit deployed"
t_eq "$(api_requests | grep -c '^done post-receive-')" 1 "requests done"
t_contains "$(cat serve.log)" 'msg="deployment output"'
t_not_contains "$(cat serve.log)" "$S_TOKEN" "the daemon's log"
t_not_contains "$PUSH_OUT" "$S_TOKEN" "the pusher's terminal"

t_log "a push to a branch no environment tracks is accepted and deploys nothing"
echo 2 >app/VERSION
c2=$(app_save "work in progress")
app_push HEAD:feature
t_eq "$PUSH_RC" 0 "push status (output: $PUSH_OUT)"
t_contains "$PUSH_OUT" "remote: berth: no environment deploys branch 'feature': nothing to deploy"
t_not_contains "$PUSH_OUT" "berth serve"
t_eq "$(t_git -C app.git rev-parse feature)" "$c2" "feature in the bare repository"
t_eq "$(records)" "1 " "deployments"
t_eq "$(api_requests | wc -l)" 1 "requests the daemon received"

t_log "a bad manifest is rejected with the field named; the branch stays"
sed -i 's/"interval_s": 1/"interval_s": "1s"/' app/berth.json
c3=$(app_save "broken manifest")
app_push HEAD:main
t_eq "$PUSH_RC" 1 "push status (output: $PUSH_OUT)"
t_contains "$PUSH_OUT" 'remote:   berth.json: $.services.web.health.interval_s: expected a positive integer, got "1s"'
t_contains "$PUSH_OUT" "[remote rejected] HEAD -> main (pre-receive hook declined)"
t_eq "$(t_git -C app.git rev-parse main)" "$c1" "main in the bare repository"
t_eq "$(records)" "1 " "deployments"
t_eq "$(api_requests | wc -l)" 1 "requests the daemon received"

t_log "two quick pushes: the second is queued, then deployed after the first"
app_manifest
rm gate
push_version 2 "remote: [5/11] build"
push_version 3 "remote: berth: production is busy: deployment 2 (trigger api) is running; this push is queued and deploys when it ends"
t_eq "$(records)" "1 2 " "deployments while the second push waits"
touch gate
push_wait 2 3
t_contains "$(push_out 2)" "remote: [7/11] deploy … 1 service healthy; current -> ${C[2]:0:7}"
t_contains "$(push_out 2)" "remote: berth: production: deployment 2 succeeded: ${C[2]:0:7} runs now"
t_not_contains "$(push_out 2)" "is queued"
t_contains "$(push_out 3)" "remote: [7/11] deploy … 1 service healthy; current -> ${C[3]:0:7}"
t_contains "$(push_out 3)" "remote: berth: production: deployment 3 succeeded: ${C[3]:0:7} runs now"
t_not_contains "$(push_out 3)" "current -> ${C[2]:0:7}" "the second pusher's terminal"
t_eq "$(records)" "1 2 3 " "deployments"
check_no_overlap
t_eq "$(json_get state/envs/production/deployments/2.json 'd["commit"]')" "${C[2]}" "commit of deployment 2"
t_eq "$(json_get state/envs/production/deployments/3.json 'd["commit"]')" "${C[3]}" "commit of deployment 3"
t_eq "$(app_version)" '{"version":"3"}' "version served"
t_eq "$(api_requests | grep -c '^done post-receive-')" 3 "requests done"

t_log "three quick pushes: the two that wait are covered by one deployment of the newest"
rm gate
push_version 4 "remote: [5/11] build"
push_version 5 "this push is queued"
push_version 6 "this push is queued"
touch gate
push_wait 4 5 6
t_contains "$(push_out 4)" "remote: berth: production: deployment 4 succeeded: ${C[4]:0:7} runs now"
t_contains "$(push_out 5)" "remote: berth: production: a newer push was queued with this one: deployment 5 deploys the newest, ${C[6]:0:7}"
t_contains "$(push_out 5)" "remote: berth: production: deployment 5 succeeded: ${C[6]:0:7} runs now"
t_contains "$(push_out 6)" "remote: berth: production: deployment 5 succeeded: ${C[6]:0:7} runs now"
t_eq "$(records)" "1 2 3 4 5 " "deployments"
check_no_overlap
t_eq "$(app_version)" '{"version":"6"}' "version served"

s_stop
echo "PASS: $T_NAME"
