#!/usr/bin/env bash
# tests/bench/plan_bench.sh — run by hand: berth's CPU time for `plan` on a
# 1000-service manifest (fetch excluded: the mirror is fetched once first,
# then `plan --no-fetch` is measured), then the incremental fetch benchmark
# (tests/bench/fetch_bench.sh: a one-commit push into a 10 000-commit
# repository, berth's fetch next to `git fetch`).
#
# Target: plan under 50 ms of berth's own CPU (user + system).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
berth=${BERTH:-$src/build/berth}
runs=${RUNS:-20}
[ -x "$berth" ] || { echo "build berth first ($berth not found)" >&2; exit 1; }
work=$(mktemp -d /tmp/berth-plan-bench-XXXXXX)
[ "${BENCH_KEEP:-0}" = 1 ] && echo "keeping $work" || trap 'rm -rf "$work"' EXIT
cd "$work"

git() { command git -c user.name=bench -c user.email=bench@berth.invalid \
	-c init.defaultBranch=main "$@"; }
git init -q --bare app.git
git clone -q app.git app 2>/dev/null
python3 - <<'PY' >app/berth.json
import json
services = {}
for i in range(1000):
    s = {"command": ["./svc", "--id", str(i), "--port", "${BASE_PORT}"],
         "env": {"SERVICE_ID": str(i), "ROLE": "worker"},
         "health": {"http": "http://127.0.0.1:%d/health" % (20000 + i)},
         "stop_timeout_s": 10}
    if i > 0:
        s["depends_on"] = ["svc%04d" % ((i - 1) // 2)]
    services["svc%04d" % i] = s
print(json.dumps({"version": 1, "app": "bench", "services": services}, indent=1))
PY
git -C app add -A
git -C app commit -q -m "1000 services"
git -C app push -q origin HEAD:main 2>/dev/null
printf 'BASE_PORT=3000\n' >bench.env
chmod 600 bench.env
cat >config.json <<JSON
{ "state_dir": "$work/state", "repo": { "url": "$work/app.git" },
  "environments": { "production": { "env_file": "$work/bench.env" } } }
JSON
"$berth" --config config.json plan >/dev/null || [ $? -eq 2 ]

echo "berth plan --no-fetch on a 1000-service manifest ($(wc -c <app/berth.json) bytes), $runs runs:"
total=0
best=999999
for _ in $(seq "$runs"); do
	/usr/bin/time -o time.out -f '%U %S' "$berth" --config config.json plan --no-fetch >/dev/null 2>&1 || true
	t=$(tail -1 time.out)
	ms=$(awk -v u="${t% *}" -v s="${t#* }" 'BEGIN { printf "%d", (u + s) * 1000 }')
	total=$((total + ms))
	[ "$ms" -lt "$best" ] && best=$ms
done
echo "  CPU (user+sys): mean $((total / runs)) ms, best $best ms  (target: < 50 ms)"
if command -v hyperfine >/dev/null; then
	hyperfine -N --warmup 3 --runs "$runs" \
		"$berth --config $work/config.json plan --no-fetch" 2>/dev/null |
		grep -E 'Time|User|Range' || true
fi

if [ -x "$src/tests/bench/fetch_bench.sh" ] || [ -f "$src/tests/bench/fetch_bench.sh" ]; then
	echo
	bash "$src/tests/bench/fetch_bench.sh"
fi
