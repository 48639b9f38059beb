"""`infra doctor`: check each prerequisite and explain how to fix what is missing."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from cli.cloud.engine import INSTALL_HINT
from cli.cloud.state_backend import (
    PASSPHRASE_ENV,
    PASSPHRASE_FILE_ENV,
    SECRETS_PROVIDER_ENV,
    Backend,
    is_cloud,
    resolve_backend,
    stack_secrets_provider,
    uses_kms,
)
from cli.core.checks import Check
from cli.core.errors import InfraError
from cli.core.project import configured_stacks, stack_config_path

MIN_PULUMI_VERSION = (3, 1, 0)
"""The oldest Pulumi CLI the Automation API accepts."""
_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")
_TIMEOUT = 30


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=_TIMEOUT, check=False)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def check_pulumi() -> Check:
    name = "Pulumi CLI"
    path = shutil.which("pulumi")
    if path is None:
        return Check(name, False, "`pulumi` is not on PATH", INSTALL_HINT)
    try:
        proc = _run([path, "version"])
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(name, False, f"{path} could not be run: {exc}", INSTALL_HINT)
    found = _VERSION.search(proc.stdout)
    if proc.returncode != 0 or not found:
        return Check(name, False, f"`pulumi version` failed: {_first_line(proc.stderr or proc.stdout)}", INSTALL_HINT)
    version = tuple(int(p) for p in found.groups())
    text = ".".join(str(p) for p in version)
    if version < MIN_PULUMI_VERSION or version[0] != MIN_PULUMI_VERSION[0]:
        wanted = ".".join(str(p) for p in MIN_PULUMI_VERSION)
        return Check(name, False, f"version {text} at {path}", f"install Pulumi {MIN_PULUMI_VERSION[0]}.x >= {wanted}")
    return Check(name, True, f"version {text} at {path}")


def _writable_dir(path: Path) -> tuple[bool, str]:
    if path.is_dir():
        try:
            with tempfile.NamedTemporaryFile(dir=path, prefix=".infra-doctor-"):
                pass
        except OSError as exc:
            return False, f"{path} is not writable ({exc.strerror})"
        return True, f"{path} (writable)"
    parent = path
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.is_dir() and os.access(parent, os.W_OK | os.X_OK):
        return True, f"{path} (will be created on first use)"
    return False, f"{path} does not exist and {parent} is not writable"


def _check_s3(url: str) -> tuple[bool, str, str]:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    bucket = url[len("s3://") :].split("/", 1)[0].split("?", 1)[0]
    client = boto3.client("s3", config=Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2}))
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        return (
            False,
            f"{url}: bucket {bucket} not reachable ({code})",
            "create the bucket or fix its permissions",
        )
    except BotoCoreError as exc:
        return False, f"{url}: {exc}", "check AWS credentials (see the AWS row)"
    return True, f"{url} (bucket reachable)", ""


OTHER_BACKEND_SCHEMES = ("gs://", "azblob://", "postgres://")
"""The self-managed backends Pulumi knows besides file:// and s3://, which doctor does not reach itself."""


def check_backend(project_dir: Path, env: dict[str, str]) -> Check:
    name = "State backend"
    backend: Backend = resolve_backend(project_dir, env)
    where = f"from {backend.source}"
    if backend.is_file:
        path = backend.local_path
        assert path is not None
        if not path.is_absolute():
            path = project_dir / path
        ok, detail = _writable_dir(path)
        return Check(
            name,
            ok,
            f"{detail}, {where}",
            "" if ok else "make the directory writable or set PULUMI_BACKEND_URL",
        )
    if backend.url.startswith("s3://"):
        ok, detail, hint = _check_s3(backend.url)
        return Check(name, ok, f"{detail}, {where}", hint)
    if is_cloud(backend.url):
        token = env.get("PULUMI_ACCESS_TOKEN") or (Path.home() / ".pulumi" / "credentials.json").is_file()
        if token:
            return Check(name, True, f"{backend.url} (logged in), {where}")
        return Check(name, False, f"{backend.url}: not logged in", "run `pulumi login` or set PULUMI_ACCESS_TOKEN")
    if not backend.url.startswith(OTHER_BACKEND_SCHEMES):
        allowed = ", ".join(("file://", "s3://", *OTHER_BACKEND_SCHEMES, "https://"))
        return Check(name, False, f"{backend.url!r} ({where}) is not a Pulumi state backend URL", f"use {allowed}")
    return Check(name, True, f"{backend.url} ({where}; reachability is checked by Pulumi on first use)")


def check_secrets(project_dir: Path, env: dict[str, str]) -> Check:
    name = "Secrets"
    provider = env.get(SECRETS_PROVIDER_ENV, "").strip()
    if provider:
        if uses_kms(provider):
            return Check(name, True, f"KMS secrets provider {provider} (from {SECRETS_PROVIDER_ENV})")
        return Check(
            name,
            False,
            f"{SECRETS_PROVIDER_ENV}={provider} is not a KMS provider URL",
            "use awskms://alias/<name>",
        )
    if env.get(PASSPHRASE_ENV) is not None:
        return Check(name, True, f"passphrase from {PASSPHRASE_ENV} (value not shown)")
    passfile = env.get(PASSPHRASE_FILE_ENV)
    if passfile:
        if os.access(passfile, os.R_OK) and Path(passfile).is_file():
            return Check(name, True, f"passphrase from the file in {PASSPHRASE_FILE_ENV}")
        return Check(name, False, f"{PASSPHRASE_FILE_ENV}={passfile} is not a readable file", "fix the path")
    backend = resolve_backend(project_dir, env)
    if is_cloud(backend.url):
        return Check(name, True, "Pulumi Cloud encrypts stack secrets")
    stacks = configured_stacks(project_dir)
    kms = [s for s in stacks if uses_kms(stack_secrets_provider(stack_config_path(project_dir, s)))]
    if stacks and len(kms) == len(stacks):
        return Check(name, True, "every stack names a KMS secrets provider in its Pulumi.<stack>.yaml")
    missing = sorted(set(stacks) - set(kms))
    return Check(
        name,
        False,
        "no passphrase and no KMS secrets provider" + (f" (stacks: {', '.join(missing)})" if missing else ""),
        f"export {PASSPHRASE_ENV} (or {PASSPHRASE_FILE_ENV}), or set {SECRETS_PROVIDER_ENV}=awskms://alias/<name>",
    )


