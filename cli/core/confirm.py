"""The confirmation a destructive verb demands on a protected stack: its name, typed or passed with --confirm-stack."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cli.core.errors import ConfirmationRefused


@dataclass(frozen=True)
class Guarded:
    """What a verb would do, in the words its refusals use."""

    nothing_done: str
    """How a refusal ends, e.g. "nothing was destroyed"."""
    prompt: str
    """What the typed name confirms, e.g. "destroy it"."""
    script_hint: str
    """The next step when no one can type the name, with {stack} in it."""


def confirm_by_name(
    stack: str,
    protected: bool,
    guarded: Guarded,
    *,
    confirm_stack: str | None,
    interactive: bool,
    ask_name: Callable[[str], str],
) -> str | None:
    """`confirm-stack` or `typed-name` when the name was given; None when the stack is not protected and no name was
    passed (the verb's own confirmation applies). Anything else raises before any change."""
    if confirm_stack is not None:
        if confirm_stack != stack:
            raise ConfirmationRefused(
                f"--confirm-stack {confirm_stack!r} does not match stack {stack!r}; {guarded.nothing_done}",
                hint=f"pass --confirm-stack {stack} if you mean it",
            )
        return "confirm-stack"
    if not protected:
        return None
    if not interactive:
        raise ConfirmationRefused(
            f"stack {stack!r} is protected and stdin is not a terminal, so no one can confirm; {guarded.nothing_done}",
            hint=guarded.script_hint.format(stack=stack),
        )
    typed = ask_name(f"Stack {stack} is protected. Type its name to {guarded.prompt}")
    if typed.strip() != stack:
        raise ConfirmationRefused(
            f"the name typed does not match {stack!r}; {guarded.nothing_done}", hint="run the command again"
        )
    return "typed-name"


DESTROY = Guarded(
    nothing_done="nothing was destroyed",
    prompt="destroy it",
    script_hint="pass --confirm-stack {stack} to confirm from a script",
)


def confirm_destroy(
    stack: str,
    protected: bool,
    *,
    yes: bool,
    confirm_stack: str | None,
    interactive: bool,
    ask_name: Callable[[str], str],
    ask_yes: Callable[[str], bool],
) -> str:
    """Decide whether destroy may go ahead; returns how it was confirmed or raises ConfirmationRefused."""
    if protected and yes and confirm_stack is None:
        raise ConfirmationRefused(
            f"stack {stack!r} is protected: --yes is not enough to destroy it; nothing was destroyed",
            hint=f"drop --yes and type the stack name at the prompt, or pass --confirm-stack {stack}",
        )
    named = confirm_by_name(
        stack, protected, DESTROY, confirm_stack=confirm_stack, interactive=interactive, ask_name=ask_name
    )
    if named is not None:
        return named
    if yes:
        return "yes"
    if not interactive:
        raise ConfirmationRefused(
            f"not destroying {stack!r}: confirmation needed and stdin is not a terminal",
            hint=f"run `infra destroy --stack {stack} --yes` once you have read the list",
        )
    if not ask_yes(f"Destroy everything listed in {stack}?"):
        raise ConfirmationRefused("cancelled; nothing was destroyed", hint="run the command again when ready")
    return "prompt"


def confirm_rollback(stack: str, *, yes: bool, interactive: bool, ask_yes: Callable[[str], bool], what: str) -> str:
    """Decide whether a rollback may go ahead (`what` says what it would do); returns how it was confirmed."""
    if yes:
        return "yes"
    if not interactive:
        raise ConfirmationRefused(
            f"not rolling back {stack!r}: confirmation needed and stdin is not a terminal; nothing was changed",
            hint=f"run `infra rollback --stack {stack} --yes` once you have read what it would do",
        )
    if not ask_yes(f"{what}. Roll back {stack}?"):
        raise ConfirmationRefused("cancelled; nothing was changed", hint="run the command again when ready")
    return "prompt"
