#!/usr/bin/env bash
# berth plan, status, history and the CLI's usage errors on a real bare
# repository and a real PostgreSQL: a fresh repository lists every service to
# start and every pending migration (exit 2); a manifest with several
# mistakes prints all of them with their JSON paths (exit 1); once the
# database has a migration applied, only the rest is pending.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/pg.sh"

pg_start
cd "$T_DIR"
t_make_repo app
mkdir -p app/migrations
cat >app/berth.json <<'JSON'
{
  "version": 1,
  "app": "shop",
  "build": [["make"]],
  "services": {
    "db-proxy": { "command": ["./proxy"], "env": {"LISTEN": "${PROXY_PORT}"} },
    "backend": { "command": ["./backend", "--port", "${PORT}"],
                 "depends_on": ["db-proxy"],
                 "health": { "http": "http://127.0.0.1:${PORT}/health" } },
    "worker": { "command": ["./worker"], "depends_on": ["backend"] }
  },
  "database": { "url_env": "DATABASE_URL", "migrations": { "sql_dir": "migrations" } },
  "smoke": [ { "name": "health", "url": "http://127.0.0.1:${PORT}/health" } ]
}
JSON
echo 'create table products (id serial primary key, name text);' >app/migrations/001_products.sql
echo 'create table sales (id serial primary key, product_id int);' >app/migrations/002_sales.sql
echo 'alter table sales add column total_cents int;' >app/migrations/003_totals.sql
c1=$(t_commit app "Shop with three services")

printf 'PORT=3000\nPROXY_PORT=3001\nDATABASE_URL=%s\n' "$DATABASE_URL" >prod.env
chmod 600 prod.env
cat >config.json <<JSON
{ "state_dir": "state", "repo": { "url": "$T_DIR/app.git" },
  "environments": { "production": { "branch": "main", "env_file": "prod.env" } } }
JSON
B() { "$BERTH" --config "$T_DIR/config.json" "$@"; }

t_log "plan on a fresh repository: every service and migration, exit 2"
t_run 2 B plan production
t_contains "$T_OUT" "nothing deployed yet"
t_contains "$T_OUT" "start    db-proxy"
t_contains "$T_OUT" "start    backend"
t_contains "$T_OUT" "start    worker"
for m in 001_products.sql 002_sales.sql 003_totals.sql; do
	t_contains "$T_OUT" "migrate  $m"
done
t_contains "$T_OUT" "backup   database"
t_contains "$T_OUT" "build    make"
pw=${DATABASE_URL#*://*:}; pw=${pw%%@*}
t_not_contains "$T_OUT" "$pw" "plan output (the database password)"
# Dependencies start first.
order=$(printf '%s\n' "$T_OUT" | grep -oE 'start +[a-z-]+' | awk '{print $2}' | tr '\n' ' ')
t_eq "$order" "db-proxy backend worker " "start order"

t_log "plan --json has SPEC's shape"
t_run 2 B plan production --json
printf '%s' "$T_OUT" >plan.json
python3 - "$c1" <<'PY'
import json, sys
p = json.load(open("plan.json"))
assert p["env"] == "production", p
assert p["from_commit"] is None, p
assert p["to_commit"] == sys.argv[1], p
kinds = [(c["kind"], c["name"]) for c in p["changes"]]
for want in [("start", "backend"), ("start", "worker"), ("start", "db-proxy"),
             ("migrate", "001_products.sql"), ("migrate", "003_totals.sql")]:
    assert want in kinds, (want, kinds)
for c in p["changes"]:
    assert set(c) >= {"kind", "name", "detail"}, c
PY

t_log "with 001 applied in the database, only 002 and 003 are pending"
pg_psql -c 'create table berth_schema_migrations (name text primary key, checksum text not null, applied_at timestamptz not null default now(), duration_ms integer, deployment_id bigint)'
sum=$(sha256sum app/migrations/001_products.sql | cut -d' ' -f1)
pg_psql -c "insert into berth_schema_migrations (name, checksum) values ('001_products.sql', '$sum')"
t_run 2 B plan production
t_not_contains "$T_OUT" "001_products.sql"
t_contains "$T_OUT" "migrate  002_sales.sql"

t_log "an applied migration edited since is an error: exit 1"
pg_psql -c "update berth_schema_migrations set checksum = 'x' where name = '001_products.sql'"
t_run 1 B plan production
t_contains "$T_OUT" "001_products.sql"
t_contains "$T_OUT" "changed"
pg_psql -c "update berth_schema_migrations set checksum = '$sum' where name = '001_products.sql'"

t_log "a manifest with several mistakes: all of them with JSON paths, exit 1"
cat >app/berth.json <<'JSON'
{
  "version": 1,
  "app": "shop",
  "services": {
    "backend": { "command": ["./backend"], "stop_timeout_s": "30s",
                 "health": { "http": "http://127.0.0.1:${NOPE}/health", "retries": -1 },
                 "depends_on": ["ghost"] },
    "worker": { "comand": ["./worker"] }
  },
  "database": { "migrations": { "sql_dir": "../outside" } }
}
JSON
c2=$(t_commit app "Broken manifest")
t_run 1 B plan production
t_contains "$T_OUT" '$.services.backend.stop_timeout_s'
t_contains "$T_OUT" '$.services.backend.health.http'
t_contains "$T_OUT" 'NOPE'
t_contains "$T_OUT" '$.services.backend.health.retries'
t_contains "$T_OUT" '$.services.backend.depends_on'
t_contains "$T_OUT" '$.services.worker: unknown key "comand"'
t_contains "$T_OUT" '$.database.migrations.sql_dir'
nerr=$(printf '%s\n' "$T_OUT" | grep -c 'berth.json: \$')
[ "$nerr" -ge 6 ] || t_fail "expected at least 6 manifest errors, got $nerr:"$'\n'"$T_OUT"

t_log "--commit plans an earlier commit; tags and short shas resolve"
t_run 2 B plan production --commit "$c1"
t_contains "$T_OUT" "-> ${c1:0:7}"
t_git -C app tag v1 "$c1"
t_git -C app push -q origin v1 2>/dev/null
t_run 2 B plan production --commit v1 --json
t_contains "$T_OUT" "\"to_commit\": \"$c1\""
t_run 2 B plan production --commit "${c1:0:8}"
t_run 1 B plan production --commit no-such-branch
t_contains "$T_OUT" "no-such-branch"

t_log "status and history before any deployment"
t_run 0 B status production
t_contains "$T_OUT" "nothing deployed yet"
t_run 0 B status production --json
t_contains "$T_OUT" '"deployment": null'
t_run 0 B history production
t_contains "$T_OUT" "nothing deployed yet"
t_run 0 B history production --json
t_contains "$T_OUT" '"deployments": []'

t_log "usage errors exit 64 with a message; --help exits 0"
t_run 64 B plan production --bogus
t_contains "$T_OUT" "unknown option '--bogus'"
t_run 64 B plan production extra
t_run 64 B frobnicate
t_run 64 B history --limit
t_run 0 B plan --help
t_contains "$T_OUT" "--commit REV"
t_run 1 B plan staging
t_contains "$T_OUT" "unknown environment 'staging'"

t_log "config errors: every one reported, exit 1"
echo '{ "state_dir": 5, "bogus": true, "repo": {} }' >bad.json
t_run 1 "$BERTH" --config "$T_DIR/bad.json" plan production
t_contains "$T_OUT" '$.state_dir'
t_contains "$T_OUT" '$.bogus'
echo ok
