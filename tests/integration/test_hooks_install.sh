#!/usr/bin/env bash
# berth hooks install: installs both hooks into a bare repository; keeps a
# hook that was there by chaining it (its output reaches the pusher, with
# the same stdin, and its exit status still counts); refuses a repository
# with a working tree, a directory that is no repository and a chained name
# already taken (changing nothing); is idempotent; honours core.hooksPath
# and --env.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/hooks_repo.sh"

hooks_init false
cd "$T_DIR"
hooks=srv/pos.git/hooks

t_log "refuses what is not a bare repository"
t_run 1 B hooks install --bare-repo laptop
t_contains "$T_OUT" "is not a bare repository (it has a working tree)"
t_run 1 B hooks install --bare-repo laptop/.git
t_contains "$T_OUT" "is not a bare repository (it has a working tree)"
[ ! -e laptop/.git/hooks/pre-receive ] || t_fail "a hook was written into a non-bare repository"
mkdir plain
t_run 1 B hooks install --bare-repo plain
t_contains "$T_OUT" "'$T_DIR/plain' is not a Git repository"
t_run 1 B hooks install --bare-repo nowhere
t_contains "$T_OUT" "cannot use 'nowhere': No such file or directory"
t_run 64 B hooks install
t_contains "$T_OUT" "--bare-repo PATH is required"
t_run 1 B hooks install --bare-repo srv/pos.git --env nosuch
t_contains "$T_OUT" "environment 'nosuch' is not in"

t_log "an existing pre-receive hook is kept and chained"
cat >$hooks/pre-receive <<'SH'
#!/bin/sh
# the shop's own hook: echoes what git sent, refuses when told to
while read old new ref; do echo "own hook saw $ref"; done
[ ! -e "$REFUSE_FILE" ] || { echo "own hook refuses"; exit 3; }
exit 0
SH
chmod +x $hooks/pre-receive
own=$(sha256sum <$hooks/pre-receive)
t_run 0 B hooks install --bare-repo srv/pos.git
t_contains "$T_OUT" "pre-receive   installed"
t_contains "$T_OUT" "the hook that was there is kept as $T_DIR/srv/pos.git/hooks/pre-receive.berth-chained"
t_contains "$T_OUT" "post-receive  installed"
t_contains "$T_OUT" "they run $BERTH --config $T_DIR/config.json"
t_not_contains "$T_OUT" "warning: repo.url"
t_eq "$(sha256sum <$hooks/pre-receive.berth-chained)" "$own" "the kept hook's content"
grep -q "berth: installed by 'berth hooks install'" $hooks/pre-receive || t_fail "pre-receive is not berth's"
[ -x $hooks/post-receive ] || t_fail "post-receive is not executable"

t_log "running it again changes nothing"
before=$(cd $hooks && sha256sum pre-receive post-receive pre-receive.berth-chained)
t_run 0 B hooks install --bare-repo srv/pos.git
t_contains "$T_OUT" "pre-receive   unchanged"
t_contains "$T_OUT" "post-receive  unchanged"
t_contains "$T_OUT" "the earlier hook stays as $T_DIR/srv/pos.git/hooks/pre-receive.berth-chained"
t_eq "$(cd $hooks && sha256sum pre-receive post-receive pre-receive.berth-chained)" "$before" "hooks after a second install"
t_eq "$(ls $hooks | grep -c berth-chained)" 1 "chained hooks"

t_log "the chained hook sees the push and its verdict counts"
hooks_manifest 2
c1=$(laptop_commit "first")
push production HEAD:main
t_eq "$PUSH_RC" 0 "push status (output: $PUSH_OUT)"
t_contains "$PUSH_OUT" "remote: own hook saw refs/heads/main"
t_contains "$PUSH_OUT" "remote: berth: berth.json at ${c1:0:7} is valid"
t_eq "$(bare_head main)" "$c1" "main"
touch refuse
c2=$(laptop_commit "second")
REFUSE_FILE=$T_DIR/refuse push production HEAD:main
t_eq "$PUSH_RC" 1 "push status when the chained hook refuses"
t_contains "$PUSH_OUT" "remote: own hook refuses"
t_contains "$PUSH_OUT" "remote: berth: the pre-receive hook kept from before berth's (hooks/pre-receive.berth-chained) failed: the push is rejected"
t_eq "$(bare_head main)" "$c1" "main after the chained hook refused"

t_log "a foreign hook with its chained name taken is refused, nothing changes"
cat >$hooks/post-receive <<'SH'
#!/bin/sh
echo another post-receive
SH
cp $hooks/post-receive $hooks/post-receive.berth-chained
before=$(cd $hooks && sha256sum *)
t_run 1 B hooks install --bare-repo srv/pos.git
t_contains "$T_OUT" "cannot install '$T_DIR/srv/pos.git/hooks/post-receive': a hook of another origin is there, and '$T_DIR/srv/pos.git/hooks/post-receive.berth-chained' (where berth keeps the hook it replaces) exists too"
t_eq "$(cd $hooks && sha256sum *)" "$before" "hooks after a refused install"
rm $hooks/post-receive.berth-chained
t_run 0 B hooks install --bare-repo srv/pos.git
t_contains "$T_OUT" "post-receive  installed"
c3=$(laptop_commit "third")
push production HEAD:main
t_eq "$PUSH_RC" 0 "push status (output: $PUSH_OUT)"
t_contains "$PUSH_OUT" "remote: another post-receive"

t_log "--env: only that environment; the hooks are rewritten"
t_run 0 B hooks install --bare-repo srv/pos.git --env staging
t_contains "$T_OUT" "pre-receive   updated"
t_contains "$T_OUT" "staging      push to 'staging'"
t_not_contains "$T_OUT" "production   push"
grep -q -- "--env 'staging'" $hooks/post-receive || t_fail "post-receive does not name staging"
echo '{ broken' >laptop/berth.json
c4=$(laptop_commit "broken, but production is not this repository's business")
push production HEAD:main
t_eq "$PUSH_RC" 0 "push status with --env staging (output: $PUSH_OUT)"
t_eq "$(bare_head main)" "$c4" "main"

t_log "core.hooksPath is where git looks, so the hooks go there"
t_git init -q --bare srv/other.git
t_git -C srv/other.git config core.hooksPath "$T_DIR/srv/shared-hooks"
t_run 0 B hooks install --bare-repo srv/other.git
t_contains "$T_OUT" "(in $T_DIR/srv/shared-hooks)"
t_contains "$T_OUT" "warning: repo.url in $T_DIR/config.json is not this repository"
[ -x srv/shared-hooks/pre-receive ] || t_fail "no pre-receive in core.hooksPath"

echo "PASS: $T_NAME"
