"""Camera and microphone capture in real Chromium: frames, snapshots and gated audio are uploaded,
analysed on the server (TASKS_MODE=sync: inline on upload) and come back as flags with evidence.

Chromium's fake devices play files chosen per browser launch, so this module launches two more
browsers (module scope) from the package's Playwright: one plays a scripted scene (a face, nobody,
two people) with speech, the other a candidate who stays at the desk in a quiet room. The media
are generated from the offline analysis material (media_support.py); nothing is committed.
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path

import pytest

from tests.conftest import require

from .conftest import _read_without_locks, own_chromium, server_idle
from .helpers import session_for, wait_for_event

pytestmark = [pytest.mark.browser]

# One loop of the scripted video: (people in view, seconds).
SCRIPT = ((1, 10), (0, 10), (2, 8))
MB = 1_000_000


# --- media and browsers ------------------------------------------------------------------------


def _media(build):
    from .media_support import MissingTool

    try:
        return build()
    except MissingTool as exc:
        require(False, str(exc))


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fake-media")


@pytest.fixture(scope="module")
def scripted_media(media_dir) -> tuple[Path, Path]:
    import shutil

    from . import media_support as ms

    require(shutil.which("espeak-ng") is not None, "espeak-ng is not installed (apt-get install espeak-ng)")
    require(shutil.which("sox") is not None, "sox is not installed (apt-get install sox)")
    video = _media(lambda: ms.write_y4m(media_dir / "scripted.y4m", ms.scripted_frames(SCRIPT)))
    audio = _media(lambda: ms.wav_for_chromium(media_dir / "speech.wav", ms.speech_track(media_dir)))
    return video, audio


@pytest.fixture(scope="module")
def steady_media(media_dir) -> tuple[Path, Path]:
    import shutil

    from . import media_support as ms

    require(shutil.which("sox") is not None, "sox is not installed (apt-get install sox)")
    video = _media(lambda: ms.write_y4m(media_dir / "steady.y4m", ms.scripted_frames(((1, 12),), seed=5)))
    audio = _media(lambda: ms.wav_for_chromium(media_dir / "quiet.wav", ms.quiet_track()))
    return video, audio


def _launch(browser, chromium_path, video: Path, audio: Path):
    return own_chromium(
        browser,
        chromium_path,
        f"--use-file-for-fake-video-capture={video}",
        f"--use-file-for-fake-audio-capture={audio}",
    )


@pytest.fixture(scope="module")
def scripted_browser(browser, chromium_path, scripted_media):
    with _launch(browser, chromium_path, *scripted_media) as launched:
        yield launched


@pytest.fixture(scope="module")
def steady_browser(browser, chromium_path, steady_media):
    with _launch(browser, chromium_path, *steady_media) as launched:
        yield launched


def _page(request, launched):
    _read_without_locks()
    context = launched.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.console_messages = []
    page.on("console", lambda m: page.console_messages.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: page.console_messages.append(f"pageerror: {e}"))
    return context, page


def _report_and_close(request, context, page):
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print("\n--- browser console ---\n" + "\n".join(page.console_messages))
        with contextlib.suppress(Exception):
            print(
                "--- capture stats ---\n"
                + json.dumps(
                    page.evaluate("window.Proctorme.capture && window.Proctorme.capture.stats"), indent=1
                )
            )
            print("--- events ---\n" + json.dumps(page.evaluate("window.demoEvents.map(e => e.type)")))
    context.close()
    server_idle()


@pytest.fixture
def scripted_page(request, scripted_browser, transactional_db):
    context, page = _page(request, scripted_browser)
    yield page
    _report_and_close(request, context, page)


@pytest.fixture
def steady_page(request, steady_browser, transactional_db):
    context, page = _page(request, steady_browser)
    yield page
    _report_and_close(request, context, page)


@pytest.fixture(autouse=True)
def _server_settings(settings, proctorme_url, tmp_path):
    settings.SITE_URL = proctorme_url  # signed evidence links must point at the running server
    settings.MEDIA_ROOT = tmp_path


# --- helpers -------------------------------------------------------------------------------------

# Every flag the page receives, with what its mediaFile really is (demoEvents keeps a JSON copy).
RECORD_FILES = """() => {
    window.flagFiles = [];
    window.demoWidget.on("*", (payload, type) => {
        if (!payload || !payload.flagId) return;
        const file = payload.mediaFile;
        window.flagFiles.push({type, isFile: file instanceof File, mime: file ? file.type : null, size: file ? file.size : 0});
    });
}"""


def _start(page, exam) -> None:
    page.goto(exam.url)
    page.get_by_role("button", name="Start exam").click()
    wait_for_event(page, "STARTED")
    page.evaluate(RECORD_FILES)


def _end(page) -> None:
    page.evaluate("window.demoWidget.endProctoring()")
    wait_for_event(page, "END_PROCTORING", timeout=20_000)


def _stats(page) -> dict:
    return page.evaluate(
        "window.Proctorme.capture ? JSON.parse(JSON.stringify(window.Proctorme.capture.stats)) : null"
    )


def _seqs(session, kind: str) -> list[int]:
    from sessions.models import MediaChunk

    return list(
        MediaChunk.objects.filter(session=session, kind=kind).order_by("seq").values_list("seq", flat=True)
    )


def _contiguous(seqs: list[int]) -> bool:
    return seqs == list(range(1, len(seqs) + 1))


def _bandwidth(session, stats: dict, seconds: float) -> dict:
    """Upload volume per candidate-hour at the default cadence, from what this run stored.

    Mean sizes per kind come from the stored media (an audio chunk is stored as WAV, 44 bytes
    more than the PCM sent); an hour has 3600 captured frames, of which the share this run sent
    (the widget keeps frames whose view did not change), 120 snapshots and 720 five-second audio
    windows of which the share this run's gate let through is sent (160 kB each). HTTP overhead
    is estimated generously: 250 bytes of multipart headers and meta per item, 900 bytes of
    request and response headers per upload (720 an hour). ``linear`` is the plain
    extrapolation of this run's bytes, for comparison.
    """
    from django.db.models import Avg, Count, Sum

    from sessions.models import MediaChunk

    rows = {
        r["kind"]: r
        for r in MediaChunk.objects.filter(session=session, kind__in=["frame", "snapshot", "audio"])
        .values("kind")
        .annotate(n=Count("id"), bytes=Sum("size"), mean=Avg("size"))
    }
    mean = {kind: (rows[kind]["mean"] if kind in rows else 0) for kind in ("frame", "snapshot")}
    windows = stats["audioWindows"]
    audio_share = windows["sent"] / max(windows["seen"], 1)
    captured = stats["captured"]["frame"] + stats["unchangedFrames"]
    frame_share = stats["captured"]["frame"] / max(captured, 1)
    per_hour = {
        "frame": 3600 * frame_share * mean["frame"],
        "snapshot": 120 * mean["snapshot"],
        "audio": 720 * audio_share * 16000 * 2 * 5,
    }
    items = 3600 * frame_share + 120 + 720 * audio_share
    per_hour["overhead"] = 250 * items + 900 * 720
    stored = sum(r["bytes"] - (44 * r["n"] if k == "audio" else 0) for k, r in rows.items())
    linear = (stored + 250 * sum(r["n"] for r in rows.values()) + 900 * stats["uploads"]) / seconds * 3600
    return {
        "seconds": round(seconds, 1),
        "stored": {k: {"items": r["n"], "mean_bytes": round(r["mean"])} for k, r in rows.items()},
        "audio_windows_sent": f"{windows['sent']}/{windows['seen']}",
        "frames_sent": f"{stats['captured']['frame']}/{captured}",
        "mb_per_hour": {k: round(v / MB, 2) for k, v in per_hour.items()},
        "mb_per_hour_total": round(sum(per_hour.values()) / MB, 2),
        "mb_per_hour_linear": round(linear / MB, 2),
    }


# --- the tests -----------------------------------------------------------------------------------


def test_scripted_scenes_become_flags_with_evidence(scripted_page, exam_page):
    """10 s at the desk, 10 s nobody, 8 s with someone at the back of the room whose face is ~25 px
    wide in the widget's view (looped), with speech every ~7 s."""
    from sessions.models import Flag

    page = scripted_page
    exam = exam_page("eye", query="consent=accepted")
    _start(page, exam)
    began = time.monotonic()

    absent = wait_for_event(page, "FACE_ABSENCE", timeout=60_000)[0]["payload"]
    several = wait_for_event(page, "MULTIPLE_FACE", timeout=45_000)[0]["payload"]
    sound = wait_for_event(page, "SOUND_DETECTED", timeout=30_000)[0]["payload"]
    for payload in (absent, several):
        assert payload["mediaFile"]["type"] == "image/jpeg" and payload["mediaFile"]["size"] > 1000
    assert sound["mediaFile"]["type"] == "audio/wav"
    page.wait_for_function("window.flagFiles.filter(f => f.type === 'SOUND_DETECTED').length > 0")
    files = {f["type"]: f for f in page.evaluate("window.flagFiles")}
    assert files["FACE_ABSENCE"]["isFile"] and files["FACE_ABSENCE"]["mime"] == "image/jpeg"
    assert files["MULTIPLE_FACE"]["isFile"] and files["SOUND_DETECTED"]["mime"] == "audio/wav"

    stats = _stats(page)
    _end(page)
    seconds = time.monotonic() - began
    session = session_for(exam)
    flags = {f.type: f for f in Flag.objects.filter(session=session).select_related("evidence")}
    for type_ in ("FACE_ABSENCE", "MULTIPLE_FACE"):
        assert flags[type_].evidence is not None, type_
        assert flags[type_].evidence.content_type == "image/jpeg"
    assert flags["SOUND_DETECTED"].evidence is not None
    assert flags["SOUND_DETECTED"].evidence.content_type == "audio/wav"
    # Numbered per kind from 1 without gaps, everything captured arrived (flushed before the end).
    for kind in ("frame", "snapshot", "audio"):
        assert _contiguous(_seqs(session, kind)), kind
    # A frame a second is captured; the unchanged ones stay in the browser, one goes every 2 s at least.
    assert len(_seqs(session, "frame")) >= seconds / 2 - 8
    assert len(_seqs(session, "frame")) + stats["unchangedFrames"] >= seconds - 8
    assert len(_seqs(session, "audio")) >= 2
    print("\nscripted session:", json.dumps(_bandwidth(session, stats, seconds)))


