# tests/integration/lib.sh — sourced by every integration test.
#
# Gives each test its own temporary directory (removed on exit unless
# BERTH_KEEP_TMP=1), assertion helpers that print what differed, and helpers
# to build real Git repositories. Environment from ctest: BERTH (the binary),
# BERTH_SRC (source tree), BERTH_BUILD (build tree).
set -euo pipefail

: "${BERTH_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${BERTH_BUILD:=$BERTH_SRC/build}"
: "${BERTH:=$BERTH_BUILD/berth}"
export BERTH BERTH_SRC BERTH_BUILD

if [ ! -x "$BERTH" ]; then
	echo "FAIL: berth binary '$BERTH' not found; build first" >&2
	exit 1
fi

T_NAME=$(basename "$0" .sh)
T_DIR=$(mktemp -d "/tmp/berth-$T_NAME-XXXXXX")
chmod 755 "$T_DIR"
T_CLEANUP=()

t_cleanup() {
	local rc=$? i
	for ((i = ${#T_CLEANUP[@]} - 1; i >= 0; i--)); do
		eval "${T_CLEANUP[i]}" >/dev/null 2>&1 || true
	done
	if [ "${BERTH_KEEP_TMP:-0}" = 1 ] || [ $rc -ne 0 -a "${BERTH_KEEP_TMP:-0}" = fail ]; then
		echo "kept $T_DIR" >&2
	else
		rm -rf "$T_DIR"
	fi
	exit $rc
}
trap t_cleanup EXIT

# Registers a command (a string, eval'd) to run at exit, last registered first.
t_on_exit() { T_CLEANUP+=("$1"); }

t_fail() {
	echo "FAIL: $T_NAME: $*" >&2
	exit 1
}

t_log() { echo "--- $*" >&2; }

# t_eq ACTUAL EXPECTED [what]
t_eq() {
	[ "$1" = "$2" ] || t_fail "${3:-value}: got '$1', expected '$2'"
}

# t_contains HAYSTACK NEEDLE [what]
t_contains() {
	case "$1" in
	*"$2"*) ;;
	*) t_fail "${3:-output} does not contain '$2'; it was:"$'\n'"$1" ;;
	esac
}

t_not_contains() {
	case "$1" in
	*"$2"*) t_fail "${3:-output} contains '$2'; it was:"$'\n'"$1" ;;
	esac
}

# t_run EXPECTED_STATUS CMD... — runs CMD, stores stdout+stderr in T_OUT,
# and fails unless it exited with EXPECTED_STATUS.
t_run() {
	local want=$1 rc=0
	shift
	T_OUT=$("$@" 2>&1) || rc=$?
	if [ "$rc" != "$want" ]; then
		t_fail "'$*' exited $rc, expected $want; output:"$'\n'"$T_OUT"
	fi
}

# Git with a fixed identity and no user config.
t_git() {
	GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 \
		GIT_AUTHOR_NAME=berth-test GIT_AUTHOR_EMAIL=test@berth.invalid \
		GIT_COMMITTER_NAME=berth-test GIT_COMMITTER_EMAIL=test@berth.invalid \
		git -c init.defaultBranch=main -c advice.detachedHead=false "$@"
}

# t_make_repo DIR — a bare repository DIR.git plus a working clone DIR.
t_make_repo() {
	local dir=$1
	t_git init -q --bare "$dir.git"
	t_git clone -q "$dir.git" "$dir" 2>/dev/null
}

# t_commit WORKDIR MESSAGE — commits everything and pushes to origin main;
# prints the new commit's sha.
t_commit() {
	local wd=$1 msg=$2
	t_git -C "$wd" add -A
	t_git -C "$wd" commit -q -m "$msg"
	t_git -C "$wd" push -q origin HEAD:main 2>/dev/null
	t_git -C "$wd" rev-parse HEAD
}

# A free TCP port on 127.0.0.1.
t_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# t_start_receiver: starts tests/fixtures/http_receiver.py, which appends
# every request it gets to $T_DIR/recv.jsonl, stopped on exit; sets
# T_RECV_PORT to its port on 127.0.0.1. Call it directly, not in $(…).
t_start_receiver() {
	local i
	python3 "$BERTH_SRC/tests/fixtures/http_receiver.py" "$T_DIR/recv.port" "$T_DIR/recv.jsonl" &
	t_on_exit "kill $!"
	for ((i = 0; i < 200; i++)); do
		[ -s "$T_DIR/recv.port" ] && break
		sleep 0.05
	done
	[ -s "$T_DIR/recv.port" ] || t_fail "the HTTP receiver did not start"
	T_RECV_PORT=$(cat "$T_DIR/recv.port")
}
