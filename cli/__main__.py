"""`python -m cli` runs the infra command."""

from cli.main import app

app(prog_name="infra")
