#!/usr/bin/env bash
# contrib/check-style.sh — fails when the source uses a function STYLE.md
# bans, or runs a command through a shell (SPEC §12).
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
banned=$(grep -rnE '\b(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|strncpy)[[:space:]]*\(' \
	--include='*.c' --include='*.h' reconciler webhooks manifests hooks tests contrib 2>/dev/null |
	grep -vE '\b(snprintf|vsnprintf)\b' || true)
# The banned names also match inside longer identifiers' suffixes; keep only
# real calls (preceded by a non-identifier character).
banned=$(printf '%s\n' "$banned" | grep -E '(^|[^A-Za-z0-9_])(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|strncpy)[[:space:]]*\(' || true)
if [ -n "$banned" ]; then
	echo "banned functions (see STYLE.md); use buf, snprintf or strnum instead:"
	printf '%s\n' "$banned"
	status=1
fi
shell=$(grep -rnE '\b(system|popen)[[:space:]]*\(|"/bin/sh",[[:space:]]*"-c"|"sh",[[:space:]]*"-c"' \
	--include='*.c' reconciler webhooks manifests hooks 2>/dev/null || true)
if [ -n "$shell" ]; then
	echo "commands must not run through a shell (SPEC §12):"
	printf '%s\n' "$shell"
	status=1
fi
[ $status -eq 0 ] && echo "style check: no banned functions, no shell commands"
exit $status
