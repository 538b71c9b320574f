#!/usr/bin/env bash
# berth backup against a private PostgreSQL: create, list, verify (a
# corrupted dump is caught: by its checksum, and by its table of contents
# when the sidecar was rewritten to match), verify --restore into a scratch
# database that is dropped again, restore; pruning — by `berth backup prune`
# and after each deployment — keeps what the retention windows say and never
# the paired backups of the current and last good deployments; a backup
# directory on a full filesystem fails the deployment at its backup step
# with nothing changed and no partial file left.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/pg.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"
. "$BERTH_SRC/tests/fixtures/db_app.sh"

[ "$(id -u)" = 0 ] || t_fail "this test mounts a tmpfs: it must run as root"
db_app_init '{ "format": "custom", "retention": { "daily": 7, "weekly": 28, "monthly": 365 } }'
dir=state/envs/production/backups
declare -a paired=()

t_log "five deployments, five paired backups"
for v in 1 2 3 4 5; do
	echo $v >app/VERSION
	app_commit "v$v" >/dev/null
	t_run 0 B apply production --json
	printf '%s' "$T_OUT" >v$v.json
	paired[v]=$(basename "$(json_get v$v.json 'd["backup"]')")
done
# All of one day: the daily window keeps the newest; deployment 5's cleanup
# removed the first, which no kept release needs any more (releases.keep 3).
t_contains "$(json_get v5.json '[s["detail"] for s in d["steps"] if s["name"] == "cleanup"][0]')" \
	"; 1 backup pruned"
t_run 0 B backup list production --json
printf '%s' "$T_OUT" >list.json
t_eq "$(json_get list.json 'sorted(b["file"] for b in d["backups"])')" \
	"$(python3 -c 'import sys; print(sorted(sys.argv[1:]))' "${paired[@]:2}")" "backups listed"

t_log "berth backup create, and verify"
t_run 0 B backup create production --json
printf '%s' "$T_OUT" >manual.json
manual=$(json_get manual.json 'd["file"]')
t_eq "$(json_get "$dir/${manual%.dump}.json" 'd["kind"]')" manual "kind of a manual backup"
t_run 0 B backup verify production "$manual"
t_contains "$T_OUT" "✓ $manual: "
t_run 0 B backup verify production "$manual" --restore
t_contains "$T_OUT" "✓ $manual: "
t_eq "$(q "select count(*) from pg_database where datname not in ('postgres', 'template0', 'template1', '$PG_DATABASE')")" \
	0 "databases left by verify --restore"

