"""docs/settings.md's tables, written from the settings' declarations: `python -m stacks.settings_doc [--check]`."""

from __future__ import annotations

import argparse
import pathlib
import re
import sys
from typing import Any

from stacks.setting_types import Setting
from stacks.settings import GROUPS, NAMESPACE, PROJECT_DIR, REGION, RULES, SETTINGS, StackSettings, load_stack_settings

DOC = PROJECT_DIR / "docs" / "settings.md"
"""The generated document; only the regions between the markers are written."""
STACKS = ("dev", "prod")
"""Stack files whose values the tables show next to the defaults."""
_REGION = re.compile(r"(<!-- generated: (?P<name>[^>]+?) -->\n).*?(<!-- end generated -->)", re.DOTALL)


def shown(value: Any) -> str:
    """A value as the tables show it."""
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _default(spec: Setting) -> str:
    if spec.required:
        return "required"
    if spec.default is None and spec.default_text:
        return spec.default_text
    return shown(spec.default)


def table(group: str, stacks: dict[str, StackSettings]) -> str:
    """The markdown table of one group of settings."""
    names = list(stacks)
    head = ["key", "meaning", "allowed", "default", *names, "feeds"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    if group == GROUPS[0]:
        values = [s.region for s in stacks.values()]
        lines.append(
            f"| `aws:region` | AWS region of every resource. | {REGION.allowed} | required | "
            + " | ".join(values)
            + " | the AWS provider |"
        )
    for spec in SETTINGS:
        if spec.group != group:
            continue
        feeds = ", ".join(f"`{f}`" for f in spec.feeds) or "the program"
        values = [shown(getattr(s, spec.attr)) for s in stacks.values()]
        row = [f"`{NAMESPACE}:{spec.key}`", spec.description, spec.kind.allowed, _default(spec), *values, feeds]
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def rules() -> str:
    """The list of checks across keys."""
    return "".join(f"- {rule.text}\n" for rule in RULES)


def render(text: str, project_dir: pathlib.Path = PROJECT_DIR) -> str:
    """The document with every generated region rewritten from the declarations and the stack files."""
    stacks = {name: load_stack_settings(name, project_dir) for name in STACKS}
    sections = {group: table(group, stacks) for group in GROUPS}
    sections["rules"] = rules()
    seen: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in sections:
            raise SystemExit(f"{DOC}: unknown generated region {name!r}; known: {', '.join(sections)}")
        seen.add(name)
        return match.group(1) + sections[name] + match.group(3)

    result = _REGION.sub(replace, text)
    missing = [name for name in sections if name not in seen]
    if missing:
        raise SystemExit(f"{DOC}: no generated region for {', '.join(missing)}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed document is stale")
    args = parser.parse_args(argv)
    current = DOC.read_text(encoding="utf-8")
    wanted = render(current)
    if args.check:
        if current != wanted:
            print(f"{DOC} is stale: run python -m stacks.settings_doc", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        DOC.write_text(wanted, encoding="utf-8")
        print(f"wrote {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
