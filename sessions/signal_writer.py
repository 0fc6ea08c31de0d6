"""Coalesced writes of the widget sockets' signals: one transaction per few milliseconds.

Every socket of a server process hands its signals to the process's writer
(one per event loop). The writer waits a window after the first signal of a
batch (``SIGNAL_BATCH_WINDOW_MS`` on a quiet server, up to
``SIGNAL_BATCH_WINDOW_MAX_MS`` while signals keep coming: ``BatchWindow``),
takes everything that arrived meanwhile (at most ``SIGNAL_BATCH_MAX``) and stores it with one ``signals_record`` call on its
own thread, which keeps its database connection; signals that arrive while a
batch is being written form the next one. The thread's connection ends with the
writer: ``writer_close()`` (or, at the latest, the loop's writer being
collected) closes it on that thread, so no connection outlives its loop. Each socket acknowledges its signal
only when the future it waits on is resolved, i.e. after the commit.

A batch that fails as a whole (a database error) is written again one signal
at a time, each in its own transaction, so one bad signal fails only its own
socket; when the database is away every signal of the batch fails and its
socket closes, and the widget resends what was not acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import weakref
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connection

from sessions.services import BrowserSignal, SignalResult, signal_record, signals_record

log = logging.getLogger(__name__)

# How often a thread that keeps its connection lets Django check and recycle it (max age, health).
CONNECTION_CHECK_SECONDS = 1.0

_thread_state = threading.local()


def connection_check() -> None:
    """On a long-lived thread that keeps its connection between calls (the writer's, the event
    loop's pool): let Django check and recycle it (max age, health) at most once a second."""
    now = time.monotonic()
    if now - getattr(_thread_state, "checked", 0.0) > CONNECTION_CHECK_SECONDS:
        close_old_connections()
        _thread_state.checked = now


def _write(batch: list[BrowserSignal]) -> list[SignalResult | BaseException]:
    """Runs on the writer's thread: the batch in one transaction, else each signal alone."""
    connection_check()
    try:
        return list(signals_record(batch))
    except Exception:
        connection.close_if_unusable_or_obsolete()
        if len(batch) == 1:
            raise
        log.warning("a batch of %d signals failed; writing them one at a time", len(batch), exc_info=True)
    out: list[SignalResult | BaseException] = []
    for x in batch:
        try:
            out.append(
                signal_record(session_id=x.session_id, seq=x.seq, event=x.event, at=x.at, payload=x.payload)
            )
        except Exception as exc:  # this signal's socket fails; the others are acknowledged
            connection.close_if_unusable_or_obsolete()
            out.append(exc)
    return out


def _close_connection() -> None:
    # Looked up on the thread it runs on: ``connection.close`` evaluated by the caller would be
    # the caller's own connection.
    connection.close()


def _retire(executor: ThreadPoolExecutor) -> None:
    """Close the writer thread's connection on that thread, then let the thread end."""
    with contextlib.suppress(RuntimeError):  # already shut down, or the interpreter is exiting
        executor.submit(_close_connection)
        executor.shutdown(wait=False)


class BatchWindow:
    """How long the next batch of a writer gathers signals: short when the server is quiet,
    longer while signals keep coming.

    ``after(taken, waiting)`` is told, once a batch is written, how many signals it held and how
    many arrived while it was being written; it returns the window of the next batch. A batch of
    more than one signal, or signals waiting for the next one, doubles the window (up to
    ``longest``): one transaction's fixed cost (lock, commit, the fan-out) is then shared by
    more signals. A batch of one signal with none waiting returns to ``base``. ``start(now)``
    gives the window of the first batch after the writer was idle: ``base`` once it has been idle
    longer than ``longest`` (a lone signal on a quiet server waits no more than it did with a
    fixed window), else the window it had.
    """

    def __init__(self, base: float, longest: float) -> None:
        self.base = max(0.0, base)
        self.longest = max(self.base, longest) if self.base else 0.0  # no window: none grows
        self.current = self.base
        self.idle_since: float | None = None

    def start(self, now: float) -> float:
        if self.idle_since is not None and now - self.idle_since > self.longest:
            self.current = self.base
        self.idle_since = None
        return self.current

    def after(self, taken: int, waiting: int) -> float:
        if taken > 1 or waiting:
            self.current = min(self.longest, self.current * 2)
        else:
            self.current = self.base
        return self.current

    def idle(self, now: float) -> None:
        self.idle_since = now


class SignalWriter:
    """Collects one event loop's signals and writes them in batches on one thread."""

    def __init__(self) -> None:
        self.window = BatchWindow(
            settings.SIGNAL_BATCH_WINDOW_MS / 1000, settings.SIGNAL_BATCH_WINDOW_MAX_MS / 1000
        )
        self.max_batch = max(1, settings.SIGNAL_BATCH_MAX)
        self.pending: list[tuple[BrowserSignal, asyncio.Future]] = []
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="proctorme-signals")
        self.draining: asyncio.Task | None = None
        self.batches = 0
        self.written = 0
        self.sizes: Counter[int] = Counter()  # batches written, by their number of signals
        self.clock = time.monotonic  # when the writer went idle, for the next batch's window
        # A writer whose loop is gone (a test's loop; a server's at exit) closes its connection.
        self._retire = weakref.finalize(self, _retire, self.executor)
        self._retire.atexit = False

    async def record(self, signal: BrowserSignal) -> SignalResult:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.pending.append((signal, future))
        if self.draining is None:
            self.draining = loop.create_task(self._drain())
        return await future

    async def close(self, timeout: float = 10.0) -> None:
        """Finish the batch being written, close the thread's connection, end the thread.

        Signals still waiting are written first (their sockets are gone by now, or they would
        not be closing the writer). A write still running after ``timeout`` is a bug of its
        caller (a lock held by the caller itself, say): it is reported, not waited for."""
        if self.draining is not None:
            done, _ = await asyncio.wait([self.draining], timeout=timeout)
            if not done:
                raise TimeoutError(f"a batch of signals was still being written after {timeout:.0f} s")
        self._retire()

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        window = self.window.start(self.clock())
        try:
            while self.pending:
                if window:
                    await asyncio.sleep(window)
                batch, self.pending = self.pending[: self.max_batch], self.pending[self.max_batch :]
                try:
                    results = await loop.run_in_executor(self.executor, _write, [s for s, _ in batch])
                except asyncio.CancelledError:
                    for _, future in batch + self.pending:
                        future.cancel()
                    self.pending = []
                    raise
                except Exception as exc:
                    results = [exc] * len(batch)
                self.batches += 1
                self.written += len(batch)
                self.sizes[len(batch)] += 1
                window = self.window.after(len(batch), len(self.pending))
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # its socket went away meanwhile
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self.window.idle(self.clock())
            self.draining = None


_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SignalWriter] = weakref.WeakKeyDictionary()


def writer() -> SignalWriter:
    """This event loop's writer (a server process has one loop; tests make one per test)."""
    loop = asyncio.get_running_loop()
    found = _writers.get(loop)
    if found is None:
        found = _writers[loop] = SignalWriter()
    return found


async def writer_close() -> None:
    """End this event loop's writer, if it has one (a test's loop, before it closes)."""
    found = _writers.pop(asyncio.get_running_loop(), None)
    if found is not None:
        await found.close()
