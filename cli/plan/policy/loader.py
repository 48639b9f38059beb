"""Finds the controls: the built-in modules, then every module in the project's `policies/` directory."""

from __future__ import annotations

import importlib
import importlib.util
import pathlib
import sys

from cli.core.errors import ConfigError
from cli.plan.policy.controls import MODULES
from cli.plan.policy.model import REGISTRY, Control

POLICIES_DIR = "policies"
"""Directory in the project whose `*.py` modules add controls with `@cli.plan.policy.control`."""


def load_controls(project_dir: pathlib.Path | None = None) -> list[Control]:
    """Built-in controls in table order, then the project's own, in file-name order."""
    for name in MODULES:
        importlib.import_module(f"cli.plan.policy.controls.{name}")
    if project_dir is not None:
        for path in sorted((pathlib.Path(project_dir) / POLICIES_DIR).glob("*.py")):
            _load_user_module(path)
    # Registration follows import order, which is not table order once something imported a control module first.
    table_order = {f"cli.plan.policy.controls.{name}": n for n, name in enumerate(MODULES)}
    return sorted(REGISTRY.values(), key=lambda c: table_order.get(c.module, len(table_order)))


def _load_user_module(path: pathlib.Path) -> None:
    """Imports one user module under a private name so that it registers its controls once."""
    name = f"_groundwork_policies.{path.stem}"
    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot load the policy module {path}", hint="policies/ holds plain Python modules")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise ConfigError(
            f"the policy module {path} failed to load: {type(error).__name__}: {error}",
            hint="fix the module or move it out of policies/",
        ) from None
