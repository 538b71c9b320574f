#!/usr/bin/env bash
# The commands around apply: --dry-run changes nothing; validate and smoke
# exit 0 or 1; a failed validate fails the deployment with nothing changed; a
# rollback that fails freezes the environment (exit 3), a frozen environment
# refuses to deploy until resume lifts it (recorded); usage errors exit 64.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"

app_init
cd "$T_DIR"
env_dir=state/envs/production
c1=$(app_commit "v1")
t_run 0 B apply production

# Everything berth keeps about the environment, as text, to compare.
snapshot() {
	(cd "$env_dir" && find . -path ./logs -prune -o -print | sort &&
		find . -type f -not -path './logs/*' | sort | xargs sha256sum &&
		readlink current)
}

t_log "usage errors exit 64"
t_run 64 B apply production --commit main --version v1
t_contains "$T_OUT" "--commit and --version exclude each other"
t_run 64 B apply production --trigger bogus
t_contains "$T_OUT" "invalid --trigger 'bogus'"
t_run 64 B apply production --trigger webhook:nosuch:1
t_run 64 B apply production --trigger 'webhook:github:a b'
t_run 64 B apply production --no-such-option

t_log "--dry-run shows the pipeline and changes nothing"
echo 2 >app/VERSION
c2=$(app_commit "v2")
before=$(snapshot)
t_run 0 B apply production --dry-run --trigger webhook:github:72d3162e-cc78-11e3
t_contains "$T_OUT" "plan for production: ${c1:0:7} -> ${c2:0:7} \"v2\""
t_contains "$T_OUT" "apply would run:"
t_contains "$T_OUT" "[4/11] fetch     check out releases/${c2:0:7}"
t_contains "$T_OUT" "[7/11] deploy    stop what runs; start web"
t_contains "$T_OUT" "dry run: nothing was changed"
t_eq "$(snapshot)" "$before" "the environment's state after --dry-run"
t_eq "$(app_version)" '{"version":"1"}' "version served after --dry-run"
t_run 0 B apply production --dry-run --json
printf '%s' "$T_OUT" >dry.json
t_eq "$(json_get dry.json '(d["dry_run"], d["to_commit"], len(d["steps"]))')" "(True, '$c2', 11)" "--dry-run --json"
t_eq "$(snapshot)" "$before" "the environment's state after --dry-run --json"

t_log "validate: exit 0 when every check passes, 1 otherwise"
t_run 0 B validate production
t_contains "$T_OUT" "all 9 checks passed for ${c2:0:7}"
APP_EXTRA=', "checks": { "env_required": ["NEEDED_SECRET"] }' app_manifest
c3=$(app_commit "v3 needs a secret")
t_run 1 B validate production
t_contains "$T_OUT" "✗ env vars         missing: NEEDED_SECRET"
t_contains "$T_OUT" "1 of 9 checks failed for ${c3:0:7}"
t_run 0 B validate production --commit "$c2"
t_run 1 B validate production --json
printf '%s' "$T_OUT" >validate.json
t_eq "$(json_get validate.json '(d["ok"], [c["name"] for c in d["checks"] if not c["ok"]])')" \
	"(False, ['env vars'])" "validate --json"

t_log "a deployment that fails validate changes nothing"
before=$(snapshot | grep -v deployments)
t_run 1 B apply production
t_contains "$T_OUT" "[2/11] validate … failed: 1 of 9 checks failed: env vars"
t_contains "$T_OUT" "failed at validate: 1 of 9 checks failed: env vars; nothing changed"
t_eq "$(app_version)" '{"version":"1"}' "version served"
t_eq "$(readlink $env_dir/current)" "releases/$c1" "current"
[ -d "$env_dir/releases/$c3" ] && t_fail "a release directory was made for a commit that failed validate"

t_log "smoke: exit 0 while the service answers, 1 when it does not"
app_manifest
echo 4 >app/VERSION
c4=$(app_commit "v4")
t_run 0 B apply production
t_run 0 B smoke production
t_contains "$T_OUT" "✓ version 200"
t_contains "$T_OUT" "1 passed"
app_stop_all
t_run 1 B smoke production
t_contains "$T_OUT" "✗ version: cannot connect to 127.0.0.1:$APP_PORT"
t_run 0 B status production
t_contains "$T_OUT" "web                  stopped     not healthy: exited"

t_log "a rollback that fails freezes the environment (exit 3)"
t_run 0 B apply production # v4 again, running
rm "$env_dir/releases/$c4/server.py" # the last good release cannot start any more
c5=$(app_commit_broken "v5 broken")
t_run 3 B apply production
t_contains "$T_OUT" "[rollback] … failed: web exited"
t_contains "$T_OUT" "is frozen until 'berth resume production'"
t_run 0 B status production --json
printf '%s' "$T_OUT" >status.json
t_eq "$(json_get status.json '(d["frozen"], d["deployment"]["status"])')" "(True, 'rollback_failed')" "status"
t_contains "$(json_get status.json 'd["frozen_reason"]')" "rollback failed"

t_log "a frozen environment refuses to deploy"
n=$(ls "$env_dir/deployments" | wc -l)
t_run 1 B apply production
t_contains "$T_OUT" "production is frozen: deployment"
t_contains "$T_OUT" "then run 'berth resume production'"
t_eq "$(ls "$env_dir/deployments" | wc -l)" "$n" "records after a refused apply"

t_log "resume lifts the freeze, recorded; then deployments run again"
t_run 0 B resume production
t_contains "$T_OUT" "production resumed"
t_run 0 B resume production
t_contains "$T_OUT" "production is not frozen; nothing to do"
t_run 0 B history production --json
printf '%s' "$T_OUT" >history.json
t_eq "$(json_get history.json '(d["deployments"][0]["kind"], d["deployments"][0]["status"])')" \
	"('resume', 'succeeded')" "newest record"
c6=$(app_commit "v6")
t_run 0 B apply production
t_eq "$(app_version)" '{"version":"4"}' "version served"

echo "PASS: $T_NAME"
