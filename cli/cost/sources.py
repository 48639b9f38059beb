"""Which prices an estimate uses: the API's (cached in .infra/prices) with credentials, else the kept cache."""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
from collections.abc import Callable
from typing import Any

from cli.cost.estimate import Estimate, TableFor, estimate
from cli.cost.table import PriceCacheError, PriceTable, load_table, write_table
from cli.cost.usage import DEFAULTS, Usage

KEPT_DIR = pathlib.Path(__file__).resolve().parent / "prices"
"""The price cache kept in the repository: one `<region>.json` per region, every entry with its provenance."""
KEPT_MAX_AGE_DAYS = 400
"""A kept price older than this is refused: refresh the cache (AWS changes prices rarely, but it does)."""
LOCAL_DIR = pathlib.Path(".infra") / "prices"
"""Prices fetched from the API on this machine, under the project (git-ignored with the rest of .infra)."""
LOCAL_MAX_AGE_DAYS = 30
"""A fetched price older than this is fetched again (or, without credentials, the kept price is used)."""


def kept_path(region: str, kept_dir: pathlib.Path = KEPT_DIR) -> pathlib.Path:
    return kept_dir / f"{region}.json"


def kept_table(region: str, today: datetime.date, kept_dir: pathlib.Path = KEPT_DIR) -> PriceTable | str:
    """The kept table of `region`, or why there is none; a corrupt, stale or misplaced file raises."""
    path = kept_path(region, kept_dir)
    if not path.is_file():
        return f"no kept prices for {region} ({path.name} is absent; `infra cost --refresh-prices` writes it)"
    return load_table(path, region, today=today, max_age_days=KEPT_MAX_AGE_DAYS)


def offline_tables(
    project_dir: pathlib.Path | None, today: datetime.date, kept_dir: pathlib.Path = KEPT_DIR
) -> TableFor:
    """Prices without any network: fresh prices fetched earlier on this machine over the kept ones."""

    def table_for(region: str) -> PriceTable | str:
        kept = kept_table(region, today, kept_dir)
        local = _local_table(project_dir, region, today)
        if local is None:
            return kept
        if isinstance(kept, str):
            return local
        merged = {**kept.entries, **local.entries}
        return PriceTable(region, merged, f"{local.origin} over {kept.origin}")

    return table_for


def _local_table(project_dir: pathlib.Path | None, region: str, today: datetime.date) -> PriceTable | None:
    if project_dir is None:
        return None
    path = project_dir / LOCAL_DIR / f"{region}.json"
    if not path.is_file():
        return None
    try:
        return load_table(path, region, today=today, max_age_days=LOCAL_MAX_AGE_DAYS)
    except PriceCacheError as error:
        if " is stale:" in error.message:
            return None
        raise


@dataclasses.dataclass
class Refresh:
    """What a refresh fetched and what it could not find, by region."""

    fetched: dict[str, int] = dataclasses.field(default_factory=dict)
    missed: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"fetched": self.fetched, "missed": self.missed}


def priced_with_api(
    plan: dict[str, Any],
    project_dir: pathlib.Path,
    client: Any,
    today: datetime.date,
    *,
    usage: Usage = DEFAULTS,
    refresh: bool = False,
    kept_dir: pathlib.Path = KEPT_DIR,
    progress: Callable[[str], None] = lambda _: None,
) -> tuple[Estimate, Refresh]:
    """Prices missing (or, with `refresh`, all) from the API into the local cache, then the estimate.

    With `refresh` the kept cache is rewritten too: fetched prices replace the kept ones, prices the API did not
    find stay as they were (and are reported)."""
    from cli.cost.fetch import fetch_prices

    offline = offline_tables(project_dir, today, kept_dir)
    first = estimate(plan, _tolerant(offline), usage)
    report = Refresh()
    by_region: dict[str, list[Any]] = {}
    for (region, _key), dimension in first.dimensions.items():
        by_region.setdefault(region, []).append(dimension)
    for region, dimensions in sorted(by_region.items()):
        local_path = project_dir / LOCAL_DIR / f"{region}.json"
        local = _local_table(project_dir, region, today)
        have = {} if refresh or local is None else local.entries
        wanted = [x for x in dimensions if x.key not in have]
        if not wanted:
            continue
        progress(f"fetching {len(wanted)} prices for {region} from the AWS Price List API")
        found, missed = fetch_prices(client, region, wanted, today)
        report.fetched[region], report.missed[region] = len(found), missed
        write_table(local_path, PriceTable(region, {**have, **found}, str(local_path)))
        if refresh:
            entries = {**_kept_entries_for_rewrite(region, today, kept_dir), **found}
            write_table(kept_path(region, kept_dir), PriceTable(region, entries, str(kept_path(region, kept_dir))))
    return estimate(plan, offline_tables(project_dir, today, kept_dir), usage), report


def _tolerant(tables: TableFor) -> TableFor:
    """Tables whose errors become reasons: a refresh must run even when the kept cache is stale or broken."""

    def table_for(region: str) -> PriceTable | str:
        try:
            return tables(region)
        except PriceCacheError as error:
            return error.message

    return table_for


def _kept_entries_for_rewrite(region: str, today: datetime.date, kept_dir: pathlib.Path) -> dict[str, Any]:
    """The kept entries a refresh keeps where the API found nothing: old ones too; none from a broken file."""
    path = kept_path(region, kept_dir)
    if not path.is_file():
        return {}
    try:
        return load_table(path, region, today=today, max_age_days=100 * 365).entries
    except PriceCacheError:
        return {}


def offline_delta(base: dict[str, Any], head: dict[str, Any], project_dir: pathlib.Path | None) -> tuple[Any, str]:
    """The cost delta of two plans with offline prices (`infra diff`, the pull-request comment)."""
    from cli.cost.delta import plans_delta

    today = datetime.datetime.now(datetime.UTC).date()
    return plans_delta(base, head, offline_tables(project_dir, today))
