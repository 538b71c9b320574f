# contrib/deps.sh — sourced by quickstart.sh and test.sh: installs the Debian 12
# packages berth needs to build and test, running apt-get only when something
# is missing. Usage: berth_install_deps PKG...
berth_sudo() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

berth_install_deps() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}"
	berth_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	berth_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# What building berth needs.
BERTH_BUILD_DEPS=(build-essential cmake pkg-config git ca-certificates
	libevent-dev libgit2-dev libpq-dev libcurl4-openssl-dev libjansson-dev libssl-dev
	postgresql postgresql-client curl)

# Starts the Docker engine when none answers (the compose driver's tests need
# one): through systemd when it runs, else dockerd in the background, logging
# to /var/log/berth-dockerd.log. Waits at most BERTH_DOCKER_WAIT_S (60) seconds
# for `docker info`; fails saying why.
berth_start_docker() {
	local wait=${BERTH_DOCKER_WAIT_S:-60} log=/var/log/berth-dockerd.log i pid
	docker info >/dev/null 2>&1 && return 0
	command -v dockerd >/dev/null || {
		echo "dockerd is not installed (apt-get install docker.io)" >&2
		return 1
	}
	pid=$(cat /var/run/docker.pid 2>/dev/null || true)
	if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]; then
		echo "waiting for dockerd (pid $pid) to answer"
	elif [ -d /run/systemd/system ] && berth_sudo systemctl start docker >/dev/null 2>&1; then
		:
	else
		# A pid file left by a dockerd that died (or whose pid another
		# process has now) makes the next one refuse.
		[ -z "$pid" ] || berth_sudo rm -f /var/run/docker.pid
		echo "starting dockerd (log: $log)"
		berth_sudo setsid -f sh -c "exec dockerd >>'$log' 2>&1 </dev/null"
	fi
	for ((i = 0; i < wait; i++)); do
		docker info >/dev/null 2>&1 && return 0
		sleep 1
	done
	echo "the Docker engine did not answer within ${wait} s; last lines of $log:" >&2
	berth_sudo tail -n 20 "$log" >&2 2>/dev/null || true
	return 1
}