t_log "verify catches a corrupted dump"
cp "$dir/$manual" "$dir/backup_20200101_000000.dump"
python3 - "$dir" "$manual" <<'PY'
import hashlib, json, sys
d, name = sys.argv[1], sys.argv[2]
side = json.load(open(f"{d}/{name[:-5]}.json"))
for stamp, how in (("20200101_000000", "flip"), ("20200102_000000", "truncate")):
    data = bytearray(open(f"{d}/{name}", "rb").read())
    if how == "flip":
        data[len(data) // 2] ^= 0xFF
    else:
        data = data[: len(data) // 3]
    open(f"{d}/backup_{stamp}.dump", "wb").write(data)
    s = dict(side, file=f"backup_{stamp}.dump", size=len(data))
    if how == "truncate":  # a sidecar that matches: only the dump's contents can tell
        s["sha256"] = hashlib.sha256(data).hexdigest()
    json.dump(s, open(f"{d}/backup_{stamp}.json", "w"))
PY
chmod 600 "$dir"/backup_2020*
t_run 1 B backup verify production backup_20200101_000000.dump
t_contains "$T_OUT" "✗ backup_20200101_000000.dump: "
t_contains "$T_OUT" "changed since it was written"
t_run 1 B backup verify production backup_20200102_000000.dump
t_contains "$T_OUT" "✗ backup_20200102_000000.dump: "
t_run 1 B backup verify production backup_20200102_000000.dump --restore
t_contains "$T_OUT" "✗ backup_20200102_000000.dump: "
rm "$dir"/backup_2020*

t_log "prune: the windows decide, the paired backups of the current and last good stay"
# Backdate the sidecars (times come from them): 2 is older than every
# window; 3, 4 and 5 too, but 4 and 5 are the paired backups of the last
# good and the current deployment, and 3 that of the oldest release kept.
# Two more backups of one day three days ago: the daily window keeps the
# later one.
python3 - "$dir" "${paired[@]:2}" <<'PY'
import datetime, json, shutil, sys
d, p = sys.argv[1], sys.argv[2:]
now = datetime.datetime.now(datetime.timezone.utc)
def backdate(name, when, new=None):
    side = json.load(open(f"{d}/{name[:-5]}.json"))
    if new:
        shutil.copy(f"{d}/{name}", f"{d}/{new}")
        name = side["file"] = new
    side["created_at"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    json.dump(side, open(f"{d}/{name[:-5]}.json", "w"))
for name, days in zip(p, (400, 500, 500, 500)):
    backdate(name, now - datetime.timedelta(days=days))
day = (now - datetime.timedelta(days=3)).replace(hour=10, minute=0, second=0)
backdate(p[0], day, "backup_20210101_000000.dump")
backdate(p[0], day.replace(hour=11), "backup_20210101_000001.dump")
PY
chmod 600 "$dir"/backup_2021*
t_run 0 B backup prune production --dry-run
t_contains "$T_OUT" "production: 2 backups would be removed, 5 kept (dry run: nothing removed)"
t_eq "$(ls "$dir" | grep -c '\.dump$')" 7 "dumps after a dry run"
t_run 0 B backup prune production --json
printf '%s' "$T_OUT" >prune.json
python3 - "$manual" "${paired[@]:2}" <<'PY'
import json, sys
manual, p = sys.argv[1], sys.argv[2:]
got = {b["file"]: (b["removed"], b["reason"]) for b in json.load(open("prune.json"))["backups"]}
want = {
    manual: (False, "kept: newest backup"),
    "backup_20210101_000001.dump": (False, "kept: daily "),
    "backup_20210101_000000.dump": (True, "removed: a newer backup of its day"),
    p[0]: (True, "removed: outside every retention window"),
    p[1]: (False, "kept: protected"),  # the oldest release kept
    p[2]: (False, "kept: protected"),  # the last good deployment's
    p[3]: (False, "kept: protected"),  # the current deployment's
}
assert set(got) == set(want), (got, want)
for f, (removed, reason) in want.items():
    assert got[f][0] == removed and got[f][1].startswith(reason), (f, got[f], reason)
PY
for f in backup_20210101_000000 "${paired[2]%.dump}"; do
	[ ! -e "$dir/$f.dump" ] && [ ! -e "$dir/$f.json" ] || t_fail "$f was not removed"
done
for f in backup_20210101_000001 "${paired[3]%.dump}" "${paired[4]%.dump}" "${paired[5]%.dump}"; do
	[ -e "$dir/$f.dump" ] && [ -e "$dir/$f.json" ] || t_fail "$f was removed"
done

t_log "berth backup restore puts a backup back, behind a safety backup"
q "insert into items values (2, 'second')" >/dev/null
t_run 1 B backup restore production "$manual" </dev/null
t_contains "$T_OUT" "public.items 1"
t_eq "$(q "select count(*) from items")" 2 "items after a refused restore"
t_run 0 B backup restore production "$manual" --yes
t_eq "$(q "select count(*) from items")" 1 "items after the restore"
t_eq "$(app_version)" '{"version":"5"}' "version after the restore"

t_log "a backup directory on a full filesystem: the deployment fails at backup"
q "insert into items select g, md5(g::text) || md5((g * 7)::text) from generate_series(10, 40000) g" >/dev/null
mkdir small
mount -t tmpfs -o size=256k,mode=0700 tmpfs small || t_fail "cannot mount a tmpfs on $T_DIR/small"
t_on_exit "umount '$T_DIR/small'"
cat >app/migrations/002_sales.sql <<'SQL'
CREATE TABLE sales (id integer PRIMARY KEY);
SQL
echo 6 >app/VERSION
APP_DB='{ "url_env": "DATABASE_URL", "migrations": { "sql_dir": "migrations" },
          "backup": { "dir": "'"$T_DIR/small"'", "format": "custom" } }'
app_manifest
c6=$(app_commit "v6: backups elsewhere")
before=$(q "select count(*) from items")
t_run 1 B apply production --json
printf '%s' "$T_OUT" >v6.json
python3 - <<'PY'
import json
d = json.load(open("v6.json"))
assert d["status"] == "failed" and d["backup"] is None, d
steps = {s["name"]: s for s in d["steps"]}
assert steps["backup"]["status"] == "failed", steps["backup"]
assert "No space left on device" in d["error"], d["error"]
assert d["error"].startswith("backup: "), d["error"]
for name in ("migrate", "deploy"):
    assert name not in steps or steps[name]["status"] == "skipped", steps[name]
PY
t_eq "$(ls -A small)" "" "files left in the full backup directory"
t_eq "$(q "select to_regclass('public.sales') is null")" t "migration 002 after the failed backup"
t_eq "$(q "select count(*) from items")" "$before" "items after the failed backup"
t_eq "$(app_version)" '{"version":"5"}' "version after the failed backup"

echo "PASS: $T_NAME"
