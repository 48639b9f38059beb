"""Price tables: one region's on-demand prices, each with where it came from, read from and written to JSON files."""

from __future__ import annotations

import dataclasses
import datetime
import json
import pathlib
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from cli.core.errors import ConfigError

FORMAT = "groundwork-prices/1"
"""Identifies a price table file; any other value is refused."""
MAX_FILE_BYTES = 1024 * 1024
"""A price table larger than this is refused before it is parsed."""
_KEY = re.compile(r"[a-z0-9][a-z0-9./:-]{0,119}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_HINT = "run `infra cost --refresh-prices` where AWS credentials exist, or restore the file from git"


class PriceCacheError(ConfigError):
    """A price table that cannot be trusted: unreadable, malformed, for another region, or too old."""


@dataclasses.dataclass(frozen=True)
class PriceEntry:
    """One unit price and its provenance: a Price List SKU with its offer term, or a public page and its date."""

    key: str
    usd: Decimal
    unit: str
    retrieved: str
    """Date (YYYY-MM-DD) the price was read from the API or the page."""
    sku: str = ""
    offer_term: str = ""
    effective_date: str = ""
    source: str = ""
    """URL of the public AWS pricing page or Price List file the price was read from, when there is no SKU."""
    description: str = ""
    attributes: dict[str, str] = dataclasses.field(default_factory=dict)

    def provenance(self) -> dict[str, str]:
        """What a reader needs to check the price: SKU and term, or the source, and the dates."""
        if self.sku:
            found = {"sku": self.sku, "offer_term": self.offer_term, "effective_date": self.effective_date}
        else:
            found = {"source": self.source}
        return {**found, "retrieved": self.retrieved}

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"usd": str(self.usd), "unit": self.unit, **self.provenance()}
        if self.description:
            data["description"] = self.description
        if self.attributes:
            data["attributes"] = dict(sorted(self.attributes.items()))
        return data


@dataclasses.dataclass
class PriceTable:
    """The prices of one region; `origin` names the file (or API) they came from."""

    region: str
    entries: dict[str, PriceEntry]
    origin: str

    def get(self, key: str) -> PriceEntry | None:
        return self.entries.get(key)

    def oldest(self) -> str:
        """The oldest retrieval date among the entries (empty for an empty table)."""
        return min((e.retrieved for e in self.entries.values()), default="")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "region": self.region,
            "currency": "USD",
            "entries": {k: self.entries[k].to_json() for k in sorted(self.entries)},
        }


def load_table(path: pathlib.Path, region: str, *, today: datetime.date, max_age_days: int) -> PriceTable:
    """The table in `path` for `region`; refuses a corrupt file, another region's, or an entry older than allowed."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _error(path, f"is {size} bytes, more than the {MAX_FILE_BYTES} a price table may have")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise _error(path, f"cannot be read: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _error(path, f"is not valid JSON ({error})") from None
    table = parse_table(raw, region, origin=str(path))
    for entry in table.entries.values():
        age = (today - datetime.date.fromisoformat(entry.retrieved)).days
        if age > max_age_days:
            raise _error(
                path,
                f"is stale: {entry.key} was retrieved on {entry.retrieved}, {age} days ago "
                f"(at most {max_age_days} allowed)",
            )
        if age < 0:
            raise _error(path, f"has {entry.key} retrieved on {entry.retrieved}, a date in the future")
    return table


def parse_table(raw: Any, region: str, *, origin: str) -> PriceTable:
    """A table from its JSON data, every field checked."""
    path = pathlib.Path(origin)
    if not isinstance(raw, dict):
        raise _error(path, "is not a JSON object")
    if raw.get("format") != FORMAT:
        raise _error(path, f"has format {raw.get('format')!r}; expected {FORMAT!r}")
    if raw.get("region") != region:
        raise _error(path, f"holds prices for region {raw.get('region')!r}, not {region!r}")
    if raw.get("currency") != "USD":
        raise _error(path, f"has currency {raw.get('currency')!r}; only USD is supported")
    entries = raw.get("entries")
    if not isinstance(entries, dict):
        raise _error(path, "has no `entries` object")
    return PriceTable(region, {key: _entry(path, key, value) for key, value in entries.items()}, origin)


def _entry(path: pathlib.Path, key: Any, value: Any) -> PriceEntry:
    """One entry: a price that is a non-negative decimal, a unit, and a SKU with its term or a source, with dates."""
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise _error(path, f"has an entry key {str(key)[:60]!r} that is not a price dimension name")
    if not isinstance(value, dict):
        raise _error(path, f"entry {key} is not an object")
    text = {k: v for k, v in value.items() if isinstance(v, str)}
    try:
        usd = Decimal(text.get("usd", ""))
    except InvalidOperation:
        usd = Decimal(-1)
    if not usd.is_finite() or usd < 0:
        raise _error(path, f"entry {key} has usd {value.get('usd')!r}; expected a non-negative decimal string")
    if not text.get("unit"):
        raise _error(path, f"entry {key} has no unit")
    retrieved = text.get("retrieved", "")
    if not _is_date(retrieved):
        raise _error(path, f"entry {key} has retrieved {value.get('retrieved')!r}; expected a date YYYY-MM-DD")
    sku, term, effective, source = (text.get(k, "") for k in ("sku", "offer_term", "effective_date", "source"))
    if sku:
        if not term or not _is_date(effective[:10]):
            raise _error(path, f"entry {key} has a SKU but no offer_term and effective_date")
    elif not source.startswith("https://"):
        raise _error(path, f"entry {key} names neither a SKU with its offer term nor an https source page")
    attributes = value.get("attributes", {})
    if not isinstance(attributes, dict) or not all(isinstance(v, str) for v in attributes.values()):
        raise _error(path, f"entry {key} has attributes that are not a string mapping")
    return PriceEntry(
        key=key,
        usd=usd,
        unit=text["unit"],
        retrieved=retrieved,
        sku=sku,
        offer_term=term,
        effective_date=effective,
        source=source,
        description=text.get("description", ""),
        attributes=dict(attributes),
    )


def write_table(path: pathlib.Path, table: PriceTable) -> None:
    """Writes the table as canonical JSON (sorted keys, two-space indent), through a temporary file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_text(json.dumps(table.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial.replace(path)


def _is_date(value: str) -> bool:
    if not _DATE.fullmatch(value):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _error(path: pathlib.Path, problem: str) -> PriceCacheError:
    return PriceCacheError(f"the price table {path} {problem}", hint=_HINT)
