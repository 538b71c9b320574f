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
