#!/usr/bin/env bash
# tests/bench/webhook_bench.sh — by hand, never from ctest: the webhook path
# of `berth serve` (verify HMAC-SHA256 + parse + inbox append + fsync +
# reply) next to Debian's `webhook` (adnanh/webhook) checking the same
# signature with a payload-hmac-sha256 rule and running /bin/true.
#
#   bash tests/bench/webhook_bench.sh [SECONDS] [CONNECTIONS] [STATE_DIR_PARENT] [ROUNDS]
#
# Every request is a signed GitHub push of a branch no environment tracks,
# so berth stores it and answers "ignored" without deploying. The signature
# covers the body only and berth's dedupe key is the X-GitHub-Delivery
# header, so wrk sends one precomputed body and signature with a fresh
# delivery id per request (a counter per thread): every request is a new
# delivery, none is answered "duplicate". The state directory is on the
# disk by default (/tmp here); pass /dev/shm as the third argument to see
# what the fsync costs. The two servers are measured in turn, ROUNDS times
# (3 by default), and the medians compared: on a shared machine the speed
# of the CPU and of the disk drifts by tens of percent from one minute to
# the next, and alternating keeps both servers under the same conditions.
# BENCH_WRK_THREADS sets wrk's threads (2 by default).
#
# Needs: wrk, webhook (apt-get install wrk webhook), curl, openssl. Builds
# an optimised berth without sanitizers into build-bench/ when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-10}
conns=${2:-32}
parent=${3:-/tmp}
rounds=${4:-3}
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
local threads = 0
-- prefix is a global that setup() gives each thread its own value of:
-- the run's name (every wrk run has its own) and the thread's number, so
-- that no two requests of the whole bench share a delivery id.
prefix = ""
function setup(thread)
  threads = threads + 1
  thread:set("prefix", os.getenv("BENCH_RUN") .. "-" .. threads .. "-")
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

# wrk's latency ("812.00us", "4.49ms", "1.02s") in milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
		if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
		printf "%.2f", n }'
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# wait_idle PID NAME: waits (up to two minutes) until PID uses no CPU for
# half a second. webhook answers before it runs its command and works
# through the queued commands long after the load has stopped; the next
# measurement must not share the machine with that backlog.
wait_idle() {
	local pid=$1 name=$2 a b start=$SECONDS
	for _ in $(seq 240); do
		a=$(cpu_ticks "$pid")
		sleep 0.5
		b=$(cpu_ticks "$pid")
		if [ $((b - a)) -le 1 ]; then
			[ $((SECONDS - start)) -lt 2 ] ||
				echo "      ($name kept working for $((SECONDS - start)) s after the load)"
			return 0
		fi
	done
	echo "      ($name still busy after two minutes)"
}

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# run ROUND NAME URL PID: one measured run; prints its row and appends
# "req/s p99_ms" to $dir/NAME.runs.
run() {
	local round=$1 name=$2 url=$3 pid=$4 out rps p99 errs
	# A short warm-up, then the measured run.
	BENCH_RUN="$name-$round-warm" wrk -t1 -c4 -d1s -s "$dir/post.lua" "$url" >/dev/null
	out=$(BENCH_RUN="$name-$round" wrk -t"$threads" -c"$conns" -d"${secs}s" --latency \
		-s "$dir/post.lua" "$url")
	printf '%s\n' "$out" >"$dir/$name.$round.wrk"
	rps=$(printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}')
	p99=$(to_ms "$(printf '%s\n' "$out" | awk '$1 == "99%" {print $2}')")
	errs=$(printf '%s\n' "$out" | awk '/Non-2xx/ {print $NF}')
	echo "$rps $p99" >>"$dir/$name.runs"
	printf '%5s %-8s %12s %10s ms %10s kB %8s\n' "$round" "$name" "$rps" "$p99" \
		"$(rss_kb "$pid")" "${errs:-0}"
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
berth_idle=$(rss_kb "$berth_pid")
webhook_idle=$(rss_kb "$webhook_pid")
printf '%5s %-8s %12s %13s %13s %8s\n' round server "requests/s" p99 "RSS after" non-2xx
for round in $(seq "$rounds"); do
	run "$round" berth "http://127.0.0.1:$bport/hooks/github" "$berth_pid"
	wait_idle "$berth_pid" berth
	run "$round" webhook "http://127.0.0.1:$wport/hooks/github" "$webhook_pid"
	wait_idle "$webhook_pid" webhook
done
b_rps=$(awk '{print $1}' "$dir/berth.runs" | median)
w_rps=$(awk '{print $1}' "$dir/webhook.runs" | median)
b_p99=$(awk '{print $2}' "$dir/berth.runs" | median)
w_p99=$(awk '{print $2}' "$dir/webhook.runs" | median)
echo "medians of $rounds rounds:"
printf '      %-8s %12.0f req/s  p99 %8.2f ms  RSS idle %6s kB\n' berth "$b_rps" "$b_p99" "$berth_idle"
printf '      %-8s %12.0f req/s  p99 %8.2f ms  RSS idle %6s kB\n' webhook "$w_rps" "$w_p99" "$webhook_idle"
awk -v b="$b_rps" -v w="$w_rps" -v p="$b_p99" -v r="$berth_idle" 'BEGIN {
	printf "berth / webhook throughput: %.1fx (target >= 5x: %s)\n", b / w, ((b >= 5 * w) ? "met" : "NOT met")
	printf "berth p99: %.2f ms (target < 5 ms: %s)\n", p, ((p < 5) ? "met" : "NOT met")
	printf "berth idle RSS: %.1f MB (target < 10 MB: %s)\n", r / 1024, ((r < 10 * 1024) ? "met" : "NOT met") }'
syncs=$(curl -s "http://127.0.0.1:$bport/metrics" | awk '$1 == "berth_inbox_sync_seconds_count" {c=$2} $1 == "berth_inbox_sync_seconds_sum" {s=$2} $1 == "berth_inbox_batch_size_sum" {b=$2} END {if (c) printf "%d fsyncs, %.2f ms each on average, %.1f deliveries per fsync", c, s / c * 1000, b / c}')
echo "berth inbox: $syncs; $(curl -s "http://127.0.0.1:$bport/metrics" | awk '$1 == "berth_inbox_entries" {print $2}') deliveries kept"
