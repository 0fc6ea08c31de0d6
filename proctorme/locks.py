"""Named locks that die with their holder.

``exclusive(name)`` is a non-blocking lock across every process of a deployment.
On PostgreSQL it is a session-level advisory lock: the server releases it the
moment the holder's connection goes away, so a worker killed with SIGKILL (or
an out-of-memory kill) never leaves a lock behind for its redelivered task to
trip over. Elsewhere (SQLite, the embedded default: one process) it falls back
to ``cache.add`` with a timeout.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.cache import cache
from django.db import connection

CACHE_LOCK_TIMEOUT = 600


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


@contextmanager
def exclusive(name: str) -> Iterator[bool]:
    """Yield True when this caller now holds the lock ``name`` (released on exit), else False."""
    if connection.vendor == "postgresql":
        key = _advisory_key(name)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            held = bool(cursor.fetchone()[0])
        try:
            yield held
        finally:
            if held:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    cache_key = f"lock:{name}"
    held = cache.add(cache_key, 1, timeout=CACHE_LOCK_TIMEOUT)
    try:
        yield held
    finally:
        if held:
            cache.delete(cache_key)
