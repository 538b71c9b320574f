#!/usr/bin/env bash
# berth serve's scheduled backup against a private PostgreSQL: the slot of
# database.backup.schedule fires at its time (the daemon's scheduler clock is
# moved to a few seconds before the slot with BERTH_DEBUG_CLOCK_OFFSET_S, the
# documented test aid, instead of waiting for it), the backup is verified by
# restoring it into a scratch database, and retention after each backup
# keeps what the daily window says (three days of slots, a window of two,
# the deployment's paired backup protected). A backup that fails is
# notified to a local receiver and counted in the metrics.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/integration/serve_lib.sh"
. "$BERTH_SRC/tests/fixtures/pg.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"

export TZ=UTC
t_start_receiver
rport=$T_RECV_PORT
: >"$T_DIR/recv.jsonl"

pg_start
APP_ENV="DATABASE_URL=$DATABASE_URL
HOOK_URL=http://127.0.0.1:$rport/hook"
APP_DB='{ "url_env": "DATABASE_URL", "migrations": { "sql_dir": "migrations" },
          "backup": { "dir": "backups", "format": "custom", "verify": "restore",
                      "retention": { "daily": 2, "weekly": 0, "monthly": 0 },
                      "schedule": "03:00" } }'
APP_EXTRA=', "drift": { "interval_s": 300, "action": "off" },
  "notify": [ { "type": "webhook", "url_env": "HOOK_URL" } ]'
app_init
cd "$T_DIR"
s_app_config
mkdir app/migrations
printf 'CREATE TABLE items (id int PRIMARY KEY, name text);\nINSERT INTO items VALUES (1, %s);\n' "'kept'" >app/migrations/001_items.sql
app_commit "v1 with a table" >/dev/null
t_run 0 B apply production
BK=state/envs/production/backups
paired=$(ls $BK/*.dump)
t_eq "$(echo "$paired" | wc -l)" 1 "the deployment's paired backup"

metric() {
	curl -s "$S_URL/metrics" | awk -v k="$1" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }'
}
# A scheduler clock DAYS days ahead, at that day's 03:00 (UTC) plus SECONDS
# (negative: before the slot).
offset_to_slot() {
	python3 - "$1" "$2" <<'PY'
import sys, time, datetime, math
days, delta = int(sys.argv[1]), int(sys.argv[2])
now = time.time()
d = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).date() + datetime.timedelta(days=days)
slot = datetime.datetime(d.year, d.month, d.day, 3, 0, tzinfo=datetime.timezone.utc).timestamp()
# Rounded up: the clock is never behind the time asked for (a backup taken at
# once is named by the scheduler clock, which must not read 03:29:59).
print(math.ceil(slot - now) + delta)
PY
}
slot_name() { # slot_name DAYS HHMM: a backup name's prefix DAYS days ahead
	python3 -c 'import sys, datetime
d = datetime.datetime.now(datetime.timezone.utc).date() + datetime.timedelta(days=int(sys.argv[1]))
print("backup_%s_%s" % (d.strftime("%Y%m%d"), sys.argv[2]))' "$1" "$2"
}
# run_slot DAYS SECONDS — a daemon whose clock is SECONDS from the slot of
# DAYS days ahead; waits for its scheduled backup and stops it.
run_slot() {
	export BERTH_DEBUG_CLOCK_OFFSET_S=$(offset_to_slot "$1" "$2")
	s_start
	unset BERTH_DEBUG_CLOCK_OFFSET_S
	s_wait "the scheduled backup of day +$1" "[ \"\$(metric 'berth_backups_total{env=\"production\",result=\"ok\"}')\" = 1 ] || [ \"\$(metric 'berth_backups_total{env=\"production\",result=\"failed\"}')\" = 1 ]" 900
	curl -s "$S_URL/metrics" >"metrics.$1"
	s_stop
}

t_log "the slot fires at its time and the backup is verified by a restore"
# Twenty seconds before the slot: a daemon slow to start on a loaded machine
# must still plan the slot ahead rather than find it just passed.
run_slot 1 -20
grep -q 'msg="next scheduled backup" env=production in_s=[1-9]' serve.log ||
	t_fail "the daemon did not plan the slot ahead: $(grep 'scheduled backup' serve.log)"
s1=$(ls $BK | grep "^$(slot_name 1 0300)..\.dump$") || t_fail "no backup named for the slot: $(ls $BK)"
grep -q '^berth_backups_total{env="production",result="ok"} 1$' metrics.1 || t_fail "backup metric: $(grep backup metrics.1)"
grep -q '^berth_backup_verifications_total{env="production",result="ok"} 1$' metrics.1 || t_fail "verification metric"
grep -q '^berth_backup_size_bytes{env="production"} [1-9]' metrics.1 || t_fail "size metric"
side=$BK/${s1%.dump}.json
t_eq "$(json_get "$side" 'd["kind"]')" scheduled "kind"
t_eq "$(json_get "$side" 'd["verification"]["mode"]')" restore "verified by"
t_eq "$(json_get "$side" 'd["verification"]["ok"]')" True "verification result"
t_eq "$(json_get state/envs/production/schedule.json 'd["backup"]["ok"]')" True "schedule.json"
# The dump restores outside berth too, with the row in it.
pg_psql -c "CREATE DATABASE restored_by_test"
"$PG_BIN/pg_restore" --no-owner -d "${DATABASE_URL%/*}/restored_by_test" "$BK/$s1"
t_eq "$("$PG_BIN/psql" -qtA "${DATABASE_URL%/*}/restored_by_test" -c 'select name from items')" kept "restored row"

t_log "a daemon started after the slot takes the backup it missed, at once"
run_slot 2 1800
grep -q "^$(slot_name 2 0330)..\.dump$" <(ls $BK) || t_fail "no catch-up backup: $(ls $BK)"
t_log "one more day: retention keeps the daily window's two and the paired backup"
run_slot 3 1800
ls $BK >files.txt
for day in 2 3; do
	grep -q "^$(slot_name "$day" 0330)..\.dump$" files.txt || t_fail "day +$day's backup was removed: $(cat files.txt)"
done
grep -q "^$(slot_name 1 0300)" files.txt && t_fail "day +1's backup outside the window was kept: $(cat files.txt)"
grep -qx "$(basename "$paired")" files.txt || t_fail "the paired backup was pruned: $(cat files.txt)"
t_eq "$(grep -c '\.dump$' files.txt)" 3 "dumps kept"
t_eq "$(grep -c '\.json$' files.txt)" 3 "sidecars kept"
grep -q '^berth_backups_pruned_total{env="production"} 1$' metrics.3 || t_fail "pruned metric: $(grep pruned metrics.3)"

t_log "a failed scheduled backup is notified"
pg_stop
run_slot 4 1800
grep -q '^berth_backups_total{env="production",result="failed"} 1$' metrics.4 || t_fail "failure metric"
python3 - <<'PY'
import json
got = [json.loads(json.loads(l)["body"] or "null") for l in open("recv.jsonl")]
fails = [b for b in got if isinstance(b, dict) and b.get("event") == "backup"]
assert len(fails) == 1, got
f = fails[0]
assert f["env"] == "production" and f["status"] == "failed" and f["kind"] == "scheduled", f
assert f["error"], f
PY
pw=${DATABASE_URL#*://*:}
pw=${pw%%@*}
t_not_contains "$(cat recv.jsonl serve.log)" "$pw" "notification and log"

echo "PASS: $T_NAME"
