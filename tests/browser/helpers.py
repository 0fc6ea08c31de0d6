"""Helpers shared by the browser tests."""

from __future__ import annotations

import time
from collections.abc import Callable


def event_types(page) -> list[str]:
    return page.evaluate("window.demoEvents.map(e => e.type)")


def wait_for_event(page, event_type: str, *, count: int = 1, timeout: float = 15_000) -> list[dict]:
    """Wait until the page's log holds ``count`` events of this type; return them all."""
    page.wait_for_function(
        "([t, n]) => window.demoEvents && window.demoEvents.filter(e => e.type === t).length >= n",
        arg=[event_type, count],
        timeout=timeout,
    )
    return page.evaluate("t => window.demoEvents.filter(e => e.type === t)", event_type)


def switch_tab(page, *, hidden: bool) -> None:
    """Headless Chromium never hides a tab: pretend it did, the way a real switch looks to the page."""
    page.evaluate(
        """hidden => {
            Object.defineProperty(document, "visibilityState", {configurable: true, get: () => hidden ? "hidden" : "visible"});
            Object.defineProperty(document, "hidden", {configurable: true, get: () => hidden});
            document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


def wait_until(predicate: Callable[[], object], *, timeout: float = 10.0, message: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(message or "condition never became true")
        time.sleep(0.1)


def session_for(exam):
    """The ProctoringSession an exam page started (either dialect)."""
    from sessions.models import ProctoringSession

    context = exam.context
    if "test_attempt_id" in context:
        attempt = f"ap:{context['test_attempt_id']}"
    else:
        attempt = f"eye:{context['assessment_id']}:{context['candidate_id']}"
    return ProctoringSession.objects.filter(attempt_id=attempt).first()


def retry_locked(write: Callable[[], object], *, attempts: int = 20) -> object:
    """Run a write from the test thread, retrying while SQLite's shared cache reports the
    server thread holding a table lock (PostgreSQL never needs the retry)."""
    from django.db import OperationalError

    for attempt in range(attempts):
        try:
            return write()
        except OperationalError as error:
            if "locked" not in str(error) or attempt == attempts - 1:
                raise
            time.sleep(0.05)
    return None
