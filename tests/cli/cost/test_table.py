"""The kept price cache's provenance, and price tables that cannot be trusted: a clear error, never a wrong total."""

from __future__ import annotations

import datetime
import json
import pathlib

import pytest

from cli.cost.estimate import estimate
from cli.cost.sources import KEPT_DIR, KEPT_MAX_AGE_DAYS, offline_tables
from cli.cost.table import FORMAT, PriceCacheError, load_table
from tests.cli.cost.plans import TODAY, nat, plan

KEPT = sorted(KEPT_DIR.glob("*.json"))


def test_the_kept_cache_covers_us_east_1_and_the_regions_of_the_stack_files():
    regions = {path.stem for path in KEPT}
    stack_regions = set()
    for stack_file in pathlib.Path(KEPT_DIR).parents[2].glob("Pulumi.*.yaml"):
        for line in stack_file.read_text().splitlines():
            if line.strip().startswith("aws:region:"):
                stack_regions.add(line.split(":", 2)[2].strip())
    assert {"us-east-1", *stack_regions} <= regions, stack_regions


@pytest.mark.parametrize("path", KEPT, ids=lambda p: p.name)
def test_every_kept_entry_names_its_sku_and_term_or_an_aws_source_and_a_date(path):
    raw = json.loads(path.read_text())
    assert raw["format"] == FORMAT
    assert raw["region"] == path.stem
    for key, entry in raw["entries"].items():
        assert datetime.date.fromisoformat(entry["retrieved"]), key
        if entry.get("sku"):
            assert entry["offer_term"], key
            assert datetime.date.fromisoformat(entry["effective_date"][:10]), key
        else:
            host = entry["source"].split("/")[2]
            assert host in ("aws.amazon.com", "pricing.us-east-1.amazonaws.com"), (key, host)
    # The loader agrees, today.
    today = datetime.datetime.now(datetime.UTC).date()
    load_table(path, path.stem, today=today, max_age_days=KEPT_MAX_AGE_DAYS)


def _write(tmp_path, data, region="eu-west-1"):
    path = tmp_path / f"{region}.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def _valid(**entry):
    base = {"usd": "0.048", "unit": "Hrs", "retrieved": "2026-12-01", "sku": "ABC", "offer_term": "JRTCKXETXF"}
    base["effective_date"] = "2026-11-01"
    return {
        "format": FORMAT,
        "region": "eu-west-1",
        "currency": "USD",
        "entries": {"nat-gateway-hours": {**base, **entry}},
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[]", "is not a JSON object"),
        ({**_valid(), "format": "other/1"}, "has format 'other/1'"),
        ({**_valid(), "region": "us-east-1"}, "holds prices for region 'us-east-1', not 'eu-west-1'"),
        ({**_valid(), "currency": "EUR"}, "only USD"),
        (_valid(usd="-1"), "expected a non-negative decimal"),
        (_valid(usd="NaN"), "expected a non-negative decimal"),
        (_valid(usd=0.048), "expected a non-negative decimal"),
        (_valid(sku="", offer_term=""), "names neither a SKU with its offer term nor an https source"),
        (_valid(offer_term=""), "has a SKU but no offer_term"),
        (_valid(retrieved="yesterday"), "expected a date"),
        (_valid(retrieved="2024-01-01"), "is stale: nat-gateway-hours was retrieved on 2024-01-01"),
        (_valid(retrieved="2027-01-01"), "a date in the future"),
    ],
)
def test_an_untrustworthy_table_is_refused_with_the_file_and_the_problem(tmp_path, data, message):
    path = _write(tmp_path, data)
    with pytest.raises(PriceCacheError) as caught:
        load_table(path, "eu-west-1", today=TODAY, max_age_days=400)
    assert str(path) in caught.value.message
    assert message in caught.value.message
    assert "--refresh-prices" in caught.value.hint


def test_an_oversized_table_is_refused_before_parsing(tmp_path):
    path = _write(tmp_path, " " * (1024 * 1024 + 1))
    with pytest.raises(PriceCacheError, match="more than"):
        load_table(path, "eu-west-1", today=TODAY, max_age_days=400)


def test_a_broken_kept_file_stops_the_estimate_instead_of_pricing_without_it(tmp_path):
    _write(tmp_path, {**_valid(), "region": "eu-central-1"})
    tables = offline_tables(None, TODAY, kept_dir=tmp_path)
    with pytest.raises(PriceCacheError, match="not 'eu-west-1'"):
        estimate(plan(nat()), tables)


def test_a_region_without_a_kept_file_is_unpriced_with_the_reason(tmp_path):
    result = estimate(plan(nat(), region="ap-east-1"), offline_tables(None, TODAY, kept_dir=tmp_path))
    assert result.partial
    assert result.total == 0
    assert "no kept prices for ap-east-1" in result.resources[0].reason


def test_fresh_fetched_prices_override_kept_ones_and_stale_ones_are_ignored(tmp_path):
    kept = tmp_path / "kept"
    kept.mkdir()
    _write(kept, _valid())
    local = tmp_path / "project" / ".infra" / "prices"
    local.mkdir(parents=True)
    _write(local, _valid(usd="0.050", retrieved="2026-12-06"))
    result = estimate(plan(nat()), offline_tables(tmp_path / "project", TODAY, kept_dir=kept))
    assert result.total == 730 * 0.050
    assert "over" in result.tables["eu-west-1"]
    _write(local, _valid(usd="0.050", retrieved="2026-10-01"))
    result = estimate(plan(nat()), offline_tables(tmp_path / "project", TODAY, kept_dir=kept))
    assert float(result.total) == pytest.approx(730 * 0.048)
