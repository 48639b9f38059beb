"""The local stack's plan: the program of Pulumi.local.yaml run by the offline recorder, cached by its sources."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pathlib
import subprocess
import sys
from typing import Any

from cli.core import resource_types
from cli.core.errors import ConfigError, OperationFailed, StackSettingsInvalid

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


def source_digest(project_dir: pathlib.Path) -> str:
    """A hash of what decides the plan: the program's and the app's sources, the settings, and this mapping."""
    digest = hashlib.sha256()
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


def _skipped(path: pathlib.Path) -> bool:
    return any(part in _SKIPPED for part in path.parts) or path.suffix in (".pyc", ".pyo")


def local_spec(project_dir: pathlib.Path, cache_dir: pathlib.Path) -> dict[str, Any]:
    """The spec of the local stack; planned again only when a source changed since the cached one."""
    project_dir = project_dir.resolve()
    settings = project_dir / f"Pulumi.{STACK}.yaml"
    if not settings.is_file():
        raise ConfigError(
            f"{settings} does not exist; the local stack realises the plan of its settings",
            hint="restore Pulumi.local.yaml from the repository (docs/local.md)",
        )
    digest = source_digest(project_dir)
    cached = cache_dir / "plan.json"
    if cached.is_file():
        try:
            document = json.loads(cached.read_text())
        except ValueError:
            document = {}
        if document.get("digest") == digest:
            return document["spec"]
    spec = plan_in_subprocess(project_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    temporary = cached.with_name(f".plan.{os.getpid()}")
    temporary.write_text(json.dumps({"digest": digest, "spec": spec}))
    os.replace(temporary, cached)
    return spec


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
