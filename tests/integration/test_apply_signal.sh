#!/usr/bin/env bash
# SIGTERM to a running `berth apply` lets the step it is in finish, then:
# before migrate the deployment fails with nothing changed; from migrate on
# it rolls back. Either way the lock is released and the record is final.
# berth is held at a step with its debugging aid BERTH_DEBUG_PAUSE, signalled
# there, then let go.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"

app_init
cd "$T_DIR"
mkdir pause
c1=$(app_commit "v1")
t_run 0 B apply production

# signalled_apply POINT — apply held at POINT, sent SIGTERM, let go; sets
# RC and OUT.
signalled_apply() {
	local i
	rm -f pause/paused pause/continue
	BERTH_DEBUG_PAUSE=$1 BERTH_DEBUG_PAUSE_DIR=$T_DIR/pause B apply production >apply.out 2>&1 &
	local job=$!
	for ((i = 0; i < 1200; i++)); do
		[ -f pause/paused ] && break
		sleep 0.05
	done
	[ -f pause/paused ] || t_fail "apply never paused at '$1':"$'\n'"$(cat apply.out)"
	kill -TERM "$(cut -d' ' -f2 pause/paused)"
	touch pause/continue
	RC=0
	wait $job || RC=$?
	OUT=$(cat apply.out)
}

t_log "SIGTERM during build: the deployment fails, nothing changed"
echo 2 >app/VERSION
app_commit "v2" >/dev/null
signalled_apply build
t_eq "$RC" 1 "exit status (output: $OUT)"
t_contains "$OUT" "failed at build: berth was asked to stop (signal); nothing changed"
t_not_contains "$OUT" "[6/11]"
t_eq "$(app_version)" '{"version":"1"}' "version served"
t_run 0 B history production --json
printf '%s' "$T_OUT" >history.json
t_eq "$(json_get history.json 'd["deployments"][0]["status"]')" failed "status"

t_log "SIGTERM during deploy: rolled back"
signalled_apply deploy
t_eq "$RC" 1 "exit status (output: $OUT)"
t_contains "$OUT" "[rollback] … ${c1:0:7} (deployment 1) serves again"
t_contains "$OUT" "rolled back to ${c1:0:7}: berth was asked to stop (signal)"
t_eq "$(app_version)" '{"version":"1"}' "version served"
t_run 0 B status production --json
printf '%s' "$T_OUT" >status.json
t_eq "$(json_get status.json '(d["locked"], d["deployment"]["status"])')" "(False, 'rolled_back')" "status"

t_log "and the next apply deploys"
t_run 0 B apply production
t_eq "$(app_version)" '{"version":"2"}' "version served"

echo "PASS: $T_NAME"
