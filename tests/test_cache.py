"""The Redis cache keeps one redis-py client per connection pool (proctorme.cache)."""

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


def test_each_thread_has_its_own_cache_and_client(settings, redis_url):
    cache = _cache(settings, redis_url)
    mine = cache._cache.get_client(write=True)
    theirs = []

    def other():
        theirs.append(caches["default"]._cache.get_client(write=True))
        assert caches["default"].add("proctorme-test:t", 1, timeout=30)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join()
    assert theirs and theirs[0] is not mine
    assert cache.get("proctorme-test:t") == 1
    cache.delete("proctorme-test:t")
