"""The file routes' settings: the bucket, its endpoint, the allowed content types and the size caps."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from .token_settings import is_loopback

DEFAULT_CONTENT_TYPES = ("image/png", "image/jpeg", "image/webp", "application/pdf", "text/plain")
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_OWNER_MAX_BYTES = 1024 * 1024 * 1024
POST_MAX_BYTES = 5 * 1024**3
"""S3's limit for one object uploaded by a POST."""
URL_TTL_MAX = 300
"""Presigned URLs live at most 5 minutes."""
DEFAULT_KEY_PREFIX = "users/"
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
"""RFC 6838's type/subtype, lower-case, without parameters."""
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PREFIX = re.compile(r"([A-Za-z0-9_.-]+/)+")


@dataclass(frozen=True, kw_only=True)
class FileSettings:
    """Where files go and what may be stored; present only when FILES_BUCKET is set."""

    bucket: str
    region: str
    endpoint_url: str = ""
    """Empty: AWS's own S3 endpoint for the region."""
    key_prefix: str = DEFAULT_KEY_PREFIX
    """Every object key starts with it; the task role may touch nothing else."""
    content_types: tuple[str, ...] = DEFAULT_CONTENT_TYPES
    max_bytes: int = DEFAULT_MAX_BYTES
    owner_max_bytes: int = DEFAULT_OWNER_MAX_BYTES
    url_ttl_seconds: int = URL_TTL_MAX


def _check_endpoint(url: str, problems: list[str]) -> None:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("https", "http") or not parts.hostname or parts.path not in ("", "/"):
        problems.append(f"FILES_ENDPOINT_URL={url[:200]!r} is not an endpoint; allowed: https://host[:port]")
    elif parts.scheme == "http" and not is_loopback(parts.hostname):
        problems.append(
            f"FILES_ENDPOINT_URL={url[:200]!r} uses http:// for a host that is not loopback; allowed: https://, or"
            " http:// for 127.0.0.1, ::1 or localhost only"
        )


def read_file_settings(read, region: str) -> FileSettings | None:
    """The file settings from the environment; None (no file routes) when FILES_BUCKET is not set."""
    bucket = read.text("FILES_BUCKET", "")
    if not bucket:
        return None
    if not _BUCKET.fullmatch(bucket):
        read.problems.append(
            f"FILES_BUCKET={bucket[:100]!r} is not a bucket name; allowed: 3 to 63 of a-z, 0-9, '.', '-'"
        )
    if not region:
        read.problems.append("AWS_REGION and AWS_DEFAULT_REGION are both missing; FILES_BUCKET needs one")
    endpoint = read.text("FILES_ENDPOINT_URL", "")
    if endpoint:
        _check_endpoint(endpoint, read.problems)
    prefix = read.text("FILES_PREFIX", DEFAULT_KEY_PREFIX)
    if not _PREFIX.fullmatch(prefix) or len(prefix) > 64 or any(part in (".", "..") for part in prefix.split("/")):
        read.problems.append(
            f"FILES_PREFIX={prefix[:100]!r} is not a key prefix; allowed: up to 64 of A-Z a-z 0-9 _ . - in"
            " segments each ending with '/', such as users/"
        )
    types = tuple(
        dict.fromkeys(t.strip().lower() for t in read.text("FILES_CONTENT_TYPES", "").split(",") if t.strip())
    )
    for media_type in types:
        if not _MEDIA_TYPE.fullmatch(media_type):
            read.problems.append(
                f"FILES_CONTENT_TYPES entry {media_type[:100]!r} is not a media type; allowed: type/subtype such as"
                " image/png, without parameters"
            )
    max_bytes = read.number("FILES_MAX_BYTES", DEFAULT_MAX_BYTES, 1, POST_MAX_BYTES, integer=True)
    owner_max = read.number("FILES_OWNER_MAX_BYTES", DEFAULT_OWNER_MAX_BYTES, 1, 2**62, integer=True)
    if owner_max < max_bytes:
        read.problems.append(
            f"FILES_OWNER_MAX_BYTES={owner_max} is below FILES_MAX_BYTES={max_bytes}; allowed: at least FILES_MAX_BYTES"
        )
    return FileSettings(
        bucket=bucket,
        region=region,
        endpoint_url=endpoint.rstrip("/"),
        key_prefix=prefix,
        content_types=types or DEFAULT_CONTENT_TYPES,
        max_bytes=max_bytes,
        owner_max_bytes=owner_max,
        url_ttl_seconds=read.number("FILES_URL_TTL_SECONDS", URL_TTL_MAX, 1, URL_TTL_MAX, integer=True),
    )
