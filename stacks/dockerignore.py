"""A .dockerignore file read as Docker reads it: patterns in order, the last match deciding."""

from __future__ import annotations

import pathlib
import re

Rules = list[tuple[re.Pattern[str], bool]]
"""Patterns in file order, each with whether it re-includes (`!pattern`)."""


def read_rules(directory: pathlib.Path) -> Rules:
    """The rules of `directory/.dockerignore`; none when the file is absent."""
    ignore_file = directory / ".dockerignore"
    rules: Rules = []
    if ignore_file.is_file():
        for line in ignore_file.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                negated = line.startswith("!")
                rules.append((pattern(line.removeprefix("!").strip()), negated))
    return rules


def pattern(text: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regular expression over slash-separated relative paths."""
    text = text.strip("/")
    out, i = "", 0
    while i < len(text):
        if text.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif text.startswith("**", i):
            out, i = out + ".*", i + 2
        elif text[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif text[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(text[i]), i + 1
    return re.compile(out)


def excluded(relative: str, rules: Rules) -> bool:
    """Docker's rule: the last pattern matching the path, or a directory above it, decides."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    hidden = False
    for compiled, negated in rules:
        if any(compiled.fullmatch(candidate) for candidate in candidates):
            hidden = not negated
    return hidden
