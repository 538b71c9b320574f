#!/usr/bin/env bash
# The deployment queue of berth serve: 50 pushes while a deployment runs
# give exactly one follow-up deployment, with the last push's trigger, and
# `berth status` shows it queued meanwhile; a daemon killed with SIGKILL
# right after a 202 acts on that push when it starts again; SIGTERM stops
# accepting (503) and waits for the running deployment before exiting 0.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/integration/serve_lib.sh"

s_stub
s_config 0
s_start

t_log "a first push starts a deployment that stays running"
touch "$S_DIR/gate"
s_push first "$(s_sha first)"
s_wait "the first deployment" '[ "$(s_deploys)" = 1 ]'

t_log "50 pushes while it runs"
for i in $(seq 1 50); do
	s_push "burst-$i" "$(s_sha "burst-$i")"
done
t_eq "$(s_deploys)" 1 "deployments while the first runs"
t_eq "$(s_metric 'berth_queue_depth{env="production"}')" 1 "queue depth"
s_wait "queued.json" '[ -s "$S_DIR/state/envs/production/queued.json" ]'
t_run 0 "$BERTH" --config "$S_DIR/config.json" status production --json
t_contains "$T_OUT" '"trigger": "webhook:github:burst-50"'
t_contains "$T_OUT" "\"commit\": \"$(s_sha burst-50)\""
t_contains "$T_OUT" '"requests": 50'

t_log "the first ends: exactly one follow-up, for the last push"
rm "$S_DIR/gate"
s_wait "the follow-up deployment" '[ "$(s_deploys)" = 2 ]'
s_wait "the queue to drain" \
	'[ "$(s_metric "berth_deployments_total{env=\"production\",status=\"succeeded\"}")" = 2 ]'
sleep 0.5
t_eq "$(s_deploys)" 2 "deployments after the burst"
t_eq "$(tail -1 "$S_DIR/deploys.log")" \
	"--config $S_DIR/config.json apply production --trigger webhook:github:burst-50" \
	"the follow-up"
s_wait "queued.json removed" '[ ! -e "$S_DIR/state/envs/production/queued.json" ]'
t_run 0 "$BERTH" --config "$S_DIR/config.json" status production --json
t_contains "$T_OUT" '"queued": null'

t_log "SIGKILL right after a 202: the push is deployed after the restart"
touch "$S_DIR/gate"
s_push before-kill "$(s_sha before-kill)"
s_wait "a running deployment" '[ "$(s_deploys)" = 3 ]'
s_push killed "$(s_sha killed)"
kill -9 "$S_PID"
wait "$S_PID" 2>/dev/null || true
# The deployment it had started lives on (its own process group); end it
# so that the restarted daemon finds the environment idle.
kill "$(cat "$S_DIR/stub.pid")" || true
rm "$S_DIR/gate"
s_start
s_wait "the killed push deployed" '[ "$(s_deploys)" = 4 ]'
t_eq "$(tail -1 "$S_DIR/deploys.log")" \
	"--config $S_DIR/config.json apply production --trigger webhook:github:killed" \
	"the deployment after the restart"
t_contains "$(cat "$S_DIR/serve.log")" 'acting on a delivery accepted before a restart'
s_wait "it finished" \
	'[ "$(s_metric "berth_deployments_total{env=\"production\",status=\"succeeded\"}")" = 1 ]'
t_log "…and only once: another restart deploys nothing"
s_stop
s_start
sleep 1
t_eq "$(s_deploys)" 4 "deployments after a clean restart"
s_post_github killed
t_eq "$S_CODE" 200 "the old delivery is still a duplicate after restarts"

t_log "SIGTERM: 503 for new work, waits for the running deployment, exits 0"
touch "$S_DIR/gate"
s_push before-term "$(s_sha before-term)"
s_wait "a running deployment" '[ "$(s_deploys)" = 5 ]'
kill -TERM "$S_PID"
s_wait "503 while stopping" '[ "$(curl -s -o /dev/null -w "%{http_code}" "$S_URL/ready")" = 503 ]'
s_push_body "$(s_sha after-term)"
s_post_github after-term
t_eq "$S_CODE" 503 "a push while stopping"
sleep 1
kill -0 "$S_PID" 2>/dev/null || t_fail "berth serve exited while a deployment ran"
rm "$S_DIR/gate"
rc=0
wait "$S_PID" || rc=$?
t_eq "$rc" 0 "exit status after SIGTERM"
t_eq "$(s_deploys)" 5 "deployments"
t_contains "$(cat "$S_DIR/serve.log")" 'msg="stopped"'

echo "ok: $T_NAME"
