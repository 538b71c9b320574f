#!/usr/bin/env bash
# Schema drift against a private PostgreSQL: a migration of the deployed
# commit that the database does not have (an older dump restored by hand) is
# pending, and `--heal` applies it; an applied migration whose recorded
# checksum differs from the deployed file (edited and applied again by hand)
# is reported with both checksums, and a heal refuses to run (its migrate
# step would fail); a migration the database has and the commit does not is
# reported too.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/pg.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"

pg_start
APP_ENV="DATABASE_URL=$DATABASE_URL"
APP_DB='{ "url_env": "DATABASE_URL", "migrations": { "sql_dir": "migrations" },
          "backup": { "verify": "toc" } }'
app_init
cd "$T_DIR"
mkdir app/migrations
echo "CREATE TABLE items (id int PRIMARY KEY);" >app/migrations/001_items.sql
echo "CREATE TABLE notes (id int PRIMARY KEY);" >app/migrations/002_notes.sql
c1=$(app_commit "v1 with two migrations")
t_run 0 B apply production
t_contains "$T_OUT" "[6/11] migrate … 2 applied"
t_run 0 B drift production --no-remote
t_contains "$T_OUT" "no drift in production"
sha() { python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"; }

t_log "a migration the database lost (an older dump restored): pending"
pg_psql -c "DROP TABLE notes; DELETE FROM berth_schema_migrations WHERE name = '002_notes.sql'"
t_run 2 B drift production --no-remote
t_contains "$T_OUT" "schema   002_notes.sql"
t_contains "$T_OUT" "002_notes.sql is in ${c1:0:7} but not applied"
t_not_contains "$T_OUT" "001_items.sql"

t_log "--heal applies it through the pipeline"
t_run 0 B drift production --heal --no-remote
t_contains "$T_OUT" "    applied 002_notes.sql in"
t_contains "$T_OUT" "[6/11] migrate … 1 applied"
t_contains "$T_OUT" "kept web: runs ${c1:0:7}"
t_contains "$T_OUT" "[7/11] deploy … 0 of 1 service restarted, all healthy"
t_contains "$T_OUT" "no drift in production"
t_eq "$(pg_psql -c "select count(*) from notes")" 0 "the table is back"

t_log "an applied file edited and applied again by hand: both checksums named"
printf 'CREATE TABLE items (id int PRIMARY KEY, name text);\n' >edited.sql
pg_psql -c "UPDATE berth_schema_migrations SET checksum = '$(sha edited.sql)' WHERE name = '001_items.sql'"
t_run 2 B drift production --no-remote --json
printf '%s' "$T_OUT" >changed.json
python3 - "$(sha edited.sql)" "$(sha app/migrations/001_items.sql)" "$c1" <<'PY'
import json, sys
d = json.load(open("changed.json"))
assert [(f["kind"], f["name"]) for f in d["drift"]] == [("schema", "001_items.sql")], d
want = ("001_items.sql changed after it was applied (applied with sha256 %s, "
        "the file in %s has %s)" % (sys.argv[1][:12], sys.argv[3][:7], sys.argv[2][:12]))
assert d["drift"][0]["detail"] == want, (d["drift"][0]["detail"], want)
PY
t_log "a heal would fail at migrate: it refuses, nothing is deployed"
before=$(ls state/envs/production/deployments | wc -l)
t_run 1 B drift production --heal --no-remote
t_contains "$T_OUT" "cannot heal production: not healing: 001_items.sql changed after it was applied"
t_eq "$(ls state/envs/production/deployments | wc -l)" "$before" "no deployment record"
pg_psql -c "UPDATE berth_schema_migrations SET checksum = '$(sha app/migrations/001_items.sql)' WHERE name = '001_items.sql'"

t_log "a migration the database has and the deployed commit does not"
pg_psql -c "INSERT INTO berth_schema_migrations (name, checksum) VALUES ('009_future.sql', 'x')"
t_run 2 B drift production --no-remote
t_contains "$T_OUT" "009_future.sql is applied but not in ${c1:0:7}: the database is ahead of the deployed code"

t_log "the database down: the schema check is an error, the rest still runs"
pg_stop
kill -KILL -- "-$(json_get state/envs/production/services.json "d['services']['web']['pgid']")"
t_run 2 B drift production --no-remote
t_contains "$T_OUT" "web is not running"
t_contains "$T_OUT" "not checked: schema: cannot connect to postgresql://127.0.0.1:$PG_PORT/$PG_DATABASE"

echo "PASS: $T_NAME"
