#!/usr/bin/env bash
# Rollback with data against a private PostgreSQL (SPEC §6): v1 → v2 adds a
# table by migration 002 and rows go in; v3, whose migration 003 succeeds but
# whose service never becomes healthy, is rolled back: 003's changes are
# gone, the rows written before v3 are there, and the rows v3's migration
# wrote are kept in a safety backup. A migration that fails on its second
# statement leaves the database as it was and the old release serving.
# A `git revert` of the commit that added 002 restores 002's paired backup
# and reports the rows written since.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/pg.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"
. "$BERTH_SRC/tests/fixtures/db_app.sh"

APP_EXTRA=', "rollback": { "automatic": true, "database": "restore" }'
db_app_init '{ "dir": "backups", "format": "custom" }'

t_log "v1 with migration 001"
c1=$(app_commit "v1")
t_run 0 B apply production
t_contains "$T_OUT" "[6/11] migrate … 1 applied"

t_log "v2 adds migration 002: the table exists; rows go in"
echo 2 >app/VERSION
cat >app/migrations/002_sales.sql <<'SQL'
CREATE TABLE sales (id integer PRIMARY KEY, amount integer NOT NULL);
SQL
c2=$(app_commit "v2: sales")
t_run 0 B apply production
t_contains "$T_OUT" "    applied 002_sales.sql in"
t_eq "$(q "select to_regclass('public.sales') is not null")" t "sales table after v2"
q "insert into sales select g, g * 10 from generate_series(1, 5) g" >/dev/null
t_eq "$(app_version)" '{"version":"2"}' "version after v2"

t_log "v3: migration 003 succeeds, the service never becomes healthy"
echo 3 >app/VERSION
cat >app/migrations/003_note.sql <<'SQL'
ALTER TABLE sales ADD COLUMN note text;
INSERT INTO sales VALUES (100, 1000, 'written by 003');
SQL
c3=$(app_commit_broken "v3: sales notes")
t_run 1 B apply production --json
printf '%s' "$T_OUT" >v3.json
t_eq "$(app_version)" '{"version":"2"}' "version after v3's rollback"
t_eq "$(q "select count(*) from information_schema.columns where table_name = 'sales' and column_name = 'note'")" \
	0 "003's column after the rollback"
t_eq "$(q "select string_agg(id::text, ',' order by id) from sales")" "1,2,3,4,5" "rows written before v3"
t_eq "$(q "select string_agg(name, ',') from berth_schema_migrations")" \
	"001_items.sql,002_sales.sql" "migrations recorded after the rollback"
python3 - "$c2" <<'PY'
import json, os, sys
d = json.load(open("v3.json"))
assert d["status"] == "rolled_back", d["status"]
assert d["migrations_ran"] is True and d["migrations"] == ["003_note.sql"], d
r = d["restores"]
assert len(r) == 1, r
r = r[0]
paired = d["backup"]
assert r["backup"] == paired, (r, paired)
safety = r["safety_backup"]
assert safety and os.path.getsize(safety) > 0, r
side = json.load(open(safety[: safety.rindex(".")] + ".json"))
assert side["kind"] == "pre-rollback" and side["deployment_id"] == 3, side
PY
safety=$(json_get v3.json 'd["restores"][0]["safety_backup"]')
# The safety backup holds what the restore discarded: 003's row.
"$PG_BIN/pg_restore" -f - -a -t sales "$safety" >safety.sql
t_contains "$(cat safety.sql)" "written by 003"

t_log "a migration that fails on its second statement: nothing changes"
echo 4 >app/VERSION
git -C app rm -q migrations/003_note.sql
cat >app/migrations/003_broken.sql <<'SQL'
CREATE TABLE refunds (id integer PRIMARY KEY);
INSERT INTO no_such_table VALUES (1);
SQL
# The database's schema and data (pg_dump's \restrict key changes each run).
dump() { "$PG_BIN/pg_dump" --no-owner -d "$PGDATABASE" | grep -v '^\\\(un\)\?restrict '; }
before=$(dump)
c4=$(app_commit "v4: refunds")
t_run 1 B apply production --json
printf '%s' "$T_OUT" >v4.json
t_eq "$(dump)" "$before" "the database after a migration that failed"
t_eq "$(app_version)" '{"version":"2"}' "version after the failed migration"
python3 - <<'PY'
import json
d = json.load(open("v4.json"))
assert d["status"] == "rolled_back", d["status"]  # SPEC §5: failure at step 6
assert d["migrations_ran"] is False and d["migrations"] == [], d
steps = {s["name"]: s for s in d["steps"]}
assert steps["migrate"]["status"] == "failed", steps["migrate"]
assert "003_broken.sql" in d["error"] and "no_such_table" in d["error"], d["error"]
assert d["restores"] == [], d["restores"]
PY