def test_a_candidate_at_the_desk_raises_nothing_within_the_bandwidth_budget(steady_page, exam_page):
    from sessions.models import Flag

    page = steady_page
    exam = exam_page("eye", query="consent=accepted")
    _start(page, exam)
    began = time.monotonic()
    # Two minutes at the desk: long enough for any false FACE_ABSENCE (5 s) or MULTIPLE_FACE (2 s)
    # to have been uploaded and analysed many times over.
    page.wait_for_timeout(120_000)
    stats = _stats(page)
    _end(page)
    seconds = time.monotonic() - began

    session = session_for(exam)
    analysed = {f.type for f in Flag.objects.filter(session=session)}
    assert not analysed & {
        "FACE_ABSENCE",
        "MULTIPLE_FACE",
        "CAMERA_BLOCKED",
        "LOOKING_AWAY",
        "SOUND_DETECTED",
    }
    assert "FACE_ABSENCE" not in [e["type"] for e in page.evaluate("window.demoEvents")]
    frames = _seqs(session, "frame")
    # A still view: mostly unchanged frames, which stay in the browser, but one every 2 s at least.
    assert _contiguous(frames) and len(frames) >= seconds / 2 - 4
    assert len(frames) + stats["unchangedFrames"] >= seconds - 4
    print("steady session: frames sent", len(frames), "not sent (unchanged)", stats["unchangedFrames"])
    assert _contiguous(_seqs(session, "snapshot")) and len(_seqs(session, "snapshot")) >= 1
    # A quiet room: the gate sends (almost) no audio.
    assert stats["audioWindows"]["seen"] >= 3
    assert stats["audioWindows"]["sent"] <= 1
    usage = _bandwidth(session, stats, seconds)
    print("\nsteady session:", json.dumps(usage), "noise floor", stats["noiseFloorDbfs"], "dBFS")
    # At the default cadence: frames every second, a snapshot every 30 s (this short run has
    # relatively more snapshots than an hour would), gated audio.
    assert usage["mb_per_hour_total"] <= 30
    # A candidate at the desk stays inside the frames' share of the budget: every frame at full quality.
    assert stats["lowQualityFrames"] == 0


