"""proctorme.realtime: fire-and-forget fan-out that keeps each group's order."""

import asyncio
import threading

from proctorme import realtime


class _SlowFirstLayer:
    """A channel layer whose first send to a group takes longer than the ones after it,
    as a channels-redis send does when its group lookup waits on a busy connection."""

    def __init__(self):
        self.arrived: list[tuple[str, int]] = []
        self.calls = 0

    async def group_send(self, group, message):
        self.calls += 1
        if self.calls == 1:
            await asyncio.sleep(0.2)
        self.arrived.append((group, message["n"]))


def test_sends_to_one_group_arrive_in_the_order_they_were_made(monkeypatch):
    layer = _SlowFirstLayer()
    monkeypatch.setattr(realtime, "get_channel_layer", lambda: layer)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(realtime, "_server_loop", loop)
    try:
        for n in range(5):
            realtime.broadcast("institution.a", {"type": "x", "n": n})
        realtime.broadcast("institution.b", {"type": "x", "n": 0})
        # Wait for every send to arrive (the condition, not a sleep).
        done = asyncio.run_coroutine_threadsafe(_until(lambda: len(layer.arrived) == 6), loop)
        done.result(timeout=10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
    ours = [n for group, n in layer.arrived if group == "institution.a"]
    assert ours == [0, 1, 2, 3, 4]
    # Another group does not wait behind a slow one: it arrived before the slow first send.
    assert layer.arrived.index(("institution.b", 0)) < layer.arrived.index(("institution.a", 0))
    # Nothing is remembered for groups with nothing in flight.
    assert not [key for key in realtime._orders if key[0] is loop]


async def _until(condition):
    while not condition():
        await asyncio.sleep(0.005)
