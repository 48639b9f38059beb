"""The confirmation a switch-over demands: on a protected stack, its name typed or passed with --confirm-stack."""

from __future__ import annotations

from collections.abc import Callable

from cli.core.confirm import Guarded, confirm_by_name

SWITCH = Guarded(
    nothing_done="nothing was restored or switched",
    prompt="move its service to the restored database",
    script_hint="pass --confirm-stack {stack} to confirm from a script, or leave out --switch and follow the steps",
)


def confirm_switch(
    stack: str,
    protected: bool,
    *,
    confirm_stack: str | None,
    interactive: bool,
    ask_name: Callable[[str], str],
) -> str:
    """Decide whether the service may be moved to the restored instance; returns how, or raises before any change."""
    named = confirm_by_name(
        stack, protected, SWITCH, confirm_stack=confirm_stack, interactive=interactive, ask_name=ask_name
    )
    # On a stack that is not protected, --switch itself is the confirmation.
    return named or "switch-flag"
