"""Component conventions: a why-comment above each resource, children named after the component, outputs last."""

from __future__ import annotations

import ast
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
INFRA = sorted((ROOT / "infra").glob("*.py"))
RESOURCE_CALL = re.compile(r"(aws|postgresql|docker_build|random)\.([a-z0-9_]+\.)?[A-Z]\w*$")
NOT_RESOURCES = ("docker_build.Platform",)


def statements_with_resources(tree: ast.AST) -> list[tuple[ast.stmt, ast.Call]]:
    """Each resource constructor call with the statement that contains it."""
    found = []
    for statement in ast.walk(tree):
        if not isinstance(statement, ast.stmt) or isinstance(statement, ast.FunctionDef | ast.ClassDef | ast.For):
            continue
        if isinstance(statement, ast.If | ast.With | ast.Try):
            continue
        for node in ast.walk(statement):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if RESOURCE_CALL.match(name) and name not in NOT_RESOURCES and not name.endswith("Args"):
                    found.append((statement, node))
    return found


@pytest.mark.parametrize("path", [*INFRA, ROOT / "stacks" / "program.py"], ids=lambda p: p.name)
def test_every_resource_has_a_comment_saying_why(path: pathlib.Path) -> None:
    lines = path.read_text().splitlines()
    tree = ast.parse("\n".join(lines))
    missing = []
    for statement, call in statements_with_resources(tree):
        above = lines[statement.lineno - 2].strip()
        if not above.startswith("#"):
            missing.append(f"{path.name}:{call.lineno} {ast.unparse(call.func)}")
    assert missing == []


@pytest.mark.parametrize("path", INFRA, ids=lambda p: p.name)
def test_children_are_named_after_their_component(path: pathlib.Path) -> None:
    tree = ast.parse(path.read_text())
    for _, call in statements_with_resources(tree):
        first = call.args[0] if call.args else None
        assert isinstance(first, ast.JoinedStr), f"{path.name}:{call.lineno} name is not an f-string"
        head = first.values[0]
        assert isinstance(head, ast.FormattedValue), f"{path.name}:{call.lineno}"
        assert ast.unparse(head.value) == "name", f"{path.name}:{call.lineno}"
        assert isinstance(first.values[1], ast.Constant), f"{path.name}:{call.lineno}"
        assert str(first.values[1].value).startswith("-"), f"{path.name}:{call.lineno}"


@pytest.mark.parametrize("path", INFRA, ids=lambda p: p.name)
def test_components_register_outputs_last(path: pathlib.Path) -> None:
    tree = ast.parse(path.read_text())
    for cls in [n for n in tree.body if isinstance(n, ast.ClassDef)]:
        bases = [ast.unparse(b) for b in cls.bases]
        if "pulumi.ComponentResource" not in bases:
            continue
        init = next(f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__")
        last = init.body[-1]
        assert isinstance(last, ast.Expr), cls.name
        assert isinstance(last.value, ast.Call), cls.name
        assert ast.unparse(last.value.func) == "self.register_outputs", cls.name
        type_arg = ast.unparse(
            next(
                n for n in ast.walk(init) if isinstance(n, ast.Call) and ast.unparse(n.func) == "super().__init__"
            ).args[0]
        )
        assert type_arg.endswith("TYPE"), f"{cls.name} takes its type token from a module constant"


@pytest.mark.parametrize("path", [*INFRA, *sorted((ROOT / "stacks").glob("*.py"))], ids=lambda p: p.name)
def test_module_docstring_is_one_line(path: pathlib.Path) -> None:
    docstring = ast.get_docstring(ast.parse(path.read_text()))
    assert docstring, path.name
    assert "\n" not in docstring.strip(), path.name
