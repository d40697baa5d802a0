"""Every .tf and .tfvars file of deploy/aws, parsed by python-hcl2.

python-hcl2 (8.x) keeps a string's quotes ('"x"'), writes other expressions
as "${...}" and marks blocks with "__is_block__"; this module strips the
quotes of labels and offers unq() for values.
"""

import glob
import os

import hcl2

ROOT = os.environ.get("AWS_STACK_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "deploy", "aws")


def unq(v):
    """A literal string without its quotes; anything else as it is."""
    if isinstance(v, str) and len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return v[1:-1]
    return v


def parse(path):
    with open(path) as f:
        return hcl2.load(f)


class Stack:
    def __init__(self, root=ROOT):
        self.root = os.path.abspath(root)
        self.files = {}
        self.resources = {}  # (type, name) -> (body, file)
        self.data = {}
        self.variables = {}
        self.locals = {}
        self.outputs = {}
        self.providers = []
        self.terraform = []
        self.checks = []
        self.tfvars = {}
        paths = sorted(glob.glob(os.path.join(self.root, "**", "*.tf"), recursive=True))
        for path in paths:
            rel = os.path.relpath(path, self.root)
            doc = parse(path)
            self.files[rel] = doc
            for block in doc.get("resource", []):
                for typ, named in block.items():
                    for name, body in named.items():
                        self._add(self.resources, unq(typ), unq(name), body, rel)
            for block in doc.get("data", []):
                for typ, named in block.items():
                    for name, body in named.items():
                        self._add(self.data, unq(typ), unq(name), body, rel)
            for block in doc.get("variable", []):
                for name, body in block.items():
                    self.variables[unq(name)] = body
            for block in doc.get("locals", []):
                for k, v in block.items():
                    if k != "__is_block__":
                        self.locals[k] = v
            for block in doc.get("output", []):
                for name, body in block.items():
                    self.outputs[unq(name)] = body
            for block in doc.get("provider", []):
                for name, body in block.items():
                    self.providers.append((unq(name), body))
            self.terraform += doc.get("terraform", [])
            for block in doc.get("check", []):
                self.checks.append(block)
        for path in sorted(glob.glob(os.path.join(self.root, "**", "*.tfvars"), recursive=True)):
            self.tfvars[os.path.relpath(path, self.root)] = parse(path)
        if not self.resources:
            raise SystemExit(f"no resources found under {self.root}")

    @staticmethod
    def _add(table, typ, name, body, rel):
        if (typ, name) in table:
            raise SystemExit(f"{rel}: {typ}.{name} declared twice")
        table[(typ, name)] = (body, rel)

    def resource(self, typ, name):
        return self.resources[(typ, name)][0]

    def of_type(self, typ):
        return {name: body for (t, name), (body, _) in self.resources.items() if t == typ}

    def default(self, var):
        return self.variables[var]["default"]
