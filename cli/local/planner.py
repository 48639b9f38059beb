"""The local stack's plan: the program of Pulumi.local.yaml under the offline recorder, cached by its inputs."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import pathlib
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from cli.core import resource_types
from cli.core.errors import ConfigError, OperationFailed, StackSettingsInvalid
from cli.core.files import ensure_private_dir, write_private

STACK = "local"
LOOPBACK = "127.0.0.1"
_SOURCES = ("stacks", "infra", "app_image")
_SKIPPED = ("__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache")
_MAPPING_CODE = (
    "mapping.py",
    "identity_mapping.py",
    "pool_ids.py",
    "planner.py",
    "schedule_times.py",
    "alert_rules.py",
)


CACHE_DIR_ENV = "INFRA_CACHE_DIR"
"""Where the CLI keeps what it can derive again (the local stack's plans); `<project>/.infra/cache` by default."""
PLANS_KEPT = 5
"""Plans kept in the cache, the most recently used first; switching between a few branches or settings keeps hitting."""
_KEY_VERSION = b"local-plan-2"
"""Changes when what a cached plan holds changes shape, so older entries are never read."""
_PACKAGE_PREFIXES = ("pulumi", "pyyaml")
"""Distributions the program imports (the SDK, its providers, the settings' YAML); their versions are in the key."""


@dataclass(frozen=True)
class LocalPlan:
    """The local stack's spec and how it was had: reused from the cache, or planned now (and how long that took)."""

    spec: dict[str, Any]
    reused: bool
    key: str
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"reused": self.reused, "key": self.key[:16], "seconds": round(self.seconds, 3)}


def cache_dir(project_dir: pathlib.Path) -> pathlib.Path:
    """The CLI's cache: `$INFRA_CACHE_DIR`, or `.infra/cache` in the project (beside, not inside, the stack's
    state, so `destroy` keeps it)."""
    override = os.environ.get(CACHE_DIR_ENV)
    return pathlib.Path(override).resolve() if override else project_dir / ".infra" / "cache"


def source_digest(project_dir: pathlib.Path) -> str:
    """The plan's key: what it derives from. The program's and the app's sources (the image tag is the app's
    content), the settings, this mapping, where the project is (the plan names its paths), and the versions of the
    interpreter and of the packages the program imports."""
    digest = hashlib.sha256(_KEY_VERSION + b"\0" + str(project_dir).encode() + b"\0" + sys.version.encode())
    for name in package_versions():
        digest.update(name.encode() + b"\0")
    files = [project_dir / "Pulumi.yaml", project_dir / f"Pulumi.{STACK}.yaml"]
    for top in _SOURCES:
        files += sorted(p for p in (project_dir / top).rglob("*") if p.is_file() and not _skipped(p))
    here = pathlib.Path(__file__).resolve().parent
    files += [here / name for name in _MAPPING_CODE]
    for path in files:
        digest.update(str(path).encode() + b"\0")
        if path.is_file():
            digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def package_versions() -> list[str]:
    """`name-version` of each installed distribution the program imports, from the names of their metadata
    directories (reading every distribution's metadata would cost more than the rest of the key)."""
    found = set()
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        found.update(
            name for name in names if name.lower().startswith(_PACKAGE_PREFIXES) and name.endswith(".dist-info")
        )
    return sorted(found)


def _skipped(path: pathlib.Path) -> bool:
    return any(part in _SKIPPED for part in path.parts) or path.suffix in (".pyc", ".pyo")


def local_spec(project_dir: pathlib.Path, cache: pathlib.Path | None = None) -> LocalPlan:
    """The spec of the local stack: the cached plan of these sources, settings and packages, or planned now."""
    project_dir = project_dir.resolve()
    settings = project_dir / f"Pulumi.{STACK}.yaml"
    if not settings.is_file():
        raise ConfigError(
            f"{settings} does not exist; the local stack realises the plan of its settings",
            hint="restore Pulumi.local.yaml from the repository (docs/local.md)",
        )
    started = time.perf_counter()
    key = source_digest(project_dir)
    plans = (cache or cache_dir(project_dir)) / "local-plans"
    entry = plans / f"{key}.json"
    if entry.is_file():
        try:
            document = json.loads(entry.read_text())
        except (OSError, ValueError):
            document = {}
        if document.get("key") == key and isinstance(document.get("spec"), dict):
            with contextlib.suppress(OSError):
                os.utime(entry)  # most recently used: the last to be pruned
            return LocalPlan(document["spec"], True, key, time.perf_counter() - started)
    spec = plan_in_subprocess(project_dir)
    ensure_private_dir(plans.parent, CACHE_DIR_ENV)
    ensure_private_dir(plans, CACHE_DIR_ENV)
    write_private(entry, json.dumps({"key": key, "spec": spec}))
    prune(plans, PLANS_KEPT)
    return LocalPlan(spec, False, key, time.perf_counter() - started)


def prune(plans: pathlib.Path, kept: int) -> list[pathlib.Path]:
    """Delete all but the `kept` most recently used plans; return what was deleted."""
    entries = sorted(plans.glob("*.json"), key=lambda path: path.stat().st_mtime, reverse=True)
    for stale in entries[kept:]:
        stale.unlink(missing_ok=True)
    return entries[kept:]


def plan_in_subprocess(project_dir: pathlib.Path) -> dict[str, Any]:
    """A fresh interpreter imports the project's own program (a copy or a checkout may differ from this one)."""
    cli_root = str(pathlib.Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(project_dir), cli_root]), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [sys.executable, "-m", "cli.local.planner", "--project", str(project_dir)],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode == 2:
        raise StackSettingsInvalid(done.stderr.strip(), hint=f"fix Pulumi.{STACK}.yaml (docs/settings.md)")
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-8:])
        raise OperationFailed(
            f"the local stack's plan failed: {tail or f'exit {done.returncode}'}",
            hint=f"`infra plan --stack {STACK}` shows the program's plan; the message names the resource",
        )
    return json.loads(done.stdout)


def record(project_dir: pathlib.Path) -> Any:
    """The program of the local stack under the recorder, its database and proxy answering with loopback."""
    from cli.plan.build import record_program
    from cli.plan.mock_answers import StrictMocks
    from stacks.settings import load_stack_settings

    class LoopbackMocks(StrictMocks):
        """The offline answers, except that the database, its proxy and the cache live on this machine's loopback:
        the program then builds DATABASE_URL, CACHE_URL, the credentials secret and the admin connection from
        local hosts."""

        def _computed(self, typ: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
            computed = super()._computed(typ, name, inputs)
            if typ == resource_types.RDS_INSTANCE:
                computed.update(address=LOOPBACK, endpoint=f"{LOOPBACK}:5432")
            elif typ == resource_types.RDS_PROXY:
                computed.update(endpoint=LOOPBACK)
            elif typ == resource_types.ELASTICACHE_REPLICATION_GROUP:
                computed.update(primaryEndpointAddress=LOOPBACK, readerEndpointAddress=LOOPBACK)
            return computed

    settings = load_stack_settings(STACK, project_dir)
    return record_program(settings, mocks=LoopbackMocks(settings.region))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project", required=True, type=pathlib.Path)
    args = parser.parse_args(argv)
    from cli.local.mapping import MappingError, spec
    from stacks.settings import SettingsError

    try:
        recording = record(args.project.resolve())
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    try:
        document = spec(recording)
    except MappingError as error:
        print(error, file=sys.stderr)
        return 1
    sys.stdout.write(json.dumps(document))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    code = main()
    os._exit(code)  # the provider modules' teardown adds nothing
