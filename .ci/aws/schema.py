"""The AWS provider's schema, offline, from the jsii assembly of @cdktf/provider-aws.

cdktf generates one class per resource and data source from the provider's
own schema (`terraform providers schema -json`), and its jsii assembly
(node_modules/@cdktf/provider-aws/.jsii) keeps what matters here:

- a class per resource or data source, whose docs name its Terraform type
  ("Represents a {@link .../docs/resources/s3_bucket aws_s3_bucket}");
- its config struct: one property per argument or nested block, each
  documented with the Terraform name ("...#bucket_prefix S3Bucket#bucket_prefix"),
  `optional` unless Terraform requires it, and typed by another struct for a
  nested block (directly, or as a list of it, in a union with IResolvable).

`python3 schema.py JSII OUT` writes a compact JSON:
    {"provider": "registry.terraform.io/hashicorp/aws", "version": "6.25.0",
     "resource": {type: BLOCK}, "data": {type: BLOCK}}
    BLOCK = {"args": {name: required?}, "blocks": {name: [required?, BLOCK or null]}}
    (null: a block cdktf types as `any`, e.g. wafv2's recursive statement)
"""

import json
import re
import sys

LINK = re.compile(r"/docs/(resources|data-sources)/(\w+) (aws_\w+)\}")
ANCHOR = re.compile(r"#(\w+) \w+#\w+\}")


def struct_of(t):
    """The struct fqn a property's type refers to, if any (a nested block)."""
    if "fqn" in t:
        return t["fqn"]
    if "collection" in t:
        return struct_of(t["collection"]["elementtype"])
    if "union" in t:
        for u in t["union"]["types"]:
            s = struct_of(u)
            if s and s != "cdktf.IResolvable":
                return s
    return None


def build(jsii_path):
    asm = json.load(open(jsii_path))
    types = asm["types"]
    meta = {}

    def block(fqn, depth=0):
        if fqn in meta:
            return meta[fqn]
        out = {"args": {}, "blocks": {}}
        meta[fqn] = out  # recursion guard
        for p in types[fqn].get("properties", []):
            docs = p.get("docs", {})
            text = docs.get("summary", "") + " " + docs.get("remarks", "")
            m = ANCHOR.search(text)
            if not m:
                continue
            name = m.group(1)
            required = not p.get("optional", False)
            s = struct_of(p["type"])
            if s and s in types and types[s].get("datatype") and s.startswith("@cdktf/provider-aws."):
                out["blocks"][name] = [required, block(s, depth + 1)]
            elif docs.get("summary", "").endswith(" block.") and p["type"].get("primitive") == "any":
                # A block cdktf left untyped (too deeply recursive, such as
                # wafv2's statement): known by name, its inside unchecked.
                out["blocks"][name] = [required, None]
            else:
                out["args"][name] = required
        return out

    result = {"resource": {}, "data": {}}
    for fqn, t in types.items():
        if t.get("kind") != "class" or t.get("base") not in ("cdktf.TerraformResource", "cdktf.TerraformDataSource"):
            continue
        m = LINK.search(t.get("docs", {}).get("summary", ""))
        if not m:
            continue
        kind = "resource" if m.group(1) == "resources" else "data"
        params = t.get("initializer", {}).get("parameters", [])
        cfg = next((p["type"]["fqn"] for p in params if p["name"] == "config"), None)
        if cfg is None:
            continue
        result[kind][m.group(3)] = block(cfg)
    return result


if __name__ == "__main__":
    jsii, out = sys.argv[1:]
    pkg = json.load(open(jsii.rsplit("/", 1)[0] + "/package.json"))
    prov = pkg["cdktf"]["provider"]
    schema = build(jsii)
    schema.update(provider=prov["name"], version=prov["version"], package=f"{pkg['name']}@{pkg['version']}")
    with open(out, "w") as f:
        json.dump(schema, f)
    print(f"{len(schema['resource'])} resources, {len(schema['data'])} data sources, {prov['name']} {prov['version']}")
