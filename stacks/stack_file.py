"""The strict reader of Pulumi.<stack>.yaml: untrusted input, bounded in size, plain scalars as YAML 1.2 reads them."""

from __future__ import annotations

import dataclasses
import pathlib
import re
from typing import Any

import yaml

MAX_BYTES = 256 * 1024
"""Largest stack file read; the project's own are about 2 KiB."""
MAX_DEPTH = 8
"""Deepest nesting of mappings and sequences accepted."""
TOP_LEVEL_KEYS = ("config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment")
"""The keys Pulumi reads at the top of a stack file."""
SHOWN_CHARACTERS = 60
"""Characters of a value quoted back in an error before it is shortened."""
_NULLS = ("", "~", "null", "Null", "NULL")
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"[-+]?[0-9]{1,18}")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


class StackFileError(ValueError):
    """A file that is not a plain, bounded stack file: the file, the line (1-based), the key if known, and what a
    stack file holds instead (`expected`)."""

    def __init__(self, path: pathlib.Path | str, expected: str, *, line: int | None = None, key: str | None = None):
        self.path = str(path)
        self.expected = expected
        self.line = line
        self.key = key
        where = f"{self.path}:{line}" if line else self.path
        about = f" key {shorten(key)}" if key else ""
        super().__init__(f"{where}:{about} refused; a stack file holds {expected}")


@dataclasses.dataclass(frozen=True)
class StackFile:
    """The `config:` mapping of a stack file: raw values by full key, and the line each key is on."""

    path: pathlib.Path
    config: dict[str, Any]
    lines: dict[str, int]


def shorten(value: Any) -> str:
    """repr of a value, cut to SHOWN_CHARACTERS with the full length stated, for error messages."""
    text = repr(value)
    if len(text) <= SHOWN_CHARACTERS:
        return text
    size = len(value) if isinstance(value, str | bytes) else len(text)
    return f"{text[:SHOWN_CHARACTERS]}... ({size} characters)"


def read(path: pathlib.Path) -> StackFile:
    """Reads and checks a stack file; raises StackFileError on anything but plain, bounded YAML."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise StackFileError(path, f"a file of at most {MAX_BYTES // 1024} KiB (the project's own are about 2 KiB)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        start = data.rfind(b"\n", 0, error.start) + 1
        key = re.match(rb"\s*([A-Za-z0-9_.:-]+):", data[start : error.start])
        expected = f"UTF-8 text (byte 0x{data[error.start]:02x} is not)"
        raise StackFileError(path, expected, line=line, key=key.group(1).decode() if key else None) from None
    if "\x00" in text:
        raise StackFileError(path, "text without NUL characters", line=text[: text.index("\x00")].count("\n") + 1)
    try:
        document = _Builder(path).build(text)
    except StackFileError as error:
        if error.key is None and error.line:
            error = StackFileError(path, error.expected, line=error.line, key=_key_on_line(text, error.line))
        raise error from None
    if document is None:
        return StackFile(pathlib.Path(path), {}, {})
    if not isinstance(document, _Mapping):
        raise StackFileError(path, "a mapping with a config key at the top", line=1)
    unknown = [key for key in document if key not in TOP_LEVEL_KEYS]
    if unknown:
        # A setting written at column 0, or `conifg:`, would otherwise be dropped without a word.
        allowed = f"the top-level keys {', '.join(TOP_LEVEL_KEYS)}; settings go under config:, indented"
        raise StackFileError(path, allowed, line=document.lines.get(unknown[0]), key=str(unknown[0]))
    config = document.get("config")
    if config is None:
        return StackFile(pathlib.Path(path), {}, {})
    if not isinstance(config, _Mapping):
        line = document.lines.get("config")
        raise StackFileError(path, "a mapping of keys to values", line=line, key="config")
    return StackFile(pathlib.Path(path), dict(config), dict(config.lines))


class _Mapping(dict):
    """A mapping read from the file, with the line of each key."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[str, int] = {}


