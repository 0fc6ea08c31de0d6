"""Django's Redis cache with one connection pool and one redis-py client per process.

Django's ``RedisCacheClient`` builds a new ``redis.Redis`` for every call (``get_client``),
and redis-py 5+ fills a case-insensitive table of ~250 response callbacks in each one: about
0.08 ms of CPU per cache call, a third of a cache call's whole cost here. An analysis run
makes several (the queued mark, the run's lock on SQLite, the "again" mark).

Django also keeps a cache object per thread, each with connection pools of its own. Under an
ASGI server every request runs on a thread of its own, so each request opened a new TCP
connection to Redis (connect, then redis-py's handshake) for its first cache call and left it
to the garbage collector: a tenth of an upload's time in the server. Here the pools are the
process's, shared by every thread's cache object (a redis-py pool is thread-safe and checks its
process id, so a forked worker makes its own), and so is the client built on each.
"""

from __future__ import annotations

import threading

from django.core.cache.backends.redis import RedisCache, RedisCacheClient

_SHARED: dict[tuple, tuple] = {}  # (pool class, server URL, options) -> (pool, client)
_LOCK = threading.Lock()


class _ReusingClient(RedisCacheClient):
    def _shared(self, write: bool) -> tuple:
        index = self._get_connection_pool_index(write)
        key = (self._pool_class, self._servers[index], repr(sorted(self._pool_options.items())))
        shared = _SHARED.get(key)
        if shared is None:
            with _LOCK:
                shared = _SHARED.get(key)
                if shared is None:
                    pool = self._pool_class.from_url(self._servers[index], **self._pool_options)
                    shared = _SHARED[key] = (pool, self._client(connection_pool=pool))
        return shared

    def _get_connection_pool(self, write):
        return self._shared(write)[0]

    def get_client(self, key=None, *, write=False):
        return self._shared(write)[1]


class ReusingRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusingClient
