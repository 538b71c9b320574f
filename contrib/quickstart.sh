#!/usr/bin/env bash
# contrib/quickstart.sh — on a fresh Debian 12 machine (root or sudo): install
# what is missing, build berth, and show its main job on the embedded default
# (the process driver): a private PostgreSQL, a Git repository holding the
# example point-of-sale app, `berth apply` deploying it, then a broken commit
# that never becomes healthy and the automatic rollback that keeps the shop
# open. Re-running it starts over; it leaves the app running and says how to
# stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
. contrib/deps.sh

berth_install_deps "${BERTH_BUILD_DEPS[@]}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBERTH_SANITIZE=OFF -DBERTH_WERROR=OFF -DBERTH_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "built $(build/berth version | head -1) at build/berth"

demo=${BERTH_DEMO_DIR:-/tmp/berth-quickstart}
berth=$src/build/berth

# --- start over: stop what an earlier run left running ------------------------

# Stops the services berth started in the demo (their process groups, from the
# process driver's runtime state) and the demo's PostgreSQL.
stop_demo() {
	local f=$demo/state/envs/production/services.json pg
	if [ -f "$f" ]; then
		for pg in $(grep -o '"pgid": *[0-9]*' "$f" | grep -o '[0-9]*$'); do
			kill -TERM -- "-$pg" 2>/dev/null || true
		done
	fi
	if [ -f "$demo/pg/data/postmaster.pid" ]; then
		if [ "$(id -u)" -eq 0 ]; then
			runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$demo/pg/data" -m fast -w stop >/dev/null 2>&1 || true
		else
			/usr/lib/postgresql/15/bin/pg_ctl -D "$demo/pg/data" -m fast -w stop >/dev/null 2>&1 || true
		fi
	fi
}
stop_demo
rm -rf "$demo"
mkdir -p "$demo"
chmod 755 "$demo"
cd "$demo"

# A free TCP port on 127.0.0.1, from 3000 up.
free_port() {
	local p
	for ((p = 3000; p < 3100; p++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
	done
	echo "no free port between 3000 and 3099" >&2
	return 1
}

# --- a private PostgreSQL for the app -----------------------------------------

# tests/fixtures/pg.sh starts a cluster of its own in a directory (as the
# postgres user when run as root), on a loopback port, with a role and a
# database, and exports DATABASE_URL.
. "$src/tests/fixtures/pg.sh"
pg_start "$demo/pg"
echo "started PostgreSQL 15 for the demo on 127.0.0.1:$PG_PORT (data in $demo/pg)"

# --- the repository berth deploys from ----------------------------------------

git() { command git -c user.name=berth-quickstart -c user.email=quickstart@berth.invalid \
	-c init.defaultBranch=main -c advice.detachedHead=false "$@"; }
git init -q --bare pos.git
git clone -q pos.git pos 2>/dev/null
cp -r "$src/contrib/example-app/." pos/
make -s -C pos clean >/dev/null
git -C pos add -A
git -C pos commit -q -m "Point-of-sale backend, first version"
git -C pos push -q origin HEAD:main 2>/dev/null

# --- the host side: state, env file, config -----------------------------------

port=$(free_port)
(umask 077 && printf 'PORT=%s\nDATABASE_URL=%s\n' "$port" "$DATABASE_URL" >production.env)
cat >config.json <<JSON
{
  "state_dir": "$demo/state",
  "repo": { "url": "$demo/pos.git" },
  "environments": {
    "production": { "branch": "main", "env_file": "$demo/production.env" }
  }
}
JSON
cat >stop.sh <<SH
#!/usr/bin/env bash
# Stops what the berth quickstart left running: the app and its PostgreSQL.
f=$demo/state/envs/production/services.json
[ -f "\$f" ] && for pg in \$(grep -o '"pgid": *[0-9]*' "\$f" | grep -o '[0-9]*\$'); do
	kill -TERM -- "-\$pg" 2>/dev/null || true
done
if [ "\$(id -u)" -eq 0 ]; then
	runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$demo/pg/data" -m fast -w stop
else
	/usr/lib/postgresql/15/bin/pg_ctl -D "$demo/pg/data" -m fast -w stop
fi
SH
chmod +x stop.sh

run() {
	echo
	echo "\$ berth $*"
	"$berth" --config "$demo/config.json" "$@"
}
show() {
	echo
	echo "\$ curl -s http://127.0.0.1:$port$1"
	curl -s --max-time 10 "http://127.0.0.1:$port$1"
	echo
}

# --- deploy the first version ---------------------------------------------------

echo
echo "== 1. what a first deployment would do"
rc=0
run plan production || rc=$?
[ $rc -eq 2 ] || { echo "berth plan failed (exit $rc)"; exit 1; }

echo
echo "== 2. deploy it: backup, checkout, build with make, migrations, start, health, smoke"
run apply production
show /health
show /api/products

# --- a broken commit ------------------------------------------------------------

echo
echo "== 3. a commit whose health check never passes (its path moved), version 2.0.0"
echo 2.0.0 >pos/VERSION
sed -i 's#"http": "http://127.0.0.1:${PORT}/health"#"http": "http://127.0.0.1:${PORT}/healthz"#; s#"start_period_s": 30#"start_period_s": 2#' pos/berth.json
git -C pos commit -q -am "Move the health check (broken on purpose)"
git -C pos push -q origin HEAD:main 2>/dev/null
rc=0
run apply production || rc=$?
echo
echo "(berth apply exited $rc: 1 means it failed and put the last good release back)"
echo
echo "== 4. the first version still answers"
show /health
run status production
run history production

cat <<TXT

The app keeps running (berth's services outlive berth) with its PostgreSQL.
What to try next:
  cd $demo/pos, fix berth.json (or 'git revert HEAD'), commit, 'git push origin HEAD:main', then
  $berth --config $demo/config.json apply production
  $berth --config $demo/config.json apply production --dry-run
  $berth --config $demo/config.json status production --json
  $berth --config $demo/config.json history production
  $berth --help            and docs/pipeline.md for every step
To stop the app and its database:  $demo/stop.sh
TXT
