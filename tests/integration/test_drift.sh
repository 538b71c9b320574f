#!/usr/bin/env bash
# berth drift on a deployed app of two services: a killed service is named
# (exit 2) and `--heal` restarts it alone through a deployment with trigger
# drift; a commit pushed without a webhook shows as the branch ahead; an
# edited env file is reported without its values, and so are the services
# started with the old one; a heal redeploys the deployed commit unless the
# environment has auto_deploy; an unreachable remote is an error, not drift.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"

app_init
cd "$T_DIR"
WORKER_PORT=$(t_free_port)
# Two services: web (the fixture's) and worker, on a port of its own.
two_services() {
	python3 - app/berth.json "$WORKER_PORT" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
w = dict(m["services"]["web"])
w["command"] = ["python3", "server.py"]
w["env"] = {"PORT": sys.argv[2]}
w["health"] = dict(w["health"], http="http://127.0.0.1:%s/health" % sys.argv[2])
m["services"]["worker"] = w
json.dump(m, open(sys.argv[1], "w"), indent=2)
PY
}
two_services
c1=$(app_commit "v1")
pgid_of() { json_get state/envs/production/services.json "d['services']['$1']['pgid']"; }
set_config() { # set_config KEY JSON_VALUE: a key of the production environment
	python3 - config.json "$1" "$2" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["environments"]["production"][sys.argv[2]] = json.loads(sys.argv[3])
json.dump(c, open(sys.argv[1], "w"))
PY
}

t_log "nothing deployed: nothing to compare"
t_run 0 B drift production
t_contains "$T_OUT" "nothing deployed yet"

t_run 0 B apply production
t_log "deployed as it should run: no drift"
t_run 0 B drift production
t_contains "$T_OUT" "no drift in production: ${c1:0:7} (deployment 1) runs as deployed"
t_run 0 B drift production --json
printf '%s' "$T_OUT" >clean.json
t_eq "$(json_get clean.json 'd["drift"]')" "[]" "no findings"
t_eq "$(json_get clean.json 'd["env"]')" "production" "env"
t_eq "$(json_get clean.json 'd["branch_head"]')" "$c1" "the remote head"

t_log "a killed service is named"
web_pid=$(pgid_of web)
kill -KILL -- "-$(pgid_of worker)"
t_run 2 B drift production
t_contains "$T_OUT" "drift in production, running ${c1:0:7} (deployment 1):"
t_contains "$T_OUT" "service  worker"
t_contains "$T_OUT" "worker is not running (exited)"
t_not_contains "$T_OUT" "service  web"
t_run 2 B drift production --json
printf '%s' "$T_OUT" >killed.json
python3 - <<'PY'
import json
d = json.load(open("killed.json"))
assert d["env"] == "production", d
assert [(f["kind"], f["name"]) for f in d["drift"]] == [("service", "worker")], d
assert d["drift"][0]["detail"].startswith("worker is not running"), d
assert d["errors"] == [], d
PY

t_log "--heal restarts the killed service alone, as a deployment with trigger drift"
t_run 0 B drift production --heal
t_contains "$T_OUT" "healing production"
t_contains "$T_OUT" "kept web: runs ${c1:0:7} as the manifest says and is healthy"
t_contains "$T_OUT" "worker not running (exited)"
t_contains "$T_OUT" "started worker"
t_contains "$T_OUT" "[7/11] deploy … 1 of 2 services restarted, all healthy"
t_contains "$T_OUT" "deployed ${c1:0:7} to production"
t_contains "$T_OUT" "after the heal:"
t_contains "$T_OUT" "no drift in production: ${c1:0:7} (deployment 2)"
t_eq "$(pgid_of web)" "$web_pid" "web kept running (same process)"
t_eq "$(curl -s --max-time 5 "http://127.0.0.1:$WORKER_PORT/version")" '{"version":"1"}' "worker serves again"
t_run 0 B history production --json
printf '%s' "$T_OUT" >history.json
t_eq "$(json_get history.json 'd["deployments"][0]["trigger"]')" "drift" "the heal's trigger"
t_eq "$(json_get history.json 'd["deployments"][0]["commit"]')" "$c1" "the heal's commit"
t_eq "$(json_get history.json 'd["deployments"][0]["status"]')" "succeeded" "the heal's status"

