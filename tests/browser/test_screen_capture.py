"""AutoProctor's captureSwitchedTab and recordSession in Chromium.

Headless Debian chromium with the suite's flags (--use-fake-ui-for-media-stream and
--use-fake-device-for-media-stream) answers getDisplayMedia itself: a fake 1280×720 "monitor"
surface, no picker, no --auto-select-desktop-capture-source needed. With
--use-fake-device-for-media-stream=display-media-type=window it shares a "window" instead (the
wrong surface, 4014) — once the widget's displaySurface: "monitor" hint is taken out of the
call, since the fake picker obeys it where a candidate's real picker still offers windows. A refusal cannot be made real here without refusing the camera too
(--use-fake-ui-for-media-stream=deny refuses every request), so that test replaces
getDisplayMedia by one that rejects exactly as Chromium's refusal does (NotAllowedError,
"Permission denied", as seen with that flag).

on → the screen is shared once, a frame of it is the evidence of TAB_NOT_FOCUS, the session is
recorded (camera with sound, and the screen) by one recorder each, in WebM chunks, and the
reviewer's replay shows the capture and plays the chunks joined; off → getDisplayMedia and MediaRecorder are never called and nothing of either
kind is stored; a refused share → 4011 and, once the page is back, its SCREEN_NOT_SHARED flag;
the wrong surface → 4014; a share stopped during the test → 4011 and the flag."""

from __future__ import annotations

import pytest

from .helpers import session_for, switch_tab, wait_for_event, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]

# Counts what the page asks for, without changing it.
INSTRUMENT = """
(() => {
  window.__screen = {calls: 0, recorders: 0};
  const devices = navigator.mediaDevices;
  const real = devices.getDisplayMedia.bind(devices);
  devices.getDisplayMedia = (constraints) => {
    window.__screen.calls += 1;
    if (location.search.includes("nohint=1")) {
      // The fake picker obeys the widget's displaySurface hint; a candidate's real picker lets
      // them choose a window all the same.
      constraints = {...constraints, video: {...constraints.video}};
      delete constraints.video.displaySurface;
    }
    if (location.search.includes("refuse=1")) {
      return Promise.reject(new DOMException("Permission denied", "NotAllowedError"));
    }
    return real(constraints);
  };
  const Recorder = window.MediaRecorder;
  window.MediaRecorder = function (stream, options) {
    window.__screen.recorders += 1;
    return new Recorder(stream, options);
  };
  window.MediaRecorder.isTypeSupported = (type) => Recorder.isTypeSupported(type);
})();
"""


def _open(page, exam_page, tracking: dict, *, query: str = "consent=accepted"):
    page.add_init_script(INSTRUMENT)
    exam = exam_page("autoproctor", query=query)
    page.goto(exam.url)
    page.evaluate(
        "tracking => { Object.assign(window.demoOptions.trackingOptions, tracking); window.demoStart(); }",
        tracking,
    )
    return exam


def _stop(page):
    page.evaluate("window.demoWidget.stop()")
    wait_for_event(page, "apMonitoringStopped")


