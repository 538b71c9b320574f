#!/usr/bin/env bash
# tests/bench/webhook_bench.sh — by hand, never from ctest: the webhook path
# of `berth serve` (verify HMAC-SHA256 + parse + inbox append + fsync +
# reply) next to Debian's `webhook` (adnanh/webhook) checking the same
# signature with a payload-hmac-sha256 rule and running /bin/true.
#
#   bash tests/bench/webhook_bench.sh [SECONDS] [CONNECTIONS] [STATE_DIR_PARENT]
#
# Every request is a signed GitHub push of a branch no environment tracks,
# so berth stores it and answers "ignored" without deploying. The signature
# covers the body only and berth's dedupe key is the X-GitHub-Delivery
# header, so wrk sends one precomputed body and signature with a fresh
# delivery id per request (a counter per thread): every request is a new
# delivery, none is answered "duplicate". The state directory is on the
# disk by default (/tmp here); pass /dev/shm as the third argument to see
# what the fsync costs.
#
# Needs: wrk, webhook (apt-get install wrk webhook), curl, openssl. Builds
# an optimised berth without sanitizers into build-bench/ when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
conns=${2:-32}
parent=${3:-/tmp}
threads=${BENCH_WRK_THREADS:-2}
[ "$conns" -ge 2 ] || threads=1
for tool in wrk webhook curl openssl; do
	command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install wrk webhook)" >&2; exit 1; }
done

bench_build=${BERTH_BENCH_BUILD:-build-bench}
if [ ! -x "$bench_build/berth" ]; then
	cmake -S . -B "$bench_build" -DCMAKE_BUILD_TYPE=Release -DBERTH_TESTS=OFF >/dev/null
	cmake --build "$bench_build" -j2 --target berth >/dev/null
fi
berth=$bench_build/berth

dir=$(mktemp -d "$parent/berth-bench-XXXXXX")
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT

secret=bench-secret
body='{"ref":"refs/heads/bench","before":"0000000000000000000000000000000000000000","after":"4b825dc642cb6eb9a060e54bf8d69288fbee4904","repository":{"full_name":"acme/pos"},"pusher":{"name":"bench"}}'
printf '%s' "$body" >"$dir/body.json"
sig=$(openssl dgst -sha256 -hmac "$secret" "$dir/body.json" | awk '{print $NF}')

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

cat >"$dir/post.lua" <<EOF
local body = [[$body]]
local counter = 0
-- prefix is a global that setup() gives each thread its own value of.
prefix = ""
function setup(thread)
  thread:set("prefix", tostring(math.random(1, 1e9)) .. "-")
end
function request()
  counter = counter + 1
  return wrk.format("POST", wrk.path, {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "push",
    ["X-GitHub-Delivery"] = prefix .. counter,
    ["X-Hub-Signature-256"] = "sha256=$sig",
  }, body)
end
EOF

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# run NAME URL PID: prints "NAME req/s p99 rss_idle rss_after non2xx".
run() {
	local name=$1 url=$2 pid=$3 idle out rps p99 after errs
	idle=$(rss_kb "$pid")
	# A short warm-up, then the measured run.
	wrk -t1 -c4 -d1s -s "$dir/post.lua" "$url" >/dev/null
	out=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --latency -s "$dir/post.lua" "$url")
	printf '%s\n' "$out" >"$dir/$name.wrk"
	rps=$(printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}')
	p99=$(printf '%s\n' "$out" | awk '$1 == "99%" {print $2}')
	errs=$(printf '%s\n' "$out" | awk '/Non-2xx/ {print $NF}')
	after=$(rss_kb "$pid")
	printf '%-8s %12s %10s %10s kB %10s kB %8s\n' "$name" "$rps" "$p99" "$idle" "$after" "${errs:-0}"
}

# berth serve
bport=$(free_port)
cat >"$dir/config.json" <<EOF
{ "state_dir": "$dir/state", "listen": "127.0.0.1:$bport",
  "repo": { "url": "$dir/none.git", "poll_interval_s": 0 },
  "environments": { "production": { "branch": "main" } },
  "webhooks": { "github": { "secret_env": "BENCH_GITHUB_SECRET" } },
  "server": { "max_connections": 1024 } }
EOF
BENCH_GITHUB_SECRET=$secret "$berth" --config "$dir/config.json" serve 2>"$dir/berth.log" &
pids+=($!)
berth_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$bport/ready" >/dev/null && break; sleep 0.05; done
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-GitHub-Event: push' \
	-H 'X-GitHub-Delivery: probe' -H "X-Hub-Signature-256: sha256=$sig" \
	-H 'Content-Type: application/json' --data-binary @"$dir/body.json" \
	"http://127.0.0.1:$bport/hooks/github")
[ "$code" = 200 ] || { echo "berth answered $code to the probe" >&2; cat "$dir/berth.log" >&2; exit 1; }

# adnanh/webhook with the equivalent rule
wport=$(free_port)
cat >"$dir/hooks.json" <<EOF
[ { "id": "github", "execute-command": "/bin/true",
    "trigger-rule": { "match": { "type": "payload-hmac-sha256", "secret": "$secret",
                                 "parameter": { "source": "header", "name": "X-Hub-Signature-256" } } } } ]
EOF
webhook -hooks "$dir/hooks.json" -ip 127.0.0.1 -port "$wport" >"$dir/webhook.log" 2>&1 &
pids+=($!)
webhook_pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$wport/" && break; sleep 0.05; done
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'X-GitHub-Event: push' \
	-H "X-Hub-Signature-256: sha256=$sig" -H 'Content-Type: application/json' \
	--data-binary @"$dir/body.json" "http://127.0.0.1:$wport/hooks/github")
[ "$code" = 200 ] || { echo "webhook answered $code to the probe" >&2; cat "$dir/webhook.log" >&2; exit 1; }

echo "webhook path: ${secs}s, $conns connections, $threads wrk threads, state on $(df -T "$dir" | awk 'NR==2 {print $2}') ($parent)"
printf '%-8s %12s %10s %13s %13s %8s\n' server "requests/s" p99 "RSS idle" "RSS after" non-2xx
run berth "http://127.0.0.1:$bport/hooks/github" "$berth_pid"
run webhook "http://127.0.0.1:$wport/hooks/github" "$webhook_pid"
syncs=$(curl -s "http://127.0.0.1:$bport/metrics" | awk '$1 == "berth_inbox_sync_seconds_count" {c=$2} $1 == "berth_inbox_sync_seconds_sum" {s=$2} $1 == "berth_inbox_batch_size_sum" {b=$2} END {if (c) printf "%d fsyncs, %.2f ms each on average, %.1f deliveries per fsync", c, s / c * 1000, b / c}')
echo "berth inbox: $syncs; $(curl -s "http://127.0.0.1:$bport/metrics" | awk '$1 == "berth_inbox_entries" {print $2}') deliveries kept"
