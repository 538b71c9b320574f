#!/usr/bin/env bash
# berth apply end to end on a small Python service (tests/fixtures/deploy_app):
# v1 and v2 deploy and serve; v3, which never becomes healthy, is rolled back
# (exit 1) and v2 serves again; a first deployment that fails leaves nothing
# running; --json prints the record with SPEC §5's fields; --version deploys a
# tag; releases are pruned to releases.keep; status shows live services and
# their health; history shows every deployment.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"

app_init
cd "$T_DIR"

t_log "a first deployment that never becomes healthy: failed, nothing runs"
c0=$(app_commit_broken "v0 broken")
t_run 1 B apply production
t_contains "$T_OUT" "[7/11] deploy … failed: web never became healthy (HTTP 503)"
t_contains "$T_OUT" "nothing to put back"
t_contains "$T_OUT" "no earlier deployment to put back: nothing runs"
t_eq "$(app_version)" "-" "version served after a failed first deployment"
t_run 0 B status production --json
printf '%s' "$T_OUT" >status.json
t_eq "$(json_get status.json 'd["commit"]')" "None" "status commit"
t_eq "$(json_get status.json 'd["deployment"]["status"]')" "failed" "status of deployment 1"
[ ! -e state/envs/production/current.json ] || t_fail "current.json left by a failed first deployment"

t_log "v1 deploys and serves"
c1=$(app_commit "v1")
t_run 0 B apply production
for line in "[1/11] lock … held by pid" "[2/11] validate … 9 checks passed for ${c1:0:7}" \
	"[3/11] backup … skipped: no database in the manifest" "[4/11] fetch … releases/${c1:0:7} checked out" \
	"    building" "[5/11] build … 1 command" "[6/11] migrate … skipped" \
	"    web healthy in" "[7/11] deploy … 1 service healthy; current -> ${c1:0:7}" \
	"    ✓ version 200" "[8/11] smoke … 1 passed" "[9/11] cleanup …" \
	"[10/11] notify … skipped: no notifiers configured" "[11/11] unlock … released" \
	"deployed ${c1:0:7} to production in"; do
	t_contains "$T_OUT" "$line"
done
t_eq "$(app_version)" '{"version":"1"}' "version served"
t_eq "$(cat "state/envs/production/releases/$c1/built.txt")" 1 "build output in the release"
t_eq "$(readlink state/envs/production/current)" "releases/$c1" "current symlink"

t_log "status shows the service running and healthy"
t_run 0 B status production --json
printf '%s' "$T_OUT" >status.json
t_eq "$(json_get status.json 'd["commit"]')" "$c1" "status commit"
t_eq "$(json_get status.json '[(s["name"], s["state"], s["healthy"]) for s in d["services"]]')" \
	"[('web', 'running', True)]" "status services"
t_run 0 B status production
t_contains "$T_OUT" "web                  running     healthy (pid"

t_log "v2 with --json: the record, with SPEC's fields"
echo 2 >app/VERSION
c2=$(app_commit "v2")
t_run 0 B apply production --json
printf '%s' "$T_OUT" >v2.json
python3 - "$c1" "$c2" <<'PY'
import json, sys
d = json.load(open("v2.json"))
for k in ("id", "env", "commit", "previous_commit", "trigger", "status", "started_at",
          "finished_at", "backup", "steps"):
    assert k in d, (k, d)
assert d["status"] == "succeeded", d
assert d["commit"] == sys.argv[2] and d["previous_commit"] == sys.argv[1], d
assert d["trigger"] == "cli" and d["env"] == "production", d
names = [s["name"] for s in d["steps"]]
assert names == ["lock", "validate", "backup", "fetch", "build", "migrate", "deploy",
                 "smoke", "cleanup", "notify", "unlock"], names
for s in d["steps"]:
    assert s["status"] in ("ok", "skipped"), s
    assert "duration_ms" in s and s["finished_at"], s
assert d["services"][0]["name"] == "web" and len(d["services"][0]["hash"]) == 64, d
PY
t_eq "$(app_version)" '{"version":"2"}' "version served"

t_log "v3 never becomes healthy: rolled back, v2 serves again"
echo 3 >app/VERSION
c3=$(app_commit_broken "v3 broken")
t_run 1 B apply production
t_contains "$T_OUT" "    web unhealthy after 2 failed checks"
t_contains "$T_OUT" "[7/11] deploy … failed: web never became healthy (HTTP 503)"
t_contains "$T_OUT" "[rollback]"
t_contains "$T_OUT" "    putting back ${c2:0:7}"
t_contains "$T_OUT" "[rollback] … ${c2:0:7} (deployment 3) serves again"
t_contains "$T_OUT" "rolled back to ${c2:0:7}: web never became healthy (HTTP 503)"
t_eq "$(app_version)" '{"version":"2"}' "version served after the rollback"
t_eq "$(readlink state/envs/production/current)" "releases/$c2" "current after the rollback"

t_log "history shows all of them, newest first"
t_run 0 B history production --json
printf '%s' "$T_OUT" >history.json
t_eq "$(json_get history.json '[(x["id"], x["status"], x["commit"][:7]) for x in d["deployments"]]')" \
	"[(4, 'rolled_back', '${c3:0:7}'), (3, 'succeeded', '${c2:0:7}'), (2, 'succeeded', '${c1:0:7}'), (1, 'failed', '${c0:0:7}')]" \
	"history"
t_eq "$(json_get history.json 'd["deployments"][0]["rollback_to"]')" 3 "rollback_to"
t_eq "$(json_get history.json 'd["deployments"][0]["error"]')" \
	"deploy: web never became healthy (HTTP 503)" "error of the rolled back deployment"
t_run 0 B history production
t_contains "$T_OUT" "rolled_back"
t_contains "$T_OUT" "deploy: web never became healthy (HTTP 503)"

t_log "smoke and validate against what runs"
t_run 0 B smoke production
t_contains "$T_OUT" "✓ version 200"
t_run 0 B validate production --commit "$c2"
t_contains "$T_OUT" "✓ ports free"
t_contains "$T_OUT" "all 9 checks passed for ${c2:0:7}"

t_log "--version deploys a tag and records it; the same commit again is not rebuilt"
echo 4 >app/VERSION
c4=$(app_commit "v4")
t_git -C app tag v4.0
t_git -C app push -q origin v4.0 2>/dev/null
t_run 0 B apply production --version v4.0 --json
printf '%s' "$T_OUT" >v4.json
t_eq "$(json_get v4.json 'd["version"]')" "v4.0" "recorded version"
t_eq "$(json_get v4.json 'd["commit"]')" "$c4" "commit of the tag"
t_run 0 B apply production --commit v4.0
t_contains "$T_OUT" "[4/11] fetch … releases/${c4:0:7} already there"
t_contains "$T_OUT" "[5/11] build … skipped: releases/${c4:0:7} was built by deployment 5"
t_eq "$(app_version)" '{"version":"4"}' "version served"
t_run 1 B apply production --version nosuchtag
t_contains "$T_OUT" "no tag 'nosuchtag'"

t_log "cleanup keeps releases.keep (3) releases"
for v in 5 6; do
	echo $v >app/VERSION
	app_commit "v$v" >/dev/null
	t_run 0 B apply production
done
n=$(ls state/envs/production/releases | wc -l)
t_eq "$n" 3 "releases left"
[ -d "state/envs/production/releases/$c1" ] && t_fail "the oldest release was not removed"
t_contains "$T_OUT" "[9/11] cleanup … 3 releases kept; removed"

echo "PASS: $T_NAME"
