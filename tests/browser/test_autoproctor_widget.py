"""The AutoProctor dialect in real Chromium, on an institution's page served cross-origin."""

from __future__ import annotations

import pytest

from .helpers import event_types, session_for, switch_tab, wait_for_event, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]


def test_setup_start_tab_switch_stop_destroy(page, exam_page):
    from sessions.models import Flag

    exam = exam_page("autoproctor", query="consent=accepted")
    page.goto(exam.url)
    page.evaluate("window.demoWidget.setup(window.demoOptions)")
    wait_for_event(page, "apSetupCompleted")
    success_codes = [e["payload"]["successCode"] for e in wait_for_event(page, "apSuccessEvent", count=3)]
    assert success_codes == [2001, 2002, 2003]
    progress = [e["payload"]["percentage"] for e in wait_for_event(page, "apProgressUpdate")]
    assert progress == sorted(progress) and progress[-1] == 100
    assert "apMonitoringStarted" not in event_types(page)

    page.evaluate("window.demoWidget.start()")
    wait_for_event(page, "apMonitoringStarted")
    # start() again before stop() resumes instead of failing.
    page.evaluate("window.demoWidget.start()")
    wait_for_event(page, "apMonitoringStarted", count=2)

    switch_tab(page, hidden=True)
    evidence = wait_for_event(page, "apEvidenceEvent")[0]["payload"]
    assert evidence["evidenceCode"] == 5005
    assert evidence["type"] == "TAB_NOT_FOCUS"
    switch_tab(page, hidden=False)
    back = wait_for_event(page, "apEvidenceEvent", count=2)[1]["payload"]
    assert back["evidenceCode"] == 5006
    session = session_for(exam)
    assert session.dialect == "autoproctor"
    wait_until(lambda: Flag.objects.filter(session=session, type="TAB_NOT_FOCUS").exists())

    page.evaluate("window.demoWidget.stop()")
    wait_for_event(page, "apMonitoringStopped")
    session.refresh_from_db()
    assert session.status != "active" and session.end_reason == "stopped"
    thrown = page.evaluate(
        """() => { try { window.demoWidget.start(); return null; } catch (e) { return e.code; } }"""
    )
    assert thrown == "SESSION_ENDED"

    page.evaluate("window.demoWidget.destroy()")
    wait_for_event(page, "apInstanceDestroyed")
    assert page.locator("[data-proctorme=widget]").count() == 0


def test_a_bad_signature_is_refused_with_4103(page, exam_page):
    exam = exam_page(
        "autoproctor", query="consent=accepted", hashed_test_attempt_id="bm90IHRoZSByaWdodCBobWFj"
    )
    page.goto(exam.url)
    page.get_by_role("button", name="Start exam").click()
    error = wait_for_event(page, "apErrorEvent")[0]["payload"]
    assert error["errorCode"] == 4103
    assert error["code"] == "INVALID_ATTEMPT_SIGNATURE"
    assert "apSetupCompleted" not in event_types(page)
    assert session_for(exam) is None


def test_a_second_screen_is_evidence_5007(page, context, exam_page):
    context.add_init_script(
        "Object.defineProperty(Screen.prototype, 'isExtended', {configurable: true, get: () => true})"
    )
    exam = exam_page("autoproctor", query="consent=accepted&autostart=1")
    page.goto(exam.url)
    wait_for_event(page, "apMonitoringStarted")
    evidence = wait_for_event(page, "apEvidenceEvent")[0]["payload"]
    assert evidence["evidenceCode"] == 5007
    assert evidence["type"] == "MULTIPLE_SCREENS"


def test_a_blocked_camera_is_error_4004(page, context, exam_page):
    context.add_init_script(
        """navigator.mediaDevices.getUserMedia = () =>
               Promise.reject(new DOMException("refused by the test", "NotAllowedError"));"""
    )
    exam = exam_page("autoproctor", query="consent=accepted&autostart=1")
    page.goto(exam.url)
    error = wait_for_event(page, "apErrorEvent")[0]["payload"]
    assert (error["errorCode"], error["code"]) == (4004, "CAMERA_DENIED")
    assert "apSetupCompleted" not in event_types(page)
