"""Network profiles for the shaping proxy, read from profiles.toml and an optional user file."""

from __future__ import annotations

import math
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cli.core.errors import ConfigError

BUILTIN = Path(__file__).with_name("profiles.toml")
PROFILES_MAX_BYTES = 64 * 1024
"""The largest profiles file read."""
_NUMBERS = ("rtt_ms", "jitter_ms", "down_kbps", "up_kbps", "loss_percent", "rto_ms", "deadline_s")


@dataclass(frozen=True)
class Profile:
    """How the emulated network behaves; None for a bandwidth means unlimited."""

    name: str
    description: str
    rtt_ms: float = 0.0
    jitter_ms: float = 0.0
    down_kbps: float | None = None
    up_kbps: float | None = None
    loss_percent: float = 0.0
    rto_ms: float = 200.0
    deadline_s: float | None = None
    """How long a whole run through this profile may take; None leaves the check's default."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        parts = [f"rtt {self.rtt_ms:g} ms", f"jitter ±{self.jitter_ms:g} ms"]
        parts.append(f"down {_rate(self.down_kbps)}")
        parts.append(f"up {_rate(self.up_kbps)}")
        parts.append(f"loss {self.loss_percent:g} % (RTO {self.rto_ms:g} ms)")
        if self.deadline_s is not None:
            parts.append(f"deadline {self.deadline_s:g} s")
        return ", ".join(parts)


def _rate(kbps: float | None) -> str:
    if kbps is None:
        return "unlimited"
    return f"{kbps / 1000:g} Mbit/s" if kbps >= 1000 else f"{kbps:g} kbit/s"


def _profile(name: str, table: Any, source: Path) -> Profile:
    where = f"[{name}] in {source}"
    if not isinstance(table, dict):
        raise ConfigError(f"profile {where} is not a table", hint="write each profile as a [name] table")
    unknown = sorted(set(table) - {"description", *_NUMBERS})
    if unknown:
        raise ConfigError(
            f"profile {where} has unknown keys: {', '.join(unknown)}",
            hint="allowed: description, " + ", ".join(_NUMBERS),
        )
    values: dict[str, Any] = {"name": name, "description": str(table.get("description", ""))}
    for key in _NUMBERS:
        if key not in table:
            continue
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"profile {where}: {key} = {value!r}", hint=f"{key} must be a number, 0 or more")
        values[key] = float(value)
    if values.get("loss_percent", 0) > 100:
        raise ConfigError(f"profile {where}: loss_percent above 100", hint="loss_percent is from 0 to 100")
    if values.get("deadline_s") == 0:
        raise ConfigError(f"profile {where}: deadline_s = 0", hint="deadline_s is a number of seconds above 0")
    for key in ("down_kbps", "up_kbps"):
        if values.get(key) == 0:
            raise ConfigError(f"profile {where}: {key} = 0", hint=f"leave {key} out for an unlimited link")
    return Profile(**values)


def _read(path: Path) -> dict[str, Profile]:
    from cli.core.files import read_user_text

    text = read_user_text(path, PROFILES_MAX_BYTES, "the profiles file", "check --profiles-file")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"profiles file {path} is not valid TOML: {exc}", hint="fix the file") from None
    return {name: _profile(name, table, path) for name, table in document.items()}


def load_profiles(extra: Path | None = None) -> dict[str, Profile]:
    """The built-in profiles, overridden and extended by `extra` when given."""
    profiles = _read(BUILTIN)
    if extra is not None:
        profiles.update(_read(extra))
    return profiles


def get_profile(name: str, extra: Path | None = None) -> Profile:
    """One profile by name, or a configuration error listing the names that exist."""
    profiles = load_profiles(extra)
    if name not in profiles:
        raise ConfigError(
            f"no network profile named {name!r}",
            hint="choose one of " + ", ".join(sorted(profiles)) + ", or define it with --profiles-file",
        )
    return profiles[name]
