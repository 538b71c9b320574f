#!/usr/bin/env bash
# The JSON Schema for editors (manifests/berth.schema.json) agrees with
# berth's own manifest parser on the examples and every data-driven case.
source "$BERTH_SRC/tests/integration/lib.sh"

py=
for candidate in python3 /usr/bin/python3; do
	if command -v "$candidate" >/dev/null 2>&1 &&
		"$candidate" -c 'from jsonschema import Draft202012Validator' 2>/dev/null; then
		py=$candidate
		break
	fi
done
[ -n "$py" ] || t_fail "no python3 with jsonschema >= 4 (Debian: python3-jsonschema)"

out=$("$py" "$BERTH_SRC/tests/integration/manifest_schema_check.py" "$BERTH_SRC" 2>&1) ||
	t_fail "schema and parser disagree:"$'\n'"$out"
t_contains "$out" "schema check: 0 disagreements"
