"""Schemathesis hooks for the contract test: each well-formed Idempotency-Key it sends is a fresh one."""

from __future__ import annotations

import re
import uuid

import schemathesis
from groundwork_api import idempotency


@schemathesis.hook
def before_call(context, case, kwargs):
    # Reusing a key with another body is a 422 by design (tests/app/test_idempotency.py covers it); generated
    # requests would otherwise reuse short keys such as "0" and be told so, which is not a schema disagreement.
    key = (case.headers or {}).get(idempotency.HEADER)
    if isinstance(key, str) and re.fullmatch(idempotency.KEY_PATTERN, key) and len(key) <= idempotency.KEY_MAX:
        case.headers[idempotency.HEADER] = uuid.uuid4().hex
