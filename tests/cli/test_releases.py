"""The release history: ids, rollback targets, and the cloud's SSM record checked by botocore's Stubber."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import ANY, Stubber

from cli.cloud import release_store
from cli.core import releases
from cli.core.errors import ConfigError


def _history(*outcomes_and_images: tuple[str, str]) -> list[releases.Release]:
    history: list[releases.Release] = []
    for outcome, image in outcomes_and_images:
        history.append(releases.new_release(history, image=image, task_definition="td", settings="s", outcome=outcome))
    return history


def test_ids_count_up_and_an_unknown_outcome_is_refused():
    history = _history((releases.PROMOTED, "sha-a"), (releases.FAILED_BEFORE_TRAFFIC, "sha-b"))
    assert [r.id for r in history] == ["r1", "r2"]
    with pytest.raises(ValueError, match="allowed: promoted, rolled back, failed before traffic"):
        releases.new_release(history, image="x", task_definition="t", settings="s", outcome="done")


def test_a_rollback_goes_to_the_promoted_release_before_the_live_one():
    history = _history(
        (releases.PROMOTED, "sha-a"), (releases.PROMOTED, "sha-b"), (releases.FAILED_BEFORE_TRAFFIC, "sha-c")
    )
    assert releases.rollback_target(history, None).id == "r1"
    assert releases.rollback_target(history, "r2").image == "sha-b"
    with pytest.raises(ConfigError, match="never promoted"):
        releases.rollback_target(history, "r3")
    with pytest.raises(ConfigError, match="no release 'r9'"):
        releases.rollback_target(history, "r9")
    with pytest.raises(ConfigError, match="no earlier promoted release"):
        releases.rollback_target(_history((releases.PROMOTED, "sha-a")), None)


def test_a_rollback_from_what_is_no_release_goes_to_the_last_promoted_one():
    history = _history((releases.PROMOTED, "sha-a"), (releases.PROMOTED, "sha-b"))
    assert releases.rollback_target(history, None, live_image="sha-edited").id == "r2"
    assert releases.rollback_target(history, None, live_image="sha-b").id == "r1"
    assert releases.rollback_target(history, None, live_image="sha-a").id == "r2"


def test_the_cloud_record_lives_in_one_ssm_parameter():
    ssm = boto3.client("ssm", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(ssm)
    name = release_store.parameter_name("groundwork", "dev")
    earlier = _history((releases.PROMOTED, "sha256:aaa"))
    stub.add_response("get_parameter", {"Parameter": {"Value": releases.dump_history(earlier)}}, {"Name": name})
    stub.add_response(
        "put_parameter",
        {"Version": 2},
        {"Name": name, "Value": ANY, "Type": "String", "Tier": "Advanced", "Overwrite": True},
    )
    with stub:
        release = release_store.record(
            ssm, name, image="sha256:bbb", task_definition="api:8", settings="h", outcome=releases.ROLLED_BACK
        )
    assert name == "/groundwork/dev/releases"
    assert release.id == "r2"
    assert release.outcome == "rolled back"
    stub.assert_no_pending_responses()


def test_an_absent_parameter_is_an_empty_history_and_a_long_one_is_trimmed_to_fit():
    ssm = boto3.client("ssm", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(ssm)
    stub.add_client_error("get_parameter", "ParameterNotFound")
    with stub:
        assert release_store.load(ssm, "/groundwork/dev/releases") == []
    many = _history(*[(releases.PROMOTED, "sha256:" + "f" * 64)] * 60)
    text = release_store.fitted(many)
    kept = json.loads(text)
    assert len(text.encode()) <= release_store.LIMIT_BYTES
    assert 1 < len(kept) < 60
    assert kept[-1]["id"] == "r60", "the newest release is always kept"
