#!/usr/bin/env bash
# Push to deploy the way docs/hooks.md sets it up: git push over ssh to the
# bare repository on "the server" (a private sshd on 127.0.0.1, key login
# as the current user). The hooks run in the ssh session's environment,
# with nothing of the test's: the pusher sees the steps and the result of a
# valid push, and the errors of an invalid manifest, whose push is refused.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"
. "$BERTH_SRC/tests/fixtures/hooks_push.sh"

[ -x /usr/sbin/sshd ] || t_fail "/usr/sbin/sshd is missing: install openssh-server"
command -v ssh >/dev/null || t_fail "ssh is missing: install openssh-client"

app_init
set_listen "$(t_free_port)"
cd "$T_DIR"
t_run 0 B hooks install --bare-repo app.git

mkdir ssh
ssh-keygen -q -t ed25519 -N '' -f ssh/host_key
ssh-keygen -q -t ed25519 -N '' -f ssh/user_key
cp ssh/user_key.pub ssh/authorized_keys
chmod 600 ssh/authorized_keys
[ "$(id -u)" = 0 ] && mkdir -p /run/sshd
port=$(t_free_port)
cat >ssh/sshd_config <<EOF
Port $port
ListenAddress 127.0.0.1
HostKey $T_DIR/ssh/host_key
AuthorizedKeysFile $T_DIR/ssh/authorized_keys
PidFile $T_DIR/ssh/sshd.pid
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin prohibit-password
StrictModes no
EOF
/usr/sbin/sshd -D -e -f "$T_DIR/ssh/sshd_config" 2>"$T_DIR/ssh/sshd.log" &
sshd_pid=$!
t_on_exit "kill $sshd_pid"
export GIT_SSH_COMMAND="ssh -p $port -i $T_DIR/ssh/user_key -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
for ((i = 0; i < 100; i++)); do
	ssh -p "$port" -i ssh/user_key -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "$(id -un)@127.0.0.1" true 2>/dev/null && break
	kill -0 "$sshd_pid" 2>/dev/null || t_fail "sshd exited: $(cat ssh/sshd.log)"
	sleep 0.1
done
t_git -C app remote set-url origin "ssh://$(id -un)@127.0.0.1:$port$T_DIR/app.git"

t_log "a valid push over ssh deploys, and the pusher watches it"
push_release 1 "first release over ssh"
t_contains "$PUSH_OUT" "remote: [5/11] build … "
t_contains "$PUSH_OUT" "remote: [7/11] deploy … 1 service healthy; current -> ${C[1]:0:7}"
t_contains "$PUSH_OUT" "remote: berth: production: deployment 1 succeeded: ${C[1]:0:7} runs now"
t_contains "$PUSH_OUT" "To ssh://"
t_eq "$(app_version)" '{"version":"1"}' "version served"

t_log "an invalid manifest pushed over ssh is refused with its errors"
sed -i 's/"timeout_s": 2/"timeout_s": "2s"/' app/berth.json
c2=$(app_save "broken manifest")
app_push HEAD:main
t_eq "$PUSH_RC" 1 "push status (output: $PUSH_OUT)"
t_contains "$PUSH_OUT" 'remote:   berth.json: $.services.web.health.timeout_s: expected a positive integer, got "2s"'
t_contains "$PUSH_OUT" "[remote rejected] HEAD -> main (pre-receive hook declined)"
t_eq "$(t_git -C app.git rev-parse main)" "${C[1]}" "main in the bare repository"
t_eq "$(records)" "1 " "deployments"

echo "PASS: $T_NAME"
