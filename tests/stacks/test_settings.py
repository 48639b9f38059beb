"""Stack settings: both stack files load, and each kind of mistake is rejected with key, value and allowed."""

from __future__ import annotations

import dataclasses
import json
import pathlib
import re
import runpy
from collections.abc import Callable

import pulumi
import pytest
import yaml

from stacks import settings as settings_module
from stacks.settings import KEYS, REDACTED, SettingsError, StackSettings, load_stack_settings
from tests.mocks import Recording, config_values, run, settings_for


def write_stack(tmp_path: pathlib.Path, config: dict, name: str = "test") -> pathlib.Path:
    (tmp_path / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": config}))
    return tmp_path


def base_config(**changes: object) -> dict:
    region, values = config_values("dev")
    config = {"aws:region": region, **{f"groundwork:{k}": v for k, v in values.items()}}
    for key, value in changes.items():
        full = key if ":" in key else f"groundwork:{key}"
        if value is None:
            config.pop(full, None)
        else:
            config[full] = value
    return config


def test_both_stacks_load_and_differ_as_documented() -> None:
    dev, prod = load_stack_settings("dev"), load_stack_settings("prod")
    assert (dev.stack, prod.stack) == ("dev", "prod")
    assert not dev.protect
    assert prod.protect
    assert (dev.availability_zones, prod.availability_zones) == (2, 3)
    assert (dev.nat_gateways, prod.nat_gateways) == ("single", "perZone")
    assert not dev.db_multi_az
    assert prod.db_multi_az
    assert dev.host_name == "api.dev.example.com"
    assert prod.host_name == "api.example.com"
    assert prod.service_desired_count > dev.service_desired_count
    assert prod.log_retention_days > dev.log_retention_days
    assert dev.bucket_force_destroy
    assert not prod.bucket_force_destroy
    assert dev.database_objects
    assert prod.database_objects
    assert dev.bastion
    assert prod.bastion


def test_settings_are_frozen() -> None:
    s = load_stack_settings("dev")
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.protect = True  # type: ignore[misc]


def test_every_key_maps_to_a_field() -> None:
    fields = {f.name for f in dataclasses.fields(StackSettings)}
    for key in KEYS:
        assert key.attr in fields, key.key
    assert len({k.key for k in KEYS}) == len(KEYS)


def check(error: SettingsError, key: str, value: object, allowed: str) -> None:
    assert error.key == key
    assert error.value == value
    assert allowed in error.allowed
    message = str(error)
    assert key in message
    assert allowed in message
    if value is not None:
        assert repr(value) in message


def test_missing_file_names_the_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("staging", tmp_path)
    assert str(tmp_path / "Pulumi.staging.yaml") in str(caught.value)
    check(caught.value, "stack", "staging", "a stack with a settings file")


def test_a_stack_file_that_says_nothing_about_protection_is_protected(tmp_path: pathlib.Path) -> None:
    silent = {
        key: None
        for key in ("protect", "dbDeletionProtection", "dbFinalSnapshot", "albDeletionProtection", "bucketForceDestroy")
    }
    config = base_config(**silent, dbBackupRetentionDays=7, secretRecoveryWindowDays=7)
    settings = load_stack_settings("test", write_stack(tmp_path, config))
    assert settings.protect is True
    assert settings.db_deletion_protection is True
    assert settings.db_final_snapshot is True
    assert settings.alb_deletion_protection is True
    assert settings.bucket_force_destroy is False


def test_missing_required_key(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("test", write_stack(tmp_path, base_config(domain=None)))
    check(caught.value, "groundwork:domain", None, "a lowercase domain")
    assert "<missing>" in str(caught.value)


def test_missing_region(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("test", write_stack(tmp_path, base_config(**{"aws:region": None})))
    check(caught.value, "aws:region", None, "an AWS region")


def test_wrong_type(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("test", write_stack(tmp_path, base_config(dbMultiAz="yes")))
    check(caught.value, "groundwork:dbMultiAz", "yes", "true or false")


def test_out_of_range(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("test", write_stack(tmp_path, base_config(dbBackupRetentionDays=0)))
    check(caught.value, "groundwork:dbBackupRetentionDays", 0, "an integer from 1 to 35")


def test_a_host_name_over_253_characters_is_refused_before_the_program_runs(tmp_path: pathlib.Path) -> None:
    """Each label may be valid while the name they form with the domain is too long for DNS and ACM."""
    subdomain = ".".join(["a" * 60] * 4)
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("test", write_stack(tmp_path, base_config(serviceSubdomain=subdomain)))
    assert caught.value.key == "groundwork:serviceSubdomain"
    assert caught.value.value == subdomain
    assert "at most 241 characters with domain example.com" in str(caught.value)
    longest = ".".join(["a" * 60] * 3 + ["a" * (252 - len("example.com") - 183)])
    settings = load_stack_settings("test", write_stack(tmp_path, base_config(serviceSubdomain=longest)))
    assert len(settings.host_name) == 253


def test_not_one_of_the_choices(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("test", write_stack(tmp_path, base_config(natGateways="perAz")))
    check(caught.value, "groundwork:natGateways", "perAz", "one of single, perZone")


def test_malformed_value(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("test", write_stack(tmp_path, base_config(vpcCidr="8.8.0.0/16")))
    check(caught.value, "groundwork:vpcCidr", "8.8.0.0/16", "a private IPv4 network")


def test_unknown_key_catches_typos(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("test", write_stack(tmp_path, base_config(dbMultiAZ=True)))
    check(caught.value, "groundwork:dbMultiAZ", True, "one of the keys in docs/settings.md")
    assert "did you mean groundwork:dbMultiAz?" in caught.value.allowed


def test_inconsistent_combination(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("test", write_stack(tmp_path, base_config(serviceCpu=256, serviceMemory=4096)))
    check(caught.value, "groundwork:serviceMemory", 4096, "for serviceCpu 256: one of 512, 1024, 2048")


def test_protected_stack_refuses_unsafe_values(tmp_path: pathlib.Path) -> None:
    config = base_config(protect=True, dbDeletionProtection=True, dbFinalSnapshot=True, albDeletionProtection=True)
    config["groundwork:dbBackupRetentionDays"] = 7
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("test", write_stack(tmp_path, config))
    check(caught.value, "groundwork:bucketForceDestroy", True, "false when protect is true")


def test_secure_value_on_a_plain_key(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("test", write_stack(tmp_path, base_config(domain={"secure": "v1:abc"})))
    check(caught.value, "groundwork:domain", REDACTED, "a plain (not secure) value")


def test_secure_values_stay_redacted(tmp_path: pathlib.Path) -> None:
    s = load_stack_settings("test", write_stack(tmp_path, base_config(alarmEmail={"secure": "v1:cipher"})))
    assert s.alarm_email == REDACTED
    assert "cipher" not in repr(s)
    assert "alarm_email" not in repr(s)


def test_foreign_namespace_is_rejected(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("test", write_stack(tmp_path, base_config(**{"groundwrok:domain": "example.com"})))
    check(caught.value, "groundwrok:domain", "example.com", "keys namespaced groundwork:")


def test_every_key_is_documented() -> None:
    text = (settings_module.PROJECT_DIR / "docs" / "settings.md").read_text()
    for key in KEYS:
        assert re.search(rf"`groundwork:{key.key}`", text), f"docs/settings.md does not document {key.key}"
    assert "`aws:region`" in text


def _as_config(stack: str, **changes: object) -> dict[str, str]:
    """A stack file's config as the engine hands it to the program: namespaced keys, string values."""
    region, values = config_values(stack)
    values.update(changes)
    config = {"aws:region": region, **{f"groundwork:{k}": v for k, v in values.items()}}
    return {k: _engine_text(v) for k, v in config.items()}


def _engine_text(value: object) -> str:
    """The engine passes structured values (lists, mappings) as JSON text, booleans in lower case."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def run_with_config(stack: str, config: dict[str, str], program: Callable[[], object]) -> Recording:
    """Runs `program` under mocks with the engine's config set as given, then clears the config."""

    def wrapped(_: StackSettings) -> dict:
        pulumi.runtime.set_all_config(config, [])
        program()
        return {}

    try:
        return run(settings_for(stack), wrapped)
    finally:
        pulumi.runtime.set_all_config({}, [])


def test_load_reads_pulumi_config_like_the_offline_loader() -> None:
    seen: list[StackSettings] = []
    run_with_config("prod", _as_config("prod"), lambda: seen.append(settings_module.load()))
    assert seen == [load_stack_settings("prod")]


def test_load_rejects_unknown_keys_from_pulumi_config() -> None:
    with pytest.raises(SettingsError) as caught:
        run_with_config("dev", _as_config("dev", dbMultiAZ=True), settings_module.load)
    check(caught.value, "groundwork:dbMultiAZ", "true", "one of the keys")  # the engine passes strings


MAIN = settings_module.PROJECT_DIR / "stacks" / "__main__.py"


def test_main_declares_nothing_when_settings_are_bad() -> None:
    recordings: list[Recording] = []
    original = Recording.__init__

    def keep(self: Recording, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        recordings.append(self)

    config = _as_config("dev", natGateways="none")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Recording, "__init__", keep)
        with pytest.raises(SettingsError) as caught:
            run_with_config("dev", config, lambda: runpy.run_path(str(MAIN), run_name="__main__"))
    check(caught.value, "groundwork:natGateways", "none", "one of single, perZone")
    (recording,) = recordings
    assert recording.resources == [], [r.urn for r in recording.resources]


def test_main_builds_the_program_from_pulumi_config() -> None:
    rec = run_with_config("dev", _as_config("dev"), lambda: runpy.run_path(str(MAIN), run_name="__main__"))
    assert rec.one("aws:ec2/vpc:Vpc").inputs["cidrBlock"] == "10.0.0.0/16"
    assert len(rec.of_type("aws:ec2/natGateway:NatGateway")) == 1
