"""The root `infra` command: registers the verbs and turns errors into exit codes."""

from __future__ import annotations

import os
from typing import Annotated, Any, Protocol, TypeGuard

import typer
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from cli.commands.cost import cost
from cli.commands.dashboard import dashboard
from cli.commands.destroy import destroy
from cli.commands.diff import diff
from cli.commands.doctor import doctor
from cli.commands.drill import drill
from cli.commands.load import load
from cli.commands.logs import logs
from cli.commands.outputs import outputs
from cli.commands.plan import plan
from cli.commands.policy import policy
from cli.commands.preview import preview
from cli.commands.refresh import refresh
from cli.commands.releases import releases
from cli.commands.restore import restore
from cli.commands.rollback import rollback
from cli.commands.run import run
from cli.commands.smoke import smoke
from cli.commands.stacks import stacks
from cli.commands.status import status
from cli.commands.token import token
from cli.commands.up import up
from cli.commands.verify import verify
from cli.core.errors import ExitCode, InfraError, UsageError
from cli.core.options import JSON_META_KEY

DEBUG_ENV = "INFRA_DEBUG"
DISTRIBUTION = "groundwork"
"""The distribution whose metadata gives `infra --version` (the version lives in pyproject.toml only)."""
ARGV_META_KEY = "infra.argv"
COMPLETION_FLAGS = ("install_completion", "show_completion")

HELP = """Deploy and check groundwork's AWS foundation through the Pulumi Automation API.

State lives in .infra/state/ inside the project unless PULUMI_BACKEND_URL says otherwise.
Every command takes --json: one JSON document on stdout, nothing on stderr but an error.
"""

EPILOG = (
    "Exit codes: 0 ok · 1 operation failed · 2 usage or configuration error · "
    "3 changes present (preview --detailed-exitcode) · 4 stack busy (another update holds the lock)."
)


class InfraGroup(TyperGroup):
    """The root group: the one place where CLI errors become messages and exit codes."""

    def get_help_option(self, ctx: typer.Context) -> Any:
        # An absent --help defaults to False rather than None, so Typer does not load its
        # pydantic-based value coercion just to read it; this keeps `infra <cmd> --help` fast.
        option = super().get_help_option(ctx)
        if option is not None and option.default is None:
            option.default = False
        return option

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        # Typer's completion flags default to None, and Typer coerces None through pydantic; False skips that
        # import, which would otherwise cost every `infra <cmd>` and `infra <cmd> --help` a few hundred ms.
        for param in self.params:
            if param.name in COMPLETION_FLAGS and param.default is None:
                param.default = False
        ctx.meta[ARGV_META_KEY] = list(args)
        try:
            return super().parse_args(ctx, args)
        except Exception as error:
            _narrow_suggestions(error)
            _usage_error(ctx, error)
            raise

    def invoke(self, ctx: typer.Context) -> Any:
        from cli.core.render import render_error

        try:
            return super().invoke(ctx)
        except InfraError as error:
            render_error(error, as_json=bool(ctx.meta.get(JSON_META_KEY)))
            raise typer.Exit(int(error.exit_code)) from None
        except KeyboardInterrupt:
            render_error(InfraError("interrupted", hint="check the stack with `infra refresh`"), as_json=False)
            raise typer.Exit(int(ExitCode.FAILED)) from None
        except (Exit, Abort, TyperException) as exc:
            _narrow_suggestions(exc)
            _usage_error(ctx, exc)
            raise
        except Exception as exc:
            _narrow_suggestions(exc)
            _usage_error(ctx, exc)
            if _is_usage_error(exc):
                raise
            if os.environ.get(DEBUG_ENV):
                raise
            from cli.core.aws_errors import describe

            told = describe(exc)
            if told is not None:
                render_error(told, as_json=bool(ctx.meta.get(JSON_META_KEY)))
                raise typer.Exit(int(told.exit_code)) from None
            internal = InfraError(
                f"unexpected internal error: {type(exc).__name__}: {exc}",
                hint=f"re-run with {DEBUG_ENV}=1 for the traceback and report it",
            )
            render_error(internal, as_json=bool(ctx.meta.get(JSON_META_KEY)))
            raise typer.Exit(int(ExitCode.FAILED)) from None


