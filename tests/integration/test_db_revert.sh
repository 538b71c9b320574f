#!/usr/bin/env bash
# `git revert` as rollback (SPEC §6) against a private PostgreSQL: v2 adds
# migration 002 and rows are written; a revert of v2's commit has v1's tree,
# so applying it is a rollback to deployment 1: berth plan says which backup
# it restores, apply restores v2's paired backup (the database before 002),
# reports the rows written since and keeps them in a safety backup.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/fixtures/pg.sh"
. "$BERTH_SRC/tests/fixtures/deploy_app.sh"
. "$BERTH_SRC/tests/fixtures/db_app.sh"

db_app_init

c1=$(app_commit "v1")
t_run 0 B apply production
echo 2 >app/VERSION
cat >app/migrations/002_sales.sql <<'SQL'
CREATE TABLE sales (id integer PRIMARY KEY, amount integer NOT NULL);
SQL
c2=$(app_commit "v2: sales")
t_run 0 B apply production --json
printf '%s' "$T_OUT" >v2.json
paired=$(json_get v2.json 'd["backup"]')
q "insert into sales select g, g from generate_series(1, 7) g" >/dev/null
q "insert into items values (2, 'second'), (3, 'third')" >/dev/null
q "update items set name = 'First' where id = 1" >/dev/null

t_log "the revert of v2's commit has v1's tree"
t_git -C app revert --no-edit HEAD >/dev/null
t_git -C app push -q origin HEAD:main
c3=$(git -C app rev-parse HEAD)
t_eq "$(git -C app rev-parse "HEAD^{tree}")" "$(git -C app rev-parse "$c1^{tree}")" "tree of the revert"

t_log "berth plan shows the restore"
t_run 2 B plan production
t_contains "$T_OUT" "revert of deployment 1 (${c1:0:7}): restores $(basename "$paired")"

t_log "apply restores v2's paired backup and reports the rows written since"
t_run 0 B apply production
t_contains "$T_OUT" "    revert of deployment 1 (${c1:0:7}): the same tree; recorded as a rollback (trigger revert"
t_contains "$T_OUT" "rolled production back to ${c3:0:7} (deployment 1)"
t_contains "$T_OUT" "    database: restores $(basename "$paired") (paired backup of deployment 2)"
t_contains "$T_OUT" "      undoes 002_sales.sql"
t_contains "$T_OUT" "rows written since $(basename "$paired"): "
t_contains "$T_OUT" "public.sales 7 (created since the backup)"
t_contains "$T_OUT" "public.items 3"
t_eq "$(q "select to_regclass('public.sales') is null")" t "sales table after the revert"
t_eq "$(q "select string_agg(id || ':' || name, ',' order by id) from items")" "1:first" "items after the revert"
t_eq "$(app_version)" '{"version":"1"}' "version after the revert"
t_run 0 B history production --json
printf '%s' "$T_OUT" >history.json
python3 - "$c3" "$paired" <<'PY'
import json, os, sys
d = json.load(open("history.json"))["deployments"][0]
assert d["id"] == 3 and d["commit"] == sys.argv[1], d
assert d["trigger"] == "revert" and d["status"] == "succeeded", d
r = d["restores"]
assert len(r) == 1 and r[0]["backup"] == sys.argv[2] and r[0]["ok"], r
assert r[0]["rows_written_since"] == 11, r  # 7 + 2 + 1 + migration 002's record
assert "public.sales 7" in r[0]["tables"] and "public.items 3" in r[0]["tables"], r
assert os.path.getsize(r[0]["safety_backup"]) > 0, r
PY

echo "PASS: $T_NAME"
