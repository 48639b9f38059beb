"""The mock the program tests rely on is strict: unknown invokes fail the run instead of returning nothing."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pytest

from stacks.settings import StackSettings
from tests.mocks import UnknownInvoke, run, settings_for


def test_unknown_invoke_fails_the_run() -> None:
    def program(_: StackSettings) -> dict:
        vpc = aws.ec2.get_vpc_output(default=True)
        return {"vpc": vpc.id}

    with pytest.raises(UnknownInvoke, match="aws:ec2/getVpc:getVpc"):
        run(settings_for("dev"), program)


def test_known_invoke_and_resource_outputs_resolve() -> None:
    def program(_: StackSettings) -> dict:
        zones = aws.get_availability_zones_output(state="available")
        bucket = aws.s3.Bucket("probe")
        return {"zones": zones.names, "arn": bucket.arn, "secret": pulumi.Output.secret("x")}

    rec = run(settings_for("dev"), program)
    assert rec.exports["zones"] == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    assert rec.exports["arn"].startswith("arn:aws:s3:::probe-")
    assert [r.type for r in rec.resources] == ["aws:s3/bucket:Bucket"]
