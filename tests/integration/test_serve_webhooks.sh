#!/usr/bin/env bash
# berth serve over real HTTP with curl: a signed push is answered 202 and
# runs a deployment with the webhook's trigger; a bad or missing signature
# is 401 and queues nothing; a delivery seen before is 200 duplicate; pings,
# other branches and environments with auto_deploy off are 200 ignored;
# Stripe events are stored and listed; the API needs its token; probes and
# /metrics answer; a body over the limit is 413 without the daemon
# buffering it; a client that sends nothing is dropped after the timeout.
. "$BERTH_SRC/tests/integration/lib.sh"
. "$BERTH_SRC/tests/integration/serve_lib.sh"

s_stub
s_config 0
s_start

t_log "a second daemon on the same state directory refuses to start"
t_run 1 "$BERTH" --config "$S_DIR/config.json" serve
t_contains "$T_OUT" "another berth serve uses this state directory"

t_log "probes"
t_eq "$(curl -s "$S_URL/health")" '{"status":"ok"}' "/health"
t_eq "$(curl -s "$S_URL/live")" '{"status":"alive"}' "/live"
t_eq "$(curl -s "$S_URL/ready")" '{"status":"ready"}' "/ready"
t_eq "$(curl -s -o /dev/null -w '%{http_code}' "$S_URL/nope")" 404 "unknown path"

t_log "a signed push of main: 202, and the deployment runs with its trigger"
c1=$(s_sha one)
s_push d-1 "$c1"
t_contains "$S_BODY" '"delivery":"d-1"'
t_contains "$S_BODY" '"environment":"production"'
t_contains "$S_BODY" "\"commit\":\"$c1\""
s_wait "the deployment of d-1" '[ "$(s_deploys)" = 1 ]'
t_eq "$(cat "$S_DIR/deploys.log")" \
	"--config $S_DIR/config.json apply production --trigger webhook:github:d-1" \
	"the deployment's arguments"
s_wait "the deployment to finish" \
	'[ "$(s_metric "berth_deployments_total{env=\"production\",status=\"succeeded\"}")" = 1 ]'
t_contains "$(cat "$S_DIR/serve.log")" 'msg="deployment output"'
t_not_contains "$(cat "$S_DIR/stub.env")" "$S_SECRET" "the deployment's environment"
t_not_contains "$(cat "$S_DIR/stub.env")" "$S_TOKEN" "the deployment's environment"

t_log "the same delivery again: 200 duplicate, nothing queued"
s_post_github d-1
t_eq "$S_CODE" 200 "duplicate status"
t_contains "$S_BODY" '"duplicate":true'

t_log "bad, missing and malformed signatures: 401, nothing stored or queued"
s_push_body "$(s_sha two)"
s_post_github d-bad push "sha256=$(printf '%064d' 0)"
t_eq "$S_CODE" 401 "bad signature"
t_contains "$S_BODY" '"reason":"bad_signature"'
t_not_contains "$S_BODY" "$S_SECRET" "401 body"
s_post_github d-none push none
t_eq "$S_CODE" 401 "missing signature"
t_contains "$S_BODY" '"reason":"missing_header"'
s_post_github d-mal push "sha1=abc"
t_eq "$S_CODE" 401 "malformed signature"
t_eq "$(curl -s -H "Authorization: Bearer $S_TOKEN" "$S_URL/api/events" | grep -c 'd-bad\|d-none\|d-mal')" 0 \
	"refused deliveries in /api/events"
sleep 0.3
t_eq "$(s_deploys)" 1 "deployments after refused deliveries"
t_not_contains "$(cat "$S_DIR/serve.log")" "$S_SECRET" "the daemon's log"

t_log "a good signature over a broken body: 400"
printf '{"ref": ' >"$S_DIR/body.json"
s_post_github d-broken
t_eq "$S_CODE" 400 "malformed body"

t_log "ping, other branch, tag, auto_deploy off: 200 ignored with a reason"
s_push_body "$(s_sha three)"
s_post_github d-ping ping
t_eq "$S_CODE" 200 "ping"
t_contains "$S_BODY" '"ignored":"ping"'
s_push_body "$(s_sha four)" feature/x
s_post_github d-feature
t_eq "$S_CODE" 200 "other branch"
t_contains "$S_BODY" "no environment tracks branch 'feature/x'"
s_push_body "$(s_sha five)" staging
s_post_github d-staging
t_eq "$S_CODE" 200 "auto_deploy off"
t_contains "$S_BODY" "auto_deploy is off for environment 'staging'"
printf '{"ref":"refs/tags/v1","before":"%s","after":"%s"}' "$(printf '%040d' 0)" "$(s_sha six)" >"$S_DIR/body.json"
s_post_github d-tag
t_contains "$S_BODY" '"ignored":"tag push"'
sleep 0.3
t_eq "$(s_deploys)" 1 "deployments after ignored deliveries"

