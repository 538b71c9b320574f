#!/usr/bin/env bash
# tests/bench/backup_bench.sh — times berth's backup and restore of a database
# of about 1 GB next to the bare tools, and prints the overhead. Run by hand
# (never by ctest); the target is berth within 5% of the bare tools.
#
#   bash tests/bench/backup_bench.sh
#
# BENCH_SCALE (default 40: pgbench's tables, about 600 MB), BENCH_SALES_ROWS
# (default 3000000: a table of less compressible text, about 450 MB),
# BENCH_RUNS (default 5), BENCH_BUILD (default build-bench: a Release build
# made here). What is compared, on one private cluster (tests/fixtures/
# with_pg.sh), with the same PostgreSQL binaries and the same dump:
#   backup:  pg_dump -Fc -f FILE        vs  backup_create (custom): statistics
#            snapshot, pg_dump into a partial file, fsync, SHA-256, rename,
#            sidecar
#   restore: pg_restore --clean --if-exists --single-transaction -d DB FILE
#            vs  backup_restore: checksum, pg_restore -f - | berth | psql in
#            one transaction after the prelude
# Runs alternate between the two, so that a change in the machine's load
# hits both; the median of each is reported, and the median of the pairs'
# own overheads.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

if [ -z "${BENCH_INSIDE:-}" ]; then
	BUILD=${BENCH_BUILD:-$SRC/build-bench}
	echo "building backup_bench (Release) in $BUILD"
	cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$BUILD" --target backup_bench -j2 >/dev/null
	BENCH_INSIDE=$BUILD/tests/backup_bench exec bash \
		"$SRC/tests/fixtures/with_pg.sh" bash "${BASH_SOURCE[0]}"
fi

# From here on, inside a private cluster: DATABASE_URL, PG*, TMPDIR.
BENCH=$BENCH_INSIDE
SCALE=${BENCH_SCALE:-40}
SALES=${BENCH_SALES_ROWS:-3000000}
RUNS=${BENCH_RUNS:-5}
OUT=$TMPDIR
# berth finds the tools on its PATH: the same binaries as the bare runs.
export PATH=$PG_BIN:$PATH

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

echo "generating the database: pgbench -i -s $SCALE, $SALES rows of sales"
pgbench -i -q -s "$SCALE" >/dev/null 2>&1 || fail "pgbench -i failed"
psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<-SQL || fail "cannot create the sales table"
	CREATE TABLE sales AS SELECT g AS id, now() - g * interval '1 second' AS at,
	  (g % 9973) * 0.01 AS amount, md5(g::text) AS receipt,
	  md5((g * 7)::text) || md5((g * 13)::text) AS items
	  FROM generate_series(1, $SALES) g;
	ALTER TABLE sales ADD PRIMARY KEY (id);
	ANALYZE sales;
SQL
size=$(psql -X -A -t -c 'SELECT pg_size_pretty(pg_database_size(current_database()))')
echo "database: $size"

# Seconds (with fractions) that "$@" takes; the bench fails if it does.
timed() {
	local start end
	start=$(date +%s.%N)
	"$@" >"$OUT/run.log" 2>&1 || { cat "$OUT/run.log" >&2; fail "$* failed"; }
	end=$(date +%s.%N)
	awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f\n", b - a }'
}

median() {
	printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}

bare_backup() { pg_dump -Fc -f "$OUT/bare.dump"; }
berth_backup() { rm -rf "$OUT/berth" && "$BENCH" create "$OUT/berth" custom; }
bare_restore() {
	pg_restore --clean --if-exists --single-transaction -d "$PGDATABASE" \
		"$OUT/berth"/backup_*.dump
}
berth_restore() { "$BENCH" restore "$OUT/berth"/backup_*.dump; }

declare -a bb=() eb=() br=() er=()
for ((i = 1; i <= RUNS; i++)); do
	bb+=("$(timed bare_backup)")
	eb+=("$(timed berth_backup)")
	echo "run $i/$RUNS backup: pg_dump ${bb[-1]} s, berth ${eb[-1]} s"
done
dump_size=$(stat -c %s "$OUT/berth"/backup_*.dump)
for ((i = 1; i <= RUNS; i++)); do
	br+=("$(timed bare_restore)")
	er+=("$(timed berth_restore)")
	echo "run $i/$RUNS restore: pg_restore ${br[-1]} s, berth ${er[-1]} s"
done

# Overhead of each pair of runs, back to back: steadier than comparing
# medians when the machine's load changes during the bench.
paired() {
	local -n a=$1 b=$2
	local i
	for ((i = 0; i < ${#a[@]}; i++)); do
		awk -v x="${a[i]}" -v y="${b[i]}" 'BEGIN { print (y - x) * 100 / x }'
	done
}

row() {
	printf '%-18s %10.2f s %10.2f s %+9.1f%% %+9.1f%%\n' "$1" "$2" "$3" \
		"$(awk -v a="$2" -v b="$3" 'BEGIN { print (b - a) * 100 / a }')" "$4"
}
echo
echo "database $size, custom dump $((dump_size / 1048576)) MiB, median of $RUNS runs"
printf '%-18s %12s %12s %10s %10s\n' "" "bare" "berth" "overhead" "paired"
row "backup (custom)" "$(median "${bb[@]}")" "$(median "${eb[@]}")" \
	"$(median $(paired bb eb))"
row "restore" "$(median "${br[@]}")" "$(median "${er[@]}")" \
	"$(median $(paired br er))"
echo "overhead: of the medians; paired: median of each run's own overhead"
echo "target: overhead within 5%"
