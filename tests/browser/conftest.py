"""Browser tests: one Debian chromium for all of them, a real ASGI server, a cross-origin exam page.

* The Proctorme server is daphne (HTTP + WebSockets) in a daemon thread. Twisted's reactor can
  only start once per process, hence one server for the session; tests use ``transactional_db``
  so the server's threads see committed rows.
* The institution's exam page is served by a stdlib http.server on 127.0.0.2 (another origin
  than the Proctorme server on 127.0.0.1); every 127.0.0.0/8 address is a secure context, so
  camera and microphone work.
* A new browser context per test keeps localStorage, permissions and sockets apart.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import http.server
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
PAGE_HOST = "127.0.0.2"  # the institution's exam site (registered)
FOREIGN_HOST = "127.0.0.3"  # a site the institution never registered
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _wait_for_port(host: str, port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port}")


# --- the Proctorme server ----------------------------------------------------------------------

_servers: list = []  # the daphne server proctorme_url started (one per run)


def server_idle(timeout: float = 20.0) -> None:
    """Wait until every connection the browser had to the Proctorme server is closed, its
    application (a socket's consumer, with its disconnect handler) has returned and the signal
    writer has committed its last batch: after a closed context the server still writes to the
    database as each socket goes away, and the test's tables must not be flushed under it (the
    flush's TRUNCATE and a late write deadlocked)."""

    from sessions import signal_writer

    def idle() -> bool:
        try:
            details = [d.copy() for d in list(_servers[0].connections.values())] if _servers else []
            writers = list(signal_writer._writers.values())
        except RuntimeError:  # the server's thread changed the dict meanwhile: look again
            return False
        # A socket gone mid-batch leaves its batch to the writer, which still commits it.
        return all(w.draining is None for w in writers) and all(
            "disconnected" in d
            and (d.get("application_instance") is None or d["application_instance"].done())
            for d in details
        )

    deadline = time.monotonic() + timeout
    while not idle():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the server still handles a connection {timeout:.0f} s after the browser left"
            )
        time.sleep(0.05)
    # Each HTTP request ran its view on a thread of its own, gone now with its connection still
    # open (persistent connections): collected here, not after PostgreSQL runs out of them.
    gc.collect()


@pytest.fixture(scope="session")
def proctorme_url(django_db_setup, django_db_blocker) -> Iterator[str]:
    """http://127.0.0.1:<port> served by daphne with the project's ASGI application."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from concurrent.futures import wait as futures_wait

    from daphne.server import Server, twisted_loop

    from proctorme.asgi import application
    from sessions import signal_writer
    from tests.conftest import executor_connections_close

    # The server loop's executor is ours, so its threads' connections can be closed at the end.
    executor = ThreadPoolExecutor(thread_name_prefix="daphne-sync")
    twisted_loop.set_default_executor(executor)
    port = _free_port()
    server = Server(
        application=application,
        endpoints=[f"tcp:port={port}:interface=127.0.0.1"],
        signal_handlers=False,
        verbosity=0,
    )
    thread = threading.Thread(target=server.run, name="daphne", daemon=True)
    thread.start()
    _servers.append(server)
    _wait_for_port("127.0.0.1", port)
    yield f"http://127.0.0.1:{port}"
    # Before the test database is dropped: the server's threads let go of their connections.
    asyncio.run_coroutine_threadsafe(signal_writer.writer_close(), twisted_loop).result(timeout=30)
    futures_wait(executor_connections_close(executor), timeout=30)


# --- the institution's exam site ---------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


def _serve_directory(host: str, root: Path) -> str:
    port = _free_port(host)
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=httpd.serve_forever, name=f"pages-{host}", daemon=True).start()
    return f"http://{host}:{port}"


@pytest.fixture(scope="session")
def pages_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("exam-pages")


@pytest.fixture(scope="session")
def site_urls(pages_root) -> dict[str, str]:
    """The same page folder served from a registered and from an unregistered origin."""
    return {
        PAGE_HOST: _serve_directory(PAGE_HOST, pages_root),
        FOREIGN_HOST: _serve_directory(FOREIGN_HOST, pages_root),
    }


@dataclass
class School:
    institution: object
    publishable_key: str
    secret_key: str


@pytest.fixture
def school(transactional_db) -> School:
    from tenants.services import institution_create

    institution, publishable, secret = institution_create(name="Browser University", domains=[PAGE_HOST])
    return School(institution, publishable, secret)


@dataclass
class ExamPage:
    url: str
    context: dict


@pytest.fixture
def exam_page(proctorme_url, pages_root, site_urls, school) -> Callable[..., ExamPage]:
    """Render a demo template to a file of the institution's site and return its URL.

    ``exam_page("eye", host=..., query="consent=accepted", **context_overrides)``.
    """
    from django.template.loader import render_to_string

    from tenants.services import attempt_sign

    def make(dialect: str = "eye", *, host: str = PAGE_HOST, query: str = "", **overrides) -> ExamPage:
        unique = uuid.uuid4().hex[:10]
        context = {
            "widget_url": f"{proctorme_url}/widget.js",
            "publishable_key": school.publishable_key,
            "institution_name": "Browser University",
            "assessment_id": f"exam-{unique}",
            "assessment_title": "Linear Algebra – Final",
            "candidate_id": f"cand-{unique}",
            "candidate_email": f"cand-{unique}@students.example.edu",
            "candidate_first_name": "Grace",
            "candidate_last_name": "Hopper",
            "exam_duration": 1800,
        }
        template = "demo/exam.html"
        if dialect == "autoproctor":
            template = "demo/exam_autoproctor.html"
            context["test_attempt_id"] = f"attempt-{unique}"
            context["hashed_test_attempt_id"] = attempt_sign(
                secret_key=school.secret_key, attempt_id=context["test_attempt_id"]
            )
        context.update(overrides)
        name = f"{dialect}-{unique}.html"
        (pages_root / name).write_text(render_to_string(template, context), encoding="utf-8")
        return ExamPage(url=f"{site_urls[host]}/{name}" + (f"?{query}" if query else ""), context=context)

    return make


# --- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser(chromium_path) -> Iterator[object]:
    """One chromium for all the browser tests. Package scope, not session: Playwright's sync
    API keeps an event loop registered on the main thread while it runs, which would break
    every asyncio test collected after this package."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop on the main thread, which makes Django believe
    # every ORM call of the test is in async code. The calls are in fact synchronous.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "1"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@contextlib.contextmanager
