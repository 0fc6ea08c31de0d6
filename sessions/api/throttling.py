"""Per-key rate limit: a fixed one-minute window counted in the cache.

The cache is Redis in production (``REDIS_URL``), so every ASGI server shares
the count and ``incr`` is atomic; the embedded default counts per process.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from tenants.models import ApiKey

WINDOW_SECONDS = 60


class ApiKeyRateThrottle(BaseThrottle):
    def __init__(self) -> None:
        self._wait = 0.0

    def allow_request(self, request, view) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return True
        now = time.time()
        window_start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
        key = f"proctorme:api-rate:{api_key.public_id}:{window_start}"
        cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=WINDOW_SECONDS + 5)
            count = 1
        self._wait = window_start + WINDOW_SECONDS - now
        return count <= settings.PROCTORME_API_RATE_LIMIT

    def wait(self) -> float:
        return self._wait
