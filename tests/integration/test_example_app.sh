#!/usr/bin/env bash
# tests/integration/test_example_app.sh — contrib/example-app on its own:
# builds it with make (as berth's build step does), runs it against a private
# PostgreSQL and checks every endpoint over real HTTP, the database going away
# and coming back, a request in flight across SIGTERM, and exit status 0.
# From tests/fixtures/pg.sh it uses pg_start, pg_psql and the exports
# DATABASE_URL, PG_BIN, PG_DATA and PG_BASE.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# --- what the test needs ------------------------------------------------------

for cmd in make cc pkg-config curl python3 mkfifo; do
	command -v "$cmd" >/dev/null ||
		t_fail "'$cmd' is missing (run contrib/test.sh, which installs what tests need)"
done
for pc in libevent:libevent-dev libpq:libpq-dev jansson:libjansson-dev; do
	pkg-config --exists "${pc%%:*}" ||
		t_fail "pkg-config cannot find ${pc%%:*}: install ${pc#*:}"
done
[ -f "$BERTH_SRC/tests/fixtures/pg.sh" ] ||
	t_fail "tests/fixtures/pg.sh (the PostgreSQL fixture) is missing"
source "$BERTH_SRC/tests/fixtures/pg.sh"
[ -x "$PG_BIN/postgres" ] && [ -x "$PG_BIN/psql" ] ||
	t_fail "PostgreSQL 15 is not installed ('$PG_BIN/postgres'): install postgresql"

APP=$T_DIR/app
APP_PID=
N_REQUESTS=0

# --- helpers ------------------------------------------------------------------