def own_chromium(browser, chromium_path: str, *args: str, shared: list[str] = CHROMIUM_ARGS):
    """A Chromium of its own beside the shared one, for other fake devices (a video file, a
    window instead of a screen): ``shared`` and then ``args`` are its flags. Its pages' sockets
    go away when it closes, as a closed context's do, so the test then waits for the server to
    be done with them (server_idle) before its tables are flushed."""
    launched = browser.browser_type.launch(
        executable_path=chromium_path, headless=True, args=[*shared, *args]
    )
    try:
        yield launched
    finally:
        launched.close()
        server_idle()


def _read_without_locks() -> None:
    """SQLite's in-memory test database is shared between threads through its shared cache,
    where a reader's table lock makes the server's concurrent write fail at once ("database
    table is locked"). Reading uncommitted rows takes no locks; the test's polling reads can
    afford that. PostgreSQL needs nothing."""
    from django.db import connection

    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA read_uncommitted = 1")


@pytest.fixture
def context(browser, transactional_db):
    # Depends on the database so that the pages (and their WebSockets) close before the
    # tables are flushed: the server still touches the database when a socket goes away.
    _read_without_locks()
    # bypass_csp: Playwright's wait_for_function polls with eval, which the dashboard's
    # Content-Security-Policy forbids; test_dashboard_csp.py checks the policy itself in a
    # context that enforces it.
    context = browser.new_context(viewport={"width": 1360, "height": 900}, bypass_csp=True)
    context.set_default_timeout(15_000)
    yield context
    context.close()
    server_idle()


@pytest.fixture
def page(context):
    page = context.new_page()
    page.console_messages = []
    page.on("console", lambda message: page.console_messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: page.console_messages.append(f"pageerror: {error}"))
    return page


@pytest.fixture
def failure_report(request, page):
    """On failure, print what the page logged and keep a screenshot of it for the person reading the
    failure: the fastest way to see why a journey broke. (Passing tests save none: a picture that
    nobody compares with anything checks nothing.)"""
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print("\n--- browser console ---\n" + "\n".join(page.console_messages))
        with contextlib.suppress(Exception):
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / f"failed-{request.node.name}.png"
            page.screenshot(path=shot, full_page=True)
            print(f"--- screenshot: {shot}")
        with contextlib.suppress(Exception):
            print("--- demoEvents ---\n" + json.dumps(page.evaluate("window.demoEvents"), indent=1))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
