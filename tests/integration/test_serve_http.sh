#!/usr/bin/env bash
# The HTTP/1.1 side of berth serve, over raw sockets and curl: what it
# refuses is answered in JSON with the right status (malformed request
# line, unknown method, HTTP/2.0, both Content-Length and chunked);
# Expect: 100-continue is answered before the body is sent; a chunked
# signed push is deployed; HEAD gets the headers alone; a head that
# trickles in is cut off at read_timeout_s even though bytes keep coming;
# a client that pipelines requests without reading the answers neither
# blocks anyone else nor makes the daemon buffer without bound, and is
# closed after write_timeout_s.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/integration/serve_lib.sh"

s_stub
s_config 0
sed -i 's/"server": { "read_timeout_s": 2,/"server": { "read_timeout_s": 2, "write_timeout_s": 2,/' \
	"$S_DIR/config.json"
grep -q '"write_timeout_s": 2' "$S_DIR/config.json" || t_fail "config not edited"
s_start
port=$(cat "$S_DIR/port")

t_log "refusals are JSON with the right status, and close the connection"
python3 - "$port" <<'PY'
import json, socket, sys

def exchange(raw):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    s.sendall(raw)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    fields = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
    return status, fields, body

cases = [
    (b"HELLO\r\n\r\n", 400),
    (b"GET /health HTTP/1.1\r\nBad Header\r\n\r\n", 400),
    (b"BREW /health HTTP/1.1\r\nHost: x\r\n\r\n", 501),
    (b"GET /health HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    (b"POST /hooks/github HTTP/1.1\r\nContent-Length: 3\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400),
    (b"POST /hooks/github HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    (b"POST /hooks/github HTTP/1.1\r\nExpect: the-moon\r\nContent-Length: 1\r\n\r\nx", 417),
]
for raw, want in cases:
    status, fields, body = exchange(raw)
    assert status == want, (raw, status, body)
    assert fields["content-type"] == "application/json", fields
    assert fields["connection"] == "close", fields
    assert "error" in json.loads(body), body
    assert int(fields["content-length"]) == len(body), (fields, body)
print("refusals: %d cases answered in JSON" % len(cases))

# Empty lines before a request line are skipped; HEAD has no body.
status, fields, body = exchange(b"\r\nHEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
assert status == 200 and body == b"" and fields["content-length"] == "16", (status, fields, body)
print("HEAD: headers only")
PY

t_log "Expect: 100-continue: the daemon says go on before the body is sent"
s_push_body "$(s_sha ignored)" feature
python3 - "$port" "$S_DIR/body.json" "$S_SECRET" <<'PY'
import hashlib, hmac, json, socket, sys
body = open(sys.argv[2], "rb").read()
sig = "sha256=" + hmac.new(sys.argv[3].encode(), body, hashlib.sha256).hexdigest()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(("POST /hooks/github HTTP/1.1\r\nHost: x\r\nX-GitHub-Event: push\r\n"
           "X-GitHub-Delivery: expect-1\r\nX-Hub-Signature-256: %s\r\n"
           "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % (sig, len(body))).encode())
interim = s.recv(100)
assert interim == b"HTTP/1.1 100 Continue\r\n\r\n", interim
s.sendall(body)
data = b""
while b"\r\n\r\n" not in data:
    data += s.recv(4096)
assert data.startswith(b"HTTP/1.1 200 "), data
assert b'"ignored":"no environment tracks branch' in data, data
print("100 Continue, then 200 ignored")
PY

t_log "a chunked, signed push is deployed"
s_push_body "$(s_sha chunked)"
sig=sha256=$(openssl dgst -sha256 -hmac "$S_SECRET" "$S_DIR/body.json" | awk '{print $NF}')
out=$(curl -s -w ' %{http_code}' -X POST -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' \
	-H "X-GitHub-Event: push" -H "X-GitHub-Delivery: chunked-1" \
	-H "X-Hub-Signature-256: $sig" --data-binary @"$S_DIR/body.json" "$S_URL/hooks/github")
t_contains "$out" '"delivery":"chunked-1"'
t_contains "$out" ' 202'
s_wait "the chunked push deployed" '[ "$(s_deploys)" = 1 ]'
t_contains "$(cat "$S_DIR/deploys.log")" "webhook:github:chunked-1"

t_log "a head trickling in is cut off at read_timeout_s"
python3 - "$port" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
t = time.monotonic()
answer = b""
for ch in b"GET /health HTTP/1.1\r\nX-Slow: " + b"a" * 200:
    try:
        s.send(bytes([ch]))
    except OSError:
        break
    time.sleep(0.25)
    s.setblocking(False)
    try:
        answer += s.recv(4096)
    except BlockingIOError:
        pass
    s.setblocking(True)
    if answer:
        break
took = time.monotonic() - t
assert answer.startswith(b"HTTP/1.1 408 "), answer
assert took < 6, took
print("408 after %.1f s of a trickling head" % took)
PY

t_log "a client that never reads its answers: others are served, the daemon holds little of what it sends, then closes it"
python3 - "$port" "$S_DIR" <<'PY' &
import os, socket, subprocess, sys, time, urllib.request
port = sys.argv[1]

def answered():
    m = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=5).read().decode()
    return sum(int(l.split()[1]) for l in m.splitlines()
               if l.startswith("berth_http_requests_total{"))

def queued(mine):
    # request bytes still in the kernel: unsent by the client, unread by
    # the daemon (its other connections are idle)
    def ss(flt):
        return subprocess.run(["ss", "-tnH", "state", "established", flt],
                              capture_output=True, text=True).stdout.splitlines()
    unread = sum(int(l.split()[0]) for l in ss("( sport = :%s )" % port))
    unsent = sum(int(l.split()[1]) for l in ss("( sport = :%d )" % mine))
    return unread + unsent

before = answered()
s = socket.create_connection(("127.0.0.1", int(port)))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.setblocking(False)
# ~1 KB each, never read: the daemon's replies pile up in the socket
req = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 1000 + b"\r\n\r\n"
sent, blocked_since, held = 0, None, None
deadline = time.monotonic() + 10
while time.monotonic() < deadline and held is None:
    try:
        s.send(req)
        sent += 1
        blocked_since = None
    except BlockingIOError:
        now = time.monotonic()
        if blocked_since is None:
            blocked_since = now
        elif now - blocked_since > 0.5:
            # Requests the daemon read but has not answered: what it holds.
            # (The answers are replies to /metrics and the request itself.)
            q = queued(s.getsockname()[1])
            done = answered() - before - 1
            held = sent * len(req) - q - done * len(req)
        time.sleep(0.01)
    except OSError:
        break
s.setblocking(True)
s.settimeout(30)
try:
    while s.recv(65536):
        pass
except ConnectionResetError:
    pass
open(os.path.join(sys.argv[2], "stuck.done"), "w").write(
    "%d %d\n" % (sent, -1 if held is None else held))
PY
stuck=$!
t_on_exit "kill $stuck 2>/dev/null"
t_eq "$(curl -s --max-time 2 "$S_URL/health")" '{"status":"ok"}' "another client meanwhile"
s_wait "the stuck client closed by the daemon" "[ -e '$S_DIR/stuck.done' ]"
wait "$stuck"
read -r sent held <"$S_DIR/stuck.done"
t_log "the stuck client sent $sent requests before it blocked; the daemon held $held bytes of them"
[ "$held" -ge 0 ] || t_fail "the stuck client never blocked: the daemon kept reading"
[ "$held" -lt $((1 << 20)) ] || t_fail "the daemon held $held bytes read from a client that does not read"
grep -q 'client does not read its reply' "$S_DIR/serve.log" || t_fail "no log line for the stuck client"
s_wait "only the metrics connection left" '[ "$(s_metric berth_http_connections)" = 1 ]'

s_stop
echo "ok: $T_NAME"
