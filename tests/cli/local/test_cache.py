"""redis.conf of the local cache: loopback, TLS, hashed passwords, no password-less user, the declared parameters."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cli.local.cache import CacheService
from cli.local.tls import TlsFiles


def conf(*, tls: bool = True, passwords: dict[str, str] | None = None) -> str:
    users = [
        {"name": "default", "access": "off -@all"},
        {"name": "app", "access": "on ~* +@all -@dangerous"},
    ]
    cache = {"tls": tls, "parameters": {"maxmemory-policy": "allkeys-lru"}, "users": users}
    service = CacheService(
        "cache",
        [16379],
        Path("/stack/cache/redis.log"),
        base=Path("/stack/cache"),
        cache=cache,
        passwords=passwords if passwords is not None else {"app": "s3cret-password"},
        files=TlsFiles(Path("/stack/tls")),
    )
    return service.conf()


def test_the_cache_listens_on_loopback_over_tls_only():
    text = conf()
    assert "bind 127.0.0.1\n" in text
    assert "port 0\n" in text
    assert "tls-port 16379\n" in text
    assert 'tls-protocols "TLSv1.2 TLSv1.3"' in text
    assert 'maxmemory-policy "allkeys-lru"' in text
    assert "port 16379\n" in conf(tls=False)


def test_paths_with_spaces_stay_one_argument():
    assert 'dir "/stack/cache"\n' in conf()
    assert 'tls-cert-file "/stack/cache/server.pem"\n' in conf()


def test_passwords_are_only_hashes_and_a_user_without_one_cannot_sign_in():
    text = conf()
    digest = hashlib.sha256(b"s3cret-password").hexdigest()
    assert f"user app reset #{digest} on ~* +@all -@dangerous\n" in text
    assert "s3cret-password" not in text
    assert "user default reset off -@all\n" in text
    assert "nopass" not in conf(passwords={})
