"""The signal writer's batch window: short on a quiet server, longer while signals keep coming.

The real ``SignalWriter`` under a controlled clock: its window's sleep advances a fake clock and
lets the signals of a fake arrival stream (one every ``1 / rate`` s) arrive meanwhile; the
database write is replaced (the database's part is tests/widget/test_signal_batching.py's), so
the batch sizes and windows are exact, with no timing in the assertions.
"""

import asyncio

import pytest

from sessions import signal_writer
from sessions.services import BrowserSignal, SignalResult
from sessions.signal_writer import BatchWindow, SignalWriter

BASE, LONGEST = 0.020, 0.080


@pytest.fixture
def window_settings(settings):
    settings.SIGNAL_BATCH_WINDOW_MS = BASE * 1000
    settings.SIGNAL_BATCH_WINDOW_MAX_MS = LONGEST * 1000
    settings.SIGNAL_BATCH_MAX = 200


class Stream:
    """A fake clock and the signals due by it: ``due`` arrival times, sent when the clock passes."""

    def __init__(self, writer: SignalWriter, due: list[float]) -> None:
        self.writer, self.due, self.now = writer, sorted(due), 0.0
        self.windows: list[float] = []
        self.sent: list[asyncio.Task] = []
        self.written: list[list[int]] = []
        writer.clock = lambda: self.now

    def arrive(self) -> None:
        while self.due and self.due[0] <= self.now + 1e-9:
            self.due.pop(0)
            seq = len(self.sent) + 1
            self.sent.append(asyncio.ensure_future(self.writer.record(BrowserSignal(1, seq, "COPY_PASTE"))))

    async def sleep(self, seconds: float) -> None:
        self.windows.append(round(seconds, 6))
        self.now += seconds
        self.arrive()
        for _ in range(3):  # let the new record() calls queue their signals
            await asyncio.sleep(0)

    def write(self, batch: list[BrowserSignal]) -> list[SignalResult]:
        self.written.append([s.seq for s in batch])
        return [SignalResult(stored=True, duplicate=False) for _ in batch]


async def _run(monkeypatch, due: list[float]) -> tuple[Stream, SignalWriter]:
    writer = SignalWriter()
    stream = Stream(writer, due)
    real_sleep = asyncio.sleep

    async def sleep(seconds, *args):
        if seconds == 0:
            return await real_sleep(0, *args)
        return await stream.sleep(seconds)

    monkeypatch.setattr(signal_writer.asyncio, "sleep", sleep)
    monkeypatch.setattr(signal_writer, "_write", stream.write)
    try:
        while stream.due or writer.draining is not None:
            if writer.draining is None:  # idle: the clock jumps to the next signal
                stream.now = max(stream.now, stream.due[0])
                stream.arrive()
            await real_sleep(0)
        results = await asyncio.gather(*stream.sent)
    finally:
        await writer.close()
    assert all(r.stored for r in results)
    return stream, writer


def _every_signal_once(stream: Stream) -> None:
    seqs = [seq for batch in stream.written for seq in batch]
    assert seqs == list(range(1, len(stream.sent) + 1))


async def test_a_quiet_server_keeps_the_short_window(monkeypatch, window_settings):
    # One signal every half second: every batch holds one signal and waits the short window.
    stream, writer = await _run(monkeypatch, [i * 0.5 for i in range(10)])
    _every_signal_once(stream)
    assert stream.windows == [BASE] * 10
    assert writer.sizes == {1: 10}


async def test_a_steady_stream_lengthens_the_window_up_to_its_bound_and_a_quiet_one_shortens_it(
    monkeypatch, window_settings
):
    # 100 signals/s for 1 s (one process's share of 200/s over two), then lone signals 1 s apart.
    busy = [i / 100 for i in range(100)]
    stream, writer = await _run(monkeypatch, busy + [2.0, 3.0, 4.0])
    _every_signal_once(stream)
    sizes = [len(batch) for batch in stream.written]
    # The window doubles while batches hold more than one signal, and stops at LONGEST.
    assert stream.windows[:4] == [BASE, 2 * BASE, 4 * BASE, LONGEST]
    assert max(stream.windows) == LONGEST
    # Under the stream a batch gathers the bound's worth of signals, not the short window's 2-3.
    assert sizes[0] <= 3
    steady = sizes[3:-4]
    assert steady and min(steady) >= 7
    assert len(stream.written) < 100 / 5
    # Quiet again: each lone signal, long after the last batch, waits only the short window.
    assert stream.windows[-3:] == [BASE] * 3
    assert sizes[-3:] == [1, 1, 1]


def test_the_window_grows_while_signals_wait_and_resets_on_a_lone_one():
    window = BatchWindow(BASE, LONGEST)
    assert window.start(now=0.0) == BASE
    # One signal, but others arrived while it was written: the writer is busy, wait longer.
    assert window.after(taken=1, waiting=2) == 2 * BASE
    assert window.after(taken=5, waiting=0) == 4 * BASE
    assert window.after(taken=9, waiting=0) == LONGEST
    assert window.after(taken=9, waiting=3) == LONGEST
    # Idle briefly: the next batch keeps the long window; idle longer than it: back to short.
    window.idle(now=1.0)
    assert window.start(now=1.0 + LONGEST / 2) == LONGEST
    window.idle(now=2.0)
    assert window.start(now=2.0 + 2 * LONGEST) == BASE
    assert window.after(taken=3, waiting=0) == 2 * BASE
    assert window.after(taken=1, waiting=0) == BASE


def test_no_window_stays_no_window():
    window = BatchWindow(0.0, LONGEST)
    assert window.start(now=0.0) == 0.0
    assert window.after(taken=50, waiting=50) == 0.0
