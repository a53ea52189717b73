#!/usr/bin/env python3
"""Writes ubcd's built-in default config (examples/ubcd.default.json) as the commented
/etc/ubc/ubcd.json a package installs: the same values, a "$comment" first.

usage: commented_config.py DEFAULT_JSON OUTPUT
"""
import json
import sys

COMMENT = (
    "ubcd's configuration (ubcd --config /etc/ubc/ubcd.json, as the ubcd unit runs it). "
    "These are the built-in defaults (ubcd --print-default-config): every field is "
    "optional and a missing one keeps its default. Fields: "
    "/usr/share/ubc/schemas/ubcd-config.schema.json; defaults.privvmpages is the "
    "barrier:limit of a container with no ubc.privvmpages annotation or containers.d "
    "file (vzctl syntax). ubc-hook reads this file too (ubcd_config in /etc/ubc/hook.json)."
)


def main():
    default_path, out_path = sys.argv[1:3]
    with open(default_path, encoding="utf-8") as f:
        config = json.load(f)
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump({"$comment": COMMENT, **config}, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