# http METHOD PATH [BODY]: one request; sets H_STATUS and H_BODY.
http() {
	local method=$1 path=$2 rc=0
	local args=(-s -o "$T_DIR/body" -w '%{http_code}' --max-time 60 -X "$method")

	[ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
	H_STATUS=$(curl "${args[@]}" "http://127.0.0.1:$APP_PORT$path") || rc=$?
	[ $rc -eq 0 ] || t_fail "curl $method $path failed (exit $rc)"
	H_BODY=$(cat "$T_DIR/body")
	N_REQUESTS=$((N_REQUESTS + 1))
}

# expect METHOD PATH [BODY] STATUS EXPECTED_BODY: the body must equal.
expect() {
	local want_body=${@: -1} want_status=${@: -2:1}
	http "${@:1:$#-2}"
	t_eq "$H_STATUS" "$want_status" "status of $1 $2"
	t_eq "$H_BODY" "$want_body" "body of $1 $2"
}

# app_start [VAR=value...]: starts ./pos-backend on APP_PORT in the app
# directory with DATABASE_URL and the given variables; waits until /live answers.
app_start() {
	APP_OUT=$T_DIR/app.$APP_PORT.out
	APP_ERR=$T_DIR/app.$APP_PORT.err
	(cd "$APP" && exec env PORT="$APP_PORT" "$@" ./pos-backend >"$APP_OUT" 2>"$APP_ERR") &
	APP_PID=$!
	local i
	for ((i = 0; i < 300; i++)); do
		curl -s -o /dev/null "http://127.0.0.1:$APP_PORT/live" && return 0
		kill -0 "$APP_PID" 2>/dev/null ||
			t_fail "pos-backend exited at start:"$'\n'"$(cat "$APP_ERR")"
		sleep 0.1
	done
	t_fail "pos-backend did not answer on port $APP_PORT:"$'\n'"$(cat "$APP_ERR")"
}

# app_stop: SIGTERM, and the exit status must be 0.
app_stop() {
	local rc=0
	kill -TERM "$APP_PID"
	wait "$APP_PID" || rc=$?
	APP_PID=
	t_eq "$rc" 0 "pos-backend's exit status after SIGTERM (stderr: $(cat "$APP_ERR"))"
}
t_on_exit '[ -z "$APP_PID" ] || kill -KILL "$APP_PID"'

# pg_ctl_owner ARGS...: pg_ctl on the test cluster, as its owner. A clean
# (fast) stop and a start of the same cluster, on the same port: pg_stop
# throws the cluster's data away, and the sales must survive.
pg_ctl_owner() {
	local as=()
	[ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)
	"${as[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_BASE/postgres.log" -w -t 60 "$@" >/dev/null
}

# wait_for STATUS PATH: polls until PATH answers STATUS (bounded).
wait_for() {
	local i
	for ((i = 0; i < 300; i++)); do
		http GET "$2"
		[ "$H_STATUS" = "$1" ] && return 0
		sleep 0.1
	done
	t_fail "GET $2 kept answering $H_STATUS ($H_BODY), expected $1"
}

# --- build, as berth's build step does: plain make ---------------------------

t_log "build with make"
cp -r "$BERTH_SRC/contrib/example-app" "$APP"
make -s -C "$APP" clean
t_run 0 make -C "$APP"
t_not_contains "$T_OUT" "warning:" "make output"
[ -x "$APP/pos-backend" ] || t_fail "make did not build ./pos-backend"
t_run 0 make -C "$APP" clean
[ ! -e "$APP/pos-backend" ] || t_fail "make clean left ./pos-backend"
[ -z "$(find "$APP" -name '*.o')" ] || t_fail "make clean left object files"

# The copy that runs is built with the sanitizers: a leak, an overflow or
# undefined behaviour makes it exit non-zero, which the SIGTERM checks see.
t_run 0 make -C "$APP" CFLAGS='-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all -Werror' \
	LDFLAGS='-fsanitize=address,undefined'
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# --- configuration errors -----------------------------------------------------

t_log "configuration errors"
cd "$APP"
t_run 1 env -u PORT DATABASE_URL=postgresql://u@127.0.0.1/db ./pos-backend
t_contains "$T_OUT" "PORT is not set"
t_run 1 env PORT=70000 DATABASE_URL=postgresql://u@127.0.0.1/db ./pos-backend
t_contains "$T_OUT" "PORT must be a number from 1 to 65535, got '70000'"
t_run 1 env -u DATABASE_URL PORT=1 ./pos-backend
t_contains "$T_OUT" "DATABASE_URL is not set"
t_run 1 env PORT=1 'DATABASE_URL=postgresql://u:s3cretpass@127.0.0.1/db?nosuchoption=1' ./pos-backend
t_contains "$T_OUT" "DATABASE_URL is not a valid PostgreSQL connection URI"
t_not_contains "$T_OUT" "s3cretpass"
t_run 1 env PORT=1 DATABASE_URL=postgresql://u@127.0.0.1/db APP_VERSION='1 0' ./pos-backend
t_contains "$T_OUT" "APP_VERSION must be"
cd "$BERTH_SRC"

# --- a database that never answers: the deadline ------------------------------

t_log "database deadline"
# A listening socket nobody accepts on: connects succeed, nothing is answered.
python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True); time.sleep(300)' >"$T_DIR/silent.port" &
SILENT_PID=$!
t_on_exit "kill $SILENT_PID"
for ((i = 0; i < 100; i++)); do
	[ -s "$T_DIR/silent.port" ] && break
	sleep 0.1
done
APP_PORT=$(t_free_port)
app_start DATABASE_URL="postgresql://u@127.0.0.1:$(cat "$T_DIR/silent.port")/db?sslmode=disable" \
	DB_TIMEOUT_S=1 APP_VERSION=2.0.0-rc.1
expect GET /version 200 '{"version":"2.0.0-rc.1"}'
expect GET /health 503 '{"status":"error","version":"2.0.0-rc.1","database":"unavailable"}'
t_contains "$(cat "$APP_ERR")" 'msg="database did not answer within 1s"'
app_stop
kill "$SILENT_PID"

# --- the real thing -----------------------------------------------------------

