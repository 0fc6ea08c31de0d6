"""Live intervention and candidate warnings in real Chromium: a proctor on the live page (one
browser context) and a candidate on the institution's exam page (another), on the same server.

* a message sent from the live page is shown in the candidate's widget, acknowledged there, and
  the acknowledgement reaches the stored timeline and the proctor's page;
* a pause stops capture, uploads and the clock; the resume moves the deadline by the pause and
  capture goes on with every frame's sequence number present;
* terminating ends the attempt with END_PROCTORING (Eye) / apMonitoringStopped (AutoProctor)
  carrying the reason;
* a candidate who steps out of view (a composed y4m: at the desk, then an empty room) is warned
  within 5 s of the first empty frame.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import require

from .conftest import _read_without_locks, own_chromium
from .dashboard_support import PASSWORD, sign_in
from .helpers import session_for, wait_for_event, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]


@pytest.fixture(autouse=True)
def _no_read_locks(transactional_db):
    _read_without_locks()


def _start(page, exam) -> dict:
    page.goto(exam.url)
    page.get_by_role("button", name="Start exam").click()
    return wait_for_event(page, "STARTED", timeout=30_000)[0]


@pytest.fixture
def proctor(browser, school, proctorme_url, settings, tmp_path):
    """A reviewer of the exam's institution, signed in on the live page in a context of their own."""
    from tenants.models import Membership
    from tenants.services import membership_add

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ROOT_URLCONF = "tests.browser.dashboard_support"
    user = membership_add(
        institution=school.institution,
        email="proctor@browser.test",
        role=Membership.Role.REVIEWER,
        password=PASSWORD,
    ).user
    # As conftest's context: bypass_csp lets Playwright's wait_for_function poll the dashboard.
    context = browser.new_context(viewport={"width": 1360, "height": 900}, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    sign_in(page, proctorme_url, user)
    yield page
    # No wait here: the candidate's page (set up first, torn down after) waits for the server to
    # have let go of every socket, this one's included, before the tables are flushed.
    context.close()


def _open_panel(proctor, proctorme_url, session) -> None:
    proctor.goto(f"{proctorme_url}/dashboard/live/?session={session.public_id}#intervene")
    proctor.locator("#intervene").wait_for()
    proctor.wait_for_function("document.getElementById('ws-state').dataset.state === 'open'")


def test_a_message_from_the_live_page_is_shown_and_acknowledged(page, proctor, exam_page, proctorme_url):
    from sessions.models import Event

    exam = exam_page("eye", query="consent=accepted")
    _start(page, exam)
    session = session_for(exam)
    _open_panel(proctor, proctorme_url, session)

    proctor.fill("#iv-text", "Please keep your face in view of the camera.")
    proctor.get_by_role("button", name="Send message").click()
    proctor.get_by_text("Message sent").wait_for()

    shown = page.locator("[data-proctorme=message]")
    shown.wait_for()
    assert "Please keep your face in view of the camera." in shown.inner_text()
    assert "Message from your proctor" in shown.inner_text()
    message = wait_for_event(page, "PROCTOR_MESSAGE")[0]["payload"]
    assert message["text"] == "Please keep your face in view of the camera."
    sent = Event.objects.get(session=session, type="PROCTOR_MESSAGE")
    assert sent.payload["messageId"] == message["messageId"]
    assert proctor.locator(f"#ack-{message['messageId']}").inner_text() == "Not acknowledged yet"

    page.get_by_role("button", name="OK, I have read it").click()
    assert wait_for_event(page, "MESSAGE_ACKNOWLEDGED")[0]["payload"]["messageId"] == message["messageId"]
    assert page.locator("[data-proctorme=message]").count() == 0
    stored = wait_until(
        lambda: Event.objects.filter(session=session, type="MESSAGE_ACKNOWLEDGED", source="browser").first(),
        message="the acknowledgement never reached the server",
    )
    assert stored.payload["messageId"] == message["messageId"]
    # The proctor's page hears of it over its socket, without a reload.
    proctor.locator(f"#ack-{message['messageId']}").filter(has_text="Acknowledged").wait_for()


def test_pause_stops_uploads_and_the_clock_and_resume_loses_nothing(page, proctor, exam_page, proctorme_url):
    from sessions.models import MediaChunk

    exam = exam_page("eye", query="consent=accepted")
    _start(page, exam)
    session = session_for(exam)
    frames = MediaChunk.objects.filter(session=session, kind="frame")
    wait_until(lambda: frames.count() >= 2, timeout=20, message="no frame was uploaded")
    _open_panel(proctor, proctorme_url, session)
    deadline_before = session.deadline_at

    proctor.fill("#iv-pause", "Technical check")
    proctor.get_by_role("button", name="Pause").click()
    paused = wait_for_event(page, "PROCTORING_PAUSED")[0]["payload"]
    assert paused["reason"] == "Technical check"
    assert page.locator(".pm-badge[data-state=paused]").is_visible()
    assert "your time is not running" in page.locator(".pm-note").inner_text()
    session.refresh_from_db()
    paused_at = session.paused_at
    assert paused_at is not None
    uploads_at_pause = page.evaluate("window.Proctorme.capture.stats.uploads")
    captured_at_pause = page.evaluate("window.Proctorme.capture.stats.captured.frame")

    # Three upload intervals (2 s each with warnings on) and three frame intervals pass paused.
    page.wait_for_function(
        "since => Date.now() - Date.parse(since) > 6500", arg=paused["pausedAt"], timeout=15_000
    )
    assert page.evaluate("window.Proctorme.capture.stats.uploads") == uploads_at_pause
    assert page.evaluate("window.Proctorme.capture.stats.captured.frame") == captured_at_pause
    # A grab started just before the pause may land; nothing is captured after it.
    assert not frames.filter(captured_at__gt=paused_at + timedelta(seconds=1)).exists()
    from sessions.services import session_is_overdue

    session.refresh_from_db()
    assert session.deadline_at == deadline_before and not session_is_overdue(session)

    proctor.get_by_role("button", name="Resume").click()
    resumed = wait_for_event(page, "PROCTORING_RESUMED")[0]["payload"]
    session.refresh_from_db()
    assert session.paused_at is None and session.paused_seconds >= 6.5
    moved = (session.deadline_at - deadline_before).total_seconds()
    assert moved == pytest.approx(session.paused_seconds, abs=0.01)
    assert datetime.fromisoformat(resumed["deadlineAt"].replace("Z", "+00:00")) == session.deadline_at
    assert page.locator(".pm-badge[data-state=monitoring]").is_visible()

    # Capture goes on: new frames after the resume, and no sequence number is missing.
    resumed_at = datetime.fromisoformat(resumed["resumedAt"].replace("Z", "+00:00"))
    wait_until(lambda: frames.filter(captured_at__gt=resumed_at).count() >= 2, timeout=20)
    page.wait_for_function("window.Proctorme.capture.pending.filter(i => i.kind === 'frame').length <= 2")
    seqs = sorted(frames.values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def test_terminate_from_the_live_page_ends_the_eye_attempt_with_the_reason(
    page, proctor, exam_page, proctorme_url
):
    exam = exam_page("eye", query="consent=accepted")
    _start(page, exam)
    session = session_for(exam)
    _open_panel(proctor, proctorme_url, session)

    proctor.fill("#iv-terminate", "A second person answered for you")
    proctor.get_by_role("button", name="Terminate attempt").click()
    ended = wait_for_event(page, "END_PROCTORING")[0]["payload"]
    assert ended["reason"] == "terminated"
    assert ended["message"] == "A second person answered for you"
    assert "A second person answered for you" in page.locator(".pm-note").inner_text()
    session.refresh_from_db()
    assert session.status != "active" and session.end_reason == "terminated"


def test_terminate_through_the_api_stops_autoproctor_monitoring_with_the_reason(
    page, exam_page, school, proctorme_url
):
    exam = exam_page("autoproctor", query="consent=accepted")
    page.goto(exam.url)
    page.evaluate("window.demoWidget.setup(window.demoOptions)")
    wait_for_event(page, "apSetupCompleted", timeout=30_000)
    page.evaluate("window.demoWidget.start()")
    wait_for_event(page, "apMonitoringStarted")
    session = session_for(exam)

    # The integrator's server calls the API over HTTP, like any client of it, retrying a 503
    # as the API documents (SQLite's shared test database answers one while the page writes).
    def terminate():
        request = urllib.request.Request(
            f"{proctorme_url}/api/v1/sessions/{session.public_id}/terminate",
            data=json.dumps({"reason": "Identity could not be confirmed"}).encode(),
            headers={"Authorization": f"Bearer {school.secret_key}", "Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            if error.code == 503:
                return None
            raise

    status, body = wait_until(terminate, timeout=15, message="the API kept answering 503")
    assert status == 200 and body["endReason"] == "terminated"
    stopped = wait_for_event(page, "apMonitoringStopped")[0]["payload"]
    assert stopped["reason"] == "terminated"
    assert stopped["message"] == "Identity could not be confirmed"
    assert page.evaluate("window.demoWidget.isApTestStarted") is False


# --- warnings: a composed camera -----------------------------------------------------------------


@pytest.fixture(scope="module")
def leaving_media(tmp_path_factory) -> tuple[Path, Path]:
    """8 s at the desk, then 8 s of the empty room (looped), and a quiet room's sound."""
    import shutil

    from . import media_support as ms

    require(shutil.which("sox") is not None, "sox is not installed (apt-get install sox)")
    folder = tmp_path_factory.mktemp("leaving")
    try:
        video = ms.write_y4m(folder / "leaving.y4m", ms.scripted_frames(((1, 8), (0, 8)), seed=7))
        audio = ms.wav_for_chromium(folder / "quiet.wav", ms.quiet_track())
    except ms.MissingTool as exc:
        require(False, str(exc))
    return video, audio


@pytest.fixture(scope="module")
def leaving_browser(browser, chromium_path, leaving_media):
    video, audio = leaving_media
    with own_chromium(
        browser,
        chromium_path,
        f"--use-file-for-fake-video-capture={video}",
        f"--use-file-for-fake-audio-capture={audio}",
    ) as launched:
        yield launched


def test_a_candidate_who_steps_out_of_view_is_warned_within_5_seconds(
    leaving_browser, exam_page, transactional_db
):
    from sessions.models import Event, MediaChunk

    _read_without_locks()
    context = leaving_browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        exam = exam_page("eye", query="consent=accepted")
        _start(page, exam)
        session = session_for(exam)
        # The camera opened at the system check, with the candidate at the desk (the video's start):
        # lighting and face were judged fine by the server's detector.
        view = wait_for_event(page, "SYSTEM_CHECK_COMPLETED")[0]["payload"]["details"]["cameraView"]
        assert view["result"] == "ok" and view["faces"] == 1
        # The video may already show the empty room when capture starts: judge the first
        # warning that follows a frame with the candidate in it.
        for attempt in range(1, 4):
            warnings = wait_for_event(page, "CANDIDATE_WARNING", count=2 * attempt - 1, timeout=40_000)
            warning = warnings[-1]
            assert warning["payload"]["kind"] == "absent"
            shown_at = datetime.fromisoformat(warning["at"].replace("Z", "+00:00"))
            frames = list(
                MediaChunk.objects.filter(session=session, kind="frame", captured_at__lte=shown_at)
                .exclude(meta__obs=None)
                .order_by("captured_at")
            )
            seen = [i for i, f in enumerate(frames) if f.meta["obs"].get("faces", 0) >= 1]
            if seen:
                break
            # Back at the desk (the video loops): the warning is cleared, then comes again.
            cleared = wait_for_event(page, "CANDIDATE_WARNING", count=2 * attempt, timeout=30_000)[-1]
            assert cleared["payload"]["kind"] is None
        else:
            pytest.fail("no warning followed a frame with the candidate in view")
        box = page.locator("[data-proctorme=warning]")
        assert (
            box.is_visible() and box.inner_text() == "We can't see you. Please sit in front of your camera."
        )
        first_empty = frames[seen[-1] + 1]
        assert first_empty.meta["obs"]["faces"] == 0
        timeline = "\n".join(
            f"#{f.seq} captured {f.captured_at:%H:%M:%S.%f} uploaded {f.created_at:%H:%M:%S.%f} "
            f"analysed {f.analysed_at and f.analysed_at.strftime('%H:%M:%S.%f')} faces {f.meta['obs'].get('faces')}"
            for f in frames[-12:]
        )
        latency = (shown_at - first_empty.captured_at).total_seconds()
        print(f"warning shown {latency:.1f} s after the first empty frame")
        assert latency <= 5.0, f"shown {shown_at}\n{timeline}"
        assert Event.objects.filter(
            session=session, type="CANDIDATE_WARNING", payload__kind="absent"
        ).exists()

        # Back at the desk: the warning goes away.
        cleared = wait_for_event(page, "CANDIDATE_WARNING", count=2 * attempt, timeout=30_000)[-1]
        assert cleared["payload"]["kind"] is None
        page.locator("[data-proctorme=warning]").wait_for(state="hidden")
    finally:
        context.close()
