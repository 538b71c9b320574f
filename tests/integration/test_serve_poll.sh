#!/usr/bin/env bash
# The poll of berth serve against a real bare repository: a head nobody
# announced is deployed with trigger "poll"; a head a webhook announced is
# not deployed twice. SIGHUP with a broken config keeps the old one and the
# daemon keeps serving; a valid one is taken.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/integration/serve_lib.sh"

cd "$T_DIR"
t_make_repo app
echo one >app/file
c1=$(t_commit app "first")

s_stub
s_config 1
s_start

t_log "the first poll deploys the head nothing has deployed yet"
s_wait "a poll deployment" '[ "$(s_deploys)" = 1 ]'
t_eq "$(cat "$S_DIR/deploys.log")" \
	"--config $S_DIR/config.json apply production --trigger poll" "the poll's deployment"
t_contains "$(cat "$S_DIR/serve.log")" "commit=$c1"

t_log "a push nobody announced is deployed by the poll"
echo two >app/file
c2=$(t_commit app "second, no webhook")
s_wait "the unannounced push deployed" '[ "$(s_deploys)" = 2 ]'
t_eq "$(tail -1 "$S_DIR/deploys.log")" \
	"--config $S_DIR/config.json apply production --trigger poll" "the poll's deployment"
t_contains "$(cat "$S_DIR/serve.log")" "commit=$c2"
t_eq "$(s_metric 'berth_polls_total{result="error"}')" "" "failed polls"

t_log "an announced push is deployed once, by its webhook"
echo three >app/file
c3=$(t_commit app "third, announced")
s_push announced "$c3"
s_wait "the webhook's deployment" '[ "$(s_deploys)" = 3 ]'
t_eq "$(tail -1 "$S_DIR/deploys.log")" \
	"--config $S_DIR/config.json apply production --trigger webhook:github:announced" "deployment"
polls=$(s_metric 'berth_polls_total{result="ok"}')
s_wait "two more polls" "[ \"\$(s_metric 'berth_polls_total{result=\"ok\"}')\" -ge $((polls + 2)) ]"
t_eq "$(s_deploys)" 3 "deployments after polls of an announced head"

t_log "SIGHUP with a broken config: the old one stays, the daemon serves"
cp "$S_DIR/config.json" "$S_DIR/config.good"
echo '{ "state_dir": ' >"$S_DIR/config.json"
kill -HUP "$S_PID"
s_wait "the refused reload in the log" "grep -q 'config reload refused' '$S_DIR/serve.log'"
t_eq "$(s_metric 'berth_config_reloads_total{result="error"}')" 1 "refused reloads"
s_push after-bad-reload "$(s_sha after-bad-reload)"
s_wait "its deployment" '[ "$(s_deploys)" = 4 ]'
t_eq "$(curl -s "$S_URL/ready")" '{"status":"ready"}' "/ready"

t_log "SIGHUP with a config whose secret is unset is refused too"
sed 's/"GH_SECRET"/"UNSET_SECRET_VAR"/' "$S_DIR/config.good" >"$S_DIR/config.json"
kill -HUP "$S_PID"
s_wait "the second refused reload" \
	"[ \"\$(s_metric 'berth_config_reloads_total{result=\"error\"}')\" = 2 ]"
s_push_body "$(s_sha still-old-secret)"
s_post_github still-old-secret
t_eq "$S_CODE" 202 "a push signed with the old secret"

t_log "SIGHUP with a valid config: taken (polling off)"
sed 's/"poll_interval_s": 1/"poll_interval_s": 0/' "$S_DIR/config.good" >"$S_DIR/config.json"
kill -HUP "$S_PID"
s_wait "the reload" "[ \"\$(s_metric 'berth_config_reloads_total{result=\"ok\"}')\" = 1 ]"
t_contains "$(cat "$S_DIR/serve.log")" 'msg="config reloaded"'

s_stop
echo "ok: $T_NAME"
