"""AutoProctor's idCardVerification and auxiliaryDevice in Chromium.

* The photo ID: Chromium's fake camera plays the candidate holding up a photo ID (drawn with
  the candidate's own photo, or another person's) — media_support.card_frames. The widget's
  step finds the card by itself, the server compares the faces; the card photo is the evidence.
* The phone: a second page, in its own browser context with a phone's viewport, plays the
  phone. It reads the QR code the exam page shows (decoded here from a screenshot with OpenCV
  and compared with the pairing link in the same panel), turns its camera on, streams, and is
  closed: the exam page receives apAuxDisconnected after the heartbeat timeout.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.conftest import require

from .conftest import _read_without_locks, own_chromium
from .helpers import event_types, session_for, wait_for_event, wait_until

pytestmark = [pytest.mark.browser]


@pytest.fixture(scope="module")
def card_videos(tmp_path_factory) -> dict[str, Path]:
    from . import media_support as ms

    folder = tmp_path_factory.mktemp("id-card-media")
    try:
        return {
            str(who): ms.write_y4m(folder / f"card-{who}.y4m", ms.card_frames(who))
            for who in ("astronaut", "man_a", None)
        }
    except ms.MissingTool as exc:
        require(False, str(exc))


@contextlib.contextmanager
def _card_page(browser, chromium_path, video: Path):
    with own_chromium(browser, chromium_path, f"--use-file-for-fake-video-capture={video}") as launched:
        _read_without_locks()
        context = launched.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(30_000)
        yield context.new_page()


def _start(page, exam_page, tracking: dict, **options):
    exam = exam_page("autoproctor", query="consent=accepted&preview=0")
    page.goto(exam.url)
    page.evaluate(
        """([tracking, options]) => {
            Object.assign(window.demoOptions.trackingOptions, tracking);
            Object.assign(window.demoOptions, options);
            window.demoStarting = window.demoStart();
        }""",
        [tracking, options],
    )
    return exam


# --- the photo ID ------------------------------------------------------------------------------


def test_the_candidates_own_photo_id_passes_and_is_evidence(browser, chromium_path, card_videos, exam_page):
    from sessions.models import Flag, MediaChunk
    from sessions.reports import report_for_page

    with _card_page(browser, chromium_path, card_videos["astronaut"]) as page:
        exam = _start(page, exam_page, {"idCardVerification": {"face": True}})
        page.wait_for_selector("[data-proctorme=idcard]")  # the step, before the test
        assert "apSetupCompleted" not in event_types(page)
        wait_for_event(page, "apMonitoringStarted", timeout=60_000)
        assert page.locator("[data-proctorme=idcard]").count() == 0
        result = page.evaluate("window.demoWidget.idCardResult")
        assert result["outcome"] == "match" and result["passed"] is True and result["attempt"] == 1
        session = session_for(exam)
        card = MediaChunk.objects.get(session=session, kind="idcard")
        assert card.meta["outcome"] == "match" and card.meta["distance"] <= 0.6 and card.meta["auto"] is True
        assert MediaChunk.objects.filter(session=session, kind="reference").count() == 1
        assert not Flag.objects.filter(session=session, type="ID_CARD_MISMATCH").exists()
        report = report_for_page(session=session)
        assert (
            report["idCard"]["status"] == "passed"
            and report["idCard"]["image"]["contentType"] == "image/jpeg"
        )


def test_someone_elses_photo_id_fails_every_try_and_the_test_goes_on_flagged(
    browser, chromium_path, card_videos, exam_page
):
    from sessions.models import Flag, MediaChunk

    with _card_page(browser, chromium_path, card_videos["man_a"]) as page:
        exam = _start(page, exam_page, {"idCardVerification": True})
        # Five tries (taken by themselves when the card is seen), then the candidate goes on.
        page.click("[data-proctorme=idcard-continue]", timeout=90_000)
        wait_for_event(page, "apMonitoringStarted", timeout=30_000)
        session = session_for(exam)
        tries = list(MediaChunk.objects.filter(session=session, kind="idcard").order_by("seq"))
        assert [t.meta["outcome"] for t in tries] == ["mismatch"] * 5
        flag = Flag.objects.get(session=session, type="ID_CARD_MISMATCH")
        assert flag.evidence.kind == "idcard" and flag.payload["attempts"] == 5
        assert page.evaluate("window.demoWidget.idCardResult.passed") is False


def test_a_card_without_a_photo_is_never_taken_by_itself_and_each_click_is_a_failed_try(
    browser, chromium_path, card_videos, exam_page
):
    from sessions.models import Flag, MediaChunk

    with _card_page(browser, chromium_path, card_videos["None"]) as page:
        exam = _start(page, exam_page, {"idCardVerification": True})
        take = page.wait_for_selector("[data-proctorme=idcard-take]")
        page.wait_for_function(
            "document.querySelector('[data-proctorme=idcard-status]').textContent.includes('beside your face')"
        )
        session = session_for(exam)
        for attempt in range(1, 6):
            # The widget looks by itself meanwhile; a card without a face is never taken.
            assert MediaChunk.objects.filter(session=session, kind="idcard").count() == attempt - 1
            take.click()
            wait_until(
                lambda n=attempt: MediaChunk.objects.filter(session=session, kind="idcard").count() == n
            )
            if attempt < 5:
                page.wait_for_function(
                    "n => document.querySelector('[data-proctorme=idcard-status]').textContent.includes('Tries left: ' + n)",
                    arg=5 - attempt,
                )
        page.click("[data-proctorme=idcard-continue]")
        wait_for_event(page, "apMonitoringStarted", timeout=30_000)
        tries = MediaChunk.objects.filter(session=session, kind="idcard").order_by("seq")
        assert [(t.meta["outcome"], t.meta["auto"]) for t in tries] == [("no_face_on_card", False)] * 5
        flag = Flag.objects.get(session=session, type="ID_CARD_MISMATCH")
        assert flag.payload["outcome"] == "no_face_on_card" and flag.payload["attempts"] == 5


@pytest.mark.usefixtures("failure_report")
def test_without_the_options_nothing_is_asked(page, exam_page):
    from sessions.models import AuxDevice, MediaChunk

    exam = _start(page, exam_page, {})
    wait_for_event(page, "apMonitoringStarted")
    assert page.locator("[data-proctorme=idcard], [data-proctorme=aux]").count() == 0
    session = session_for(exam)
    assert not MediaChunk.objects.filter(session=session, kind__in=["idcard", "aux"]).exists()
    assert not AuxDevice.objects.filter(session=session).exists()
    assert page.evaluate("window.demoWidget.isAuxiliaryDeviceConfirmed") is False
    assert not {"auxDeviceTestAttemptLabelGenerated", "apMonitoringOnAuxStarted"} & set(event_types(page))


# --- the phone -----------------------------------------------------------------------------------


def _decode_qr(png: bytes) -> str:
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return text


@pytest.mark.usefixtures("failure_report")
def test_a_phone_paired_by_qr_code_streams_a_side_view_and_its_drop_reaches_the_exam_page(
    page, browser, exam_page, settings
):
    from sessions.models import AuxDevice, Flag, MediaChunk

    settings.PROCTORME_AUX_HEARTBEAT_TIMEOUT = 6  # the server runs in this process
    exam = _start(page, exam_page, {"auxiliaryDevice": True})
    qr = page.wait_for_selector("[data-proctorme=aux-qr] svg")
    link = page.get_attribute("[data-proctorme=aux-pairing-url]", "href")
    decoded = _decode_qr(qr.screenshot())
    assert decoded == link and "/aux/" in decoded
    label = wait_for_event(page, "auxDeviceTestAttemptLabelGenerated")[0]["payload"]["auxDeviceLabel"]
    assert label in page.inner_text("[data-proctorme=aux-label]")
    assert "apSetupCompleted" not in event_types(page)  # the test waits for the phone

    phone_context = browser.new_context(
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        user_agent="Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Mobile",
    )
    phone_context.set_default_timeout(15_000)
    phone = phone_context.new_page()
    try:
        phone.goto(decoded)
        assert phone.inner_text("#aux-label") == label  # the same code on both screens
        phone.click("#aux-start")
        wait_for_event(page, "auxDeviceConfirmed")
        started = wait_for_event(page, "apMonitoringOnAuxStarted")[0]["payload"]
        assert started["auxDeviceLabel"] == label and started["resumed"] is False
        wait_for_event(page, "apMonitoringStarted")
        assert page.evaluate("window.demoWidget.isAuxiliaryDeviceConfirmed") is True
        session = session_for(exam)
        wait_until(lambda: MediaChunk.objects.filter(session=session, kind="aux").count() >= 2, timeout=20)
        device = AuxDevice.objects.get(session=session)
        assert device.paired_at and device.started_at and "Android" in device.user_agent
        # The QR code worked once: the same link in another phone cannot pair.
        second = phone_context.new_page()
        second.goto(decoded)
        assert "already used" in second.inner_text("#aux-status")
        second.close()
    finally:
        phone_context.close()  # the phone goes away (locked, out of battery, closed)

    dropped = wait_for_event(page, "apAuxDisconnected", timeout=40_000)[0]["payload"]
    assert dropped["auxDeviceLabel"] == label
    flag = wait_until(lambda: Flag.objects.filter(session=session, type="AUX_DISCONNECTED").first())
    assert flag.payload["device"] == "aux" and flag.ended_at is None
    page.evaluate("window.demoWidget.stop()")
    wait_for_event(page, "apMonitoringStopped")
