#!/usr/bin/env bash
# The deploy step stops the old release gracefully: a service that exits on
# SIGTERM is stopped at once; one that ignores SIGTERM is killed with SIGKILL
# after its stop_timeout_s, which the step's output, the deployment record
# and the service's log all say.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"

APP_STOP_S=1
app_init
cd "$T_DIR"
touch app/IGNORE_TERM
app_commit "v1 ignores SIGTERM" >/dev/null
t_run 0 B apply production
old=$(json_get state/envs/production/services.json 'd["services"]["web"]["pid"]')
kill -0 "$old" || t_fail "the service of v1 is not running"

t_log "the next deployment has to kill it"
rm app/IGNORE_TERM
echo 2 >app/VERSION
app_commit "v2" >/dev/null
t_run 0 B apply production --json
printf '%s' "$T_OUT" >v2.json
t_contains "$(json_get v2.json '[s for s in d["steps"] if s["name"] == "deploy"][0]["output_tail"]')" \
	"stopped web with SIGKILL after 1."
t_contains "$(cat state/envs/production/logs/web.log)" "=== berth: stopped web with SIGKILL after 1 s at "
# Killed means gone or a zombie: the process is reparented once berth
# apply exits, and whoever inherits it may not have reaped it yet.
st=$(ps -o stat= -p "$old" 2>/dev/null || true)
[ -z "$st" ] || [ "${st#Z}" != "$st" ] || t_fail "pid $old of v1 still runs (state $st)"
t_eq "$(app_version)" '{"version":"2"}' "version served"

t_log "a service that exits on SIGTERM stops at once"
echo 3 >app/VERSION
app_commit "v3" >/dev/null
t_run 0 B apply production
t_contains "$T_OUT" "    stopped web in "
t_not_contains "$T_OUT" "SIGKILL"
t_contains "$(cat state/envs/production/logs/web.log)" "=== berth: stopped web with SIGTERM in "

echo "PASS: $T_NAME"
