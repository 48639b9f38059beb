"""Plans one project tree in a fresh interpreter and prints the plan on stdout (used for git refs)."""

from __future__ import annotations

import argparse
import os
import pathlib
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--project", required=True, type=pathlib.Path)
    args = parser.parse_args(argv)
    project = args.project.resolve()

    import stacks

    imported = pathlib.Path(stacks.__file__).resolve().parent.parent
    if imported != project:
        print(f"stacks imported from {imported}, not from {project}", file=sys.stderr)
        return 1
    from cli.core.errors import InfraError
    from cli.plan.build import plan_here
    from cli.plan.document import dumps

    try:
        plan = plan_here(args.stack, project)
    except InfraError as error:
        print(error.message, file=sys.stderr)
        return 1
    sys.stdout.write(dumps(plan))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    code = main()
    # The plan is written; the interpreter's teardown of the provider modules adds nothing.
    os._exit(code)
