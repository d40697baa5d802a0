"""The chart README's table of values, generated from values.yaml: every key
with its default and the comment right above it. A key without a comment is
an error, so every value stays documented.

usage: values_doc.py CHART_DIR           rewrite README.md between the markers
       values_doc.py --check CHART_DIR   exit 1 if README.md is not up to date
"""
import json
import os
import re
import sys

import yaml

START, END = "<!-- values:start -->", "<!-- values:end -->"
KEY = re.compile(r"^(\s*)([A-Za-z0-9_./-]+):(?:\s|$)")


def rows(path):
    with open(path) as f:
        text = f.read()
    values = yaml.safe_load(text)
    out, missing = [], []
    stack = []  # (indent, key)
    comment = []
    leaf_indent = None  # inside a leaf's (list or map) body: skip deeper lines
    for line in text.splitlines():
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if leaf_indent is not None and (not stripped or indent > leaf_indent):
            continue
        leaf_indent = None
        if not stripped:
            comment = []
            continue
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("#").strip())
            continue
        m = KEY.match(line)
        if not m:
            comment = []
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        keys = [k for _, k in stack] + [m.group(2)]
        stack.append((indent, m.group(2)))
        value = values
        for k in keys:
            value = value[k]
        name = ".".join(keys)
        if not comment:
            missing.append(name)
        section = isinstance(value, dict) and value
        default = "" if section else "`" + json.dumps(value, separators=(", ", ": ")) + "`"
        out.append((name, default, " ".join(comment)))
        comment = []
        if not section:
            leaf_indent = indent
    if missing:
        sys.exit("values.yaml: no comment above " + ", ".join(missing))
    return out


def table(chart):
    lines = ["| Key | Default | Description |", "|---|---|---|"]
    for name, default, text in rows(os.path.join(chart, "values.yaml")):
        text = text.replace("|", "&#124;").replace("<", "&lt;").replace(">", "&gt;")
        lines.append(f"| `{name}` | {default.replace('|', '&#124;')} | {text} |")
    return "\n".join(lines)


def main(argv):
    check = "--check" in argv
    (chart,) = [a for a in argv if a != "--check"]
    readme = os.path.join(chart, "README.md")
    with open(readme) as f:
        text = f.read()
    if START not in text or END not in text:
        sys.exit(f"{readme}: no {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = f"{head}{START}\n{table(chart)}\n{END}{tail}"
    if check:
        if new != text:
            sys.exit(f"{readme}: the values table differs from values.yaml (run .ci/helm/values_doc.py {chart})")
    elif new != text:
        with open(readme, "w") as f:
            f.write(new)


if __name__ == "__main__":
    main(sys.argv[1:])
