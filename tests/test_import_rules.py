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


# Transitive rules: an import through an intermediate module counts as much as a direct one.

PACKAGES = ("infra", "stacks", "cli")
CLI_MAY_REACH_INFRA = frozenset({"infra", "infra.limits"})
"""The CLI may use AWS's tables (plain Python) without loading a component."""
OFFLINE_PLAN = ("cli.plan.build", "stacks.program")
"""The one documented way from the CLI to the components: the offline plan builds the program."""


def module_name(root: pathlib.Path, path: pathlib.Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: pathlib.Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """Each project module and the project modules it imports anywhere in its body (lazy imports included)."""
    files = {module_name(root, p): p for package in packages for p in sorted((root / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets.add(base)
                targets.update(f"{base}.{alias.name}" for alias in node.names)
        edges = set()
        for target in targets:
            # `import a.b.c` also runs a and a.b.
            parts = target.split(".")
            edges.update(".".join(parts[: i + 1]) for i in range(len(parts)) if ".".join(parts[: i + 1]) in files)
        # A module's own packages are already imported when it runs: an edge to them is no import.
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        graph[name] = edges - {name} - ancestors
    return graph


def reach(graph: dict[str, set[str]], start: str, *, allowed_edge=lambda a, b: True) -> dict[str, list[str]]:
    """Every module reachable from start, with one import path to it."""
    paths = {start: [start]}
    todo = [start]
    while todo:
        current = todo.pop()
        for target in sorted(graph.get(current, ())):
            if target not in paths and allowed_edge(current, target):
                paths[target] = [*paths[current], target]
                todo.append(target)
    return paths


def cli_paths_into_infra(graph: dict[str, set[str]]) -> list[str]:
    """Import chains from a CLI module to a component other than through the offline plan."""
    problems = []
    for module in sorted(m for m in graph if m == "cli" or m.startswith("cli.")):
        # The program (and what it imports) is not followed: the offline plan's edge to it is the documented one,
        # and any other module that imports it is reported itself.
        paths = reach(graph, module, allowed_edge=lambda a, b: b != OFFLINE_PLAN[1])
        for target, path in sorted(paths.items()):
            if target.split(".")[0] == "infra" and target not in CLI_MAY_REACH_INFRA:
                problems.append(" -> ".join(path))
            if OFFLINE_PLAN[1] in graph.get(target, ()) and target != OFFLINE_PLAN[0]:
                problems.append(" -> ".join([*path, OFFLINE_PLAN[1]]))
    return problems


def test_cli_reaches_components_only_through_the_offline_plan() -> None:
    assert cli_paths_into_infra(import_graph(ROOT)) == []


def test_the_offline_plan_is_the_path_that_is_allowed() -> None:
    graph = import_graph(ROOT)
    assert "stacks.program" in graph["cli.plan.build"]
    assert "infra.database" in reach(graph, "cli.plan.build")


def test_infra_and_stacks_never_reach_the_cli() -> None:
    graph = import_graph(ROOT)
    problems = []
    for module in sorted(m for m in graph if m.split(".")[0] in ("infra", "stacks")):
        for target, path in reach(graph, module).items():
            if target.split(".")[0] == "cli" or (module.startswith("infra") and target.startswith("stacks")):
                problems.append(" -> ".join(path))
    assert problems == []


def test_the_limits_module_needs_no_cloud_sdk() -> None:
    for module in ("infra", "infra.limits"):
        path = ROOT / (module.replace(".", "/") + ("/__init__.py" if module == "infra" else ".py"))
        found = violations(path, modules=("pulumi", "pulumi_aws", "boto3", "botocore", "httpx"), names=())
        assert found == [], found


def test_a_rule_broken_through_an_intermediate_module_is_found(tmp_path: pathlib.Path) -> None:
    for name, text in {
        "cli/__init__.py": "",
        "cli/commands.py": "def run():\n    from cli import helpers\n",
        "cli/helpers.py": "from stacks.tools import thing\n",
        "cli/plan/__init__.py": "",
        "cli/plan/build.py": "from stacks import program\n",
        "stacks/__init__.py": "",
        "stacks/tools.py": "from ..infra import network\nthing = 1\n",
        "stacks/program.py": "import infra.database\n",
        "infra/__init__.py": "",
        "infra/network.py": "",
        "infra/database.py": "from . import limits\n",
        "infra/limits.py": "",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "stacks/tools.py").write_text("from infra import network\nthing = 1\n")
    problems = cli_paths_into_infra(import_graph(tmp_path))
    assert "cli.commands -> cli.helpers -> stacks.tools -> infra.network" in problems
    assert not any(p.endswith("infra.database") for p in problems), problems
    (tmp_path / "cli/helpers.py").write_text("from stacks.tools import thing\nfrom stacks.program import build\n")
    problems = cli_paths_into_infra(import_graph(tmp_path))
    assert "cli.helpers -> stacks.program" in problems


# Cycles: no module reaches itself, whether through top-level imports, imports inside functions or type-only ones.


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_import_cycle_anywhere() -> None:
    assert import_cycles(import_graph(ROOT)) == []
    assert import_cycles(import_graph(ROOT / "app_image", ("groundwork_api",))) == []


def test_a_cycle_through_a_function_level_import_is_found(tmp_path: pathlib.Path) -> None:
    for name, text in {
        "cli/__init__.py": "",
        "cli/a.py": "from cli import b\n",
        "cli/b.py": "def later():\n    from cli.c import thing\n",
        "cli/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cli.a import x\nthing = 1\n",
        "cli/d.py": "from cli import a\n",
    }.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert import_cycles(import_graph(tmp_path, ("cli",))) == [["cli.a", "cli.b", "cli.c"]]


def test_only_the_stack_opener_names_a_backend_among_the_commands() -> None:
    graph = import_graph(ROOT)
    naming = sorted(
        module
        for module, targets in graph.items()
        if module.startswith("cli.commands.") and any(t.startswith("cli.local") for t in targets)
    )
    assert naming == ["cli.commands.context"]


MAX_MODULE_LINES = 600
LONG_BY_DESIGN = {"stacks/settings.py"}
"""The settings declaration table: one declaration per setting, read as a table."""


def test_no_module_is_over_the_size_limit() -> None:
    over = []
    for package in ("cli", "infra", "stacks", "app_image", "bench"):
        for path in sorted((ROOT / package).rglob("*.py")):
            name = str(path.relative_to(ROOT))
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_MODULE_LINES and name not in LONG_BY_DESIGN:
                over.append(f"{name}: {lines} lines")
    assert over == [], "split these by concern (docs/architecture.md)"