t_log "start PostgreSQL and the app"
pg_start
PASSWORD=${DATABASE_URL#*://*:}
PASSWORD=${PASSWORD%%@*}
APP_PORT=$(t_free_port)
N_REQUESTS=0
app_start DATABASE_URL="$DATABASE_URL" DB_TIMEOUT_S=120
N_REQUESTS=1 # app_start's /live

expect GET /live 200 '{"status":"alive"}'
t_eq "$(curl -s -o /dev/null -w '%{http_code}' -I "http://127.0.0.1:$APP_PORT/live")" 200 "HEAD /live"
N_REQUESTS=$((N_REQUESTS + 1))
expect GET /version 200 '{"version":"1.0.0"}'
expect GET /health 200 '{"status":"ok","version":"1.0.0","database":"ok"}'

t_log "before migrations"
expect GET /ready 503 '{"status":"not ready","reason":"migrations not applied"}'
expect GET /api/products 500 '{"error":"database query failed"}'

t_log "migrations"
pg_psql --single-transaction -f "$APP/migrations/001_products.sql"
expect GET /ready 503 '{"status":"not ready","reason":"migrations not applied"}'
pg_psql --single-transaction -f "$APP/migrations/002_sales.sql"
expect GET /ready 200 '{"status":"ready"}'

t_log "products"
expect GET /api/products 200 '{"products":[{"id":1,"name":"Espresso","price_cents":250},{"id":2,"name":"Cappuccino","price_cents":380},{"id":3,"name":"Croissant","price_cents":220},{"id":4,"name":"Orange juice","price_cents":420}]}'

t_log "sales"
expect GET /api/sales/count 200 '{"count":0}'
expect POST /api/sales '{"product_id":2,"quantity":3}' 201 '{"id":1,"total_cents":1140}'
expect GET /api/sales/count 200 '{"count":1}'
t_eq "$(pg_psql -c "SELECT product_id, quantity, total_cents FROM sales WHERE id = 1")" \
	"2|3|1140" "sale row in the database"

t_log "bad sales"
expect POST /api/sales 'not json' 400 '{"error":"body is not valid JSON (line 1, column 3)"}'
expect POST /api/sales '' 400 '{"error":"body is not valid JSON (line 1, column 0)"}'
expect POST /api/sales '[1,2]' 400 '{"error":"body must be a JSON object"}'
expect POST /api/sales '{"product_id":2}' 400 '{"error":"quantity must be an integer from 1 to 1000"}'
expect POST /api/sales '{"product_id":2,"quantity":0}' 400 '{"error":"quantity must be an integer from 1 to 1000"}'
expect POST /api/sales '{"product_id":2,"quantity":1001}' 400 '{"error":"quantity must be an integer from 1 to 1000"}'
expect POST /api/sales '{"product_id":"2","quantity":1}' 400 '{"error":"product_id must be a positive integer"}'
expect POST /api/sales '{"product_id":99999999999,"quantity":1}' 400 '{"error":"product_id must be a positive integer"}'
expect POST /api/sales '{"product_id":2,"quantity":1,"note":"x"}' 400 '{"error":"body may only have product_id and quantity"}'
expect POST /api/sales '{"product_id":2,"product_id":2,"quantity":1}' 400 '{"error":"body is not valid JSON (line 1, column 28)"}'
expect POST /api/sales '{"product_id":999999,"quantity":1}' 400 '{"error":"unknown product 999999"}'
expect GET /api/sales/count 200 '{"count":1}'

t_log "routing"
expect GET /nope 404 '{"error":"not found"}'
expect GET /api/sales 405 '{"error":"method not allowed"}'
expect DELETE /health 405 '{"error":"method not allowed"}'
t_contains "$(curl -s -D - -o /dev/null "http://127.0.0.1:$APP_PORT/api/sales")" "Allow: POST" "405 headers"
N_REQUESTS=$((N_REQUESTS + 1))

t_log "request log"
t_eq "$(wc -l <"$APP_OUT")" "$N_REQUESTS" "request log lines on stdout"
t_contains "$(cat "$APP_OUT")" 'method=POST path="/api/sales" status=201 duration_ms='
t_contains "$(cat "$APP_OUT")" 'method=GET path="/nope" status=404 duration_ms='

t_log "body limit"
head -c 70000 /dev/zero | tr '\0' x >"$T_DIR/big"
t_eq "$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$T_DIR/big" "http://127.0.0.1:$APP_PORT/api/sales")" \
	413 "status of a 70000-byte POST /api/sales"

t_log "database stopped"
pg_ctl_owner -m fast stop || t_fail "cannot stop the test PostgreSQL"
expect GET /health 503 '{"status":"error","version":"1.0.0","database":"unavailable"}'
expect GET /ready 503 '{"status":"not ready","reason":"database unavailable"}'
expect GET /api/products 503 '{"error":"database unavailable"}'
expect POST /api/sales '{"product_id":2,"quantity":1}' 503 '{"error":"database unavailable"}'
expect GET /live 200 '{"status":"alive"}'