def test_on_the_screen_is_evidence_of_leaving_and_the_session_is_recorded_and_replayed(
    page, context, exam_page, school, proctorme_url, settings, monkeypatch
):
    from analysis.frames import jpeg_check
    from sessions import config
    from sessions.models import Flag, MediaChunk
    from sessions.uploads import webm_problem
    from tenants.models import Membership
    from tenants.services import membership_add

    from .dashboard_support import PASSWORD, sign_in

    # Short chunks, so that a few seconds of test make several to join and play through.
    monkeypatch.setitem(config.CAPTURE_DEFAULTS, "recordingSegmentMs", 2000)
    exam = _open(page, exam_page, {"recordSession": True})
    wait_for_event(page, "apMonitoringStarted")
    assert page.evaluate("window.__screen.calls") == 1
    assert page.evaluate("window.__screen.recorders") == 2  # camera (with sound) and screen
    session = session_for(exam)
    assert session.config["tracking"]["captureSwitchedTab"] is True

    switch_tab(page, hidden=True)
    flag = wait_until(
        lambda: Flag.objects.filter(session=session, type="TAB_NOT_FOCUS", evidence__isnull=False).first(),
        timeout=20,
        message="the TAB_NOT_FOCUS flag never got its screen capture",
    )
    evidence = flag.evidence
    assert evidence.kind == "screen" and evidence.seq == flag.payload["screenSeq"] == 1
    # The whole frame of the shared screen, as large as the browser gives it (≤ 1280×800 kept).
    frame = page.evaluate(
        """() => new ImageCapture(window.Proctorme.capture.ctx.screen.getVideoTracks()[0]).grabFrame()
                   .then(bitmap => [bitmap.width, bitmap.height])"""
    )
    # Kept whole, scaled down to fit 1280×800 (docs/widget-protocol.md): the fake monitor here
    # has the browser window's size (1360 wide in this context), so it is scaled.
    width, height = frame
    assert width > 1280
    scale = min(1280 / width, 800 / height)
    with evidence.file.open("rb") as handle:
        stored = jpeg_check(handle.read(), max_pixels=2560 * 1600)
    assert stored == (round(width * scale), round(height * scale))
    switch_tab(page, hidden=False)
    # At least two camera chunks handed over and uploaded while monitoring.
    wait_until(
        lambda: (
            MediaChunk.objects.filter(session=session, kind="recording", meta__source="camera").count() >= 2
        ),
        timeout=30,
    )
    _stop(page)

    segments = list(MediaChunk.objects.filter(session=session, kind="recording").order_by("seq"))
    camera = [s for s in segments if s.meta["source"] == "camera"]
    screen = [s for s in segments if s.meta["source"] == "screen"]
    assert len(camera) >= 2 and len(screen) >= 1
    for run in (camera, screen):
        assert len({s.meta["run"] for s in run}) == 1  # one recorder each for the whole page
        assert [s.meta["chunk"] for s in run] == list(range(1, len(run) + 1))
        with run[0].file.open("rb") as handle:
            assert webm_problem(handle.read()) is None  # the first chunk starts the WebM file
    for segment in segments:
        assert segment.content_type == "video/webm" and 0 < segment.duration_seconds <= 120
    assert not Flag.objects.filter(session=session, type="SCREEN_NOT_SHARED").exists()

    # The reviewer's replay shows the screen capture and plays the recording, its parts joined.
    settings.ROOT_URLCONF = "tests.browser.dashboard_support"
    reviewer = membership_add(
        institution=school.institution,
        email="reviewer@browser.test",
        role=Membership.Role.REVIEWER,
        password=PASSWORD,
    ).user
    dashboard = context.new_page()
    sign_in(dashboard, proctorme_url, reviewer)
    dashboard.goto(f"{proctorme_url}/dashboard/sessions/{session.public_id}/")
    shown = dashboard.locator(f'img[data-screen-evidence="{evidence.public_id}"]')
    shown.scroll_into_view_if_needed()
    dashboard.wait_for_function(
        "img => img.complete && img.naturalWidth === 1280", arg=shown.element_handle()
    )
    assert dashboard.locator(f'#screens [data-screen="{evidence.public_id}"]').count() == 1
    # The player joins the camera run's parts and plays past the end of the first one.
    dashboard.wait_for_function(
        """n => { const v = document.querySelector('video[data-recording=camera]');
                  return v && v.dataset.joined === String(n) && v.readyState >= 1 && v.videoWidth > 0; }""",
        arg=len(camera),
    )
    dashboard.evaluate(
        "() => { const v = document.querySelector('video[data-recording=camera]'); v.muted = true; v.play(); }"
    )
    dashboard.wait_for_function(
        "t => document.querySelector('video[data-recording=camera]').currentTime > t",
        arg=camera[0].duration_seconds + 0.5,
        timeout=20_000,
    )
    assert dashboard.locator("video[data-recording=screen]").count() == 1


