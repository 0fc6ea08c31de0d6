"""The Eye by Proctorme dialect in real Chromium, on an institution's page served cross-origin."""

from __future__ import annotations

import json

import pytest

from .helpers import event_types, retry_locked, session_for, switch_tab, wait_for_event, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]

LIFECYCLE = ["SET_CONFIG", "SYSTEM_CHECK_STARTED", "SYSTEM_CHECK_COMPLETED", "STARTED"]


def start_exam(page, exam) -> dict:
    page.goto(exam.url)
    page.get_by_role("button", name="Start exam").click()
    return wait_for_event(page, "STARTED")[0]


def test_start_after_consent_emits_the_lifecycle_in_order(page, exam_page):
    exam = exam_page("eye")
    page.goto(exam.url)
    page.get_by_role("button", name="Start exam").click()

    consent = page.get_by_role("dialog", name="This exam is proctored")
    consent.wait_for()
    # Nothing may touch the camera before the candidate agrees.
    assert event_types(page) == ["SET_CONFIG"]
    assert session_for(exam).events.filter(type="SYSTEM_CHECK_STARTED").count() == 0
    page.keyboard.press("Tab")  # focus stays inside the dialog
    assert page.evaluate("document.activeElement.closest('[role=dialog]') !== null")
    consent.get_by_role("button", name="I agree").click()

    started = wait_for_event(page, "STARTED")[0]["payload"]
    assert [t for t in event_types(page) if t in LIFECYCLE] == LIFECYCLE

    set_config = wait_for_event(page, "SET_CONFIG")[0]["payload"]["config"]
    assert "apiKey" not in set_config
    assert set_config["candidateId"] == exam.context["candidate_id"]
    check = wait_for_event(page, "SYSTEM_CHECK_COMPLETED")[0]["payload"]
    assert check["success"] is True
    statuses = {item["name"]: item["status"] for item in check["data"]}
    assert statuses == {
        "webcam": "success",
        "microphone": "success",
        "browser": "success",
        "internetSpeed": "success",
    }
    assert all(item["finished"] for item in check["data"])

    session = session_for(exam)
    assert started["sessionId"] == str(session.public_id)
    assert page.get_by_role("status").filter(has_text="Proctoring on").is_visible()
    # The lifecycle is stored with the session, in order.
    wait_until(lambda: session.events.filter(type="STARTED").exists(), message="STARTED never stored")
    stored = list(session.events.filter(source="browser").values_list("type", flat=True))
    assert stored == LIFECYCLE


def test_tab_switch_reaches_the_page_and_is_stored(page, exam_page):
    from sessions.models import Flag

    exam = exam_page("eye", query="consent=accepted")
    start_exam(page, exam)

    switch_tab(page, hidden=True)
    flag = wait_for_event(page, "TAB_NOT_FOCUS")[0]["payload"]
    switch_tab(page, hidden=False)

    assert flag["type"] == "TAB_NOT_FOCUS"
    assert flag["examId"] == exam.context["assessment_id"]
    assert flag["candidateId"] == exam.context["candidate_id"]
    assert flag["description"] and flag["createdAt"]
    changes = [e["payload"]["focused"] for e in wait_for_event(page, "TAB_FOCUS_CHANGE", count=2)]
    assert changes == [False, True]

    session = session_for(exam)
    stored = wait_until(
        lambda: Flag.objects.filter(session=session, type="TAB_NOT_FOCUS", ended_at__isnull=False).first(),
        message="the TAB_NOT_FOCUS flag was not stored and closed",
    )
    assert str(stored.public_id) == flag["flagId"]
    focus_events = session.events.filter(type="TAB_FOCUS_CHANGE").order_by("client_seq")
    assert [e.payload["focused"] for e in focus_events] == [False, True]


def test_the_session_token_is_in_no_url_the_widget_opens_only_in_the_sockets_first_message(page, exam_page):
    sockets, urls, tokens = [], [], []
    page.on("request", lambda request: urls.append(request.url))

    def on_socket(ws):
        frames: list[str] = []
        ws.on(
            "framesent",
            lambda payload: frames.append(payload if isinstance(payload, str) else payload.decode()),
        )
        sockets.append((ws.url, frames))

    page.on("websocket", on_socket)

    def on_response(response):
        if response.url.endswith("/widget/v1/sessions") and response.request.method == "POST":
            tokens.append(response.json()["token"])

    page.on("response", on_response)
    exam = exam_page("eye", query="consent=accepted")
    start_exam(page, exam)
    page.evaluate("document.dispatchEvent(new Event('copy'))")
    wait_for_event(page, "COPY_PASTE")  # the flag came back over the socket: it authenticated
    wait_until(lambda: tokens, message="the start answer was never seen")
    token = tokens[0]
    assert len(token) > 20
    assert sockets and all(token not in url for url, _ in sockets), [url for url, _ in sockets]
    assert all(token not in url for url in urls)
    url, frames = sockets[0]
    assert url.endswith("/ws/widget/")
    assert json.loads(frames[0]) == {"type": "auth", "token": token}
    assert all(token not in frame for frame in frames[1:])