t_log "a commit pushed without a webhook: the branch is ahead"
echo 2 >app/VERSION
c2=$(app_commit "v2")
echo 3 >app/VERSION
c3=$(app_commit "v3")
t_run 2 B drift production
t_contains "$T_OUT" "branch   main"
t_contains "$T_OUT" "main is at ${c3:0:7}, 2 commits ahead of deployed ${c1:0:7}"

t_log "an edited env file: named, its values never shown"
echo "API_KEY=s3cret-drift-value" >>prod.env
t_run 2 B drift production --json
printf '%s' "$T_OUT" >env.json
t_not_contains "$T_OUT" "s3cret-drift-value" "drift output"
python3 - "$T_DIR/prod.env" <<'PY'
import json, sys
d = json.load(open("env.json"))
kinds = {(f["kind"], f["name"]): f["detail"] for f in d["drift"]}
e = kinds[("env_file", sys.argv[1])]
assert "changed since deployment 2" in e and "values are not shown" in e, e
for s in ("web", "worker"):
    assert kinds[("service", s)] == "%s was started with another configuration: env file changed" % s, kinds
assert ("branch", "main") in kinds, kinds
PY

t_log "without auto_deploy a heal redeploys the deployed commit, not the branch head"
set_config auto_deploy false
t_run 2 B drift production --heal
t_contains "$T_OUT" "[7/11] deploy … 2 of 2 services restarted, all healthy"
t_contains "$T_OUT" "deployed ${c1:0:7} to production"
t_contains "$T_OUT" "after the heal:"
t_contains "$T_OUT" "main is at ${c3:0:7}, 2 commits ahead of deployed ${c1:0:7}"
t_not_contains "$(B drift production 2>&1)" "env_file"
t_eq "$(app_version)" '{"version":"1"}' "v1 still serves"

t_log "with auto_deploy the heal deploys the branch head"
set_config auto_deploy true
t_run 0 B drift production --heal
t_contains "$T_OUT" "deployed ${c3:0:7} to production"
t_contains "$T_OUT" "no drift in production: ${c3:0:7}"
t_eq "$(app_version)" '{"version":"3"}' "v3 serves"

t_log "an unreachable remote is an error, not drift"
mv app.git app.git.away
t_run 1 B drift production
t_contains "$T_OUT" "not checked: branch:"
t_run 1 B drift production --json
printf '%s' "$T_OUT" >away.json
t_eq "$(json_get away.json 'd["errors"][0]["check"]')" "branch" "the check that failed"
t_eq "$(json_get away.json 'd["drift"]')" "[]" "no findings"
t_log "it does not hide drift found locally"
kill -KILL -- "-$(pgid_of web)"
t_run 2 B drift production --no-remote
t_contains "$T_OUT" "web is not running"
t_not_contains "$T_OUT" "not checked"
mv app.git.away app.git

t_log "a running deployment: drift is not checked (exit 75)"
python3 - state/envs/production/lock <<'PY' &
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
# An open file description lock, as berth takes (F_OFD_SETLK = 37).
fcntl.fcntl(fd, 37, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0))
open(sys.argv[1] + ".held", "w").close()
time.sleep(60)
PY
LOCKER=$!
t_on_exit "kill $LOCKER"
for ((i = 0; i < 100; i++)); do
	[ -e state/envs/production/lock.held ] && break
	sleep 0.1
done
t_run 75 B drift production
t_contains "$T_OUT" "production is being deployed"
kill $LOCKER

echo "PASS: $T_NAME"
