"""Hostile stack files: each refusal exits 2 from `infra plan` / `infra policy`, naming file, line, key and value."""

from __future__ import annotations

import pathlib

import pytest

from stacks import stack_file
from stacks.settings import SETTINGS, SettingsError, load_stack_settings
from tests.cli.conftest import Infra, project  # noqa: F401  (fixture)


@pytest.fixture
def infra() -> Infra:
    return Infra()


def _append(project: pathlib.Path, stack: str, text: str) -> None:  # noqa: F811
    path = project / f"Pulumi.{stack}.yaml"
    path.write_bytes(path.read_bytes() + text.encode())


def _replace(project: pathlib.Path, stack: str, old: str, new: str) -> None:  # noqa: F811
    path = project / f"Pulumi.{stack}.yaml"
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def _refused(infra: Infra, verb: str, stack: str) -> dict:
    doc = infra.json(verb, "--stack", stack, code=2)
    assert doc["error"]["kind"] == "StackSettingsInvalid", doc
    assert "Traceback" not in doc["error"]["message"]
    return doc


@pytest.mark.parametrize(
    ("old", "new", "key", "value", "allowed"),
    [
        ("databaseObjects: false", "databaseObjects: false\n  groundwork:databaseName: _app", "databaseName", "_app",
         "a letter"),
        ("serviceMemory: 512", "serviceMemory: 4096", "serviceMemory", 4096, "one of 512, 1024, 2048"),
        ("logRetentionDays: 14", "logRetentionDays: 15", "logRetentionDays", 15, "3653"),
        ("databaseObjects: false", "databaseObjects: false\n  groundwork:dbMasterUsername: public",
         "dbMasterUsername", "public", "not postgres, admin, rdsadmin, root, master, user, public"),
        ("dbMultiAz: false", "dbMultiAZ: false", "dbMultiAZ", False, "did you mean groundwork:dbMultiAz?"),
        ("dbMultiAz: false", "dbMultiAz: yes", "dbMultiAz", "yes", "true or false"),
        ("serviceCpu: 256", "serviceCpu: 0x100", "serviceCpu", "0x100", "one of 256"),
        ("databaseObjects: false", "databaseObjects: false\n  groundwork:databaseName: template1", "databaseName",
         "template1", "not postgres, rdsadmin, template0, template1"),
        ("databaseObjects: false", "databaseObjects: false\n  groundwork:backupSchedule: cron(x x x x x x)",
         "backupSchedule", "cron(x x x x x x)", "with valid fields"),
        ("databaseObjects: false", "databaseObjects: false\n  groundwork:backupSchedule: cron(0 3 * * * *)",
         "backupSchedule", "cron(0 3 * * * *)", "one of day-of-month and day-of-week ?"),
        ("databaseObjects: false", "databaseObjects: false\n  groundwork:backupSchedule: cron(0/15 * * * ? *)",
         "backupSchedule", "cron(0/15 * * * ? *)", "at most hourly"),
        ("databaseObjects: false", 'databaseObjects: false\n  groundwork:alarmEmail: "ops\\u0000@example.com"',
         "alarmEmail", "ops\x00@example.com", "without controls"),
    ],
)  # fmt: skip
def test_plan_refuses_a_bad_setting_with_key_value_and_allowed(
    infra: Infra,
    project: pathlib.Path,  # noqa: F811
    old: str,
    new: str,
    key: str,
    value: object,
    allowed: str,
) -> None:
    _replace(project, "dev", old, new)
    doc = _refused(infra, "plan", "dev")
    setting = doc["setting"]
    assert setting["key"] == f"groundwork:{key}"
    assert setting["value"] == value
    assert allowed in setting["allowed"]
    assert setting["file"] == "Pulumi.dev.yaml"
    assert isinstance(setting["line"], int)
    assert f"groundwork:{key}" in doc["error"]["message"]
    assert repr(value) in doc["error"]["message"]


@pytest.mark.parametrize("line", ["groundwork:dbDeletionProtection: false", "conifg:", "stackTags: {}"])
def test_a_top_level_key_pulumi_does_not_read_is_refused_with_its_line(
    infra: Infra,
    project: pathlib.Path,  # noqa: F811
    line: str,
) -> None:
    """A setting written at column 0 (or a misspelt `config:`) would otherwise be dropped without a word."""
    _append(project, "prod", line + "\n")
    appended = len((project / "Pulumi.prod.yaml").read_text().splitlines())
    doc = _refused(infra, "plan", "prod")
    assert f"Pulumi.prod.yaml:{appended}" in doc["error"]["message"]
    assert "settings go under config:, indented" in doc["error"]["message"]


