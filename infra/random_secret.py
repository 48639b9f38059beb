"""RandomSecret: a random string generated once at create time and kept, secret, in the stack's state."""

from __future__ import annotations

import secrets
import string
import uuid
from typing import Any

import pulumi
import pulumi.dynamic

_ALPHABET = string.ascii_letters + string.digits
"""URL-safe without escaping, so the value can sit inside a postgresql:// URL or a JSON document."""


def generate(length: int) -> str:
    """A random string of `length` letters and digits from the operating system's CSPRNG."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


class RandomSecretProvider(pulumi.dynamic.ResourceProvider):
    """Creates the value once; a change of length replaces it, nothing else touches it."""

    def create(self, props: dict[str, Any]) -> pulumi.dynamic.CreateResult:
        length = int(props["length"])
        return pulumi.dynamic.CreateResult(id_=uuid.uuid4().hex, outs={"length": length, "value": generate(length)})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> pulumi.dynamic.DiffResult:
        changed = int(olds.get("length", 0)) != int(news["length"])
        return pulumi.dynamic.DiffResult(changes=changed, replaces=["length"] if changed else [])


class RandomSecret(pulumi.dynamic.Resource):
    """A random secret string; `value` is a secret output."""

    value: pulumi.Output[str]

    def __init__(self, name: str, length: int = 40, opts: pulumi.ResourceOptions | None = None) -> None:
        if not 16 <= length <= 128:
            raise ValueError(f"length={length!r} is not allowed; allowed: 16 to 128")
        secret_opts = pulumi.ResourceOptions(additional_secret_outputs=["value"])
        super().__init__(
            RandomSecretProvider(),
            name,
            {"length": length, "value": None},
            pulumi.ResourceOptions.merge(opts, secret_opts),
        )
