#!/usr/bin/env bash
# The HTTP limits of berth serve: at max_connections the daemon stops
# accepting until a connection closes (it never drops one it accepted);
# headers over max_header_bytes are refused.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/integration/serve_lib.sh"

s_stub
s_config 0 ', "server": { "max_connections": 3, "read_timeout_s": 30, "max_header_bytes": 4096 }'
# s_config already has a server section: keep the last one only.
python3 - "$S_DIR/config.json" <<'PY'
import sys
p = sys.argv[1]
text = open(p).read()
first = text.index('"server"')
second = text.index('"server"', first + 1)
open(p, "w").write(text[:first] + text[second:])
PY
s_start

t_log "three idle connections fill the limit"
python3 - "$(cat "$S_DIR/port")" "$S_DIR" <<'PY' &
import os, socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1]))) for _ in range(3)]
open(os.path.join(sys.argv[2], "idle.ready"), "w").close()
while not os.path.exists(os.path.join(sys.argv[2], "idle.release")):
    time.sleep(0.05)
for s in socks:
    s.close()
PY
idle=$!
t_on_exit "kill $idle"
s_wait "idle connections" "[ -e '$S_DIR/idle.ready' ]"
s_wait "the limit reached" "grep -q 'connection limit reached' '$S_DIR/serve.log'"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$S_URL/health" || true)
t_eq "$code" 000 "a request beyond the limit (waits in the backlog)"

t_log "they close: the daemon accepts again"
touch "$S_DIR/idle.release"
wait "$idle"
t_eq "$(curl -s --max-time 20 "$S_URL/health")" '{"status":"ok"}' "/health after the idle ones closed"
# Once when the idle ones filled it; maybe once more: when the first of
# them closes, the daemon accepts the connection waiting in the backlog
# (its client gave up) while the other two may still be open.
refused=$(s_metric berth_http_connections_refused_total)
case "$refused" in 1 | 2) ;; *) t_fail "times the limit stopped accepting: $refused" ;; esac
# The request that timed out in the backlog is accepted once there is
# room and closed when the daemon reads its end: only then is the metric's
# own connection the one left open.
s_wait "every other connection closed" '[ "$(s_metric berth_http_connections)" = 1 ]'
t_eq "$(s_metric berth_http_connections)" 1 "open connections"

t_log "headers over max_header_bytes are refused"
big=$(head -c 8000 /dev/zero | tr '\0' a)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$S_URL/health" || true)
t_eq "$code" 431 "headers over the limit"
t_eq "$(curl -s "$S_URL/health")" '{"status":"ok"}' "/health afterwards"

s_stop
echo "ok: $T_NAME"
