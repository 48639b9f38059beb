"""How one stack setting is declared: its config key, value kind, default, description and the Args fields it feeds."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Callable, Sequence
from typing import Any

REQUIRED: Any = dataclasses.MISSING
"""Default of a setting every stack file must give."""


class Invalid(ValueError):
    """A value its kind does not accept; the caller adds the key and the source."""

    def __init__(self, allowed: str) -> None:
        super().__init__(allowed)
        self.allowed = allowed


@dataclasses.dataclass(frozen=True)
class Kind:
    """A kind of value: what it accepts (as text for errors and docs) and how a raw value becomes a typed one.

    Raw values are what the strict loader yields (strings, YAML 1.2 style: `030`, `yes` and `on` stay strings),
    what `pulumi.Config` yields (strings) or typed Python values given to `from_values`.
    """

    allowed: str
    convert: Callable[[Any], Any]
    structured: bool = False
    """The value may be a list or a mapping in the stack file (JSON text when it comes from pulumi.Config)."""

    def __call__(self, value: Any) -> Any:
        """The typed value, or Invalid naming what is allowed."""
        try:
            result = self.convert(value)
        except (ValueError, TypeError):
            result = dataclasses.MISSING
        if result is dataclasses.MISSING:
            raise Invalid(self.allowed)
        return result


def _to_bool(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in ("true", "True", "TRUE", "false", "False", "FALSE"):
        return value.lower() == "true"
    return dataclasses.MISSING


def _to_int(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,12}", value):
        return int(value, 10)
    return dataclasses.MISSING


BOOL = Kind("true or false", _to_bool)
"""true or false (YAML 1.2: `yes`, `no`, `on` and `off` are refused, not guessed)."""


def integer(low: int, high: int) -> Kind:
    """A decimal integer from low to high (`030` is thirty)."""

    def convert(value: Any) -> Any:
        number = _to_int(value)
        return number if number is not dataclasses.MISSING and low <= number <= high else dataclasses.MISSING

    return Kind(f"an integer from {low} to {high}", convert)


def one_of(choices: Sequence[Any], allowed: str | None = None) -> Kind:
    """One of the given values (integers or strings); `allowed` summarises a long list."""
    ints = all(isinstance(c, int) for c in choices)

    def convert(value: Any) -> Any:
        candidate = _to_int(value) if ints else value
        return candidate if candidate in choices and type(candidate) is type(choices[0]) else dataclasses.MISSING

    return Kind(allowed or "one of " + ", ".join(map(str, choices)), convert)


def pattern(regex: str | re.Pattern[str], allowed: str, *, not_in: Sequence[str] = ()) -> Kind:
    """A string matching the regular expression in full, other than the names in `not_in`."""
    compiled = re.compile(regex) if isinstance(regex, str) else regex
    if not_in:
        allowed += "; not " + ", ".join(not_in)

    def convert(value: Any) -> Any:
        ok = isinstance(value, str) and compiled.fullmatch(value) is not None and value not in not_in
        return value if ok else dataclasses.MISSING

    return Kind(allowed, convert)


def _to_private_cidr(value: Any) -> Any:
    network = ipaddress.ip_network(value, strict=True) if isinstance(value, str) else None
    if network is None or network.version != 4 or not network.is_private or not 16 <= network.prefixlen <= 20:
        return dataclasses.MISSING
    return str(network)


PRIVATE_CIDR = Kind("a private IPv4 network from /16 to /20, e.g. 10.0.0.0/16", _to_private_cidr)


@dataclasses.dataclass(frozen=True)
class Setting:
    """One `groundwork:<key>` setting: everything the loader, the rules, the docs and `--settings` need."""

    key: str
    """Config key without the namespace, e.g. `databaseName`."""
    kind: Kind
    """What the value may be, and how it is parsed."""
    description: str
    """One line for docs/settings.md."""
    group: str
    """Section of docs/settings.md the setting is listed in."""
    feeds: tuple[str, ...] = ()
    """Component Args fields the value is passed to, as `DatabaseArgs.database_name`."""
    secret_ok: bool = False
    """A `{secure: ...}` value is accepted (kept redacted offline)."""
    secret_only: bool = False
    """Only a `{secure: ...}` value is accepted in a stack file (a plain one would sit in git in clear)."""
    default_text: str | None = None
    """How docs show the default when it is None or computed (e.g. `the service URL`)."""
    attr: str = ""
    """Field of StackSettings; filled in from the field the declaration sits on."""
    default: Any = None
    """Value when the stack file leaves the key out; REQUIRED when it must be given."""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


def setting(
    key: str,
    default: Any,
    kind: Kind,
    description: str,
    *,
    group: str,
    feeds: Sequence[str] = (),
    secret_ok: bool = False,
    default_text: str | None = None,
    secret_only: bool = False,
) -> Any:
    """Declares a StackSettings field as the setting `groundwork:<key>`; the one place a setting is described."""
    declared = Setting(
        key,
        kind,
        description,
        group,
        tuple(feeds),
        secret_ok or secret_only,
        secret_only,
        default_text,
        default=default,
    )  # attr is filled in by `declarations`
    # A value that may be secret stays out of repr (and so out of logs and tracebacks).
    options: dict[str, Any] = {"metadata": {"setting": declared}, "repr": not secret_ok}
    if default is not REQUIRED:
        options["default"] = default
    return dataclasses.field(**options)


def declarations(settings_class: type) -> tuple[Setting, ...]:
    """The settings declared on a dataclass's fields, in declaration order, each with its field name."""
    return tuple(
        dataclasses.replace(f.metadata["setting"], attr=f.name)
        for f in dataclasses.fields(settings_class)
        if "setting" in f.metadata
    )