class _ClickUsageError(Protocol):
    def format_message(self) -> str: ...


def _is_usage_error(error: BaseException) -> TypeGuard[_ClickUsageError]:
    # Click's UsageError, whether Typer uses click or its own vendored copy of it.
    return any(cls.__name__ == "UsageError" for cls in type(error).__mro__) and hasattr(error, "format_message")


SUGGESTION_CUTOFF = 0.75
"""How alike an unknown option's name must be to one the command accepts for `Did you mean` to name it."""


def _narrow_suggestions(error: BaseException) -> None:
    """Keep Click's `Did you mean` only for options that look like the one typed (`--stak`, not `--bogus` -> `--out`).

    Click compares names with their dashes, so any two short options look alike; this compares the words alone.
    """
    import difflib

    possibilities = getattr(error, "possibilities", None)
    typed = getattr(error, "option_name", None)
    if type(error).__name__ != "NoSuchOption" or not possibilities or not typed:
        return
    words = {option.lstrip("-"): option for option in possibilities}
    close = difflib.get_close_matches(typed.lstrip("-"), list(words), n=3, cutoff=SUGGESTION_CUTOFF)
    error.possibilities = [words[word] for word in close]  # type: ignore[attr-defined]


def _usage_error(ctx: typer.Context, error: BaseException) -> None:
    """Under --json, a usage error is the JSON error document too (exit 2); otherwise Click prints it as usual."""
    if not _is_usage_error(error):
        return
    argv = ctx.meta.get(ARGV_META_KEY, [])
    words = argv[: argv.index("--")] if "--" in argv else argv
    if "--json" not in words:
        return
    from cli.core.render import render_error

    usage_ctx = getattr(error, "ctx", None)
    command = usage_ctx.command_path if usage_ctx is not None else "infra"
    render_error(UsageError(error.format_message(), hint=f"see `{command} --help`"), as_json=True)
    raise typer.Exit(int(ExitCode.USAGE)) from None


def _show_version(value: bool) -> None:
    if not value:
        return
    from importlib.metadata import PackageNotFoundError, version

    try:
        typer.echo(f"infra {version(DISTRIBUTION)}")
    except PackageNotFoundError:
        typer.echo(f"infra: the {DISTRIBUTION} distribution is not installed (run scripts/setup.sh)", err=True)
        raise typer.Exit(int(ExitCode.USAGE)) from None
    raise typer.Exit()


app = typer.Typer(
    cls=InfraGroup,
    name="infra",
    help=HELP,
    epilog=EPILOG,
    no_args_is_help=True,
    context_settings={"help_option_names": ["--help", "-h"]},
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    pass


app.command(epilog=EPILOG)(preview)
app.command(epilog=EPILOG)(up)
app.command(epilog=EPILOG)(destroy)
app.command(epilog=EPILOG)(refresh)
app.command(epilog=EPILOG)(outputs)
app.command(epilog=EPILOG)(stacks)
app.command(epilog=EPILOG)(doctor)
app.command(epilog=EPILOG)(status)
app.command(epilog=EPILOG)(logs)
app.command(epilog=EPILOG)(dashboard)
app.command(epilog=EPILOG)(smoke)
app.command(epilog=EPILOG)(load)
app.command(epilog=EPILOG)(verify)
app.command(epilog=EPILOG)(plan)
app.command(epilog=EPILOG)(diff)
app.command(epilog=EPILOG)(policy)
app.command(epilog=EPILOG)(cost)
app.command(epilog=EPILOG)(restore)
app.command(epilog=EPILOG)(drill)
app.command(epilog=EPILOG)(token)
app.command(epilog=EPILOG)(releases)
app.command(epilog=EPILOG)(rollback)
app.command(epilog=EPILOG, context_settings={"allow_interspersed_args": False})(run)