t_log "database started again"
pg_ctl_owner start || t_fail "cannot start the test PostgreSQL again"
wait_for 200 /health
t_eq "$H_BODY" '{"status":"ok","version":"1.0.0","database":"ok"}' "body of GET /health"
expect GET /api/sales/count 200 '{"count":1}'
expect POST /api/sales '{"product_id":1,"quantity":2}' 201 '{"id":2,"total_cents":500}'
expect GET /api/sales/count 200 '{"count":2}'
t_contains "$(cat "$APP_ERR")" 'msg="database reachable again"'

# A transaction in a psql session of ours holds a lock on sales, so a count
# query waits on it, visibly in pg_locks.
mkfifo "$T_DIR/locker"
pg_psql <"$T_DIR/locker" >/dev/null &
LOCKER_PID=$!
t_on_exit "kill $LOCKER_PID"
exec 9>"$T_DIR/locker"
lock_sales() {
	local i
	echo 'BEGIN; LOCK TABLE sales IN ACCESS EXCLUSIVE MODE;' >&9
	for ((i = 0; i < 300; i++)); do
		[ "$(pg_psql -c "SELECT count(*) FROM pg_locks WHERE relation = 'sales'::regclass AND granted")" = 1 ] && return 0
		sleep 0.1
	done
	t_fail "could not lock table sales"
}
wait_for_waiting_query() {
	local i q="SELECT count(*) FROM pg_locks WHERE relation = 'sales'::regclass AND NOT granted"
	for ((i = 0; i < 300; i++)); do
		[ "$(pg_psql -c "$q")" = 1 ] && return 0
		sleep 0.1
	done
	t_fail "no query of pos-backend waits for the lock on sales"
}
count_lines() { grep -c 'path="/api/sales/count" status=200' "$APP_OUT" || true; }

t_log "a client that leaves while its query waits"
lock_sales
before=$(count_lines)
curl -s -o /dev/null --max-time 120 "http://127.0.0.1:$APP_PORT/api/sales/count" &
CURL_PID=$!
wait_for_waiting_query
kill "$CURL_PID"
wait "$CURL_PID" || true
echo 'COMMIT;' >&9
# The answer goes nowhere, but it is given (and logged) and nothing breaks.
for ((i = 0; i < 300; i++)); do
	[ "$(count_lines)" -gt "$before" ] && break
	sleep 0.1
done
t_eq "$(count_lines)" $((before + 1)) "answers to GET /api/sales/count in the log"
expect GET /api/sales/count 200 '{"count":2}'

t_log "SIGTERM with a request in flight"
lock_sales
curl -s -o "$T_DIR/inflight.body" -w '%{http_code}' --max-time 120 \
	"http://127.0.0.1:$APP_PORT/api/sales/count" >"$T_DIR/inflight.status" &
CURL_PID=$!
wait_for_waiting_query
kill -TERM "$APP_PID"
# The listener closes at once although a query is still in flight.
for ((i = 0; i < 300; i++)); do
	curl -s -o /dev/null "http://127.0.0.1:$APP_PORT/live" || break
	sleep 0.1
done
curl -s -o /dev/null "http://127.0.0.1:$APP_PORT/live" && t_fail "pos-backend still accepts connections after SIGTERM"
kill -0 "$APP_PID" 2>/dev/null || t_fail "pos-backend exited before answering the request in flight"
echo 'COMMIT;' >&9
exec 9>&-
wait "$LOCKER_PID" || t_fail "the locking psql session failed"
wait "$CURL_PID" || t_fail "the request in flight failed"
t_eq "$(cat "$T_DIR/inflight.status")" 200 "status of the request in flight"
t_eq "$(cat "$T_DIR/inflight.body")" '{"count":2}' "body of the request in flight"
rc=0
wait "$APP_PID" || rc=$?
APP_PID=
t_eq "$rc" 0 "pos-backend's exit status after SIGTERM (stderr: $(cat "$APP_ERR"))"
t_contains "$(cat "$APP_ERR")" 'msg=stopping signal=TERM pending=1'
t_contains "$(cat "$APP_ERR")" 'msg=stopped'
t_not_contains "$(cat "$APP_ERR")" 'without waiting further'

t_log "no secret in the logs"
t_not_contains "$(cat "$T_DIR"/app.*.out "$T_DIR"/app.*.err)" "$PASSWORD" "pos-backend's logs"

echo "PASS: $T_NAME"
