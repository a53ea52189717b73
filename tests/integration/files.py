"""Small files a test reads and writes: text (logs, stderr captures, their tails) and JSON
(configs, bundles' config.json, hook settings).

Python 3.11 standard library only.
"""

import json


def read_text(path, limit_bytes=200_000):
    try:
        with open(path, "rb") as f:
            data = f.read()
        return data[-limit_bytes:].decode("utf-8", "replace")
    except OSError:
        return ""


def tail(text, lines=40):
    return "\n".join(text.splitlines()[-lines:])


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)
