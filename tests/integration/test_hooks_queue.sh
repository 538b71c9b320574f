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
push_version 1 "waiting for the gate"
push_version 2 "remote: berth: production is busy: another deployment is running"
t_contains "$(push_out 2)" "this push is queued and deploys when it ends"
t_eq "$(records)" "1 " "deployments while the second push waits"
touch gate
push_wait 1 2
t_contains "$(push_out 1)" "remote: berth: production: deployment 1 succeeded: ${C[1]:0:7} runs now"
t_contains "$(push_out 2)" "remote: [1/11] lock"
t_contains "$(push_out 2)" "remote: berth: production: deployment 2 succeeded: ${C[2]:0:7} runs now"
t_eq "$(records)" "1 2 " "deployments"
check_no_overlap
t_eq "$(json_get state/envs/production/deployments/2.json 'd["commit"]')" "${C[2]}" "commit of deployment 2"
t_eq "$(app_version)" '{"version":"2"}' "version served"

t_log "three quick pushes: the middle one steps aside for the newest"
rm gate
push_version 3 "waiting for the gate"
push_version 4 "this push is queued"
push_version 5 "this push is queued"
touch gate
push_wait 3 4 5
t_contains "$(push_out 3)" "deployment 3 succeeded: ${C[3]:0:7} runs now"
t_contains "$(push_out 4)" "remote: berth: branch 'main' moved on to ${C[5]:0:7} since this push: the newer push deploys it to production"
t_contains "$(push_out 5)" "deployment 4 succeeded: ${C[5]:0:7} runs now"
t_eq "$(records)" "1 2 3 4 " "deployments"
check_no_overlap
t_eq "$(app_version)" '{"version":"5"}' "version served"

t_log "interrupting git push does not interrupt the deployment"
rm gate
push_version 6 "waiting for the gate"
kill -INT -- -"${P[6]}"
wait "${P[6]}" || true
touch gate
for ((i = 0; i < 1200; i++)); do
	[ "$(json_get state/envs/production/deployments/5.json 'd["status"]' 2>/dev/null)" = succeeded ] && break
	sleep 0.1
done
t_eq "$(json_get state/envs/production/deployments/5.json 'd["status"]')" succeeded "status of the deployment whose pusher left"
t_eq "$(app_version)" '{"version":"6"}' "version served"

echo "PASS: $T_NAME"
