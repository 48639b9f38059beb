"""The local stack's verbs as a user reads them: logs that follow, whole log lines, a note shown once, one clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.core.session import open_session
from cli.local import verbs
from cli.local.backend import LocalBackend
from cli.local.processes import log_tail
from stacks.settings import PROJECT_DIR


class _Idle(Exception):
    """Raised where `follow` would wait for more lines."""


def _idle() -> None:
    raise _Idle


def test_follow_yields_the_lines_written_after_it_started(tmp_path: Path) -> None:
    api, nginx = tmp_path / "api.log", tmp_path / "nginx.log"
    api.write_text("old line\n")
    nginx.write_text("")
    lines = verbs.follow({"api": api, "tls": nginx}, pause=_idle)
    with api.open("a") as handle:
        handle.write('{"event": "request"}\npartial')
    assert next(lines) == ("api", '{"event": "request"}')
    with nginx.open("a") as handle:
        handle.write("GET /livez 200\n")
    assert next(lines) == ("tls", "GET /livez 200")
    with api.open("a") as handle:
        handle.write(" line\n")
    assert next(lines) == ("api", "partial line")
    api.write_text("after rotation\n")  # truncated and rewritten
    assert next(lines) == ("api", "after rotation")
    with pytest.raises(_Idle):  # nothing new: it waits (here: stops) instead of spinning
        next(lines)


def test_a_failed_start_shows_whole_lines(tmp_path: Path) -> None:
    log = tmp_path / "api.log"
    error = (
        '  File "/app/groundwork_api/main.py", line 3\n    def broken(:\n               ^\nSyntaxError: invalid syntax'
    )
    log.write_text("x" * 5000 + "\n" + error + "\n")
    tail = log_tail(log, size=120)
    assert tail == error
    long_line = "E" * 3000
    log.write_text(f"first\n{long_line}\n")
    assert log_tail(log, size=100) == long_line  # the last line whole, whatever its length


def test_the_engine_note_is_shown_once_per_stack_and_again_when_it_changes(tmp_path: Path) -> None:
    note = "the program declares PostgreSQL 17; this machine runs PostgreSQL 15"
    assert verbs.note_is_new(tmp_path, note)
    assert not verbs.note_is_new(tmp_path, note)
    assert verbs.note_is_new(tmp_path, note.replace("15", "16"))


def test_up_measures_from_the_start_of_the_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFRA_PROJECT_DIR", str(PROJECT_DIR))
    session = open_session(as_json=True)
    seen: dict[str, float | None] = {}

    def up(project_dir, console, *, spinner, started=None):
        seen["started"] = started
        return {"ok": True}

    monkeypatch.setattr(verbs, "up", up)
    LocalBackend(PROJECT_DIR).up(session, yes=True, smoke=False, verify=False)
    assert seen["started"] == session.started
