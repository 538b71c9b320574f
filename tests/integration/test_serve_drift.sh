#!/usr/bin/env bash
# berth serve's drift timer on a deployed app, with the shortest
# drift.interval_s (10 s) and a local notification receiver: with action "report"
# a killed service is notified once however many checks see it, and once
# more when it clears; GET /api/drift shows the open finding and the
# metrics count the checks; with action "heal" a killed service is brought
# back by a deployment with trigger drift, healthy.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/integration/serve_lib.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"

t_start_receiver
rport=$T_RECV_PORT
: >"$T_DIR/recv.jsonl"

APP_ENV="HOOK_URL=http://127.0.0.1:$rport/hook"
APP_EXTRA=', "drift": { "interval_s": 10, "action": "report" },
  "notify": [ { "type": "webhook", "url_env": "HOOK_URL" } ]'
app_init
cd "$T_DIR"
s_app_config
c1=$(app_commit "v1")
t_run 0 B apply production
pgid_of() { json_get state/envs/production/services.json "d['services']['$1']['pgid']"; }

# drift_events STATUS — how many drift notifications with that status came.
drift_events() {
	python3 - "$1" <<'PY'
import json, sys
n = 0
for line in open("recv.jsonl"):
    body = json.loads(json.loads(line)["body"] or "null")
    if isinstance(body, dict) and body.get("event") == "drift" and body.get("status") == sys.argv[1]:
        n += 1
print(n)
PY
}
# metric NAME_AND_LABELS — its value on /metrics, 0 when absent.
metric() {
	curl -s "$S_URL/metrics" | awk -v k="$1" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }'
}
api() { curl -s -H "Authorization: Bearer $S_TOKEN" "$S_URL$1"; }

s_start
t_log "report: a clean environment is checked and notifies nothing"
s_wait "a first clean check" '[ "$(metric "berth_drift_checks_total{env=\"production\",result=\"clean\"}")" -ge 1 ]' 600
t_eq "$(drift_events drift)" 0 "no notification while clean"

t_log "report: a killed service is notified once"
kill -KILL -- "-$(pgid_of web)"
s_wait "the drift notification" '[ "$(drift_events drift)" -ge 1 ]' 600
python3 - <<'PY'
import json
got = [json.loads(json.loads(l)["body"]) for l in open("recv.jsonl")]
d = [b for b in got if b.get("event") == "drift"]
assert len(d) == 1, d
assert d[0]["env"] == "production" and d[0]["status"] == "drift", d
assert [(f["kind"], f["name"]) for f in d[0]["opened"]] == [("service", "web")], d
assert d[0]["opened"][0]["detail"].startswith("web is not running"), d
PY
seen=$(metric 'berth_drift_checks_total{env="production",result="drift"}')
s_wait "two more checks that see it" "[ \"\$(metric 'berth_drift_checks_total{env=\"production\",result=\"drift\"}')\" -ge $((seen + 2)) ]" 600
t_eq "$(drift_events drift)" 1 "still one notification after more checks"
t_eq "$(metric 'berth_drift_findings{env="production"}')" 1 "findings gauge"
api /api/drift >drift.json
python3 - <<'PY'
import json
d = json.load(open("drift.json"))
[e] = d["environments"]
assert e["env"] == "production", e
assert [(o["kind"], o["name"], o["notified"]) for o in e["open"]] == [("service", "web", True)], e
assert e["last"]["drift"][0]["name"] == "web", e
PY
t_eq "$(curl -s -o /dev/null -w '%{http_code}' "$S_URL/api/drift")" 401 "/api/drift needs the token"
t_run 0 B status production --json
printf '%s' "$T_OUT" >status-drift.json
t_eq "$(json_get status-drift.json '[(f["kind"], f["name"]) for f in d["drift"]["open"]]')" "[('service', 'web')]" "status shows the open finding"
t_run 0 B status production
t_contains "$T_OUT" "drift: 1 open: service web (checked "

t_log "report: repaired by hand, the finding clears, notified once"
t_run 0 B drift production --heal --no-remote
s_wait "the cleared notification" '[ "$(drift_events cleared)" -ge 1 ]' 600
seen=$(metric 'berth_drift_checks_total{env="production",result="clean"}')
s_wait "one more clean check" "[ \"\$(metric 'berth_drift_checks_total{env=\"production\",result=\"clean\"}')\" -ge $((seen + 1)) ]" 600
t_eq "$(drift_events cleared)" 1 "one cleared notification"
t_eq "$(drift_events drift)" 1 "no new drift notification"
t_eq "$(metric 'berth_drift_findings{env="production"}')" 0 "findings gauge back to 0"

t_log "heal: a killed service is redeployed by the daemon, trigger drift"
APP_EXTRA=', "drift": { "interval_s": 10, "action": "heal" },
  "notify": [ { "type": "webhook", "url_env": "HOOK_URL" } ]'
app_manifest
echo 2 >app/VERSION
c2=$(app_commit "v2 heals drift")
t_run 0 B apply production
t_eq "$(app_version)" '{"version":"2"}' "v2 serves"
deployments=$(ls state/envs/production/deployments | wc -l)
kill -KILL -- "-$(pgid_of web)"
s_wait "a heal deployment" "[ \"\$(metric 'berth_drift_heals_total{env=\"production\",status=\"succeeded\"}')\" -ge 1 ]" 1200
t_eq "$(app_version)" '{"version":"2"}' "web serves again"
t_run 0 B history production --json
printf '%s' "$T_OUT" >history.json
python3 - "$c2" "$deployments" <<'PY'
import json, sys
d = json.load(open("history.json"))["deployments"]
heals = [r for r in d if r["trigger"] == "drift"]
assert len(heals) >= 1, d
h = heals[0]
assert h["commit"] == sys.argv[1] and h["status"] == "succeeded", h
assert h["id"] > int(sys.argv[2]) - 1, h
PY
t_run 0 B status production --json
printf '%s' "$T_OUT" >status.json
t_eq "$(json_get status.json 'd["services"][0]["healthy"]')" True "healthy after the heal"
s_stop
grep -q 'msg="drift check finished"' serve.log || t_fail "the daemon logged no drift check"

echo "PASS: $T_NAME"
