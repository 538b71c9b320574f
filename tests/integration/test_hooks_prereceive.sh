#!/usr/bin/env bash
# The pre-receive hook with real pushes into a bare repository (the local
# transport runs the hooks exactly as ssh does): a valid berth.json is
# accepted; an invalid one is rejected with every error and its JSON path
# on the pusher's terminal, and the branch does not move (the pushed commit
# stayed in git's quarantine and is gone); ${NAME} is checked against the
# env file; other branches, tags and the deletion of other branches pass;
# deleting a deployed branch is refused; hostile branch names and commit
# messages are data, never run.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/hooks_repo.sh"

hooks_init false
cd "$T_DIR"
t_run 0 B hooks install --bare-repo srv/pos.git

t_log "a valid manifest is accepted"
hooks_manifest 2
c1=$(laptop_commit "first")
push production HEAD:main
t_eq "$PUSH_RC" 0 "push status (output: $PUSH_OUT)"
t_contains "$PUSH_OUT" "remote: berth: berth.json at ${c1:0:7} is valid for environment 'production' (1 service)"
t_eq "$(bare_head main)" "$c1" "main after a valid push"
# auto_deploy is off here: the post-receive hook says how to deploy.
t_contains "$PUSH_OUT" "remote: berth: production tracks branch 'main' but does not deploy on push (auto_deploy is off)"

t_log "an invalid manifest is rejected with every error and its path"
cat >laptop/berth.json <<'JSON'
{ "version": 1, "app": "demo", "driver": "process", "colour": "blue",
  "services": { "web": { "command": ["python3", "server.py"],
    "health": { "http": "http://127.0.0.1:${PORT}/health", "timeout_s": "5s" } } } }
JSON
c2=$(laptop_commit "broken manifest")
push production HEAD:main
t_eq "$PUSH_RC" 1 "push status of an invalid manifest"
t_contains "$PUSH_OUT" "remote: berth: berth.json at ${c2:0:7} is invalid for environment 'production' (branch 'main'):"
t_contains "$PUSH_OUT" 'remote:   berth.json: $.services.web.health.timeout_s: expected a positive integer, got "5s"'
t_contains "$PUSH_OUT" 'remote:   berth.json: $: unknown key "colour"'
t_contains "$PUSH_OUT" "remote: berth: push rejected: no branch was updated and nothing was deployed"
t_contains "$PUSH_OUT" "[remote rejected] HEAD -> main (pre-receive hook declined)"
t_eq "$(bare_head main)" "$c1" "main after a rejected push"
if t_git -C srv/pos.git cat-file -e "$c2^{commit}" 2>/dev/null; then
	t_fail "the rejected commit ${c2:0:7} left quarantine"
fi

t_log "\${NAME} must be defined by the env file"
hooks_manifest 2
sed -i 's/\${PORT}/${NO_SUCH_PORT}/' laptop/berth.json
c3=$(laptop_commit "undefined variable")
push production HEAD:main
t_eq "$PUSH_RC" 1 "push status of an undefined variable"
t_contains "$PUSH_OUT" 'berth.json: $.services.web.health.http:'
t_contains "$PUSH_OUT" "NO_SUCH_PORT"
t_eq "$(bare_head main)" "$c1" "main after an undefined variable"
echo "NO_SUCH_PORT=4000" >>prod.env
push production HEAD:main
t_eq "$PUSH_RC" 0 "the same push once the env file defines it (output: $PUSH_OUT)"
t_eq "$(bare_head main)" "$c3" "main once the variable is defined"

t_log "a commit without berth.json is rejected"
git -C laptop rm -q berth.json
c4=$(laptop_commit "no manifest")
push production HEAD:main
t_eq "$PUSH_RC" 1 "push status without a manifest"
t_contains "$PUSH_OUT" "remote: berth: berth.json not found in commit ${c4:0:7}: environment 'production' deploys branch 'main' and needs one"
t_eq "$(bare_head main)" "$c3" "main after a push without a manifest"

t_log "branches no environment tracks, and tags, are not checked"
push production HEAD:feature
t_eq "$PUSH_RC" 0 "push of an untracked branch (output: $PUSH_OUT)"
t_eq "$(bare_head feature)" "$c4" "feature"
t_contains "$PUSH_OUT" "remote: berth: no environment deploys branch 'feature': nothing to deploy"
t_not_contains "$PUSH_OUT" "berth.json"
push production HEAD:refs/tags/v0
t_eq "$PUSH_RC" 0 "push of a tag (output: $PUSH_OUT)"

t_log "one bad ref rejects the whole push"
push production HEAD:feature2 HEAD:staging
t_eq "$PUSH_RC" 1 "push of two refs, one to a tracked branch"
t_contains "$PUSH_OUT" "berth.json not found in commit ${c4:0:7}: environment 'staging' deploys branch 'staging'"
t_eq "$(bare_head feature2)" - "feature2 after the rejected push"
t_eq "$(bare_head staging)" - "staging after the rejected push"

t_log "deleting a deployed branch is refused; other branches may go"
push production :main
t_eq "$PUSH_RC" 1 "status of deleting main"
t_contains "$PUSH_OUT" "remote: berth: refusing to delete branch 'main': environment 'production' deploys it"
t_eq "$(bare_head main)" "$c3" "main after a refused deletion"
push production :feature
t_eq "$PUSH_RC" 0 "status of deleting feature (output: $PUSH_OUT)"
t_eq "$(bare_head feature)" - "feature after its deletion"

t_log "hostile branch names and commit messages are data"
hooks_manifest 2
bad="$T_DIR/pwned"
c5=$(laptop_commit "\$(touch $bad.1) \`touch $bad.2\`; touch $bad.3")
push production HEAD:main
t_eq "$PUSH_RC" 0 "push of a hostile message (output: $PUSH_OUT)"
for name in "\$(touch\${IFS}$bad.4)" "x;touch\${IFS}$bad.5" "\`touch\${IFS}$bad.6\`" "a|touch\${IFS}$bad.7&"; do
	push production "HEAD:refs/heads/$name"
	t_eq "$PUSH_RC" 0 "push of branch '$name' (output: $PUSH_OUT)"
	t_contains "$PUSH_OUT" "no environment deploys branch '$name'"
done
# The same names as tracked branches: the config may track any name.
sed -i "s|\"branch\": \"staging\"|\"branch\": \"\$(touch\${IFS}$bad.8);\`touch\${IFS}$bad.9\`\"|" config.json
B status staging >/dev/null 2>&1 || true
push production "HEAD:refs/heads/\$(touch\${IFS}$bad.8);\`touch\${IFS}$bad.9\`"
t_eq "$PUSH_RC" 0 "push of a tracked hostile branch (output: $PUSH_OUT)"
t_contains "$PUSH_OUT" "is valid for environment 'staging'"
ls "$T_DIR" | grep -q pwned && t_fail "a hostile name or message ran: $(ls "$T_DIR")"

echo "PASS: $T_NAME"
