#!/usr/bin/env bash
# Push to deploy without a daemon, with real pushes into a bare repository
# whose hooks berth installed: a push to the deployed branch runs apply from
# the post-receive hook, and the pusher's terminal (the output of git push)
# shows the steps as they happen and ends with the result and the commit
# that runs; a push to a branch no environment tracks deploys nothing; an
# invalid berth.json deploys nothing and leaves the branch where it was;
# hostile commit messages and branch names never run.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"
. "$BERTH_SRC/tests/fixtures/hooks_push.sh"

app_init
set_listen "$(t_free_port)"
cd "$T_DIR"
t_run 0 B hooks install --bare-repo app.git
t_contains "$T_OUT" "production   push to 'main': berth.json is checked, then deployed"

t_log "a valid push deploys, and the pusher watches it"
push_release 1 "first release"
c1=${C[1]}
t_contains "$PUSH_OUT" "remote: [1/11] lock … held by pid"
t_contains "$PUSH_OUT" "remote:     building"
t_contains "$PUSH_OUT" "remote: [7/11] deploy … 1 service healthy; current -> ${c1:0:7}"
t_contains "$PUSH_OUT" "remote: [11/11] unlock"
t_contains "$PUSH_OUT" "remote: deployed ${c1:0:7} to production"
t_contains "$PUSH_OUT" "remote: berth: production: deployment 1 succeeded: ${c1:0:7} runs now"
t_eq "$(app_version)" '{"version":"1"}' "version served"
t_eq "$(json_get state/envs/production/deployments/1.json 'd["trigger"]')" hook:post-receive "trigger"
t_eq "$(json_get state/envs/production/deployments/1.json 'd["commit"]')" "$c1" "commit deployed"
# Nothing of the hook's output file is left behind.
t_eq "$(ls state/envs/production/logs | grep -c '^hook-' || true)" 0 "hook output files left"

t_log "a branch no environment tracks deploys nothing"
echo 2 >app/VERSION
c2=$(app_save "work in progress")
app_push HEAD:feature
t_eq "$PUSH_RC" 0 "push status (output: $PUSH_OUT)"
t_contains "$PUSH_OUT" "remote: berth: no environment deploys branch 'feature': nothing to deploy"
t_not_contains "$PUSH_OUT" "[1/11]"
t_eq "$(ls state/envs/production/deployments)" "1.json" "deployments after a push of feature"
t_eq "$(app_version)" '{"version":"1"}' "version served"

t_log "an invalid manifest deploys nothing and the branch stays"
sed -i 's/"interval_s": 1/"interval_s": "1s"/' app/berth.json
c3=$(app_save "broken manifest")
app_push HEAD:main
t_eq "$PUSH_RC" 1 "push status (output: $PUSH_OUT)"
t_contains "$PUSH_OUT" 'remote:   berth.json: $.services.web.health.interval_s: expected a positive integer, got "1s"'
t_eq "$(t_git -C app.git rev-parse main)" "$c1" "main in the bare repository"
t_eq "$(ls state/envs/production/deployments)" "1.json" "deployments after a rejected push"

t_log "hostile commit messages and branch names never run"
app_manifest
bad=$T_DIR/pwned
c4=$(app_save "\$(touch $bad.1) \`touch $bad.2\`; touch $bad.3 | touch $bad.4")
app_push HEAD:main "HEAD:refs/heads/\$(touch\${IFS}$bad.5);\`touch\${IFS}$bad.6\`"
t_eq "$PUSH_RC" 0 "push status (output: $PUSH_OUT)"
t_contains "$PUSH_OUT" "remote: berth: production: deployment 2 succeeded: ${c4:0:7} runs now"
t_contains "$PUSH_OUT" "no environment deploys branch '\$(touch\${IFS}$bad.5);\`touch\${IFS}$bad.6\`'"
t_eq "$(app_version)" '{"version":"2"}' "version served"
ls "$T_DIR" | grep -q pwned && t_fail "a hostile name or message ran: $(ls "$T_DIR")"

t_log "a failing deployment is rolled back, and the pusher is told"
echo 503 >app/HEALTH
APP_START_S=1 app_manifest
c5=$(app_save "unhealthy release")
app_push HEAD:main
rm app/HEALTH
app_manifest
t_eq "$PUSH_RC" 0 "push status: the push itself is accepted (output: $PUSH_OUT)"
t_contains "$PUSH_OUT" "remote: rolled back to ${c4:0:7}"
t_contains "$PUSH_OUT" "remote: berth: production: deployment 3 of ${c5:0:7} was rolled back: ${c4:0:7} runs now, as before"
t_eq "$(app_version)" '{"version":"2"}' "version served after the rollback"

echo "PASS: $T_NAME"
