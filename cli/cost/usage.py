"""The usage file: monthly quantities the plan cannot state (data processed, requests, logs), with defaults."""

from __future__ import annotations

import dataclasses
import pathlib
import tomllib
from decimal import Decimal
from typing import Any

from cli.core.errors import ConfigError
from cli.core.files import read_user_text

MAX_FILE_BYTES = 64 * 1024
"""A usage file larger than this is refused before it is parsed."""
MAX_QUANTITY = 10**9
"""The largest monthly quantity a key may set (a billion GB or requests): beyond it a typo, not a plan."""
HINT = "see docs/cost.md for the usage keys"


@dataclasses.dataclass(frozen=True)
class UsageKey:
    """One monthly quantity of the usage file."""

    key: str
    unit: str
    description: str
    default: Decimal = Decimal(0)


KEYS: tuple[UsageKey, ...] = (
    UsageKey("nat_gateway_gb", "GB", "Data processed by all NAT gateways together, spread evenly over them."),
    UsageKey("load_balancer_lcu", "LCU", "Load balancer capacity units used on average, each hour of the month."),
    UsageKey("waf_million_requests", "million requests", "Requests the web ACL inspects."),
    UsageKey("log_ingestion_gb", "GB", "Log data ingested by all log groups together, spread evenly over them."),
)
"""Every key the usage file may set; each defaults to 0, so the estimate is the floor that usage adds to."""
_BY_KEY = {k.key: k for k in KEYS}


@dataclasses.dataclass(frozen=True)
class Usage:
    """The monthly quantities an estimate uses; `source` is the file, or `defaults`."""

    values: dict[str, Decimal]
    source: str = "defaults"

    def get(self, key: str) -> Decimal:
        return self.values.get(key, _BY_KEY[key].default)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "values": {k.key: str(self.get(k.key)) for k in KEYS}}


DEFAULTS = Usage({})
"""Every quantity at its default (0)."""


def load_usage(path: pathlib.Path) -> Usage:
    """A TOML usage file: known keys only, each a number from 0 to MAX_QUANTITY."""
    text = read_user_text(path, MAX_FILE_BYTES, "the usage file", HINT)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise _error(path, f"is not valid TOML ({error})") from None
    values: dict[str, Decimal] = {}
    for key, value in raw.items():
        if key not in _BY_KEY:
            raise _error(path, f"sets {key!r}, which is not a usage key; allowed: {', '.join(_BY_KEY)}")
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_QUANTITY:
            raise _error(
                path, f"sets {key} to {value!r}; allowed: a number of {_BY_KEY[key].unit} from 0 to {MAX_QUANTITY:,}"
            )
        values[key] = Decimal(str(value))
    return Usage(values, str(path))


def _error(path: pathlib.Path, problem: str) -> ConfigError:
    return ConfigError(f"the usage file {path} {problem}", hint=HINT)
