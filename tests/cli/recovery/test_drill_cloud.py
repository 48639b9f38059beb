"""The cloud drill against moto's RDS with the real API: the throwaway restore, the checks, and its deletion."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from cli.recovery import cloud
from cli.recovery.drill import WRITES_AFTER, ApiTarget, DrillFailed, rows_of
from tests.cli.recovery.conftest import REGION
from tests.cli.recovery.test_restore import LIVE, _live
from tests.conftest import mint_token


@pytest.fixture
def service(postgres, start_app) -> ApiTarget:
    app = start_app(postgres.url())
    return ApiTarget(base_url=app.base_url, token=mint_token(scope="map/admin"))


@pytest.fixture
def aws_rds(aws: None) -> Any:
    client = boto3.client("rds", region_name=REGION)
    _live(client, managed_password=True)
    return client


def _run(client: Any, api: ApiTarget, read_rows) -> Any:
    return cloud.drill_rds(
        client,
        boto3.client("secretsmanager", region_name=REGION),
        api,
        source=LIVE,
        database="app",
        stack="dev",
        read_rows=read_rows,
        wait_delay_s=1,
        progress=print,
    )


def _instances(client: Any) -> list[str]:
    return [i["DBInstanceIdentifier"] for i in client.describe_db_instances()["DBInstances"]]


def test_a_restore_holding_the_rows_up_to_the_point_passes_and_the_throwaway_goes(aws_rds, service, postgres) -> None:
    seen: list[dict] = []

    def read_rows(url: str) -> dict:
        assert "sslmode=require" in url
        if not seen:  # the live database: the real rows the API wrote
            seen.append(rows_of(postgres.url(superuser=True, database="app")))
            return seen[0]
        return seen[0]  # the restored database: exactly the rows up to the restore point

    report = _run(aws_rds, service, read_rows)
    assert report.ok, report.to_json()
    assert report.rows_missing == []
    assert report.recovery_time_s is not None
    assert report.throwaway.startswith(f"{LIVE}-drill-")
    assert report.throwaway_removed
    assert _instances(aws_rds) == [LIVE]


def test_writes_after_the_restore_point_coming_back_fail_the_drill(aws_rds, service, postgres) -> None:
    def read_rows(url: str) -> dict:
        return rows_of(postgres.url(superuser=True, database="app"))  # a "restore" that holds everything

    report = _run(aws_rds, service, read_rows)
    assert not report.ok
    assert len(report.rows_after_present) == WRITES_AFTER
    assert _instances(aws_rds) == [LIVE]


def test_an_unreachable_restored_database_is_named_and_the_throwaway_still_goes(aws_rds, service, postgres) -> None:
    calls: list[str] = []

    def read_rows(url: str) -> dict:
        calls.append(url)
        if len(calls) == 1:
            return rows_of(postgres.url(superuser=True, database="app"))
        raise OSError("connection timed out")

    with pytest.raises(DrillFailed, match="could not read the restored database") as caught:
        _run(aws_rds, service, read_rows)
    assert "inside the VPC" in caught.value.hint
    assert _instances(aws_rds) == [LIVE]
