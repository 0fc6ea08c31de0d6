"""Two threads with event loops of their own in one process (the browser tests' daphne thread and
the test thread) each receive from the Redis channel layer while the other waits in receive, and
messages still cross between them (tests/conftest.py: a layer object per thread)."""

from __future__ import annotations

import asyncio
import threading

from channels.layers import get_channel_layer

from tests.conftest import require


async def test_a_thread_waiting_in_receive_does_not_stop_another_loop_receiving(redis_url, settings):
    require(
        settings.CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis."),
        "the channel layer is not channels-redis (set REDIS_URL)",
    )
    waiting, received, stop = threading.Event(), [], threading.Event()
    other = {}

    def other_loop() -> None:
        async def main() -> None:
            layer = get_channel_layer()
            other["layer"], other["channel"] = layer, await layer.new_channel()
            task = asyncio.ensure_future(layer.receive(other["channel"]))
            await asyncio.sleep(0.2)  # now inside receive, holding the layer's receive lock
            waiting.set()
            received.append(await asyncio.wait_for(task, 10))
            while not stop.is_set():
                await asyncio.sleep(0.05)

        asyncio.run(main())

    thread = threading.Thread(target=other_loop, daemon=True)
    thread.start()
    try:
        assert await asyncio.to_thread(waiting.wait, 10)
        layer = get_channel_layer()
        assert layer is not other["layer"]
        mine = await layer.new_channel()
        await layer.send(mine, {"type": "to.me"})
        assert (await asyncio.wait_for(layer.receive(mine), 5))["type"] == "to.me"
        await layer.send(other["channel"], {"type": "to.the.other"})  # across, through Redis
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.05)
        assert received and received[0]["type"] == "to.the.other"
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 10)
