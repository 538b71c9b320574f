#!/usr/bin/env bash
# contrib/quickstart.sh — on a fresh Debian 12 machine (root or sudo): install
# what is missing, build berth, and show its main job on the embedded default
# (the process driver): a Git repository holding the example point-of-sale
# app, and `berth plan` telling what a deployment of it would do.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
. contrib/deps.sh

berth_install_deps "${BERTH_BUILD_DEPS[@]}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBERTH_SANITIZE=OFF -DBERTH_WERROR=OFF -DBERTH_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "built $(build/berth version | head -1) at build/berth"

demo=${BERTH_DEMO_DIR:-/tmp/berth-quickstart}
rm -rf "$demo"
mkdir -p "$demo"
cd "$demo"

# The repository berth deploys from: the example app, committed to main.
git() { command git -c user.name=berth-quickstart -c user.email=quickstart@berth.invalid \
	-c init.defaultBranch=main "$@"; }
git init -q --bare pos.git
git clone -q pos.git pos 2>/dev/null
cp -r "$src/contrib/example-app/." pos/
git -C pos add -A
git -C pos commit -q -m "Point-of-sale backend, first version"
git -C pos push -q origin HEAD:main 2>/dev/null

# The host side: where berth keeps its state, and the env file with the
# settings and secrets the app gets.
cat >production.env <<ENV
PORT=3000
DATABASE_URL=postgresql://pos:change-me@127.0.0.1:5432/pos
ENV
chmod 600 production.env
cat >config.json <<JSON
{
  "state_dir": "$demo/state",
  "repo": { "url": "$demo/pos.git" },
  "environments": {
    "production": { "branch": "main", "env_file": "$demo/production.env" }
  }
}
JSON

echo
echo "\$ berth --config $demo/config.json plan production"
rc=0
"$src/build/berth" --config "$demo/config.json" plan production || rc=$?
echo
case $rc in
2) echo "berth found the changes a first deployment makes (exit 2 means: changes to apply)." ;;
0) echo "in sync." ;;
*) echo "berth plan failed (exit $rc)"; exit "$rc" ;;
esac
cat <<TXT

What to try next:
  cd $demo/pos && edit berth.json, commit, push, and run the plan again
  $src/build/berth --config $demo/config.json plan production --json
  $src/build/berth --config $demo/config.json status production
  $src/build/berth --help
TXT
