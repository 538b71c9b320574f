#!/usr/bin/env bash
# berth serve and the environment lock: while another process (a `berth
# apply` from a terminal) holds it, a pushed deployment waits, queued, and
# runs once the lock is free; a deployment that finds the lock taken (exit
# 75) runs again once it is free.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/integration/serve_lib.sh"

s_stub
s_config 0
s_start

t_log "another process holds the environment lock"
lock=$S_DIR/state/envs/production/lock
python3 - "$lock" >"$S_DIR/holder.out" <<'PY' &
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o640)
# struct flock for an open file description lock on the whole file.
fcntl.fcntl(fd, fcntl.F_OFD_SETLK, struct.pack("hhxxxxqqi4x", fcntl.F_WRLCK, 0, 0, 0, 0))
os.write(fd, b'{"pid":%d,"trigger":"cli"}' % os.getpid())
print("locked", flush=True)
time.sleep(600)
PY
holder=$!
t_on_exit "kill $holder"
s_wait "the lock taken" "grep -q locked '$S_DIR/holder.out'"
t_run 0 "$BERTH" --config "$S_DIR/config.json" status production --json
t_contains "$T_OUT" '"locked": true'

t_log "a push waits for it, queued"
s_push while-locked "$(s_sha while-locked)"
s_wait "the wait in the log" "grep -q 'environment locked: deployment waits' '$S_DIR/serve.log'"
t_eq "$(s_deploys)" 0 "deployments while locked"
t_run 0 "$BERTH" --config "$S_DIR/config.json" status production --json
t_contains "$T_OUT" '"trigger": "webhook:github:while-locked"'
[ "$(s_metric 'berth_lock_waits_total{env="production"}')" -ge 1 ] || t_fail "lock waits not counted"

t_log "the lock is released: the deployment runs"
kill "$holder"
wait "$holder" 2>/dev/null || true
s_wait "the deployment" '[ "$(s_deploys)" = 1 ]'
t_eq "$(tail -1 "$S_DIR/deploys.log")" \
	"--config $S_DIR/config.json apply production --trigger webhook:github:while-locked" "deployment"

t_log "a deployment that exits 75 (locked) runs again"
s_wait "idle" '[ "$(s_metric "berth_deployments_running{env=\"production\"}")" = 0 ]'
echo 75 >"$S_DIR/exit-once"
s_push raced "$(s_sha raced)"
s_wait "the second attempt" '[ "$(s_deploys)" = 3 ]'
t_eq "$(sed -n 2p "$S_DIR/deploys.log")" "$(sed -n 3p "$S_DIR/deploys.log")" "both attempts"
t_contains "$(cat "$S_DIR/serve.log")" 'deployment found the environment locked'
s_wait "it finished" \
	'[ "$(s_metric "berth_deployments_total{env=\"production\",status=\"succeeded\"}")" = 2 ]'

s_stop
echo "ok: $T_NAME"
