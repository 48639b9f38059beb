"""The confirmation a switch-over demands: on a protected stack, its name typed or passed with --confirm-stack."""

from __future__ import annotations

from collections.abc import Callable

from cli.errors import ConfirmationRefused


def confirm_switch(
    stack: str,
    protected: bool,
    *,
    confirm_stack: str | None,
    interactive: bool,
    ask_name: Callable[[str], str],
) -> str:
    """Decide whether the service may be moved to the restored instance; returns how, or raises before any change."""
    if confirm_stack is not None:
        if confirm_stack != stack:
            raise ConfirmationRefused(
                f"--confirm-stack {confirm_stack!r} does not match stack {stack!r}; nothing was restored or switched",
                hint=f"pass --confirm-stack {stack} if you mean it",
            )
        return "confirm-stack"
    if not protected:
        return "switch-flag"
    if not interactive:
        raise ConfirmationRefused(
            f"stack {stack!r} is protected and stdin is not a terminal, so no one can confirm the switch; "
            "nothing was restored or switched",
            hint=f"pass --confirm-stack {stack} to confirm from a script, or leave out --switch and follow the steps",
        )
    typed = ask_name(f"Stack {stack} is protected. Type its name to move its service to the restored database")
    if typed.strip() != stack:
        raise ConfirmationRefused(
            f"the name typed does not match {stack!r}; nothing was restored or switched", hint="run the command again"
        )
    return "typed-name"