def test_off_nothing_is_asked_and_nothing_captured(page, exam_page, school):
    from sessions.models import Flag, MediaChunk

    # Off takes the institution switching it off; the page alone cannot (the candidate could).
    school.institution.detector_settings = {"disabled": ["SCREEN_NOT_SHARED"]}
    school.institution.save(update_fields=["detector_settings"])
    exam = _open(page, exam_page, {"captureSwitchedTab": False, "recordSession": False})
    wait_for_event(page, "apMonitoringStarted")
    session = session_for(exam)
    assert session.config["tracking"]["captureSwitchedTab"] is False
    assert session.config["tracking"]["recordSession"] is False
    switch_tab(page, hidden=True)
    flag = wait_until(lambda: Flag.objects.filter(session=session, type="TAB_NOT_FOCUS").first())
    switch_tab(page, hidden=False)
    _stop(page)  # uploads everything captured before ending
    assert page.evaluate("window.__screen") == {"calls": 0, "recorders": 0}
    flag.refresh_from_db()
    assert flag.payload == {"cause": "visibility"} and flag.evidence is None
    assert not MediaChunk.objects.filter(session=session, kind__in=["screen", "recording"]).exists()
    assert MediaChunk.objects.filter(session=session, kind="frame").exists()  # capture did run


def test_a_refused_share_is_4011_and_its_flag_arrives_when_the_page_is_back(page, exam_page):
    from sessions.models import Flag

    exam = _open(page, exam_page, {}, query="consent=accepted&refuse=1")
    error = wait_for_event(page, "apErrorEvent")[0]["payload"]
    assert error["errorCode"] == 4011 and error["code"] == "SCREEN_NOT_SHARED"
    assert page.evaluate("window.demoWidget.setupState") == "error"
    assert "apMonitoringStarted" not in page.evaluate("window.demoEvents.map(e => e.type)")
    # The candidate reloads and shares: the refusal, kept in the outbox, reaches the server.
    page.goto(exam.url.replace("&refuse=1", ""))
    page.evaluate("window.demoStart()")
    wait_for_event(page, "apMonitoringStarted")
    session = session_for(exam)
    flag = wait_until(lambda: Flag.objects.filter(session=session, type="SCREEN_NOT_SHARED").first())
    assert flag.payload == {"reason": "denied", "errorCode": 4011}


def test_a_window_instead_of_the_entire_screen_is_4014(browser, chromium_path, exam_page):
    from .conftest import CHROMIUM_ARGS, own_chromium

    shared = [a for a in CHROMIUM_ARGS if a != "--use-fake-device-for-media-stream"]
    window = "--use-fake-device-for-media-stream=display-media-type=window"
    with own_chromium(browser, chromium_path, window, shared=shared) as window_share:
        page = window_share.new_page()
        _open(page, exam_page, {}, query="consent=accepted&nohint=1")
        error = wait_for_event(page, "apErrorEvent")[0]["payload"]
        assert error["errorCode"] == 4014 and error["code"] == "SCREEN_NOT_SHARED"
        assert page.evaluate("window.__screen.calls") == 1


def test_a_share_stopped_during_the_test_is_4011_and_flagged_and_the_test_goes_on(page, exam_page):
    from sessions.models import Flag

    exam = _open(page, exam_page, {})
    wait_for_event(page, "apMonitoringStarted")
    # What the browser's own "Stop sharing" button does to the track.
    page.evaluate("window.Proctorme.capture.ctx.screen.getVideoTracks()[0].dispatchEvent(new Event('ended'))")
    error = wait_for_event(page, "apErrorEvent")[0]["payload"]
    assert error["errorCode"] == 4011 and error["code"] == "SCREEN_NOT_SHARED"
    session = session_for(exam)
    flag = wait_until(lambda: Flag.objects.filter(session=session, type="SCREEN_NOT_SHARED").first())
    assert flag.payload == {"reason": "stopped", "errorCode": 4011}
    assert page.evaluate("window.demoWidget.isApTestStarted") is True
