"""Files the CLI writes for its user alone: owner-only, replaced atomically."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cli.core.errors import ConfigError


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only, atomically: a crash leaves the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)


def ensure_private_dir(path: Path, override_env: str) -> None:
    """Create a directory others may only traverse, or accept an existing one only when it is ours: a predictable
    path such as /var/tmp/groundwork-local-* could have been prepared by someone else. `override_env` names the
    variable that chooses another place."""
    if not path.exists() and not path.is_symlink():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir(mode=0o711)
        return
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise ConfigError(
            f"{path} is not a directory (or is a symbolic link)", hint=f"remove it, or set {override_env}"
        )
    if info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise ConfigError(
            f"{path} belongs to another user or others may write to it; the local stack keeps secrets there",
            hint=f"remove it, or set {override_env} to a directory of your own",
        )


def read_user_text(path: Path, limit: int, what: str, hint: str) -> str:
    """The UTF-8 text of a file the user named, at most `limit` bytes; a ConfigError naming `what`, the path and the
    problem otherwise. The limit holds for devices and pipes too, whose size stat() cannot tell."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise ConfigError(f"{what} {path} cannot be read: {error.strerror or error}", hint=hint) from None
    if len(data) > limit:
        raise ConfigError(f"{what} {path} is larger than {limit} bytes", hint=hint)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(f"{what} {path} is not UTF-8 text (byte {error.start} is not)", hint=hint) from None


def write_user_text(path: Path, text: str, option: str) -> None:
    """Write a file the user named with `option`; a ConfigError naming the option, the path and why it cannot be
    written (a directory, a missing parent, a full disk, no permission) otherwise."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise ConfigError(
            f"{option} {path}: cannot write it ({error.strerror or error})", hint=f"give {option} a writable file path"
        ) from None
