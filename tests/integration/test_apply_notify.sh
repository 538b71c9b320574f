#!/usr/bin/env bash
# The notify step: every notifier of the host config and of the manifest gets
# the result (env, commit, previous commit, status, duration, trigger), its URL
# read from the environment or the env file and never shown; a notifier that
# refuses connections or never answers is given up within its bound and never
# fails the deployment. A local receiver checks what arrived.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"

t_start_receiver
rport=$T_RECV_PORT
closed=$(t_free_port) # nothing listens there

APP_ENV="HOOK_GOOD=http://127.0.0.1:$rport/status/200?token=s3cret-good
HOOK_DOWN=http://127.0.0.1:$closed/hook
HOOK_SLOW=http://127.0.0.1:$rport/hang/s3cret-slow"
APP_EXTRA=', "notify": [ { "type": "webhook", "url_env": "HOOK_GOOD" },
    { "type": "webhook", "url_env": "HOOK_DOWN" }, { "type": "webhook", "url_env": "HOOK_SLOW" } ]'
app_init
cd "$T_DIR"
# A notifier of the host config, its URL in berth's own environment.
python3 - config.json <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["notify"] = [{"type": "slack", "url_env": "BERTH_TEST_SLACK_URL"}]
json.dump(c, open(sys.argv[1], "w"))
PY
export BERTH_TEST_SLACK_URL="http://127.0.0.1:$rport/slack/s3cret-slack"
c1=$(app_commit "v1")

t_log "one notifier answers, one refuses, one never answers: the deployment succeeds"
t_run 0 B apply production --trigger api
t_contains "$T_OUT" "[10/11] notify … 2 of 4 sent"
t_contains "$T_OUT" "    slack http://127.0.0.1:$rport/…: sent (HTTP 200"
t_contains "$T_OUT" "    webhook http://127.0.0.1:$rport/…: sent (HTTP 200"
t_contains "$T_OUT" "    webhook http://127.0.0.1:$closed/…: not sent after 3 attempts"
t_contains "$T_OUT" "Connection refused"
t_contains "$T_OUT" "timed out"
t_contains "$T_OUT" "deployed ${c1:0:7} to production"
for secret in s3cret-good s3cret-slow s3cret-slack; do
	t_not_contains "$T_OUT" "$secret" "apply output"
	t_not_contains "$(cat state/envs/production/deployments/*.json)" "$secret" "deployment records"
done
t_eq "$(app_version)" '{"version":"1"}' "version served"

t_log "what the receiver got"
python3 - "$c1" <<'PY'
import json, sys
got = [json.loads(l) for l in open("recv.jsonl")]
hooks = [g for g in got if g["path"] == "/status/200?token=s3cret-good"]
assert len(hooks) == 1, got
b = json.loads(hooks[0]["body"])
assert b["env"] == "production" and b["commit"] == sys.argv[1], b
assert b["previous_commit"] is None and b["status"] == "succeeded", b
assert b["trigger"] == "api" and b["deployment_id"] == 1, b
assert isinstance(b["duration_s"], float) and b["finished_at"].endswith("Z"), b
assert hooks[0]["headers"]["content-type"] == "application/json", hooks[0]
slack = [g for g in got if g["path"] == "/slack/s3cret-slack"]
assert len(slack) == 1, got
t = json.loads(slack[0]["body"])["text"]
assert "production" in t and "succeeded" in t and sys.argv[1][:7] in t, t
PY

t_log "a rolled back deployment is notified as such"
rm recv.jsonl
c2=$(app_commit_broken "v2 broken")
t_run 1 B apply production
t_contains "$T_OUT" "[10/11] notify … 2 of 4 sent"
python3 - "$c1" "$c2" <<'PY'
import json, sys
got = [json.loads(l) for l in open("recv.jsonl")]
b = [json.loads(g["body"]) for g in got if g["path"].startswith("/status/200")][0]
assert b["status"] == "rolled_back" and b["commit"] == sys.argv[2], b
assert b["previous_commit"] == sys.argv[1] and b["trigger"] == "cli", b
PY

echo "PASS: $T_NAME"
