"""Checks manifests/berth.schema.json against the parser: the schema is a
valid draft 2020-12 schema; every manifest the parser accepts (examples,
tests/data/manifests) the schema accepts; every one the parser rejects for
a reason a schema can express, the schema rejects too.
Usage: manifest_schema_check.py SOURCE_DIR"""
import json, sys, glob, os
from jsonschema import Draft202012Validator
src = sys.argv[1]
schema = json.load(open(os.path.join(src, "manifests/berth.schema.json")))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
bad = 0
# Errors the schema cannot express: they need the env file, the graph, or
# several places at once.
beyond = ("undefined variable", "dependency cycle", "is not a service of", "depends on itself",
          "is also a port of", "duplicate smoke test name", "which is checked anyway", "after expansion", "malformed variable")
for path in sorted(glob.glob(os.path.join(src, "tests/data/manifests/*.json"))) + sorted(glob.glob(os.path.join(src, "manifests/examples/*.json"))):
    name = os.path.basename(path)
    try:
        doc = json.load(open(path))
    except Exception:
        continue  # JSON syntax errors: no schema question
    out = path[:-5] + ".out"
    lines = open(out).read().splitlines() if os.path.exists(out) else []
    parser_ok = not lines or not lines[0].startswith("berth.json: ")
    if "empty file" in "".join(lines) or (lines and " line " in lines[0] and "column" in lines[0]):
        continue
    schema_errors = list(v.iter_errors(doc))
    expressible = [l for l in lines if not any(b in l for b in beyond)]
    if parser_ok and schema_errors:
        print(f"{name}: parser accepts, schema rejects: {schema_errors[0].message}"); bad += 1
    elif not parser_ok and expressible and not schema_errors:
        print(f"{name}: parser rejects ({expressible[0]}), schema accepts"); bad += 1
print(f"schema check: {bad} disagreements")
sys.exit(1 if bad else 0)
