"""A dropped connection loses nothing and duplicates nothing; the /demo/ pages work same-origin."""

from __future__ import annotations

import pytest

from .helpers import session_for, switch_tab, wait_for_event, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]


def _start(page, exam):
    page.goto(exam.url)
    page.get_by_role("button", name="Start exam").click()
    wait_for_event(page, "STARTED")


def test_signals_made_while_offline_arrive_once_each(page, context, exam_page):
    from sessions.models import Event

    exam = exam_page("eye", query="consent=accepted")
    _start(page, exam)
    session = session_for(exam)
    wait_until(lambda: session.events.filter(type="STARTED").exists())

    context.set_offline(True)
    page.wait_for_function("document.querySelector('[data-proctorme=widget]').dataset.state === 'offline'")
    # The socket may survive emulated offline mode: close it as a real outage would.
    page.evaluate("window.demoWidget._core.socket && window.demoWidget._core.socket.close()")
    page.evaluate("['copy', 'paste', 'cut'].forEach(a => document.dispatchEvent(new Event(a)))")
    switch_tab(page, hidden=True)
    switch_tab(page, hidden=False)
    # All five are queued in the outbox (kept across a reload too) and, unacknowledged, none got through.
    page.wait_for_function(
        "(JSON.parse(localStorage.getItem('proctorme:outbox:' + window.demoWidget._core.session.sessionId)) || []).length === 5"
    )
    assert session.events.filter(type="COPY_PASTE").count() == 0

    context.set_offline(False)
    wait_until(
        lambda: session.events.filter(type="CONNECTION_LOST").exists(), timeout=20, message="never resent"
    )
    page.wait_for_function("window.demoWidget._core.outbox.length === 0", timeout=15_000)
    # A second reconnect resends nothing that was acknowledged.
    page.evaluate("window.demoWidget._core.socket.close()")
    page.evaluate("document.dispatchEvent(new Event('copy'))")
    wait_until(lambda: session.events.filter(type="COPY_PASTE").count() == 4, timeout=20)

    events = list(Event.objects.filter(session=session, source="browser").order_by("client_seq"))
    seqs = [e.client_seq for e in events]
    assert seqs == sorted(set(seqs)) == list(range(1, len(seqs) + 1))
    actions = [e.payload["action"] for e in events if e.type == "COPY_PASTE"]
    assert actions == ["copy", "paste", "cut", "copy"]
    assert [e.payload["focused"] for e in events if e.type == "TAB_FOCUS_CHANGE"] == [False, True]
    lost = session.events.get(type="CONNECTION_LOST")
    assert lost.payload["durationMs"] > 0 and lost.ended_at > lost.started_at
    assert session.flags.filter(type="CONNECTION_LOST").count() == 1
    assert session.flags.filter(type="COPY_PASTE").count() == 4
    assert session.flags.filter(type="TAB_NOT_FOCUS").count() == 1


def test_the_demo_pages_work_from_the_proctorme_server(page, proctorme_url):
    from django.core.management import call_command

    call_command("seed_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    page.goto(f"{proctorme_url}/demo/")
    page.get_by_role("button", name="Start exam").click()
    page.get_by_role("button", name="I agree").click()
    wait_for_event(page, "STARTED")
    page.get_by_label("x = 6").check()
    page.get_by_label("x² + 4x + 4").check()
    switch_tab(page, hidden=True)
    wait_for_event(page, "TAB_NOT_FOCUS")
    switch_tab(page, hidden=False)
    page.evaluate("document.dispatchEvent(new Event('copy'))")
    wait_for_event(page, "COPY_PASTE")

    page.get_by_role("button", name="Submit exam").click()
    wait_for_event(page, "END_PROCTORING")
    assert page.get_by_text("Your answers were submitted").is_visible()

    ap = page.context.new_page()
    ap.goto(f"{proctorme_url}/demo/autoproctor/?autostart=1&consent=accepted")
    wait_for_event(ap, "apMonitoringStarted")
    ap.evaluate("window.demoSubmit()")
    wait_for_event(ap, "apMonitoringStopped")


def test_a_reload_resumes_the_session_and_keeps_numbering(page, exam_page):
    exam = exam_page("eye", query="consent=accepted")
    _start(page, exam)
    page.evaluate("document.dispatchEvent(new Event('copy'))")
    page.wait_for_function("window.demoWidget._core.outbox.length === 0")
    session = session_for(exam)
    first_seqs = list(session.events.filter(source="browser").values_list("client_seq", flat=True))

    page.reload()
    page.get_by_role("button", name="Start exam").click()
    started = wait_for_event(page, "STARTED")[0]["payload"]
    assert started["resumed"] is True
    assert started["sessionId"] == str(session.public_id)
    page.evaluate("document.dispatchEvent(new Event('paste'))")
    wait_until(lambda: session.flags.filter(type="COPY_PASTE").count() == 2)
    page.wait_for_function("window.demoWidget._core.outbox.length === 0")
    seqs = list(
        session.events.filter(source="browser").order_by("client_seq").values_list("client_seq", flat=True)
    )
    assert seqs[: len(first_seqs)] == sorted(first_seqs)
    assert seqs == list(range(1, len(seqs) + 1))  # numbering went on after the reload, nothing refused
