"""AutoProctor setup and tracking options that change what the page may do: on → the
behaviour and its evidence, off → nothing."""

from __future__ import annotations

import pytest

from .helpers import session_for, wait_for_event, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]

TRY_CLIPBOARD_AND_UNLOAD = """() => {
  const copy = new ClipboardEvent("copy", {bubbles: true, cancelable: true});
  document.body.dispatchEvent(copy);
  const leave = new Event("beforeunload", {cancelable: true});
  window.dispatchEvent(leave);
  return {copyBlocked: copy.defaultPrevented, unloadAsked: leave.defaultPrevented};
}"""


def _start_with(page, exam_page, tracking: dict, options: dict):
    exam = exam_page("autoproctor", query="consent=accepted")
    page.goto(exam.url)
    page.evaluate(
        """([tracking, options]) => {
            Object.assign(window.demoOptions.trackingOptions, tracking);
            Object.assign(window.demoOptions, options);
            return window.demoStart();
        }""",
        [tracking, options],
    )
    wait_for_event(page, "apMonitoringStarted")
    return exam


def test_disable_copy_paste_blocks_and_reports_and_unload_is_guarded(page, exam_page):
    from sessions.models import Flag

    exam = _start_with(
        page, exam_page, {"disableCopyPaste": True}, {"lookupKey": "moodle-quiz-12", "assessmentId": None}
    )
    assert page.evaluate(TRY_CLIPBOARD_AND_UNLOAD) == {"copyBlocked": True, "unloadAsked": True}
    session = session_for(exam)
    assert session.assessment.external_id == "moodle-quiz-12"  # lookupKey groups the quiz's attempts
    flag = wait_until(lambda: Flag.objects.filter(session=session, type="COPY_PASTE").first())
    assert flag.payload == {"action": "copy", "blocked": True}
    page.evaluate("window.demoWidget.stop()")
    wait_for_event(page, "apMonitoringStopped")
    # Stopped: leaving the page is free again.
    assert page.evaluate(TRY_CLIPBOARD_AND_UNLOAD)["unloadAsked"] is False


def test_with_the_options_off_copy_works_and_leaving_is_not_asked(page, exam_page):
    from sessions.models import Flag

    exam = _start_with(
        page, exam_page, {"disableCopyPaste": False}, {"alertBeforeUnload": False, "showHowToVideo": False}
    )
    assert page.evaluate(TRY_CLIPBOARD_AND_UNLOAD) == {"copyBlocked": False, "unloadAsked": False}
    session = session_for(exam)
    flag = wait_until(lambda: Flag.objects.filter(session=session, type="COPY_PASTE").first())
    assert flag.payload == {"action": "copy", "blocked": False}


@pytest.mark.parametrize("policy", ["flag", "refuse"])
def test_a_second_browser_opening_the_attempt_is_flagged(page, browser, exam_page, policy):
    from sessions.models import Flag

    exam = _start_with(page, exam_page, {"multiSessionAttempt": True}, {"multiSessionAttemptPolicy": policy})
    session = session_for(exam)
    other = browser.new_context()  # another browser: its own storage, no resume secret
    try:
        second = other.new_page()
        second.goto(exam.url)
        second.evaluate("window.demoStart()")
        if policy == "refuse":
            error = wait_for_event(second, "apErrorEvent")[0]["payload"]
            assert error["errorCode"] == 4109 and error["code"] == "ATTEMPT_IN_USE"
        else:
            wait_for_event(second, "apMonitoringStarted")
        flag = wait_until(lambda: Flag.objects.filter(session=session, type="MULTIPLE_SESSIONS").first())
        assert flag.payload["refused"] is (policy == "refuse")
    finally:
        other.close()
    # The first browser reloading is not a second session.
    page.reload()
    page.evaluate("window.demoStart()")
    wait_for_event(page, "apMonitoringStarted")
    assert Flag.objects.filter(session=session, type="MULTIPLE_SESSIONS").count() == 1


@pytest.mark.parametrize("photo", [True, False])
def test_test_taker_photo_is_one_snapshot_at_the_start_shown_in_the_report(page, exam_page, school, photo):
    from sessions.models import MediaChunk
    from sessions.reports import report_for_page

    from .helpers import retry_locked

    # Random photos off by the institution, so the only snapshot can be the test-taker photo.
    school.institution.detector_settings = {"disabled": ["PERIODIC_SNAPSHOT"]}
    retry_locked(lambda: school.institution.save(update_fields=["detector_settings"]))
    exam = _start_with(page, exam_page, {"testTakerPhoto": photo, "photosAtRandom": False}, {})
    session = session_for(exam)
    assert session.config["tracking"]["photosAtRandom"] is False
    chunks = MediaChunk.objects.filter(session=session)
    wait_until(lambda: chunks.filter(kind="frame").count() >= 2, timeout=20)  # uploads are flowing
    if photo:
        wait_until(lambda: chunks.filter(kind="snapshot").exists(), timeout=20)
    page.evaluate("window.demoWidget.stop()")
    wait_for_event(page, "apMonitoringStopped")
    snapshots = list(chunks.filter(kind="snapshot").values_list("seq", flat=True))
    report_photo = report_for_page(session=session)["candidate"]["photo"]
    if photo:
        assert snapshots == [1]
        assert report_photo and report_photo["contentType"] == "image/jpeg"
    else:
        assert snapshots == [] and report_photo is None
