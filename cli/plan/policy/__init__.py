"""Policy controls over plain plan data; `control` registers one, built-ins live in `controls/`."""

from cli.plan.policy.model import Violation, control
from cli.plan.policy.view import PlanView

__all__ = ["PlanView", "Violation", "control"]
