"""The root `infra` command: registers the verbs and turns errors into exit codes."""

from __future__ import annotations

import os
from typing import Any

import typer
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from cli.commands.dashboard import dashboard
from cli.commands.destroy import destroy
from cli.commands.diff import diff
from cli.commands.doctor import doctor
from cli.commands.drill import drill
from cli.commands.logs import logs
from cli.commands.outputs import outputs
from cli.commands.plan import plan
from cli.commands.policy import policy
from cli.commands.preview import preview
from cli.commands.refresh import refresh
from cli.commands.restore import restore
from cli.commands.smoke import smoke
from cli.commands.stacks import stacks
from cli.commands.status import status
from cli.commands.up import up
from cli.commands.verify import verify
from cli.errors import ExitCode, InfraError
from cli.options import JSON_META_KEY

DEBUG_ENV = "INFRA_DEBUG"

HELP = """Deploy and check groundwork's AWS foundation through the Pulumi Automation API.

State lives in .infra/state/ inside the project unless PULUMI_BACKEND_URL says otherwise.
Every command takes --json: one JSON document on stdout, progress on stderr.
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

    def invoke(self, ctx: typer.Context) -> Any:
        from cli.render import render_error

        try:
            return super().invoke(ctx)
        except InfraError as error:
            render_error(error, as_json=bool(ctx.meta.get(JSON_META_KEY)))
            raise typer.Exit(int(error.exit_code)) from None
        except KeyboardInterrupt:
            render_error(InfraError("interrupted", hint="check the stack with `infra refresh`"), as_json=False)
            raise typer.Exit(int(ExitCode.FAILED)) from None
        except (Exit, Abort, TyperException):
            raise
        except Exception as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            internal = InfraError(
                f"unexpected internal error: {type(exc).__name__}: {exc}",
                hint=f"re-run with {DEBUG_ENV}=1 for the traceback and report it",
            )
            render_error(internal, as_json=bool(ctx.meta.get(JSON_META_KEY)))
            raise typer.Exit(int(ExitCode.FAILED)) from None


app = typer.Typer(
    cls=InfraGroup,
    name="infra",
    help=HELP,
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

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
app.command(epilog=EPILOG)(verify)
app.command(epilog=EPILOG)(plan)
app.command(epilog=EPILOG)(diff)
app.command(epilog=EPILOG)(policy)
app.command(epilog=EPILOG)(restore)
app.command(epilog=EPILOG)(drill)
