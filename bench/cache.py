"""The Redis cache as requests use it: Django's own ``RedisCache`` beside ``proctorme.cache``.

Under an ASGI server each request runs on a thread of its own, and Django keeps a cache object
per thread: a request's first cache call is made on a cache object nobody used before. Measured
here, in the same run: ``--requests`` fresh threads, each making one request's cache calls (an
``add`` and a ``get``, as an upload's analysis queueing does) on a new cache object; then the same
calls ``--requests`` times on one thread. Printed: CPU per request (this process; the thread's
start is in both sides alike), connections Redis accepted per request (``total_connections_received``,
the server's own count), and the ratio to Django's.

``BENCH_REDIS_URL`` (default ``redis://127.0.0.1:6379/13``); its keys are deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def _accepted(server) -> int:
    return int(server.info("stats")["total_connections_received"])


def _fresh_threads(make, requests: int, server) -> tuple[float, float]:
    def request(index: int) -> None:
        cache = make()
        cache.add(f"cache-bench:{index}", index, timeout=30)
        cache.get(f"cache-bench:{index}")

    accepted, cpu = _accepted(server), time.process_time()
    for index in range(requests):
        thread = threading.Thread(target=request, args=(index,))
        thread.start()
        thread.join()
    return 1000 * (time.process_time() - cpu) / requests, (_accepted(server) - accepted) / requests


def _one_thread(make, requests: int) -> float:
    cache = make()
    cpu = time.process_time()
    for index in range(requests):
        cache.add(f"cache-bench:{index}", index, timeout=30)
        cache.get(f"cache-bench:{index}")
    return 1000 * (time.process_time() - cpu) / requests


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proctorme.settings")
    import redis

    server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    try:
        server.ping()
    except redis.RedisError as exc:
        print(f"skipped: no Redis at {REDIS_URL} ({exc})")
        return 0
    import django

    django.setup()
    from django.core.cache.backends.redis import RedisCache

    from proctorme.cache import ReusingRedisCache

    sides = {
        "Django's RedisCache (baseline)": lambda: RedisCache(REDIS_URL, {}),
        "proctorme.cache.ReusingRedisCache": lambda: ReusingRedisCache(REDIS_URL, {}),
    }
    print(f"cache: {args.requests} requests of an add and a get, {args.rounds} rounds, {REDIS_URL}")
    results: dict[str, list] = {name: [] for name in sides}
    try:
        for _ in range(args.rounds):  # alternating, so that a busy moment falls on both sides
            for name, make in sides.items():
                fresh, accepted = _fresh_threads(make, args.requests, server)
                results[name].append((fresh, accepted, _one_thread(make, args.requests)))
    finally:
        keys = list(server.scan_iter(match="*cache-bench:*", count=1000))
        for start in range(0, len(keys), 500):
            server.delete(*keys[start : start + 500])
    print(
        "                                     a thread per request: CPU ms  connections   one thread: CPU ms"
    )
    best = {}
    for name, rows in results.items():
        fresh = min(r[0] for r in rows)
        accepted = max(r[1] for r in rows)
        one = min(r[2] for r in rows)
        best[name] = (fresh, one)
        print(f"  {name:<36} {fresh:>8.3f} {accepted:>18.2f}/request {one:>12.3f}")
    (base_fresh, base_one), (ours_fresh, ours_one) = best.values()
    print(
        f"  ours / Django's (same run, best of {args.rounds}): a thread per request "
        f"{ours_fresh / base_fresh:.2f}x, one thread {ours_one / base_one:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
