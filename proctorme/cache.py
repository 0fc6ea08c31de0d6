"""Django's Redis cache with one redis-py client per connection pool.

Django's ``RedisCacheClient`` builds a new ``redis.Redis`` for every call (``get_client``),
and redis-py 5+ fills a case-insensitive table of ~250 response callbacks in each one: about
0.08 ms of CPU per cache call, a third of a cache call's whole cost here. An analysis run
makes several (the queued mark, the run's lock on SQLite, the "again" mark). The client
holds no connection of its own (the pool does, and checks its process id after a fork), so
one per pool serves every call; Django keeps a cache object per thread.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache, RedisCacheClient


class _ReusingClient(RedisCacheClient):
    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        clients = self.__dict__.setdefault("_clients", {})
        client = clients.get(index)
        if client is None:
            client = clients[index] = self._client(connection_pool=self._get_connection_pool(write))
        return client


class ReusingRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusingClient
