#!/usr/bin/env bash
# Quick pushes without a daemon. While a first push's deployment runs (its
# build waits for a file the test creates: no sleeps decide anything), a
# second push is told it is queued, waits for the lock, and deploys its
# commit after the first: the deployment records never overlap, and what
# runs at the end is the second commit. Of three quick pushes, the middle
# one steps aside for the newest. A pusher who interrupts git push does not
# interrupt the deployment.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"
. "$BERTH_SRC/tests/fixtures/hooks_push.sh"

APP_ENV="GATE=$T_DIR/gate"
APP_BUILD='[["sh", "-c", "echo waiting for the gate; while [ ! -e \"$GATE\" ]; do sleep 0.05; done; echo built"]]'
app_init
set_listen "$(t_free_port)"
cd "$T_DIR"
t_run 0 B hooks install --bare-repo app.git

t_log "two quick pushes: the second is queued, then deployed after the first"
c1=$(app_save "one")
app_push_bg p1.out HEAD:main
p1=$PUSH_PID
wait_for p1.out "waiting for the gate"
echo 2 >app/VERSION
c2=$(app_save "two")
app_push_bg p2.out HEAD:main
p2=$PUSH_PID
wait_for p2.out "remote: berth: production is busy: another deployment is running"
t_contains "$(cat p2.out)" "this push is queued and deploys when it ends"
t_eq "$(records)" "1 " "deployments while the second push waits"
touch gate
wait $p1 || t_fail "first push failed: $(cat p1.out)"
wait $p2 || t_fail "second push failed: $(cat p2.out)"
t_contains "$(cat p1.out)" "remote: berth: production: deployment 1 succeeded: ${c1:0:7} runs now"
t_contains "$(cat p2.out)" "remote: [1/11] lock"
t_contains "$(cat p2.out)" "remote: berth: production: deployment 2 succeeded: ${c2:0:7} runs now"
t_eq "$(records)" "1 2 " "deployments"
check_no_overlap
t_eq "$(json_get state/envs/production/deployments/2.json 'd["commit"]')" "$c2" "commit of deployment 2"
t_eq "$(app_version)" '{"version":"2"}' "version served"

t_log "three quick pushes: the middle one steps aside for the newest"
rm gate
echo 3 >app/VERSION
c3=$(app_save "three")
app_push_bg p3.out HEAD:main
p3=$PUSH_PID
wait_for p3.out "waiting for the gate"
echo 4 >app/VERSION
c4=$(app_save "four")
app_push_bg p4.out HEAD:main
p4=$PUSH_PID
wait_for p4.out "this push is queued"
echo 5 >app/VERSION
c5=$(app_save "five")
app_push_bg p5.out HEAD:main
p5=$PUSH_PID
wait_for p5.out "this push is queued"
touch gate
for p in $p3 $p4 $p5; do wait $p || t_fail "a push failed: $(cat p3.out p4.out p5.out)"; done
t_contains "$(cat p3.out)" "deployment 3 succeeded: ${c3:0:7} runs now"
t_contains "$(cat p4.out)" "remote: berth: branch 'main' moved on to ${c5:0:7} since this push: the newer push deploys it to production"
t_contains "$(cat p5.out)" "deployment 4 succeeded: ${c5:0:7} runs now"
t_eq "$(records)" "1 2 3 4 " "deployments"
check_no_overlap
t_eq "$(app_version)" '{"version":"5"}' "version served"

t_log "interrupting git push does not interrupt the deployment"
rm gate
echo 6 >app/VERSION
c6=$(app_save "six")
app_push_bg p6.out HEAD:main
wait_for p6.out "waiting for the gate"
kill -INT -- -"$PUSH_PID"
wait "$PUSH_PID" || true
touch gate
for ((i = 0; i < 1200; i++)); do
	[ "$(json_get state/envs/production/deployments/5.json 'd["status"]' 2>/dev/null)" = succeeded ] && break
	sleep 0.1
done
t_eq "$(json_get state/envs/production/deployments/5.json 'd["status"]')" succeeded "status of the deployment whose pusher left"
t_eq "$(app_version)" '{"version":"6"}' "version served"

echo "PASS: $T_NAME"
