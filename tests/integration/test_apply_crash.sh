#!/usr/bin/env bash
# A deployment killed with SIGKILL at any step is recovered by the next berth
# command, whichever it is: the record ends `interrupted`, the last good
# release serves again (nothing, for a first deployment), the lock is free,
# nothing stays `running`, and the next apply works. berth stops at each
# step deterministically through its debugging aid BERTH_DEBUG_PAUSE (it
# waits for a file there) and is killed while it waits. The manifest has a
# database, so migrate really applies a migration each time.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/pg.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"

pg_start
APP_DB='{ "url_env": "DATABASE_URL", "migrations": { "sql_dir": "migrations" } }'
APP_ENV="DATABASE_URL=$DATABASE_URL"
app_init
cd "$T_DIR"
mkdir -p app/migrations pause
echo 'create table t_first (id int);' >app/migrations/000_first.sql

# paused_apply POINT — starts `berth apply` that stops at POINT, waits until
# it is there, kills it with SIGKILL; sets KILLED_ID to its deployment.
paused_apply() {
	local point=$1 pid i
	rm -f pause/paused pause/continue
	BERTH_DEBUG_PAUSE=$point BERTH_DEBUG_PAUSE_DIR=$T_DIR/pause B apply production >"apply.$point.out" 2>&1 &
	local job=$!
	for ((i = 0; i < 1200; i++)); do
		[ -f pause/paused ] && break
		kill -0 $job 2>/dev/null || t_fail "apply ended before '$point':"$'\n'"$(cat "apply.$point.out")"
		sleep 0.05
	done
	[ -f pause/paused ] || t_fail "apply never paused at '$point'"
	t_eq "$(cut -d' ' -f1 pause/paused)" "$point" "pause point"
	pid=$(cut -d' ' -f2 pause/paused)
	kill -KILL "$pid"
	wait $job 2>/dev/null || true
	KILLED_ID=$(ls state/envs/production/deployments | sed 's/\.json$//' | sort -n | tail -1)
	t_eq "$(json_get "state/envs/production/deployments/$KILLED_ID.json" 'd["status"]')" running \
		"record of the killed deployment before recovery"
}

# recovered ID GOOD_COMMIT VERSION — the checks after the next command ran.
recovered() {
	local id=$1 good=$2 version=$3 f=state/envs/production/deployments/$1.json
	t_eq "$(json_get "$f" 'd["status"]')" interrupted "status of deployment $id"
	t_contains "$(json_get "$f" 'd["error"]')" "interrupted during"
	t_eq "$(json_get "$f" '[s["name"] for s in d["steps"] if s["status"] == "running"]')" "[]" \
		"steps still running in deployment $id"
	t_eq "$(app_version)" "$version" "version served after recovering deployment $id"
	if [ -n "$good" ]; then
		t_eq "$(json_get state/envs/production/current.json 'd["commit"]')" "$good" "current commit"
	else
		[ ! -e state/envs/production/current.json ] || t_fail "current.json after a first deployment was interrupted"
	fi
	t_run 0 B status production --json
	printf '%s' "$T_OUT" >status.json
	t_eq "$(json_get status.json 'd["locked"]')" False "locked after recovery"
	t_eq "$(grep -l '"status": "running"' state/envs/production/deployments/*.json || true)" "" \
		"records still running"
}

t_log "a first deployment killed in its deploy step: nothing runs afterwards"
echo first >app/VERSION
app_commit "first" >/dev/null
paused_apply deploy
t_eq "$(app_version)" '{"version":"first"}' "the killed deployment's service before recovery"
t_run 0 B status production
t_contains "$T_OUT" "berth: deployment $KILLED_ID of production"
t_contains "$T_OUT" "was interrupted during 'deploy'"
t_contains "$T_OUT" "nothing to put back"
recovered "$KILLED_ID" "" "-"

t_log "v1, the last good release"
echo 1 >app/VERSION
good=$(app_commit "v1")
t_run 0 B apply production
t_eq "$(app_version)" '{"version":"1"}' "version served"

# Each step in turn, recovered by a different command each time.
points=(lock validate backup fetch build migrate deploy:begin deploy smoke cleanup notify)
commands=("status" "history" "plan" "validate" "smoke" "unlock" "resume" "status --json" \
	"history --json" "apply --dry-run" "apply")
n=1
for ((k = 0; k < ${#points[@]}; k++)); do
	point=${points[k]}
	cmd=${commands[k]}
	t_log "killed at '$point', recovered by 'berth $cmd'"
	echo "$point" >app/VERSION
	printf 'create table t_%d (id int);\n' $n >"app/migrations/$(printf '%03d' $n)_t.sql"
	n=$((n + 1))
	app_commit "at $point" >/dev/null
	paused_apply "$point"
	rc=0
	# shellcheck disable=SC2086
	B $cmd production >"recover.$k.out" 2>&1 || rc=$?
	case $cmd in
	plan) [ $rc -eq 2 ] || t_fail "'berth plan' exited $rc:"$'\n'"$(cat "recover.$k.out")" ;;
	*) [ $rc -eq 0 ] || t_fail "'berth $cmd' exited $rc:"$'\n'"$(cat "recover.$k.out")" ;;
	esac
	t_contains "$(cat "recover.$k.out")" "berth: deployment $KILLED_ID of production"
	t_contains "$(cat "recover.$k.out")" "berth: deployment $KILLED_ID marked interrupted; the last good release serves"
	if [ "$cmd" = apply ]; then
		# It recovered first, then deployed the branch head itself.
		t_eq "$(json_get "state/envs/production/deployments/$KILLED_ID.json" 'd["status"]')" interrupted \
			"status of deployment $KILLED_ID"
		t_contains "$(cat "recover.$k.out")" "deployed "
		t_eq "$(app_version)" "{\"version\":\"$point\"}" "version after the recovering apply"
	else
		recovered "$KILLED_ID" "$good" '{"version":"1"}'
	fi
done

t_log "the following apply works"
t_run 0 B apply production
t_eq "$(app_version)" '{"version":"notify"}' "version served"
t_run 0 B history production --json
printf '%s' "$T_OUT" >history.json
t_eq "$(json_get history.json '[x["status"] for x in d["deployments"]].count("interrupted")')" 12 \
	"interrupted deployments in history"

echo "PASS: $T_NAME"
