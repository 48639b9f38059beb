"""Entry point the Pulumi CLI runs for the policy pack: serves every control of `infra policy`."""

import pathlib
import sys

PROJECT_DIR = pathlib.Path(__file__).resolve().parent.parent
# The controls live in the project's `cli` package; a checkout without an editable install still finds them.
sys.path.insert(0, str(PROJECT_DIR))

from cli.plan.policy.pack import serve  # noqa: E402

serve(PROJECT_DIR)
