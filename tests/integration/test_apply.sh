#!/usr/bin/env bash
# berth apply deploys the real example app (contrib/example-app: make, the
# process driver, SQL migrations) against a private PostgreSQL: v1 serves and
# its migrations are recorded; v2 adds a migration and serves; each has its
# paired backup, verified, with a sidecar; v3 (--skip-backup), whose health
# check never passes, is rolled back (exit 1) and v2 serves again with the
# sales written meanwhile; history shows all three.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/pg.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"

for cmd in make cc pkg-config curl python3; do
	command -v "$cmd" >/dev/null ||
		t_fail "'$cmd' is missing (run contrib/test.sh, which installs what tests need)"
done
pg_start
cd "$T_DIR"
t_make_repo pos
cp -r "$BERTH_SRC/contrib/example-app/." pos/
make -s -C pos clean
c1=$(t_commit pos "Point-of-sale backend, first version")

PORT=$(t_free_port)
printf 'PORT=%s\nDATABASE_URL=%s\n' "$PORT" "$DATABASE_URL" >prod.env
chmod 600 prod.env
cat >config.json <<JSON
{ "state_dir": "$T_DIR/state", "repo": { "url": "$T_DIR/pos.git" },
  "environments": { "production": { "branch": "main", "env_file": "$T_DIR/prod.env" } } }
JSON
t_on_exit app_stop_all
get() { curl -s --max-time 10 "http://127.0.0.1:$PORT$1"; }
password=${DATABASE_URL#*://*:}
password=${password%%@*}

t_log "v1: build, migrate, start, smoke"
t_run 0 B apply production
t_contains "$T_OUT" "[2/11] validate … 9 checks passed for ${c1:0:7}"
t_contains "$T_OUT" "✓ database         postgresql://127.0.0.1:$PG_PORT/$PG_DATABASE, PostgreSQL 15"
t_contains "$T_OUT" "[3/11] backup … backup_20"
t_contains "$T_OUT" ".dump, "
t_contains "$T_OUT" "verified (toc)"
t_contains "$T_OUT" "[5/11] build … 1 command in releases/${c1:0:7}"
t_contains "$T_OUT" "    applied 001_products.sql in"
t_contains "$T_OUT" "    applied 002_sales.sql in"
t_contains "$T_OUT" "[6/11] migrate … 2 applied"
t_contains "$T_OUT" "    backend healthy in"
t_contains "$T_OUT" "    ✓ backend health 200"
t_contains "$T_OUT" "    ✓ products 200"
t_contains "$T_OUT" "deployed ${c1:0:7} to production in"
t_not_contains "$T_OUT" "$password" "apply output (the database password)"
t_eq "$(get /health)" '{"status":"ok","version":"1.0.0","database":"ok"}' "v1 /health"
t_contains "$(get /api/products)" '"name":"Espresso"' "v1 /api/products"
t_eq "$(pg_psql -c "select string_agg(name || ':' || deployment_id, ',' order by name) from berth_schema_migrations")" \
	"001_products.sql:1,002_sales.sql:1" "migrations recorded with their deployment"
t_eq "$(curl -s -X POST -d '{"product_id":1,"quantity":2}' "http://127.0.0.1:$PORT/api/sales")" \
	'{"id":1,"total_cents":500}' "a sale on v1"

t_log "v2: a new migration and a new version"
echo 2.0.0 >pos/VERSION
cat >pos/migrations/003_sales_note.sql <<'SQL'
ALTER TABLE sales ADD COLUMN note text;
SQL
c2=$(t_commit pos "v2: sales notes")
t_run 0 B apply production --json
printf '%s' "$T_OUT" >v2.json
python3 - <<'PY'
import json
d = json.load(open("v2.json"))
assert d["status"] == "succeeded", d
assert d["migrations_ran"] is True and d["migrations"] == ["003_sales_note.sql"], d
steps = {s["name"]: s for s in d["steps"]}
assert steps["migrate"]["detail"] == "1 applied", steps["migrate"]
assert "stopped backend" in steps["deploy"]["output_tail"], steps["deploy"]
PY
t_eq "$(get /health)" '{"status":"ok","version":"2.0.0","database":"ok"}' "v2 /health"

t_log "each deployment has its paired backup, with its sidecar"
python3 - <<'PY'
import json, os
d = json.load(open("v2.json"))
b = d["backup"]
assert b and b.startswith(os.getcwd() + "/state/envs/production/backups/backup_"), b
assert b.endswith(".dump") and os.path.getsize(b) > 0, b
side = json.load(open(b[: -len(".dump")] + ".json"))
assert side["kind"] == "pre-deploy" and side["deployment_id"] == 2, side
assert side["commit"] == d["commit"] and side["verification"]["ok"] is True, side
# The dump holds the database as v1 left it: the sale, not v2's column.
assert "sales" in [t["table"].split(".")[-1] for t in side["table_stats"]], side
one = json.load(open("state/envs/production/deployments/1.json"))["backup"]
assert one and one != b, (one, b)
PY
t_eq "$(get /api/sales/count)" '{"count":1}' "sales kept across the deployment"

t_log "v3: a health check that never passes is rolled back"
echo 3.0.0 >pos/VERSION
python3 - pos/berth.json <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["services"]["backend"]["health"]["http"] = "http://127.0.0.1:${PORT}/healthz"
m["services"]["backend"]["health"]["start_period_s"] = 1
json.dump(m, open(sys.argv[1], "w"), indent=2)
PY
c3=$(t_commit pos "v3: health moved")
t_run 1 B apply production --skip-backup
t_contains "$T_OUT" "[3/11] backup … skipped: --skip-backup"
t_contains "$T_OUT" "    backend unhealthy after 3 failed checks"
t_contains "$T_OUT" "[7/11] deploy … failed: backend never became healthy (HTTP 404)"
t_contains "$T_OUT" "[rollback] … ${c2:0:7} (deployment 2) serves again"
t_contains "$T_OUT" "rolled back to ${c2:0:7}: backend never became healthy (HTTP 404)"
t_eq "$(get /health)" '{"status":"ok","version":"2.0.0","database":"ok"}' "/health after the rollback"
t_eq "$(get /api/sales/count)" '{"count":1}' "sales after the rollback"

t_log "history and status"
t_run 0 B history production --json
printf '%s' "$T_OUT" >history.json
python3 - "$c1" "$c2" "$c3" <<'PY'
import json, sys
d = json.load(open("history.json"))
got = [(x["id"], x["status"], x["commit"]) for x in d["deployments"]]
assert got == [(3, "rolled_back", sys.argv[3]), (2, "succeeded", sys.argv[2]),
               (1, "succeeded", sys.argv[1])], got
assert d["deployments"][0]["backup"] is None, d["deployments"][0]
PY
t_run 0 B status production --json
printf '%s' "$T_OUT" >status.json
python3 - "$c2" <<'PY'
import json, sys
d = json.load(open("status.json"))
assert d["commit"] == sys.argv[1], d
assert d["deployment"]["status"] == "rolled_back", d
assert [(s["name"], s["state"], s["healthy"]) for s in d["services"]] == [("backend", "running", True)], d
assert d["locked"] is False and d["frozen"] is False, d
PY
t_not_contains "$(cat state/envs/production/deployments/*.json)" "$password" "deployment records"

echo "PASS: $T_NAME"
