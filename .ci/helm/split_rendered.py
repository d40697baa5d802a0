"""Splits a `helm template` output into builtin.yaml (kinds Kubernetes itself
serves, for kubernetes-validate) and custom.yaml (the custom resources the
chart knows: no schema there, test_rendered.py checks their shape). Any other
kind stops the run, so nothing escapes validation unnoticed.

usage: split_rendered.py RENDERED.yaml OUT_DIR
"""
import os
import sys

import yaml

CUSTOM = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"),
    ("monitoring.coreos.com/v1", "PrometheusRule"),
    ("external-secrets.io/v1", "ExternalSecret"),
    ("external-secrets.io/v1beta1", "ExternalSecret"),
}
BUILTIN_GROUPS = ("v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v2", "networking.k8s.io/v1")


def main(src, out):
    with open(src) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    builtin, custom = [], []
    for d in docs:
        key = (d.get("apiVersion"), d.get("kind"))
        if key in CUSTOM:
            custom.append(d)
        elif key[0] in BUILTIN_GROUPS:
            builtin.append(d)
        else:
            sys.exit(f"{src}: {key[1]} {key[0]} is neither a built-in kind nor a known custom resource")
    os.makedirs(out, exist_ok=True)
    for name, part in (("builtin.yaml", builtin), ("custom.yaml", custom)):
        path = os.path.join(out, name)
        if part:
            with open(path, "w") as f:
                yaml.safe_dump_all(part, f, sort_keys=False)
        elif os.path.exists(path):
            os.remove(path)


if __name__ == "__main__":
    main(*sys.argv[1:])
