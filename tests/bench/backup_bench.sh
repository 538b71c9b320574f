#!/usr/bin/env bash
# tests/bench/backup_bench.sh — times berth's backup and restore of a database
# of about 1 GB next to the bare tools, and prints the overhead. Run by hand
# (never by ctest); the target is berth within 5% of the bare tools.
#
#   bash tests/bench/backup_bench.sh
#
# BENCH_SCALE (default 68: pgbench's scale for about 1 GB), BENCH_RUNS
# (default 3), BENCH_BUILD (default build-bench: a Release build made here).
# What is compared, on the same private cluster and the same dump:
#   backup:  pg_dump -Fc -f FILE        vs  backup_create (custom): pg_dump to
#            a partial file, fsync, SHA-256, rename, sidecar, statistics
#   restore: pg_restore --clean --if-exists --single-transaction -d DB FILE
#            vs  backup_restore: checksum, pg_restore -f - | berth | psql in
#            one transaction with the prelude
# Runs alternate between the two so that a change in the machine's load hits
# both; the median of each is reported.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SCALE=${BENCH_SCALE:-68}
RUNS=${BENCH_RUNS:-3}
BUILD=${BENCH_BUILD:-$SRC/build-bench}

echo "building backup_bench (Release) in $BUILD"
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target backup_bench -j2 >/dev/null
BENCH=$BUILD/tests/backup_bench

T_DIR=$(mktemp -d /tmp/berth-bench-XXXXXX)
chmod 755 "$T_DIR"
T_CLEANUP=()
t_on_exit() { T_CLEANUP+=("$1"); }
t_fail() {
	echo "FAIL: $*" >&2
	exit 1
}
bench_cleanup() {
	local rc=$? i
	for ((i = ${#T_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${T_CLEANUP[i]}" >/dev/null 2>&1 || true
	done
	rm -rf "$T_DIR"
	exit $rc
}
trap bench_cleanup EXIT

. "$SRC/tests/fixtures/pg.sh"
pg_start "$T_DIR/pg"

echo "generating the database: pgbench -i -s $SCALE"
"$PG_BIN/pgbench" -i -q -s "$SCALE" >/dev/null 2>&1 || t_fail "pgbench -i failed"
size=$(pg_psql -c 'SELECT pg_size_pretty(pg_database_size(current_database()))')
echo "database: $size"

# Seconds (with fractions) that "$@" takes; fails the bench if it fails.
timed() {
	local start end
	start=$(date +%s.%N)
	"$@" >"$T_DIR/out.log" 2>&1 || { cat "$T_DIR/out.log" >&2; t_fail "$* failed"; }
	end=$(date +%s.%N)
	awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f\n", b - a }'
}

median() {
	printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}

bare_backup() { "$PG_BIN/pg_dump" -Fc -f "$T_DIR/bare.dump"; }
berth_backup() {
	rm -rf "$T_DIR/berth" && "$BENCH" create "$T_DIR/berth" custom
}
bare_restore() {
	"$PG_BIN/pg_restore" --clean --if-exists --single-transaction \
		-d "$PG_DATABASE" "$T_DIR/berth"/backup_*.dump
}
berth_restore() { "$BENCH" restore "$T_DIR/berth"/backup_*.dump; }

declare -a bb=() eb=() br=() er=()
for ((i = 1; i <= RUNS; i++)); do
	bb+=("$(timed bare_backup)")
	eb+=("$(timed berth_backup)")
	echo "run $i/$RUNS backup: pg_dump ${bb[-1]} s, berth ${eb[-1]} s"
done
dump_size=$(stat -c %s "$T_DIR/berth"/backup_*.dump)
for ((i = 1; i <= RUNS; i++)); do
	br+=("$(timed bare_restore)")
	er+=("$(timed berth_restore)")
	echo "run $i/$RUNS restore: pg_restore ${br[-1]} s, berth ${er[-1]} s"
done

row() {
	local what=$1 bare=$2 berth=$3
	printf '%-22s %10.2f s %10.2f s %+9.1f%%\n' "$what" "$bare" "$berth" \
		"$(awk -v a="$bare" -v b="$berth" 'BEGIN { print (b - a) * 100 / a }')"
}
echo
echo "database $size (pgbench scale $SCALE), custom dump $((dump_size / 1048576)) MiB, median of $RUNS runs"
printf '%-22s %12s %12s %10s\n' "" "bare" "berth" "overhead"
row "backup (custom)" "$(median "${bb[@]}")" "$(median "${eb[@]}")"
row "restore" "$(median "${br[@]}")" "$(median "${er[@]}")"
echo "target: overhead within 5%"