t_log "berth rollback by hand: to the last good deployment before the current one"
# Deployment 2's paired backup is the database before 002: restoring it
# discards the rows written since, so without --yes and a terminal it refuses.
t_run 1 B rollback production </dev/null
t_contains "$T_OUT" "    rollback to ${c1:0:7} (deployment 1)"
t_contains "$T_OUT" "(paired backup of deployment 2)"
t_contains "$T_OUT" "      undoes 002_sales.sql"
t_contains "$T_OUT" "public.sales 5 (created since the backup)"
t_contains "$T_OUT" "not done without --yes (no terminal to ask)"
t_contains "$T_OUT" "nothing changed"
t_eq "$(app_version)" '{"version":"2"}' "version after a refused rollback"
t_eq "$(q "select count(*) from sales")" 5 "sales after a refused rollback"
# On a terminal it asks instead; an answer other than yes changes nothing.
python3 - "$BERTH" --config "$T_DIR/config.json" rollback production >asked.txt <<'PY' ||
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
while b"Type yes to restore: " not in out:
    chunk = os.read(fd, 4096)
    if not chunk:
        sys.exit("berth ended without asking: %r" % out)
    out += chunk
os.write(fd, b"no\n")
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(0 if os.waitstatus_to_exitcode(status) != 0 else "berth went on after 'no'")
PY
	t_fail "the rollback on a terminal: $(cat asked.txt)"
t_contains "$(cat asked.txt)" "public.sales 5"
t_contains "$(cat asked.txt)" "restore not confirmed"
t_eq "$(app_version)" '{"version":"2"}' "version after a declined rollback"
t_eq "$(q "select count(*) from sales")" 5 "sales after a declined rollback"
t_run 0 B rollback production --yes --json
printf '%s' "$T_OUT" >r6.json
t_eq "$(app_version)" '{"version":"1"}' "version after berth rollback"
t_eq "$(q "select to_regclass('public.sales') is null")" t "sales table after berth rollback"
python3 - "$c1" <<'PY'
import json, os, sys
d = json.load(open("r6.json"))
assert d["kind"] == "rollback" and d["status"] == "succeeded", d
assert d["commit"] == sys.argv[1] and d["trigger"] == "cli", d
r = d["restores"]
assert len(r) == 1 and r[0]["ok"] is True, r
assert r[0]["rows_written_since"] == 6, r
assert "public.sales 5" in r[0]["tables"], r
assert os.path.getsize(r[0]["safety_backup"]) > 0, r
PY
safety=$(json_get r6.json 'd["restores"][0]["safety_backup"]')

t_log "--to DEPLOYMENT --code-only: v2's code; the database is not restored"
t_run 0 B rollback production --to 2 --code-only
t_contains "$T_OUT" "    database: left as it is (--code-only)"
t_eq "$(app_version)" '{"version":"2"}' "version after --code-only"
# Not restored: v2's migration runs again on the database as it is.
t_contains "$T_OUT" "    applied 002_sales.sql in"
t_eq "$(q "select count(*) from sales")" 0 "sales after --code-only"

t_log "--to COMMIT --backup FILE: v1, with the safety backup of the last rollback"
t_run 1 B rollback production --to "$c2" --code-only
t_contains "$T_OUT" "(deployment 8) is what runs now"
t_run 0 B rollback production --to "$c1" --backup "$(basename "$safety")" --yes
t_contains "$T_OUT" "    database: restores $(basename "$safety") (--backup)"
t_eq "$(q "select string_agg(id::text, ',' order by id) from sales")" "1,2,3,4,5" \
	"sales after restoring the safety backup"
t_eq "$(app_version)" '{"version":"1"}' "version after --backup"
t_run 64 B rollback production --backup "$(basename "$safety")" --code-only
t_run 0 B history production --json
printf '%s' "$T_OUT" >history.json
t_eq "$(json_get history.json '[(x["id"], x["kind"], x["status"]) for x in d["deployments"][:6]]')" \
	"[(10, 'rollback', 'succeeded'), (9, 'rollback', 'failed'), (8, 'rollback', 'succeeded'), (7, 'rollback', 'succeeded'), (6, 'rollback', 'failed'), (5, 'rollback', 'failed')]" \
	"history of the rollbacks"

echo "PASS: $T_NAME"
