"""The Redis cache keeps one connection pool and one redis-py client per process (proctorme.cache)."""

from __future__ import annotations

import threading

from django.core.cache import caches

from proctorme.cache import ReusingRedisCache


def _cache(settings, redis_url):
    settings.CACHES = {"default": {"BACKEND": "proctorme.cache.ReusingRedisCache", "LOCATION": redis_url}}
    return caches["default"]


def test_calls_share_one_client_and_behave_as_djangos(settings, redis_url):
    cache = _cache(settings, redis_url)
    assert isinstance(cache, ReusingRedisCache)
    client = cache._cache.get_client("k", write=True)
    assert cache._cache.get_client("other", write=True) is client
    assert cache.add("proctorme-test:k", 1, timeout=30) is True
    assert cache.add("proctorme-test:k", 2, timeout=30) is False  # add: only when absent
    assert cache.get("proctorme-test:k") == 1
    cache.set("proctorme-test:k", {"a": [1, 2]}, timeout=30)
    assert cache.get("proctorme-test:k") == {"a": [1, 2]}
    assert cache.delete("proctorme-test:k") is True  # delete says whether it was there
    assert cache.delete("proctorme-test:k") is False
    assert cache.get("proctorme-test:k", "gone") == "gone"
    assert cache._cache.get_client("k", write=True) is client


def test_threads_share_the_process_connection_pool(settings, redis_url):
    """Each ASGI request runs on a new thread with a cache object of its own: 20 such threads,
    calling one after the other and all still alive, share one connection, not 20."""
    import uuid

    import redis

    name = f"pm-cache-test-{uuid.uuid4().hex[:8]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "proctorme.cache.ReusingRedisCache",
            "LOCATION": redis_url,
            "OPTIONS": {"client_name": name},
        }
    }
    mine = caches["default"]._cache.get_client(write=True)
    clients, done, turn = [], threading.Event(), threading.Lock()

    def request(index: int) -> None:
        with turn:
            cache = caches["default"]
            assert cache is not caches_in_main  # Django's cache objects stay per thread
            clients.append(cache._cache.get_client(write=True))
            assert cache.add(f"proctorme-test:{name}:{index}", index, timeout=30)
        done.wait(10)

    caches_in_main = caches["default"]
    threads = [threading.Thread(target=request, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    try:
        while len(clients) < 20 and any(t.is_alive() for t in threads):
            threading.Event().wait(0.01)
        assert len(clients) == 20 and all(c is mine for c in clients)
        server = redis.Redis.from_url(redis_url)
        opened = [c for c in server.client_list() if c.get("name") == name]
        assert 1 <= len(opened) <= 2, opened
        assert caches["default"].get("proctorme-test:" + name + ":7") == 7
    finally:
        done.set()
        for thread in threads:
            thread.join()
        for i in range(20):
            caches["default"].delete(f"proctorme-test:{name}:{i}")