def test_a_key_given_twice_is_refused_even_when_it_weakens_prod(infra: Infra, project: pathlib.Path) -> None:  # noqa: F811
    _append(project, "prod", "  groundwork:protect: false\n")
    appended = len((project / "Pulumi.prod.yaml").read_text().splitlines())
    for verb in ("plan", "policy"):
        doc = _refused(infra, verb, "prod")
        assert doc["setting"]["key"] == "groundwork:protect"
        assert "each key once (also on line 7)" in doc["error"]["message"]
        assert f"Pulumi.prod.yaml:{appended}" in doc["error"]["message"]
        assert doc["setting"]["line"] == appended


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("  groundwork:jwtAudience: &b x\n", "no anchors"),
        ("  groundwork:jwtAudience: *b\n", "no aliases"),
        ("  groundwork:jwtAudience: !!str x\n", "no tags"),
        ("---\nconfig: {}\n", "one YAML document"),
        ("  groundwork:jwtAudience: \xff\n", "UTF-8 text (byte 0xff is not)"),
        ("  groundwork:jwtAudience: [unclosed\n", "valid YAML"),
    ],
)
def test_hostile_yaml_is_refused_with_file_and_line(
    infra: Infra,
    project: pathlib.Path,  # noqa: F811
    text: str,
    problem: str,
) -> None:
    path = project / "Pulumi.dev.yaml"
    data = text.encode("latin-1") if "\xff" in text else text.encode()
    path.write_bytes(path.read_bytes() + data)
    doc = _refused(infra, "plan", "dev")
    assert problem in doc["error"]["message"]
    assert "Pulumi.dev.yaml:" in doc["error"]["message"]
    assert doc["setting"]["line"] >= 36
    if "groundwork:jwtAudience" in text and "---" not in text:
        assert doc["setting"]["key"] == "groundwork:jwtAudience", doc


def test_an_alias_bomb_is_refused_before_any_expansion(tmp_path: pathlib.Path) -> None:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1},*a{i - 1}]" for i in range(1, 12)]
    (tmp_path / "Pulumi.bomb.yaml").write_text("\n".join(lines) + "\nconfig:\n  aws:region: *a11\n")
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("bomb", tmp_path)
    assert "no anchors" in caught.value.allowed
    assert caught.value.line == 1


def test_a_large_file_is_refused_without_reading_it_whole(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "Pulumi.big.yaml"
    with open(path, "wb") as handle:
        handle.write(b"config:\n  groundwork:jwtAudience: ")
        handle.truncate(64 * 1024 * 1024)
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("big", tmp_path)
    assert "at most 256 KiB" in caught.value.allowed


def test_a_huge_value_is_quoted_back_shortened(tmp_path: pathlib.Path) -> None:
    value = "x" * 200_000
    (tmp_path / "Pulumi.long.yaml").write_text(f"config:\n  aws:region: eu-west-1\n  groundwork:domain: {value}\n")
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("long", tmp_path)
    message = str(caught.value)
    assert len(message) < 400
    assert "(200000 characters)" in message
    assert "Pulumi.long.yaml:3" in message


def test_plain_scalars_are_read_as_yaml_1_2(tmp_path: pathlib.Path) -> None:
    (tmp_path / "Pulumi.s.yaml").write_text(
        "config:\n  a: 030\n  b: yes\n  c: on\n  d: 0o17\n  e: true\n  f: '030'\n  g: ~\n  h: 1.5\n"
    )
    config = stack_file.read(tmp_path / "Pulumi.s.yaml").config
    assert config == {"a": 30, "b": "yes", "c": "on", "d": "0o17", "e": True, "f": "030", "g": None, "h": 1.5}


def test_thirty_written_with_a_leading_zero_is_thirty(tmp_path: pathlib.Path) -> None:
    (tmp_path / "Pulumi.z.yaml").write_text(
        "config:\n  aws:region: eu-west-1\n  groundwork:domain: example.com\n  groundwork:protect: false\n"
        "  groundwork:secretRotationDays: 030\n"
    )
    assert load_stack_settings("z", tmp_path).secret_rotation_days == 30


def test_a_stack_file_with_only_the_required_keys_works_for_any_stack_name(tmp_path: pathlib.Path) -> None:
    (tmp_path / "Pulumi.local.yaml").write_text("config:\n  aws:region: eu-west-1\n  groundwork:domain: example.test\n")
    settings = load_stack_settings("local", tmp_path)
    assert settings.protect
    assert settings.host_name == "api.example.test"


@pytest.mark.parametrize(
    "text",
    [
        "config:\n  groundwork:domain:\n    nested: [1, 2]\n",
        "config:\n  ? [a, b]\n  : x\n",
        "config: [1, 2]\n",
        "- 1\n",
        "config:\n  groundwork:domain: " + "[" * 20 + "]" * 20 + "\n",
        "config:\n  groundwork:domain: a\x00b\n",
        "config:\n  aws:region: eu-west-1\n  groundwork:: x\n",
    ],
)
def test_other_malformed_files_are_settings_errors(tmp_path: pathlib.Path, text: str) -> None:
    (tmp_path / "Pulumi.bad.yaml").write_text(text)
    with pytest.raises(SettingsError):
        load_stack_settings("bad", tmp_path)


def test_plan_settings_shows_each_value_with_its_source(infra: Infra, project: pathlib.Path) -> None:  # noqa: F811
    _append(project, "dev", "  groundwork:alarmEmail:\n    secure: v1:c2VjcmV0\n")
    doc = infra.json("plan", "--stack", "dev", "--settings")
    rows = {row["key"]: row for row in doc["settings"]}
    assert doc["stack"] == "dev"
    assert rows["groundwork:serviceCpu"] == {
        "key": "groundwork:serviceCpu",
        "value": 256,
        "source": "file",
        "line": 22,
        "allowed": "one of 256, 512, 1024, 2048, 4096",
        "feeds": ["ServiceArgs.cpu"],
    }
    assert rows["groundwork:vpcCidr"]["source"] == "default"
    assert rows["groundwork:vpcCidr"]["value"] == "10.0.0.0/16"
    assert rows["groundwork:alarmEmail"]["value"] == "[secret]"
    assert "c2VjcmV0" not in str(doc)
    assert len(rows) == len(SETTINGS) + 1, "every setting and aws:region"


def test_plan_settings_refuses_a_bad_file_like_plan(infra: Infra, project: pathlib.Path) -> None:  # noqa: F811
    _append(project, "dev", "  groundwork:protect: true\n")
    infra("plan", "--stack", "dev", "--settings", code=2)


def test_a_huge_unknown_key_is_quoted_back_shortened(tmp_path: pathlib.Path) -> None:
    key = "groundwork:" + "k" * 100_000
    (tmp_path / "Pulumi.k.yaml").write_text(f"config:\n  aws:region: eu-west-1\n  {key}: 1\n")
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("k", tmp_path)
    assert len(str(caught.value)) < 400


def test_deep_brackets_are_refused_quickly(tmp_path: pathlib.Path) -> None:
    (tmp_path / "Pulumi.d.yaml").write_text("config:\n  groundwork:domain: " + "[" * 200_000 + "\n")
    with pytest.raises(SettingsError) as caught:
        load_stack_settings("d", tmp_path)
    assert caught.value.line is not None


@pytest.mark.parametrize("empty", ["", " ~", " null", " Null"])
def test_an_empty_value_is_refused_with_the_key_and_line(tmp_path: pathlib.Path, empty: str) -> None:
    (tmp_path / "Pulumi.e.yaml").write_text(
        f"config:\n  aws:region: eu-west-1\n  groundwork:domain: example.com\n  groundwork:serviceCpu:{empty}\n"
    )
    with pytest.raises(SettingsError) as refused:
        load_stack_settings("e", tmp_path)
    assert refused.value.key == "groundwork:serviceCpu"
    assert refused.value.line == 4
    assert "Pulumi.e.yaml:4 has an empty value" in str(refused.value)


def test_an_empty_region_is_refused_too(tmp_path: pathlib.Path) -> None:
    (tmp_path / "Pulumi.r.yaml").write_text("config:\n  aws:region:\n  groundwork:domain: example.com\n")
    with pytest.raises(SettingsError, match=r"'aws:region' in .*Pulumi.r.yaml:2 has an empty value"):
        load_stack_settings("r", tmp_path)
