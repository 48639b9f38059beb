"""No test asserts that something was fast: a loaded machine would fail it without a defect (figures live in bench/)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
CLOCKS = {"monotonic", "perf_counter", "time", "monotonic_ns", "perf_counter_ns"}
DURATION_NAMES = {"took", "elapsed", "seconds", "duration", "duration_s", "elapsed_s", "latency"}


def _reads_a_clock(node: ast.AST) -> bool:
    return any(
        isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr in CLOCKS
        for call in ast.walk(node)
    )


def _is_duration(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id in DURATION_NAMES) or _reads_a_clock(node)


def _is_deadline(node: ast.AST) -> bool:
    """A polling loop's own limit (`assert time.monotonic() < deadline, "never arrived"`): a wait, not a speed claim."""
    return isinstance(node, ast.Name) and "deadline" in node.id


def _upper_bounds_on_time(tree: ast.AST) -> list[int]:
    """Lines of asserts that put a duration below a bound (`took < 2`, `monotonic() - began < 5`, `5 > took`)."""
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assert):
            continue
        for compare in (n for n in ast.walk(node.test) if isinstance(n, ast.Compare)):
            operands = [compare.left, *compare.comparators]
            for left, op, right in zip(operands, compare.ops, operands[1:], strict=False):
                below = isinstance(op, ast.Lt | ast.LtE) and _is_duration(left) and not _is_deadline(right)
                above = isinstance(op, ast.Gt | ast.GtE) and _is_duration(right) and not _is_deadline(left)
                if below or above:
                    lines.append(node.lineno)
    return lines


def test_the_check_finds_an_upper_bound_on_a_duration() -> None:
    sample = "took = 1\nassert took < 2\nassert time.monotonic() - began <= 5\nassert 3 > elapsed\n"
    assert _upper_bounds_on_time(ast.parse(sample)) == [2, 3, 4]
    allowed = "assert elapsed >= 0.38\nassert n <= base + elapsed\nassert time.monotonic() < deadline, 'never came'\n"
    assert _upper_bounds_on_time(ast.parse(allowed)) == []


def test_no_test_asserts_a_duration_under_a_bound() -> None:
    found = {
        f"{path.relative_to(TESTS)}:{line}"
        for path in TESTS.rglob("*.py")
        for line in _upper_bounds_on_time(ast.parse(path.read_text(), str(path)))
    }
    assert not found, f"timed assertions (move the figure to bench/, assert the behaviour): {sorted(found)}"