def check_aws(region: str | None) -> Check:
    name = "AWS credentials"
    import boto3.session
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    hint = "sign in: aws sso login, or set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    try:
        session = boto3.session.Session(region_name=region) if region else boto3.session.Session()
        client = session.client(
            "sts",
            region_name=session.region_name or "us-east-1",
            config=Config(connect_timeout=5, read_timeout=10, retries={"max_attempts": 2}),
        )
        identity = client.get_caller_identity()
    except NoCredentialsError:
        return Check(name, False, "no AWS credentials found", hint)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        return Check(name, False, f"STS rejected the credentials ({code})", hint)
    except BotoCoreError as exc:
        return Check(name, False, f"STS could not be asked: {exc}", hint + "; check network access to AWS")
    return Check(name, True, f"account {identity['Account']} as {identity['Arn']}")


def check_docker() -> Check:
    name = "Docker"
    hint = "start the Docker daemon (or Docker Desktop) so `docker info` succeeds; image builds need it"
    path = shutil.which("docker")
    if path is None:
        return Check(name, False, "`docker` is not on PATH", "install Docker: https://docs.docker.com/get-docker/")
    try:
        proc = _run([path, "info", "--format", "{{.ServerVersion}}"])
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(name, False, f"`docker info` did not complete: {exc}", hint)
    if proc.returncode != 0:
        return Check(name, False, f"`docker info` failed: {_first_line(proc.stderr or proc.stdout)}", hint)
    return Check(name, True, f"daemon {_first_line(proc.stdout) or 'reachable'}")


def check_session_manager_plugin(needed_by: list[str]) -> Check:
    """The plugin `infra up` starts for the SSM tunnel to the database; needed when a stack uses the tunnel."""
    from cli.cloud.tunnel import PLUGIN, PLUGIN_INSTALL_HINT, plugin_version

    name = "Session Manager plugin"
    users = ", ".join(needed_by)
    path = shutil.which(PLUGIN)
    if path is None:
        if not needed_by:
            return Check(name, True, f"`{PLUGIN}` not installed; no stack reaches its database through the bastion")
        return Check(
            name,
            False,
            f"`{PLUGIN}` is not on PATH; stacks {users} apply their database objects through it",
            PLUGIN_INSTALL_HINT.removesuffix("; check with `infra doctor`")
            + "; the caller also needs ssm:StartSession on the bastion (docs/database-objects.md)",
        )
    version = plugin_version(path)
    if version is None:
        return Check(name, False, f"`{path} --version` did not print a version", PLUGIN_INSTALL_HINT)
    text = ".".join(str(part) for part in version)
    return Check(name, True, f"version {text} at {path}" + (f" (used by {users})" if users else ""))


def tunnel_stacks(project_dir: Path) -> list[str]:
    """The stacks whose `up` opens the SSM tunnel; stacks with invalid settings have their own failing row."""
    from cli.cloud.database_path import uses_tunnel
    from cli.core.stack_ref import load_settings

    names = []
    for stack in configured_stacks(project_dir):
        try:
            settings = load_settings(stack, project_dir)
        except Exception:  # noqa: S112 - reported by the stack settings row
            continue
        if uses_tunnel(settings):
            names.append(stack)
    return names


def check_stack_settings(project_dir: Path) -> tuple[list[Check], str | None]:
    """One row per `Pulumi.<stack>.yaml`; also the first region found, for the AWS check."""
    from cli.core.stack_ref import load_settings

    stacks = configured_stacks(project_dir)
    if not stacks:
        return [Check("Stack settings", False, "no Pulumi.<stack>.yaml in the project", "add Pulumi.dev.yaml")], None
    checks: list[Check] = []
    region = None
    for stack in stacks:
        name = f"Stack settings: {stack}"
        try:
            settings = load_settings(stack, project_dir)
        except InfraError as exc:
            checks.append(Check(name, False, exc.message, exc.hint))
            continue
        except Exception as exc:
            checks.append(Check(name, False, f"cannot be loaded: {exc}", "fix stacks/settings.py or the file"))
            continue
        region = region or getattr(settings, "region", None)
        protect = "protected" if getattr(settings, "protect", False) else "not protected"
        checks.append(Check(name, True, f"valid; region {getattr(settings, 'region', '?')}, {protect}"))
    return checks, region


def run_checks(project_dir: Path, env: dict[str, str] | None = None) -> list[Check]:
    """Every check, in the order a new user would fix them."""
    env = dict(os.environ) if env is None else env
    settings_checks, region = check_stack_settings(project_dir)
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or region
    return [
        check_pulumi(),
        check_backend(project_dir, env),
        check_secrets(project_dir, env),
        check_aws(region),
        check_docker(),
        check_session_manager_plugin(tunnel_stacks(project_dir)),
        *settings_checks,
    ]
