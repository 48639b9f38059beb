"""The image tag follows the content Docker would build from, and nothing else."""

from __future__ import annotations

import pathlib

from stacks.content_tag import content_tag


def make_context(root: pathlib.Path) -> pathlib.Path:
    (root / "pkg").mkdir(parents=True)
    (root / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (root / "pkg" / "app.py").write_text("print('hello')\n")
    (root / ".dockerignore").write_text("# local clutter\ntests/\n*.log\n!keep.log\n")
    return root


def test_tag_is_stable_and_shaped_like_a_docker_tag(tmp_path: pathlib.Path) -> None:
    context = make_context(tmp_path)
    first = content_tag(context)
    assert first == content_tag(context)
    assert first.startswith("sha-")
    assert len(first) == 20


def test_tag_changes_with_source_content_and_file_names(tmp_path: pathlib.Path) -> None:
    context = make_context(tmp_path)
    before = content_tag(context)
    (context / "pkg" / "app.py").write_text("print('hello, world')\n")
    edited = content_tag(context)
    assert edited != before
    (context / "pkg" / "app.py").rename(context / "pkg" / "main.py")
    assert content_tag(context) != edited


def test_ignored_and_generated_files_do_not_change_the_tag(tmp_path: pathlib.Path) -> None:
    context = make_context(tmp_path)
    before = content_tag(context)
    (context / "tests").mkdir()
    (context / "tests" / "test_app.py").write_text("def test(): pass\n")
    (context / "build.log").write_text("noise\n")
    (context / "pkg" / "__pycache__").mkdir()
    (context / "pkg" / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    assert content_tag(context) == before


def test_negated_patterns_are_part_of_the_context(tmp_path: pathlib.Path) -> None:
    context = make_context(tmp_path)
    before = content_tag(context)
    (context / "keep.log").write_text("kept\n")
    assert content_tag(context) != before


def test_docker_rules_apply_in_order_like_the_app_image_context(tmp_path: pathlib.Path) -> None:
    context = tmp_path
    (context / "pkg" / "sub").mkdir(parents=True)
    (context / "Dockerfile").write_text("FROM python:3.11-slim\n")
    (context / "requirements.txt").write_text("aiohttp\n")
    (context / "pkg" / "app.py").write_text("x = 1\n")
    (context / "pkg" / "sub" / "data.json").write_text("{}\n")
    (context / ".dockerignore").write_text("*\n!requirements.txt\n!pkg/\npkg/**/*.json\n")
    before = content_tag(context)
    (context / "README.md").write_text("not in the context\n")
    (context / "pkg" / "sub" / "data.json").write_text('{"changed": true}\n')
    assert content_tag(context) == before, "excluded by '*' and by the later pkg/**/*.json"
    (context / "pkg" / "app.py").write_text("x = 2\n")
    assert content_tag(context) != before, "re-included by !pkg/"
    after_source = content_tag(context)
    (context / "Dockerfile").write_text("FROM python:3.12-slim\n")
    assert content_tag(context) != after_source, "the Dockerfile always counts"


def test_the_app_image_tag_ignores_bytecode(tmp_path: pathlib.Path) -> None:
    import shutil

    from stacks.program import APP_DIR

    copy = tmp_path / "app_image"
    shutil.copytree(APP_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = content_tag(copy)
    package = next(p for p in copy.iterdir() if p.is_dir())
    (package / "__pycache__").mkdir(exist_ok=True)
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    assert content_tag(copy) == before
    assert content_tag(copy) == content_tag(APP_DIR)