def test_listeners_added_after_init_receive_later_events(page, exam_page):
    exam = exam_page("eye", query="consent=accepted")
    start_exam(page, exam)
    page.evaluate(
        """() => {
            window.lateFlags = [];
            window.demoWidget.on("TAB_NOT_FOCUS", flag => window.lateFlags.push(flag));
            window.demoWidget.on("COPY_PASTE", flag => window.lateFlags.push(flag));
        }"""
    )
    switch_tab(page, hidden=True)
    page.wait_for_function("window.lateFlags.length >= 1")
    switch_tab(page, hidden=False)
    page.evaluate("document.dispatchEvent(new Event('copy'))")
    page.wait_for_function("window.lateFlags.length >= 2")
    assert [f["type"] for f in page.evaluate("window.lateFlags")] == ["TAB_NOT_FOCUS", "COPY_PASTE"]

    # resetSessionListeners() drops them all.
    page.evaluate("window.demoWidget.resetSessionListeners()")
    before = len(event_types(page))
    # Watch the socket behind the widget's own handler (registered first, so it has run when ours does).
    page.evaluate(
        """() => { window.flagsReceived = [];
        window.demoWidget._core.socket.addEventListener('message', e => {
          const m = JSON.parse(e.data); if (m.type === 'flag') window.flagsReceived.push(m.flag.type); }); }"""
    )
    page.evaluate("document.dispatchEvent(new Event('paste'))")
    session = session_for(exam)
    wait_until(lambda: session.flags.filter(type="COPY_PASTE").count() == 2)
    page.wait_for_function("window.flagsReceived.includes('COPY_PASTE')")  # the widget has handled it
    assert len(event_types(page)) == before
    assert len(page.evaluate("window.lateFlags")) == 2


def test_end_proctoring_then_the_attempt_cannot_start_again(page, exam_page):
    exam = exam_page("eye", query="consent=accepted")
    start_exam(page, exam)

    page.get_by_role("button", name="Submit exam").click()
    ended = wait_for_event(page, "END_PROCTORING")[0]["payload"]
    assert ended["reason"] == "ended"
    assert page.get_by_role("status").filter(has_text="Proctoring ended").is_visible()
    session = session_for(exam)
    session.refresh_from_db()
    assert session.ended_at is not None and session.status != "active"

    error = page.evaluate(
        """() => window.demoWidget.init(window.demoConfig).then(
               () => null, e => ({code: e.code, message: e.message}))"""
    )
    assert error["code"] == "SESSION_ENDED"
    assert wait_for_event(page, "ERROR")[-1]["payload"]["code"] == "SESSION_ENDED"


def test_a_wrong_key_is_refused(page, exam_page):
    exam = exam_page("eye", query="consent=accepted", publishable_key="pk_not_a_real_key")
    page.goto(exam.url)
    page.get_by_role("button", name="Start exam").click()
    error = wait_for_event(page, "ERROR")[0]["payload"]
    assert error["code"] == "INVALID_API_KEY"
    assert "STARTED" not in event_types(page)
    assert page.get_by_role("alert").filter(has_text="key is not valid").first.is_visible()


def test_an_unregistered_origin_is_refused(page, exam_page):
    exam = exam_page("eye", host="127.0.0.3", query="consent=accepted")
    page.goto(exam.url)
    page.get_by_role("button", name="Start exam").click()
    error = wait_for_event(page, "ERROR")[0]["payload"]
    assert error["code"] == "DOMAIN_NOT_REGISTERED"
    assert session_for(exam) is None


def test_a_missing_config_field_is_named(page, exam_page):
    exam = exam_page("eye", query="consent=accepted")
    page.goto(exam.url)
    result = page.evaluate(
        """async () => {
            const widget = await LoadEyeWidget();
            const errors = [];
            widget.on("ERROR", e => errors.push(e));
            const config = Object.assign({}, window.demoConfig);
            delete config.candidateEmail;
            config.examDuration = "soon";
            try { await widget.init(config); return {resolved: true}; }
            catch (e) { return {code: e.code, fields: e.fields, emitted: errors}; }
        }"""
    )
    assert result["code"] == "INVALID_CONFIG"
    assert sorted(result["fields"]) == ["candidateEmail", "examDuration"]
    assert result["emitted"][0]["code"] == "INVALID_CONFIG"
    assert sorted(result["emitted"][0]["fields"]) == ["candidateEmail", "examDuration"]


