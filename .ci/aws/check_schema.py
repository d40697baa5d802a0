"""Every resource and data source of deploy/aws against the AWS provider's schema.

Fails on an unknown resource or data source type, an unknown argument or
nested block (at any depth, dynamic blocks included), an argument written as
a block, and a missing required argument or block. The schema is the one
schema.py extracts from @cdktf/provider-aws (hashicorp/aws 6.25.0).

Usage: python check_schema.py SCHEMA.json
"""

import json
import sys

from tfconfig import Stack, unq

# Terraform's own meta-arguments, valid in every resource / data block.
META = {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"}
DATA_META = {"count", "for_each", "depends_on", "provider", "lifecycle"}

# The one other provider used (hashicorp/random), by hand: its schema is
# small and has not changed in 3.x.
RANDOM = {
    "random_password": {
        "args": {k: False for k in ["length", "keepers", "lower", "min_lower", "min_numeric", "min_special",
                                    "min_upper", "numeric", "number", "override_special", "special", "upper"]},
        "blocks": {},
    }
}
RANDOM["random_password"]["args"]["length"] = True


def check_body(where, body, schema, errors, meta=()):
    # python-hcl2's own keys (__is_block__, __comments__, ...) are not HCL.
    keys = [k for k in body if not (k.startswith("__") and k.endswith("__"))]
    present = set()
    for key in keys:
        if key in meta:
            continue
        value = body[key]
        if key == "dynamic":
            for dyn in value:
                for label, dbody in dyn.items():
                    name = unq(label)
                    if name not in schema["blocks"]:
                        errors.append(f"{where}: unknown dynamic block '{name}'")
                        continue
                    present.add(name)
                    if schema["blocks"][name][1] is None:
                        continue
                    for content in dbody.get("content", []):
                        check_body(f"{where}.{name}", content, schema["blocks"][name][1], errors)
            continue
        if key in schema["args"]:
            if isinstance(value, list) and value and isinstance(value[0], dict) and value[0].get("__is_block__"):
                errors.append(f"{where}: '{key}' is an argument, written as a block")
            present.add(key)
        elif key in schema["blocks"]:
            present.add(key)
            sub = schema["blocks"][key][1]
            if sub is None:
                continue
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, dict):
                    check_body(f"{where}.{key}", item, sub, errors)
        else:
            errors.append(f"{where}: unknown argument or block '{key}'")
    for name, required in schema["args"].items():
        if required and name not in present:
            errors.append(f"{where}: missing required argument '{name}'")
    for name, (required, _) in schema["blocks"].items():
        if required and name not in present:
            errors.append(f"{where}: missing required block '{name}'")


def main(path):
    schema = json.load(open(path))
    stack = Stack()
    errors = []
    counts = {"resource": 0, "data": 0}
    for kind, table, meta in (("resource", stack.resources, META), ("data", stack.data, DATA_META)):
        for (typ, name), (body, rel) in sorted(table.items()):
            counts[kind] += 1
            where = f"{rel}: {'data.' if kind == 'data' else ''}{typ}.{name}"
            s = schema[kind].get(typ) or (RANDOM.get(typ) if kind == "resource" else None)
            if s is None:
                errors.append(f"{where}: unknown {kind} type '{typ}' (hashicorp/aws {schema['version']})")
                continue
            check_body(where, body, s, errors, meta)
    for e in errors:
        print(f"aws: schema: {e}", file=sys.stderr)
    if errors:
        sys.exit(f"aws: schema: {len(errors)} error(s)")
    types = {t for t, _ in stack.resources} | {t for t, _ in stack.data}
    print(f"{counts['resource']} resources and {counts['data']} data sources ({len(types)} types) match "
          f"{schema['provider']} {schema['version']} ({schema['package']})")


if __name__ == "__main__":
    main(sys.argv[1])
