"""What every check reads: the stack's outputs and settings, AWS clients, a DNS resolver and the clock."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cli.verify.model import MissingOutput

ClientFactory = Callable[[str], Any]
"""Returns a boto3 client for a service name (`rds`, `ecs`, ...)."""
Resolver = Callable[[str], list[str]]
"""Returns the addresses a host name resolves to; raises OSError when it does not resolve."""


def system_resolver(host: str) -> list[str]:
    """The addresses the system resolver returns for `host`, IPv4 and IPv6, sorted."""
    infos = socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)
    return sorted({str(info[4][0]) for info in infos})


@dataclass
class Context:
    """The inputs of one verification run; lookups shared by several checks are remembered."""

    stack: str
    settings: Any
    outputs: dict[str, Any]
    clients: ClientFactory
    resolver: Resolver
    now: datetime
    _memo: dict[str, Any] = field(default_factory=dict)

    def output(self, name: str) -> Any:
        """An output's value, or None when the stack does not export it (or exports it empty)."""
        value = self.outputs.get(name)
        return None if value in (None, "", [], {}) else value

    def require(self, name: str, what: str) -> Any:
        """An output's value, or MissingOutput naming the output a check needs."""
        value = self.output(name)
        if value is None:
            raise MissingOutput(name, what)
        return value

    def client(self, service: str) -> Any:
        """The boto3 client of an AWS service."""
        return self.clients(service)

    def remember(self, key: str, compute: Callable[[], Any]) -> Any:
        """Compute a lookup once per run (an exception is raised again on every call, not remembered)."""
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]
