#!/usr/bin/env bash
# tests/bench/fetch_bench.sh — how long berth's incremental fetch into its
# bare mirror takes, next to `git fetch` doing the same work. Run by hand,
# never by ctest (timings are not assertions):
#
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release
#   cmake --build build-rel -j2 --target fetch_bench
#   BERTH_BUILD=build-rel bash tests/bench/fetch_bench.sh
#
# Builds a repository of COMMITS commits (default 10000) with git
# fast-import, mirrors it once with each tool (the initial fetch, timed
# once), then times RUNS runs (default 20) of: push one new commit (not
# timed), fetch it (timed) — with hyperfine when installed, else with a
# plain loop. berth's figure includes process start, libgit2 initialisation
# and opening the mirror, as git's includes its own start-up. Set
# BERTH_BENCH_URL_KIND=file to fetch through a file:// URL instead of a path.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BERTH_BUILD:-$src/build}
case $build in /*) ;; *) build=$src/$build ;; esac
bench=$build/tests/fetch_bench
commits=${COMMITS:-10000}
runs=${RUNS:-20}

if [ ! -x "$bench" ]; then
	echo "fetch_bench: '$bench' not found; build the fetch_bench target" >&2
	exit 1
fi
if ldd "$bench" | grep -q libasan; then
	echo "warning: $bench is built with sanitizers; use a Release build" \
		"for meaningful figures" >&2
fi

dir=$(mktemp -d /tmp/berth-fetch-bench-XXXXXX)
trap 'rm -rf "$dir"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null HOME=$dir
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@berth.invalid
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@berth.invalid
cd "$dir"

echo "building a repository of $commits commits ..."
git -c init.defaultBranch=main init -q --bare origin.git
awk -v n="$commits" 'BEGIN {
	for (i = 1; i <= n; i++) {
		printf "commit refs/heads/main\nmark :%d\n", i
		printf "committer bench <bench@berth.invalid> %d +0000\n", 1700000000 + i
		printf "data <<EOF\ncommit %d\nEOF\n", i
		if (i > 1)
			printf "from :%d\n", i - 1
		line = sprintf("line %d\n", i)
		printf "M 644 inline src/d%d/f%d.txt\ndata %d\n%s\n", i % 10, i % 97, length(line), line
	}
}' | git --git-dir=origin.git fast-import --quiet
git --git-dir=origin.git gc -q
git clone -q origin.git work

url=$dir/origin.git
[ "${BERTH_BENCH_URL_KIND:-path}" = file ] && url=file://$dir/origin.git
git_fetch=(git --git-dir="$dir/git-mirror.git" fetch --quiet --prune "$url"
	'+refs/heads/*:refs/heads/*' '+refs/tags/*:refs/tags/*')

now_ms() { date +%s%3N; }

echo
echo "initial mirror of $commits commits (one run each):"
t0=$(now_ms)
"$bench" "$dir/berth-mirror.git" "$url" | tail -n 1
t1=$(now_ms)
git init -q --bare git-mirror.git
"${git_fetch[@]}"
t2=$(now_ms)
printf '  berth (fetch_bench, wall): %6d ms\n' $((t1 - t0))
printf '  git fetch (wall):          %6d ms\n' $((t2 - t1))

# One new commit on main, pushed to origin; not part of any timing.
cat > push_one.sh <<'EOF'
set -e
cd "$1/work"
date +%s%N > change.txt
git add change.txt
git commit -q -m "bench change"
git push -q origin main 2>/dev/null
EOF
push="bash $dir/push_one.sh $dir"
berth_cmd="$bench $dir/berth-mirror.git $url"
git_cmd="${git_fetch[*]}"

echo
echo "incremental fetch of one new commit ($runs runs each):"
if command -v hyperfine >/dev/null; then
	hyperfine --runs "$runs" --prepare "$push" --export-markdown "$dir/results.md" \
		--command-name "berth (libgit2)" "$berth_cmd >/dev/null" \
		--command-name "git fetch" "$git_cmd"
	echo
	cat "$dir/results.md"
else
	echo "(hyperfine not installed: apt-get install hyperfine; using a loop)"
	for name in berth git; do
		total=0
		for ((i = 0; i < runs; i++)); do
			$push
			t0=$(now_ms)
			if [ $name = berth ]; then $berth_cmd >/dev/null; else "${git_fetch[@]}"; fi
			total=$((total + $(now_ms) - t0))
		done
		printf '  %-6s mean %5d ms over %d runs\n' "$name" $((total / runs)) "$runs"
	done
fi

# Both mirrors must agree on where main is (the last push came after
# berth's last timed run).
$berth_cmd >/dev/null
"${git_fetch[@]}"
a=$(git --git-dir=berth-mirror.git rev-parse main)
b=$(git --git-dir=git-mirror.git rev-parse main)
[ "$a" = "$b" ] || { echo "mirrors disagree: berth $a, git $b" >&2; exit 1; }
echo
echo "both mirrors at $a"