def test_frames_go_at_the_lower_quality_while_the_last_minute_is_over_its_bytes(steady_page, exam_page):
    """A view that changes every second would send every frame: once the frames sent in the last
    minute pass their share of the hour's budget (24 MB), the next go at JPEG quality 0.4."""
    page = steady_page
    _start(page, exam_page("eye", query="consent=accepted"))
    page.wait_for_function("window.Proctorme.capture.stats.captured.frame >= 2")
    qualities = page.evaluate(
        """() => {
        const c = window.Proctorme.capture, now = Date.now();
        const calm = c.frameQuality(now);
        const sent = c.recentFrames.reduce((n, f) => n + f.size, 0);
        c.recentFrames.push({at: now, size: 400000 - sent + 1});  // the minute's frames just over
        return {calm, over: c.frameQuality(now), aMinuteOn: c.frameQuality(now + 60000)};
    }"""
    )
    assert qualities == {"calm": 0.6, "over": 0.4, "aMinuteOn": 0.6}
    page.evaluate("window.Proctorme.capture.recentFrames.push({at: Date.now(), size: 10 ** 6})")
    page.wait_for_function("window.Proctorme.capture.stats.lowQualityFrames >= 1", timeout=10_000)
    _end(page)


def test_failed_uploads_are_retried_and_nothing_is_lost(steady_page, exam_page):
    """The first three uploads fail (503, a dropped connection, 503); everything arrives once,
    numbered without gaps, and what was captured until endProctoring() is flushed before the end."""
    page = steady_page
    exam = exam_page("eye", query="consent=accepted")
    attempts = []

    def flaky(route):
        request = route.request
        if request.method != "POST":
            route.continue_()
            return
        attempts.append(time.monotonic())
        cors = {
            "Access-Control-Allow-Origin": request.headers.get("origin", "*"),
            "Content-Type": "application/json",
        }
        if len(attempts) in (1, 3):
            route.fulfill(status=503, headers=cors, body='{"error": {"code": "UNAVAILABLE"}}')
        elif len(attempts) == 2:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/widget/v1/sessions/*/media**", flaky)
    _start(page, exam)
    # Backoff 1 s, 2 s, 4 s (with jitter) after the first upload at 5 s, then the backlog goes;
    # and at least the eight seconds of frames the assertions below count have been taken.
    page.wait_for_function(
        "() => { const c = window.Proctorme.capture; return c && c.stats.failures >= 3"
        " && c.stats.acknowledged.frame > 0 && c.pending.length <= 2"
        " && c.stats.captured.frame + c.stats.unchangedFrames >= 8; }",
        timeout=30_000,
    )
    page.evaluate("window.keptCapture = window.Proctorme.capture")
    _end(page)
    stats = page.evaluate("JSON.parse(JSON.stringify(window.keptCapture.stats))")
    assert page.evaluate("window.keptCapture.pending.length") == 0

    session = session_for(exam)
    session.refresh_from_db()
    assert session.status != "active"
    frames, snapshots = _seqs(session, "frame"), _seqs(session, "snapshot")
    assert len(attempts) >= 4 and stats["failures"] >= 3
    assert _contiguous(frames) and len(frames) >= 4 and len(frames) + stats["unchangedFrames"] >= 8
    assert _contiguous(snapshots) and snapshots
    # Every frame captured before endProctoring() reached the server, once.
    assert len(frames) == stats["captured"]["frame"] == stats["acknowledged"]["frame"]
    assert len(snapshots) == stats["captured"]["snapshot"]
