"""Shared fixtures: three personas (admin of A, reviewer of A, admin of B) and
helpers that skip a test when a real part is absent — or fail it when
PROCTORME_REQUIRE_ALL=1 (CI), so a missing service can never pass silently."""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass

import pytest

REQUIRE_ALL = os.environ.get("PROCTORME_REQUIRE_ALL") == "1"


def require(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (CI) when a part the test needs is absent."""
    if condition:
        return
    if REQUIRE_ALL:
        pytest.fail(f"required part absent (PROCTORME_REQUIRE_ALL=1): {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def _media_in_a_temporary_folder(tmp_path_factory):
    """Uploads made by tests (browser tests included) never land in the checkout's var/media."""
    from django.test.utils import override_settings

    with override_settings(MEDIA_ROOT=str(tmp_path_factory.mktemp("media"))):
        yield


@pytest.fixture(scope="session", autouse=True)
def _a_redis_channel_layer_per_thread():
    """One channels-redis layer object per thread, as a deployed process has one per event loop.

    A layer object serves one event loop: its receive lock (``specific.`` channels) binds to the
    loop that first waits on it. The browser tests' daphne thread and the test thread run loops
    of their own in this one process; sharing the object, a test's WebSocket communicator that
    received while a daphne consumer was waiting failed with "Lock ... is bound to a different
    event loop", and so did every such test after it. Messages still cross between the threads'
    layers through Redis, as between processes. The in-memory layer (no Redis) carries messages
    inside its object, so it stays one for all threads.
    """
    import threading

    from channels.layers import ChannelLayerManager, channel_layers
    from django.conf import settings

    backend = getattr(settings, "CHANNEL_LAYERS", {}).get("default", {}).get("BACKEND", "")
    if not backend.startswith("channels_redis."):
        yield
        return

    class PerThread(ChannelLayerManager):
        local = threading.local()
        generation = 0

        @property
        def backends(self):
            if getattr(self.local, "generation", None) != PerThread.generation:
                self.local.generation, self.local.backends = PerThread.generation, {}
            return self.local.backends

        @backends.setter
        def backends(self, value):  # CHANNEL_LAYERS changed: every thread makes its layers again
            PerThread.generation += 1

    original = type(channel_layers)
    channel_layers.__class__ = PerThread
    try:
        yield
    finally:
        channel_layers.__class__ = original


@pytest.fixture(autouse=True)
def _default_language_after_each_test():
    """A test-client request runs LocaleMiddleware in the test's own thread and leaves its language
    active; without this, a test after one that asked for French pages would render in French."""
    yield
    from django.utils import translation

    translation.deactivate()


def pytest_collection_finish(session):
    if not session.items and not session.config.option.collectonly:
        raise pytest.UsageError("no test was collected: refusing to pass an empty run")


@pytest.fixture
def postgres(db):
    from django.db import connection

    require(connection.vendor == "postgresql", "PostgreSQL is not configured (set DATABASE_URL)")
    return connection


@pytest.fixture
def redis_url():
    from django.conf import settings

    require(bool(settings.REDIS_URL), "Redis is not configured (set REDIS_URL)")
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        require(False, f"Redis at {settings.REDIS_URL} does not answer: {exc}")
    return settings.REDIS_URL


@pytest.fixture(scope="session")
def chromium_path():
    path = shutil.which("chromium")
    require(path is not None, "Debian's chromium is not installed (apt-get install chromium)")
    return path


@dataclass
class Tenant:
    institution: object
    publishable_key: str
    secret_key: str
    admin: object
    reviewer: object


def _make_tenant(name: str, domains: list[str]) -> Tenant:
    from tenants.models import Membership
    from tenants.services import institution_create, membership_add

    slug = name.lower().replace(" ", "")
    institution, publishable, secret = institution_create(name=name, domains=domains)
    admin = membership_add(
        institution=institution,
        email=f"admin@{slug}.test",
        role=Membership.Role.ADMIN,
        password="pw-admin-123",
    ).user
    reviewer = membership_add(
        institution=institution,
        email=f"reviewer@{slug}.test",
        role=Membership.Role.REVIEWER,
        password="pw-rev-123",
    ).user
    return Tenant(institution, publishable, secret, admin, reviewer)


@pytest.fixture
def tenant_a(db) -> Tenant:
    return _make_tenant("Alpha University", ["exams.alpha.edu", "localhost:8123"])


@pytest.fixture
def tenant_b(db) -> Tenant:
    return _make_tenant("Beta College", ["exams.beta.edu"])


@pytest.fixture
def operator(db, django_user_model):
    return django_user_model.objects.create_superuser("op", "op@proctorme.test", "pw-op-123")


def pytest_terminal_summary(terminalreporter):
    """axe-core's findings for every page checked (tests/browser/axe.py), at the end of every run."""
    import sys

    # The helper may be imported under more than one name (relative and absolute imports).
    SUMMARY = [
        line
        for name, module in list(sys.modules.items())
        if name.endswith("browser.axe")
        for line in getattr(module, "SUMMARY", [])
    ]
    if SUMMARY:
        terminalreporter.section("axe-core accessibility results")
        for line in SUMMARY:
            terminalreporter.write_line(line)


def _layer_receivers() -> list:
    """Tasks of this loop still waiting in a channel layer's receive (a consumer left running)."""
    import asyncio

    current = asyncio.current_task()
    return [
        task
        for task in asyncio.all_tasks()
        if task is not current
        and not task.done()
        and task.get_coro().__qualname__.endswith("ChannelLayer.receive")
    ]


@pytest.fixture
async def _sockets_end_with_the_test(monkeypatch):
    """Every WebSocket communicator a test opens is disconnected while the test's loop still runs.

    A consumer the server closed (4401, 4403, …) keeps running until its client disconnects,
    waiting in the channel layer's receive. Left to the loop's close, that receive is cancelled
    mid-command, and redis-py 8.1 can swallow the cancellation (the command returns with the
    task still marked cancelling): channels-redis's receive loop then blocks again, for good,
    and the run hangs in pytest-asyncio's teardown.
    """
    from channels.testing import ApplicationCommunicator

    opened = []
    original = ApplicationCommunicator.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(ApplicationCommunicator, "__init__", init)
    async with loop_connections_closed():
        yield opened
        for communicator in opened:
            if not communicator.future.done():
                await communicator.send_input({"type": "websocket.disconnect", "code": 1000})
            await communicator.wait(timeout=3)
        left = _layer_receivers()
        assert not left, f"a consumer is still receiving from the channel layer: {left}"


@contextlib.asynccontextmanager
async def loop_connections_closed():
    """Close, before this event loop ends, the database connections of the threads that end with it.

    Those threads (the loop's executor, where database_sync_to_async(thread_sensitive=False)
    runs; the loop's signal writer) would keep their connections open until the garbage
    collector found them: piled up over a run, PostgreSQL refused clients, TRUNCATE waited on
    them and the test database could not be dropped at the end. A test running sockets on a loop
    of its own (async_to_sync) wraps them in this; every ``async def`` test has it
    (``_sockets_end_with_the_test``).
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from sessions import signal_writer

    executor = ThreadPoolExecutor(thread_name_prefix="test-loop")
    asyncio.get_running_loop().set_default_executor(executor)
    try:
        yield
    finally:
        await signal_writer.writer_close()
        await asyncio.gather(*(asyncio.wrap_future(f) for f in executor_connections_close(executor)))
        executor.shutdown(wait=False)


def executor_connections_close(executor) -> list:
    """Run connections.close_all() once on each thread the executor has started (a barrier holds
    each thread to one call); the futures of those calls."""
    import threading

    from django.db import connections

    threads = len(executor._threads)
    if not threads:
        return []
    gate = threading.Barrier(threads)

    def close() -> None:
        connections.close_all()
        gate.wait(timeout=10)

    return [executor.submit(close) for _ in range(threads)]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """pytest-django's, and before the test database is dropped: close the connection of
    asgiref's one shared thread (where sync_to_async runs async tests' database calls), and
    collect those of threads that are gone, which would keep the database from being dropped."""
    yield
    import asyncio
    import gc

    from asgiref.sync import sync_to_async
    from django.db import connections

    asyncio.run(sync_to_async(connections.close_all)())
    gc.collect()


def pytest_collection_modifyitems(items):
    import inspect

    for item in items:
        if inspect.iscoroutinefunction(getattr(item, "obj", None)):
            item.fixturenames.append("_sockets_end_with_the_test")
