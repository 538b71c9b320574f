# tests/integration/serve_lib.sh — helpers for the test_serve_*.sh tests,
# sourced after lib.sh: a config, a stub deploy program, starting and
# stopping the real daemon on a port the kernel picks, and signed webhook
# deliveries sent with curl.
#
# The stub (BERTH_DEPLOY_PROGRAM, the daemon's test hook) appends its
# arguments to $S_DIR/deploys.log, then waits while $S_DIR/gate exists, so a
# test can hold a deployment "running" for as long as it needs; it exits
# with the status in $S_DIR/exit-once when that file exists (and removes
# it), else 0.

S_DIR=$T_DIR
S_SECRET=gh-test-secret
S_TOKEN=api-test-token
export GH_SECRET=$S_SECRET STRIPE_SECRET=whsec_stripetest BERTH_API_TOKEN=$S_TOKEN

for tool in curl openssl python3; do
	command -v "$tool" >/dev/null || t_fail "$tool is needed"
done

# s_app_config [KEY=JSON ...] — turns deploy_app.sh's config (app_init)
# into one for the daemon: a port the kernel picks, no poll (no deployment
# but the test's own), the API with $BERTH_API_TOKEN, and each top-level
# KEY set to the JSON value given.
s_app_config() {
	python3 - "$T_DIR/config.json" "$@" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["listen"] = "127.0.0.1:0"
c["repo"]["poll_interval_s"] = 0
c["api"] = {"token_env": "BERTH_API_TOKEN"}
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    c[k] = json.loads(v)
json.dump(c, open(p, "w"))
PY
}

# s_stub — writes the stub deploy program and exports the hook.
s_stub() {
	cat >"$S_DIR/deploy-stub" <<EOF
#!/bin/sh
echo \$\$ >"$S_DIR/stub.pid"
env >"$S_DIR/stub.env"
echo "\$*" >>"$S_DIR/deploys.log"
echo "stub deploying: \$*"
while [ -e "$S_DIR/gate" ]; do sleep 0.05; done
if [ -e "$S_DIR/exit-once" ]; then
	code=\$(cat "$S_DIR/exit-once")
	rm -f "$S_DIR/exit-once"
	exit "\$code"
fi
exit 0
EOF
	chmod +x "$S_DIR/deploy-stub"
	: >"$S_DIR/deploys.log"
	export BERTH_DEPLOY_PROGRAM=$S_DIR/deploy-stub
}

# s_config [POLL_S] [EXTRA_JSON] — config.json for a repo at $S_DIR/app.git,
# production tracking main, staging tracking staging (auto_deploy off).
s_config() {
	local poll=${1:-0} extra=${2:-}
	cat >"$S_DIR/config.json" <<EOF
{ "state_dir": "$S_DIR/state", "listen": "127.0.0.1:0",
  "repo": { "url": "$S_DIR/app.git", "poll_interval_s": $poll },
  "environments": {
    "production": { "branch": "main" },
    "staging": { "branch": "staging", "auto_deploy": false } },
  "webhooks": { "github": { "secret_env": "GH_SECRET" },
                "stripe": { "secret_env": "STRIPE_SECRET" } },
  "api": { "token_env": "BERTH_API_TOKEN" },
  "server": { "read_timeout_s": 2, "max_body_bytes": 1048576 }$extra }
EOF
}

# s_start — starts berth serve; sets S_PID and S_URL.
s_start() {
	rm -f "$S_DIR/port"
	"$BERTH" --config "$S_DIR/config.json" serve --port-file "$S_DIR/port" \
		2>>"$S_DIR/serve.log" &
	S_PID=$!
	t_on_exit "kill -9 $S_PID"
	local i
	for ((i = 0; i < 200; i++)); do
		[ -s "$S_DIR/port" ] && break
		kill -0 "$S_PID" 2>/dev/null || { cat "$S_DIR/serve.log" >&2; t_fail "berth serve exited at start"; }
		sleep 0.05
	done
	[ -s "$S_DIR/port" ] || t_fail "berth serve did not write its port file"
	S_URL="http://127.0.0.1:$(cat "$S_DIR/port")"
	s_wait "the daemon is ready" "curl -fs $S_URL/ready"
}

# s_stop — SIGTERM and wait; fails unless it exits 0.
s_stop() {
	kill -TERM "$S_PID"
	local rc=0
	wait "$S_PID" || rc=$?
	[ "$rc" = 0 ] || { tail -20 "$S_DIR/serve.log" >&2; t_fail "berth serve exited $rc after SIGTERM"; }
}

# s_wait WHAT CMD [TRIES] — retries CMD (eval'd) every 0.1 s until it
# succeeds, failing with WHAT after TRIES (default 300, 30 s).
s_wait() {
	local what=$1 cmd=$2 tries=${3:-300} i
	for ((i = 0; i < tries; i++)); do
		eval "$cmd" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	tail -30 "$S_DIR/serve.log" >&2
	t_fail "timed out waiting for: $what"
}

s_deploys() { wc -l <"$S_DIR/deploys.log" | tr -d ' '; }

# s_push_body AFTER [BRANCH] — a GitHub push payload into $S_DIR/body.json.
s_push_body() {
	local after=$1 branch=${2:-main}
	printf '{"ref":"refs/heads/%s","before":"%s","after":"%s","repository":{"full_name":"acme/pos"},"pusher":{"name":"test"}}' \
		"$branch" 0000000000000000000000000000000000000000 "$after" >"$S_DIR/body.json"
}

# s_post_github DELIVERY [EVENT] [SIGNATURE] — posts $S_DIR/body.json to
# /hooks/github, signed with the right secret unless SIGNATURE is given
# ("none" sends no signature header). Sets S_CODE and S_BODY.
s_post_github() {
	local delivery=$1 event=${2:-push} sig=${3:-}
	if [ -z "$sig" ]; then
		sig=sha256=$(openssl dgst -sha256 -hmac "$S_SECRET" "$S_DIR/body.json" | awk '{print $NF}')
	fi
	local hdr=(-H "X-GitHub-Event: $event" -H "X-GitHub-Delivery: $delivery"
		-H "Content-Type: application/json")
	[ "$sig" = none ] || hdr+=(-H "X-Hub-Signature-256: $sig")
	S_BODY=$(curl -s -o - -w '\n%{http_code}' -X POST "${hdr[@]}" \
		--data-binary @"$S_DIR/body.json" "$S_URL/hooks/github")
	S_CODE=${S_BODY##*$'\n'}
	S_BODY=${S_BODY%$'\n'*}
}

# s_push DELIVERY AFTER [BRANCH] — a signed push; fails unless 202.
s_push() {
	s_push_body "$2" "${3:-main}"
	s_post_github "$1"
	t_eq "$S_CODE" 202 "status of push $1 ($S_BODY)"
}

# s_metric NAME_WITH_LABELS — its value from /metrics ("" when absent).
s_metric() {
	curl -fs "$S_URL/metrics" | awk -v n="$1" '$1 == n {print $2}'
}

# A commit id that looks real.
s_sha() { printf '%s' "$1" | sha1sum | cut -c1-40; }
