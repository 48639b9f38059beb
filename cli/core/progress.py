"""Live progress on stderr: one line per finished resource, and a spinner only on a terminal."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

from cli.core.changes import ChangeReport, Diagnostic, StepDone

if TYPE_CHECKING:
    from rich.console import Console

_DONE = {
    "create": ("created", "green"),
    "import": ("imported", "green"),
    "update": ("updated", "yellow"),
    "replace": ("replaced", "magenta"),
    "create-replacement": ("created replacement", "magenta"),
    "delete-replaced": ("deleted original", "magenta"),
    "delete": ("deleted", "red"),
    "discard": ("discarded", "red"),
}
"""How each finished step reads; steps not listed (same, read, refresh) print nothing."""


class LiveProgress:
    """An `on_event` callback that folds events into a ChangeReport and reports as it goes."""

    def __init__(self, report: ChangeReport, console: Console, *, spinner: bool, planning: bool = False) -> None:
        self.report = report
        self.console = console
        self.spinner = spinner
        self.planning = planning
        self._lock = threading.Lock()
        self._status: Any = None
        self._finished = 0

    def __enter__(self) -> LiveProgress:
        if self.spinner:
            self._status = self.console.status(self._status_text())
            self._status.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._status is not None:
            self._status.__exit__(exc_type, exc, tb)
            self._status = None

    def _status_text(self) -> str:
        verb = "planning" if self.planning else f"{self.report.kind} in progress"
        return f"{self.report.stack}: {verb} ({self._finished} resources done)"

    def __call__(self, event: Any) -> None:
        with self._lock:
            item = self.report.apply(event)
            if isinstance(item, Diagnostic):
                self._diagnostic(item)
            elif isinstance(item, StepDone):
                self._step(item)
            if self._status is not None:
                self._status.update(self._status_text())

    def _diagnostic(self, item: Diagnostic) -> None:
        from rich.markup import escape

        if item.severity == "error":
            self.console.print(f"[red]error:[/] {escape(item.message)}")
        elif item.severity == "warning":
            self.console.print(f"[yellow]warning:[/] {escape(item.message)}")

    def _step(self, step: StepDone) -> None:
        from rich.markup import escape

        if self.planning:
            return
        self._finished += 1
        name, kind = escape(step.resource.name), step.resource.type
        if step.failed:
            self.console.print(f"[bold red]x failed[/]  {name} [dim]{kind}[/]")
        elif step.op in _DONE:
            verb, style = _DONE[step.op]
            self.console.print(f"[{style}]{verb:>8}[/]  {name} [dim]{kind}[/]")
