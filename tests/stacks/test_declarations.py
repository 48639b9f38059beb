"""Every setting is declared once and bound for real: each Args field it names exists and receives the setting."""

from __future__ import annotations

import ast
import dataclasses
import importlib

import pytest

from stacks.settings import PROJECT_DIR, SETTINGS, StackSettings

INFRA = PROJECT_DIR / "infra"


def args_classes() -> dict[str, type]:
    """Every `...Args` dataclass of the components, by name."""
    found = {}
    for path in sorted(INFRA.glob("*.py")):
        module = importlib.import_module(f"infra.{path.stem}")
        for name, value in vars(module).items():
            if name.endswith("Args") and dataclasses.is_dataclass(value):
                found[name] = value
    return found


def program_bindings() -> set[tuple[str, str, str]]:
    """(Args class, field, settings attribute) for every `XArgs(field=... s.attr ...)` in the program's modules."""
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in sorted((PROJECT_DIR / "stacks").glob("*.py"))]
    bound = set()
    for call in (node for tree in trees for node in ast.walk(tree)):
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id.endswith("Args"):
            for keyword in call.keywords:
                for node in ast.walk(keyword.value):
                    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "s":
                        bound.add((call.func.id, keyword.arg or "", node.attr))
    return bound


def test_keys_and_fields_are_unique_and_described() -> None:
    assert len({s.key for s in SETTINGS}) == len(SETTINGS)
    fields = {f.name for f in dataclasses.fields(StackSettings)}
    for spec in SETTINGS:
        assert spec.attr in fields, spec.key
        assert spec.description.endswith((".", ")")), spec.key
        assert "\n" not in spec.description, spec.key
        assert spec.kind.allowed, spec.key


@pytest.mark.parametrize("spec", SETTINGS, ids=lambda s: s.key)
def test_each_bound_args_field_exists_and_receives_the_setting(spec) -> None:
    classes = args_classes()
    bound = program_bindings()
    for target in spec.feeds:
        class_name, _, field = target.partition(".")
        assert class_name in classes, f"{spec.key}: no component Args class {class_name}"
        assert field in {f.name for f in dataclasses.fields(classes[class_name])}, f"{spec.key}: no {target}"
        assert (class_name, field, spec.attr) in bound, f"{spec.key}: program does not pass s.{spec.attr} to {target}"


def test_the_binding_check_sees_a_missing_binding() -> None:
    bound = program_bindings()
    assert ("DatabaseArgs", "database_name", "database_name") in bound
    assert ("DatabaseArgs", "database_name", "service_cpu") not in bound


def test_the_defaults_are_those_of_the_dataclass() -> None:
    for spec in SETTINGS:
        field = next(f for f in dataclasses.fields(StackSettings) if f.name == spec.attr)
        if spec.required:
            assert field.default is dataclasses.MISSING
        else:
            assert field.default == spec.default, spec.key
            assert spec.default is None or spec.kind(spec.default) == spec.default, spec.key


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("master_username", "root", "a name other than postgres"),
        ("master_username", "_admin", "a letter"),
        ("database_name", "_app", "a letter"),
        ("app_username", "public", "a name other than postgres"),
    ],
)
def test_the_database_component_refuses_what_the_settings_refuse(field: str, value: str, allowed: str) -> None:
    from infra import database

    args = database.DatabaseArgs(subnet_ids=["a", "b"], security_group_id="sg", **{field: value})
    with pytest.raises(ValueError, match=f"{field}={value!r}") as caught:
        database._validate(args)
    assert allowed in str(caught.value)


def test_settings_and_components_share_the_tables() -> None:
    from infra import limits, task

    assert task.FARGATE_SIZES is limits.FARGATE_SIZES
    spec = next(s for s in SETTINGS if s.key == "logRetentionDays")
    for days in limits.LOG_RETENTION_DAYS:
        assert spec.kind(days) == days
    with pytest.raises(ValueError, match="3653"):
        spec.kind(15)