class _Builder:
    """Builds plain Python values from PyYAML's event stream, refusing what a stack file never needs."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path

    def build(self, text: str) -> Any:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            events = list(yaml.parse(text, Loader=loader))
        except yaml.YAMLError as error:
            # Where the unfinished construct began names the key better than where parsing gave up.
            mark = getattr(error, "context_mark", None) or getattr(error, "problem_mark", None)
            problem = getattr(error, "problem", None) or "not valid YAML"
            raise StackFileError(self.path, f"valid YAML ({problem})", line=mark.line + 1 if mark else None) from None
        body = [e for e in events if not isinstance(e, yaml.StreamStartEvent | yaml.StreamEndEvent)]
        documents = sum(isinstance(e, yaml.DocumentStartEvent) for e in body)
        if documents > 1:
            raise StackFileError(self.path, "one YAML document", line=self._line(body[-1]))
        content = [e for e in body if not isinstance(e, yaml.DocumentStartEvent | yaml.DocumentEndEvent)]
        if not content:
            return None
        return self._node(content, 0, 0, None)[0]

    def _line(self, event: yaml.Event) -> int | None:
        return event.start_mark.line + 1 if event.start_mark is not None else None

    def _check(self, event: yaml.Event, key: str | None) -> None:
        if isinstance(event, yaml.AliasEvent):
            raise StackFileError(self.path, "plain values (no aliases such as *name)", line=self._line(event), key=key)
        if getattr(event, "anchor", None) is not None:
            raise StackFileError(self.path, "plain values (no anchors such as &name)", line=self._line(event), key=key)
        tag = getattr(event, "tag", None)
        if tag is not None:
            raise StackFileError(self.path, f"plain values (no tags such as {tag})", line=self._line(event), key=key)

    def _node(self, events: list[yaml.Event], index: int, depth: int, key: str | None) -> tuple[Any, int]:
        event = events[index]
        self._check(event, key)
        if depth > MAX_DEPTH:
            raise StackFileError(
                self.path, f"values nested at most {MAX_DEPTH} levels deep", line=self._line(event), key=key
            )
        if isinstance(event, yaml.ScalarEvent):
            return (_resolve(event.value) if not event.style else event.value), index + 1
        if isinstance(event, yaml.SequenceStartEvent):
            items, index = [], index + 1
            while not isinstance(events[index], yaml.SequenceEndEvent):
                item, index = self._node(events, index, depth + 1, key)
                items.append(item)
            return items, index + 1
        if isinstance(event, yaml.MappingStartEvent):
            mapping = _Mapping()
            index += 1
            while not isinstance(events[index], yaml.MappingEndEvent):
                key_event = events[index]
                self._check(key_event, key)
                if not isinstance(key_event, yaml.ScalarEvent):
                    raise StackFileError(self.path, "plain string keys", line=self._line(key_event), key=key)
                name = key_event.value
                line = self._line(key_event) or 0
                if name in mapping:
                    raise StackFileError(
                        self.path, f"each key once (also on line {mapping.lines[name]})", line=line, key=name
                    )
                mapping[name], index = self._node(events, index + 1, depth + 1, name)
                mapping.lines[name] = line
            return mapping, index + 1
        raise StackFileError(self.path, f"plain YAML (not {type(event).__name__})", line=self._line(event), key=key)


def _resolve(text: str) -> Any:
    """A plain scalar by YAML 1.2's core schema: `030` is thirty, `yes`, `on` and `0x1F` stay strings."""
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if _INT.fullmatch(text):
        return int(text, 10)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _key_on_line(text: str, line: int) -> str | None:
    """The mapping key written at the start of a line, if any."""
    lines = text.splitlines()
    found = re.match(r"\s*([A-Za-z0-9_.:-]+?):(\s|$)", lines[line - 1]) if 0 < line <= len(lines) else None
    return found.group(1) if found else None
