#!/usr/bin/env bash
# One deployment per environment at a time: while a first apply waits in its
# build (for a file the test creates: deterministic, no sleeps), a second one
# exits 75 naming the holder (deployment, pid, trigger, start time), unlock
# refuses to break a live lock (75), status shows the holder; once the first
# finishes, the second goes through.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"

APP_ENV="GATE=$T_DIR/gate"
APP_BUILD='[["sh", "-c", "echo waiting for the gate; while [ ! -e \"$GATE\" ]; do sleep 0.05; done; echo built"]]'
app_init
cd "$T_DIR"
c1=$(app_commit "v1")

t_log "a first apply waits in its build"
B apply production --trigger hook:post-receive >first.out 2>&1 &
first=$!
for ((i = 0; i < 600; i++)); do
	grep -q "waiting for the gate" first.out && break
	kill -0 $first 2>/dev/null || t_fail "the first apply ended early:"$'\n'"$(cat first.out)"
	sleep 0.05
done
grep -q "waiting for the gate" first.out || t_fail "the first apply never reached its build"
holder=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["pid"])' state/envs/production/lock)

t_log "a second apply exits 75 and names the holder"
t_run 75 B apply production
t_contains "$T_OUT" "production is locked: another deployment is running"
t_contains "$T_OUT" "pid $holder, deployment 1, trigger hook:post-receive, since 20"
t_run 75 B apply production --json
t_run 75 B deploy production
t_eq "$(ls state/envs/production/deployments)" "1.json" "records while locked"

t_log "unlock refuses a live holder; status shows it"
t_run 75 B unlock production
t_contains "$T_OUT" "cannot unlock production: it is held by pid $holder, deployment 1"
t_run 75 B resume production
t_run 0 B status production
t_contains "$T_OUT" "lock: held by pid $holder, deployment 1, trigger hook:post-receive"
t_run 0 B status production --json
printf '%s' "$T_OUT" >status.json
t_eq "$(json_get status.json 'd["locked"]')" True "status locked"
t_eq "$(json_get status.json 'd["deployment"]["status"]')" running "status of the running deployment"
t_run 0 B history production
t_contains "$T_OUT" "running"

t_log "the first one finishes; then the next apply goes through"
touch gate
rc=0
wait $first || rc=$?
t_eq "$rc" 0 "first apply's exit status (output: $(cat first.out))"
t_contains "$(cat first.out)" "deployed ${c1:0:7} to production"
t_run 0 B apply production
t_contains "$T_OUT" "deployed ${c1:0:7} to production"
t_eq "$(app_version)" '{"version":"1"}' "version served"
t_eq "$(wc -c <state/envs/production/lock | tr -d ' ')" 0 "lock description after a normal release"

t_log "unlock with a free lock is recorded"
t_run 0 B unlock production
t_contains "$T_OUT" "the lock was free; nothing to clear"
t_run 0 B history production --json
printf '%s' "$T_OUT" >history.json
t_eq "$(json_get history.json 'd["deployments"][0]["kind"]')" unlock "kind of the newest record"

echo "PASS: $T_NAME"