t_log "unknown and unconfigured providers: 404; wrong method: 405"
t_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data x "$S_URL/hooks/nope")" 404 "unknown provider"
t_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data x "$S_URL/hooks/gitlab")" 404 "unconfigured provider"
t_eq "$(curl -s -o /dev/null -w '%{http_code}' "$S_URL/hooks/github")" 405 "GET on a hook"
t_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$S_URL/health")" 405 "POST on /health"

t_log "a Stripe event: verified, stored, listed in /api/events, not deployed"
ev='{"id":"evt_test_1","type":"invoice.paid","object":"event","data":{"object":{}}}'
ts=$(date +%s)
sig=$(printf '%s.%s' "$ts" "$ev" | openssl dgst -sha256 -hmac "$STRIPE_SECRET" | awk '{print $NF}')
out=$(curl -s -w ' %{http_code}' -X POST -H 'Content-Type: application/json' \
	-H "Stripe-Signature: t=$ts,v1=$sig" --data-binary "$ev" "$S_URL/hooks/stripe")
t_contains "$out" '"stored":true'
t_contains "$out" ' 200'
out=$(curl -s -H "Authorization: Bearer $S_TOKEN" "$S_URL/api/events?provider=stripe")
t_contains "$out" '"delivery":"evt_test_1"'
t_contains "$out" '"event":"invoice.paid"'

t_log "the API: 401 without the token, 202 with it"
t_eq "$(curl -s -o /dev/null -w '%{http_code}' -X POST --data '{"env":"production"}' "$S_URL/api/deploy")" 401 "deploy without token"
t_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$S_URL/api/status")" 401 "status with a wrong token"
out=$(curl -s -w ' %{http_code}' -X POST -H "Authorization: Bearer $S_TOKEN" \
	--data '{"env":"production","commit":"main"}' "$S_URL/api/deploy")
t_contains "$out" ' 202'
s_wait "the API deployment" '[ "$(s_deploys)" = 2 ]'
t_eq "$(tail -1 "$S_DIR/deploys.log")" \
	"--config $S_DIR/config.json apply production --commit main --trigger api" "API deployment"
out=$(curl -s -w ' %{http_code}' -X POST -H "Authorization: Bearer $S_TOKEN" \
	--data '{"env":"nowhere"}' "$S_URL/api/deploy")
t_contains "$out" ' 404'
out=$(curl -s -w ' %{http_code}' -X POST -H "Authorization: Bearer $S_TOKEN" \
	--data '{"env":"production","commit":"--upload-pack=x"}' "$S_URL/api/deploy")
t_contains "$out" ' 400'
out=$(curl -s -H "Authorization: Bearer $S_TOKEN" "$S_URL/api/status")
t_contains "$out" '"env":"production"'
t_contains "$out" '"env":"staging"'
t_contains "$out" '"queued":'
t_contains "$out" '"running":'
out=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $S_TOKEN" "$S_URL/api/deployments?env=production")
t_contains "$out" '"deployments":[]'
t_contains "$out" ' 200'

t_log "a 30 MiB body: 413, and the daemon did not buffer it"
rss_before=$(awk '/VmRSS/ {print $2}' /proc/$S_PID/status)
head -c $((30 << 20)) /dev/zero >"$S_DIR/big"
code=$(curl -s -o "$S_DIR/big.out" -w '%{http_code}' -X POST -H 'Expect:' \
	--data-binary @"$S_DIR/big" "$S_URL/hooks/github" || true)
t_eq "$code" 413 "30 MiB body"
t_contains "$(cat "$S_DIR/big.out")" '{"error":"request body over the limit of 1048576 bytes"}' "413 body"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Transfer-Encoding: chunked' \
	--data-binary @"$S_DIR/big" "$S_URL/hooks/github" || true)
t_eq "$code" 413 "30 MiB chunked body"
rss_after=$(awk '/VmRSS/ {print $2}' /proc/$S_PID/status)
t_log "RSS before ${rss_before} kB, after ${rss_after} kB"
[ $((rss_after - rss_before)) -lt $((10 << 10)) ] || t_fail "RSS grew by $((rss_after - rss_before)) kB"
t_eq "$(curl -s "$S_URL/health")" '{"status":"ok"}' "/health after the big bodies"

t_log "one keep-alive connection: a push, a probe, then a head over the limit"
s_push_body "$(s_sha keepalive)"
sig=sha256=$(openssl dgst -sha256 -hmac "$S_SECRET" "$S_DIR/body.json" | awk '{print $NF}')
python3 - "$(cat "$S_DIR/port")" "$S_DIR/body.json" "$sig" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=20)
body = open(sys.argv[2], "rb").read()
c.request("POST", "/hooks/github", body, {"X-GitHub-Event": "push",
          "X-GitHub-Delivery": "keepalive-1", "X-Hub-Signature-256": sys.argv[3],
          "Content-Type": "application/json"})
