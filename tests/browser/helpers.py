"""Helpers shared by the browser tests."""

from __future__ import annotations

import json
import time
import uuid
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


def eye_page(
    pages_root, site_urls, proctorme_url, school, *, lang: str, locale: str | None, head: str = ""
) -> str:
    """A bare Eye page on the registered site, in ``lang``, that starts the widget at once; its
    scripts carry the nonce ``n0nce`` and it records CSP violations in ``window.violations``."""
    from .conftest import PAGE_HOST

    unique = uuid.uuid4().hex[:8]
    config = {
        "apiKey": school.publishable_key,
        "assessmentId": f"i18n-{unique}",
        "assessmentTitle": "Algebra",
        "candidateId": f"c-{unique}",
        "candidateEmail": "ada@example.edu",
        "candidateFirstName": "Ada",
        "candidateLastName": "Lovelace",
        "institutionName": "Alpha University",
        "examDuration": 1800,
    }
    if locale:
        config["locale"] = locale
    name = f"i18n-{unique}.html"
    (pages_root / name).write_text(
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">{head}'
        f'<link rel="icon" href="data:,"><title>Exam</title></head><body><main><h1>Exam</h1></main>'
        f'<script src="{proctorme_url}/widget.js" nonce="n0nce"></script>'
        f'<script nonce="n0nce">window.violations = [];'
        f'document.addEventListener("securitypolicyviolation", e => violations.push(e.violatedDirective));'
        f"LoadProctormeWidget().then(w => w.init({json.dumps(config)})).catch(e => console.warn(e.code));"
        f"</script></body></html>",
        encoding="utf-8",
    )
    return f"{site_urls[PAGE_HOST]}/{name}"
