"""Fan-out through the channel layer from any thread.

Services run in request threads, task threads and Celery workers. With
channels-redis a plain ``async_to_sync(group_send)`` is right everywhere.
The in-memory layer (embedded mode) keeps asyncio queues bound to the ASGI
server's event loop, and waking them from another thread is not safe, so
the consumers record that loop and sends from other threads are scheduled
onto it.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer

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


def broadcast(group: str, message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    loop = _server_loop
    if (
        isinstance(layer, InMemoryChannelLayer)
        and loop is not None
        and loop.is_running()
        and running is not loop
    ):
        asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
        return
    if running is not None:
        # Sync code on a thread that has an event loop (a test driver's, say):
        # async_to_sync refuses to run there, so send from a short-lived thread.
        threading.Thread(target=_send_blocking, args=(layer, group, message), daemon=True).start()
        return
    _send_blocking(layer, group, message)


def _send_blocking(layer, group: str, message: dict) -> None:
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # a dashboard missing one push must never fail the write
        log.exception("broadcast to %s failed", group)