r = c.getresponse(); data = r.read()
assert r.status == 202, (r.status, data)
c.request("GET", "/health")
r = c.getresponse(); data = r.read()
assert (r.status, data) == (200, b'{"status":"ok"}\n'), (r.status, data)
c.putrequest("POST", "/hooks/github")
c.putheader("Content-Length", str(2 << 20))
c.endheaders()
r = c.getresponse(); data = r.read()
assert r.status == 413 and data.startswith(b'{"error":'), (r.status, data)
print("keep-alive: 202, 200, 413")
PY
s_wait "the keep-alive push deployed" '[ "$(s_deploys)" = 3 ]'

t_log "a client that sends nothing is dropped after read_timeout_s"
python3 - "$(cat "$S_DIR/port")" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(20)
t = time.monotonic()
data = s.recv(100)
assert data == b"" or data.startswith(b"HTTP/1.1 408"), data
print("dropped after %.1f s" % (time.monotonic() - t))
PY

t_log "/metrics after this traffic"
m=$(curl -s "$S_URL/metrics")
t_contains "$m" 'berth_webhooks_total{provider="github",result="queued"} 2'
t_contains "$m" 'berth_webhooks_total{provider="github",result="duplicate"} 1'
t_contains "$m" 'berth_webhooks_total{provider="github",result="bad_signature"} 1'
t_contains "$m" 'berth_webhooks_total{provider="github",result="missing_header"} 1'
t_contains "$m" 'berth_webhooks_total{provider="github",result="ignored"} 4'
t_contains "$m" 'berth_webhooks_total{provider="stripe",result="stored"} 1'
t_contains "$m" 'berth_webhooks_total{provider="api",result="unauthorized"} 2'
s_wait "three deployments finished" \
	'[ "$(s_metric "berth_deployments_total{env=\"production\",status=\"succeeded\"}")" = 3 ]'
m=$(curl -s "$S_URL/metrics")
t_contains "$m" 'berth_deploy_duration_seconds_count{env="production"} 3'
# a Content-Length over the limit, a chunked body passing it, the keep-alive head
t_contains "$m" 'berth_http_requests_total{code="413"} 3'
t_contains "$m" 'berth_last_successful_deploy_timestamp_seconds{env="production"}'
t_contains "$m" 'berth_queue_depth{env="production"} 0'
t_contains "$m" 'berth_http_connections 1'
t_contains "$m" '# TYPE berth_inbox_sync_seconds histogram'
bad=$(printf '%s\n' "$m" | grep -v '^#' | grep -v '^berth_' || true)
t_eq "$bad" "" "metrics not named berth_*"

t_log "pipelined deliveries on one connection, the last asking to close; HTTP/1.0"
s_push_body "$(s_sha pipelined)" feature-x
sig=sha256=$(openssl dgst -sha256 -hmac "$S_SECRET" "$S_DIR/body.json" | awk '{print $NF}')
python3 - "$(cat "$S_DIR/port")" "$S_DIR/body.json" "$sig" <<'PY'
import socket, sys
port, body, sig = int(sys.argv[1]), open(sys.argv[2], "rb").read(), sys.argv[3]
def req(delivery, version="1.1", extra=""):
    head = ("POST /hooks/github HTTP/%s\r\nHost: berth\r\nX-GitHub-Event: push\r\n"
            "X-GitHub-Delivery: %s\r\nX-Hub-Signature-256: %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
            % (version, delivery, sig, len(body), extra))
    return head.encode() + body
def exchange(data):
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(20)
    s.sendall(data)
    out = b""
    while True:
        chunk = s.recv(65536)  # the server closes: no timeout expected
        if not chunk:
            break
        out += chunk
    s.close()
    return out
out = exchange(req("pipe-1") + req("pipe-2") + req("pipe-1") +
               req("pipe-3", extra="Connection: close\r\n"))
assert out.count(b"HTTP/1.1 200 OK") == 4, out
for d in (b"pipe-1", b"pipe-2", b"pipe-3"):
    assert out.index(b'"delivery":"' + d) >= 0, (d, out)
assert out.count(b'"duplicate":true') == 1, out
assert out.index(b'"delivery":"pipe-2"') < out.index(b'"delivery":"pipe-3"'), out
out = exchange(req("http10", version="1.0"))
assert out.startswith(b"HTTP/1.0 200") or out.startswith(b"HTTP/1.1 200"), out
assert b'"delivery":"http10"' in out, out
print("pipelined: 4 answers in order, closed on request; HTTP/1.0 answered and closed")
PY
t_eq "$(curl -s "$S_URL/health")" '{"status":"ok"}' "/health after pipelined requests"

s_stop
echo "ok: $T_NAME"