def test_a_flag_with_evidence_arrives_with_its_file(page, exam_page, proctorme_url, settings, tmp_path):
    from django.core.files.base import ContentFile
    from django.utils import timezone

    from sessions.models import MediaChunk
    from sessions.services import flag_record

    settings.SITE_URL = proctorme_url  # signed media links must point at the running server
    settings.MEDIA_ROOT = tmp_path
    exam = exam_page("eye", query="consent=accepted")
    start_exam(page, exam)
    page.evaluate(
        """() => { window.absences = [];
                   window.demoWidget.on("FACE_ABSENCE", f => window.absences.push(
                       {type: f.type, isFile: f.mediaFile instanceof File, size: f.mediaFile && f.mediaFile.size,
                        mime: f.mediaFile && f.mediaFile.type})); }"""
    )

    session = session_for(exam)
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 1200 + b"\xff\xd9"
    chunk = MediaChunk(
        institution=session.institution,
        session=session,
        kind="evidence",
        seq=1,
        captured_at=timezone.now(),
        content_type="image/jpeg",
        size=len(jpeg),
    )

    def record():
        chunk.file.save("evidence.jpg", ContentFile(jpeg), save=True)
        flag_record(
            session=session,
            type="FACE_ABSENCE",
            episode_key="browser-test",
            started_at=timezone.now(),
            evidence=chunk,
        )

    retry_locked(record)

    page.wait_for_function("window.absences.length === 1")
    assert page.evaluate("window.absences[0]") == {
        "type": "FACE_ABSENCE",
        "isFile": True,
        "size": len(jpeg),
        "mime": "image/jpeg",
    }


def _watch_get_user_media(context, failure: str | None = None) -> None:
    """Count getUserMedia calls; optionally make them fail with this DOMException name."""
    script = """(failure => {
        window.gumCalls = 0;
        const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
        navigator.mediaDevices.getUserMedia = constraints => {
            window.gumCalls += 1;
            return failure ? Promise.reject(new DOMException("refused by the test", failure)) : real(constraints);
        };
    })(FAILURE)"""
    context.add_init_script(script.replace("FAILURE", json.dumps(failure)))


def test_nothing_is_captured_before_consent_and_declining_stops_the_start(page, context, exam_page):
    _watch_get_user_media(context)
    exam = exam_page("eye")
    page.goto(exam.url)
    page.get_by_role("button", name="Start exam").click()
    dialog = page.get_by_role("dialog", name="This exam is proctored")
    dialog.wait_for()
    assert page.evaluate("window.gumCalls") == 0  # and still 0 after the decline below

    dialog.get_by_role("button", name="Decline").click()
    error = wait_for_event(page, "ERROR")[0]["payload"]
    assert error["code"] == "CONSENT_DECLINED"
    assert page.evaluate("window.gumCalls") == 0
    assert "SYSTEM_CHECK_STARTED" not in event_types(page)
    assert page.get_by_role("alert").filter(has_text="declined").first.is_visible()


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        ("NotAllowedError", "CAMERA_DENIED"),
        ("NotFoundError", "CAMERA_NOT_FOUND"),
        ("NotReadableError", "CAMERA_NOT_FOUND"),
    ],
)
def test_camera_failures_have_stable_codes(page, context, exam_page, failure, code):
    _watch_get_user_media(context, failure)
    exam = exam_page("eye", query="consent=accepted")
    page.goto(exam.url)
    page.get_by_role("button", name="Start exam").click()
    assert wait_for_event(page, "ERROR")[0]["payload"]["code"] == code
    check = wait_for_event(page, "SYSTEM_CHECK_COMPLETED")[0]["payload"]
    assert check["success"] is False
    assert {i["name"]: i["status"] for i in check["data"]}["webcam"] == "failed"
    assert "STARTED" not in event_types(page)


def test_leaving_full_screen_is_flagged_and_the_server_can_end_the_exam(page, exam_page):
    from sessions.services import session_end

    exam = exam_page("eye", query="consent=accepted")
    start_exam(page, exam)
    page.get_by_role("button", name="Full screen").click()
    wait_for_event(page, "FULLSCREEN_CHANGE")
    page.evaluate("document.exitFullscreen()")
    flag = wait_for_event(page, "EXIT_FULLSCREEN")[0]["payload"]
    assert flag["type"] == "EXIT_FULLSCREEN"
    assert [e["payload"]["fullscreen"] for e in wait_for_event(page, "FULLSCREEN_CHANGE", count=2)] == [
        True,
        False,
    ]

    page.wait_for_function("window.demoWidget._core.outbox.length === 0")
    session = session_for(exam)
    retry_locked(lambda: session_end(session=session, reason="time_up"))
    ended = wait_for_event(page, "END_PROCTORING")[0]["payload"]
    assert ended["reason"] == "time_up"
    assert page.get_by_role("status").filter(has_text="Proctoring ended").is_visible()
    assert page.evaluate("window.demoWidget._core.stream") is None
