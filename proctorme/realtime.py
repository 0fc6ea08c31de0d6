"""Fan-out through the channel layer from any thread.

Services run in request threads, the consumers' database threads, task
threads and Celery workers, none of which has an event loop. Sending with
``async_to_sync`` from such a thread spins up a fresh event loop per call,
and channels-redis keeps its connection pool per loop, so every message
would open and close a Redis connection (and the in-memory layer's queues
must not be woken from a foreign loop at all). Instead every send is
scheduled, fire-and-forget, onto one long-lived loop: the ASGI server's own
loop when this process serves WebSockets (consumers record it on connect),
otherwise a small background loop thread started on first use.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from channels.layers import get_channel_layer

log = logging.getLogger(__name__)
_server_loop: asyncio.AbstractEventLoop | None = None


def remember_server_loop() -> None:
    """Called by consumers on connect (inside the ASGI server's loop)."""
    global _server_loop
    _server_loop = asyncio.get_running_loop()


def session_group(session_public_id) -> str:
    return f"session.{session_public_id}"


def institution_group(institution_public_id) -> str:
    return f"institution.{institution_public_id}"


def user_group(user_pk) -> str:
    """A signed-in user's dashboard sockets (told when their access changes)."""
    return f"user.{user_pk}"


_background: asyncio.AbstractEventLoop | None = None
_background_lock = threading.Lock()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _background
    with _background_lock:
        if _background is None or not _background.is_running():
            loop = asyncio.new_event_loop()
            started = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(started.set)
                loop.run_forever()

            threading.Thread(target=run, name="proctorme-broadcast", daemon=True).start()
            started.wait()
            _background = loop
        return _background


def _target_loop() -> asyncio.AbstractEventLoop:
    loop = _server_loop
    if loop is not None and loop.is_running():
        return loop
    return _background_loop()


def _report(future) -> None:
    if not future.cancelled() and future.exception() is not None:
        # A dashboard missing one push must never fail the write that caused it.
        log.error("broadcast failed: %r", future.exception())


# Fan-out in flight per loop at once: a burst queues here instead of taking
# every connection of the channel layer's pool from the consumers.
MAX_IN_FLIGHT = 64
_limits: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}


class _GroupOrder:
    """One group's sends on one loop, one at a time in the order they were scheduled.

    A channel-layer send is several round trips (channels-redis looks the group up,
    then writes to each member), so two sends to one group in flight at once can
    arrive in either order: a dashboard would show a later flag before an earlier
    one. asyncio.Lock wakes its waiters first in, first out, and tasks start in the
    order they were scheduled, so taking the group's lock first keeps the order.
    """

    __slots__ = ("lock", "pending")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.pending = 0


_orders: dict[tuple[asyncio.AbstractEventLoop, str], _GroupOrder] = {}


async def _send(layer, group: str, message: dict) -> None:
    loop = asyncio.get_running_loop()
    limit = _limits.get(loop)
    if limit is None:
        limit = _limits[loop] = asyncio.Semaphore(MAX_IN_FLIGHT)
    key = (loop, group)
    order = _orders.get(key)
    if order is None:
        order = _orders[key] = _GroupOrder()
    order.pending += 1
    try:
        async with order.lock, limit:
            await layer.group_send(group, message)
    finally:
        order.pending -= 1
        if not order.pending:  # nothing else queued for this group: forget it
            del _orders[key]


def broadcast(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _target_loop()
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        loop.create_task(_send(layer, group, message)).add_done_callback(_report)
        return
    asyncio.run_coroutine_threadsafe(_send(layer, group, message), loop).add_done_callback(_report)
