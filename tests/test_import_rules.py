"""The separation of code kinds: infra never reads config or the environment, cli never imports infra."""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def sources(package: str) -> list[pathlib.Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported_modules(tree: ast.AST) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def attribute_chains(tree: ast.AST) -> set[str]:
    """Dotted names used in the module, such as `pulumi.Config` or `os.environ`."""
    chains = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            parts = []
            current: ast.AST = node
            while isinstance(current, ast.Attribute):
                parts.append(current.attr)
                current = current.value
            if isinstance(current, ast.Name):
                parts.append(current.id)
                chains.add(".".join(reversed(parts)))
    return chains


def violations(path: pathlib.Path, *, modules: tuple[str, ...], names: tuple[str, ...]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    label = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    found = []
    for module in imported_modules(tree):
        if any(module == m or module.startswith(f"{m}.") for m in modules):
            found.append(f"{label} imports {module}")
    for chain in attribute_chains(tree):
        if any(chain == n or chain.startswith(f"{n}.") for n in names):
            found.append(f"{label} uses {chain}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in ("getenv", "environ", "Config"):
            found.append(f"{label} uses {node.id}")
    return found


def test_infra_reads_neither_config_nor_environment() -> None:
    # infra/lambdas holds function sources that run in AWS Lambda, where the environment is their configuration.
    files = [p for p in sources("infra") if "lambdas" not in p.relative_to(ROOT).parts]
    assert files, "infra/ has no modules"
    problems = []
    for path in files:
        problems += violations(
            path,
            modules=("os", "cli", "stacks", "pulumi.config", "dotenv"),
            names=("pulumi.Config", "os.environ", "os.getenv", "pulumi.runtime.config"),
        )
    assert problems == []


def test_only_settings_reads_pulumi_config_in_stacks() -> None:
    problems = []
    for path in sources("stacks"):
        if path.name == "settings.py":
            continue
        problems += violations(
            path,
            modules=("os", "cli"),
            names=("pulumi.Config", "os.environ", "os.getenv", "pulumi.runtime.config"),
        )
    assert problems == []


def test_cli_never_imports_infra() -> None:
    files = sources("cli")
    problems = []
    for path in files:
        found = [p for p in violations(path, modules=("infra",), names=()) if "imports" in p]
        # infra.limits is AWS's tables in plain Python, shared with settings and policy controls.
        problems += [p for p in found if not p.split(" imports ")[1].startswith("infra.limits")]
    assert problems == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import os\nos.environ['X']", ["imports os", "uses os.environ"]),
        ("import pulumi\npulumi.Config('x')", ["uses pulumi.Config"]),
        ("from pulumi import Config\nConfig('x')", ["imports pulumi.Config", "uses Config"]),
        ("from infra.network import Network", ["imports infra.network"]),
    ],
)
def test_the_rule_checker_finds_violations(tmp_path: pathlib.Path, code: str, expected: list[str]) -> None:
    path = tmp_path / "probe.py"
    path.write_text(code)
    found = violations(
        path, modules=("os", "infra", "pulumi.Config"), names=("pulumi.Config", "os.environ", "os.getenv")
    )
    for fragment in expected:
        assert any(fragment in f for f in found), (fragment, found)
