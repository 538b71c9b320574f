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
echo 1 >app/VERSION
c1=$(app_save "first release")
app_push HEAD:main
t_eq "$PUSH_RC" 0 "push status (output: $PUSH_OUT)"
t_contains "$PUSH_OUT" "remote: berth: berth.json at ${c1:0:7} is valid for environment 'production' (1 service)"
t_contains "$PUSH_OUT" "remote: berth: deploying ${c1:0:7} \"first release\" to production"
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
echo 2 >app/VERSION
c4=$(app_save "two")
app_push_bg p1.out HEAD:main
p1=$PUSH_PID
wait_for p1.out "remote: [5/11] build"
echo 3 >app/VERSION
c5=$(app_save "three")
app_push_bg p2.out HEAD:main
p2=$PUSH_PID
wait_for p2.out "remote: berth: production is busy: deployment 2 (trigger api) is running; this push is queued and deploys when it ends"
t_eq "$(records)" "1 2 " "deployments while the second push waits"
touch gate
wait $p1 || t_fail "first push failed: $(cat p1.out)"
wait $p2 || t_fail "second push failed: $(cat p2.out)"
t_contains "$(cat p1.out)" "remote: [7/11] deploy … 1 service healthy; current -> ${c4:0:7}"
t_contains "$(cat p1.out)" "remote: berth: production: deployment 2 succeeded: ${c4:0:7} runs now"
t_not_contains "$(cat p1.out)" "is queued"
t_contains "$(cat p2.out)" "remote: [7/11] deploy … 1 service healthy; current -> ${c5:0:7}"
t_contains "$(cat p2.out)" "remote: berth: production: deployment 3 succeeded: ${c5:0:7} runs now"
t_not_contains "$(cat p2.out)" "current -> ${c4:0:7}" "the second pusher's terminal"
t_eq "$(records)" "1 2 3 " "deployments"
check_no_overlap
t_eq "$(json_get state/envs/production/deployments/2.json 'd["commit"]')" "$c4" "commit of deployment 2"
t_eq "$(json_get state/envs/production/deployments/3.json 'd["commit"]')" "$c5" "commit of deployment 3"
t_eq "$(app_version)" '{"version":"3"}' "version served"
t_eq "$(api_requests | grep -c '^done post-receive-')" 3 "requests done"

t_log "three quick pushes: the two that wait are covered by one deployment of the newest"
rm gate
echo 4 >app/VERSION
c6=$(app_save "four")
app_push_bg p3.out HEAD:main
p3=$PUSH_PID
wait_for p3.out "remote: [5/11] build"
echo 5 >app/VERSION
c7=$(app_save "five")
app_push_bg p4.out HEAD:main
p4=$PUSH_PID
wait_for p4.out "this push is queued"
echo 6 >app/VERSION
c8=$(app_save "six")
app_push_bg p5.out HEAD:main
p5=$PUSH_PID
wait_for p5.out "this push is queued"
touch gate
for p in $p3 $p4 $p5; do wait $p || t_fail "a push failed: $(cat p3.out p4.out p5.out)"; done
t_contains "$(cat p3.out)" "remote: berth: production: deployment 4 succeeded: ${c6:0:7} runs now"
t_contains "$(cat p4.out)" "remote: berth: production: a newer push was queued with this one: deployment 5 deploys the newest, ${c8:0:7}"
t_contains "$(cat p4.out)" "remote: berth: production: deployment 5 succeeded: ${c8:0:7} runs now"
t_contains "$(cat p5.out)" "remote: berth: production: deployment 5 succeeded: ${c8:0:7} runs now"
t_eq "$(records)" "1 2 3 4 5 " "deployments"
check_no_overlap
t_eq "$(app_version)" '{"version":"6"}' "version served"

s_stop
echo "PASS: $T_NAME"
