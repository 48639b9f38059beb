"""The cyclic garbage collector held off while a short-lived process declares its resources."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def without_collection_pauses() -> Iterator[None]:
    """Suspends the cyclic garbage collector while the program declares its resources.

    Declaring loads the provider modules' type tables: hundreds of thousands of long-lived objects that every
    collection pass would walk again for nothing; in this short-lived process that costs about a second.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
