#!/usr/bin/env python3
"""Generates everything that follows from schemas/protocol.yaml, the one definition of the protocol.

  gen_protocol.py                 rewrite the committed outputs: sdk/python/titan_sdk/{schema,messages}.py
                                  and the message reference in docs/protocol.md (between its markers)
  gen_protocol.py --check         exit 1, with a diff, when a committed output differs from what the
                                  schema gives (tests run this; the fix is to run the generator)
  gen_protocol.py --cpp-out DIR   write the C++ table and typed structs to DIR/schemas/generated/
                                  (the build does this; C++ output is never committed)
  --root DIR                      the repository to read and write (default: this file's parent's parent)

Needs Python 3.9+ and PyYAML only (Debian: python3-yaml), so the build can run it with the system python3.
"""
import argparse
import difflib
import os
import sys
from typing import Dict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gen import cpp, docs, model, python  # noqa: E402

HINT = "run schemas/gen_protocol.py (python3 schemas/gen_protocol.py from the repository root) and commit"


def committed_outputs(root: str, schema: model.Schema) -> Dict[str, str]:
    """Repository-relative path -> the content it must have."""
    out = {os.path.join("sdk", "python", "titan_sdk", name): text for name, text in python.outputs(schema).items()}
    doc_path = os.path.join(root, "docs", "protocol.md")
    with open(doc_path, encoding="utf-8") as f:
        out[os.path.join("docs", "protocol.md")] = docs.splice(f.read(), docs.section(schema))
    return out


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if _read(path) == text:
        return  # keep the timestamp: nothing that depends on it needs rebuilding
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def check(root: str, outputs: Dict[str, str]) -> int:
    stale = 0
    for rel, want in outputs.items():
        have = _read(os.path.join(root, rel))
        if have != want:
            stale += 1
            sys.stdout.writelines(difflib.unified_diff(have.splitlines(True), want.splitlines(True),
                                                       "committed/" + rel, "generated/" + rel, n=1))
            print("%s is stale: %s" % (rel, HINT))
    return 1 if stale else 0


def main(argv=None) -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=os.path.dirname(here))
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--cpp-out")
    args = parser.parse_args(argv)
    try:
        schema = model.load(os.path.join(args.root, "schemas", "protocol.yaml"))
        if args.cpp_out:
            for name, text in cpp.outputs(schema).items():
                _write(os.path.join(args.cpp_out, "schemas", "generated", name), text)
            return 0
        outputs = committed_outputs(args.root, schema)
    except (model.SchemaError, docs.MarkerError) as e:
        print("gen_protocol.py: %s" % e, file=sys.stderr)
        return 2
    if args.check:
        return check(args.root, outputs)
    for rel, text in outputs.items():
        _write(os.path.join(args.root, rel), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
