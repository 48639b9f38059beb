"""The local stack's supervisor as a background process, with the stack it watches built from the project."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from cli.local.stack import LocalStack
from cli.local.supervisor import supervise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--project", required=True, type=Path)
    args = parser.parse_args(argv)
    stack = LocalStack(args.project)
    stack.root = args.root
    supervise(args.root, stack)
    return 0


if __name__ == "__main__":
    os._exit(main())
