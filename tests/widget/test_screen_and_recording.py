"""AutoProctor's captureSwitchedTab and recordSession on the server: the `screen` and
`recording` upload kinds through the real endpoint (accepted, refused with their codes, capped
per session), a screen capture becoming the evidence of its TAB_NOT_FOCUS whichever arrives
first, SCREEN_NOT_SHARED flags, the replay page and the report, tenancy of the media URLs and
retention."""

from __future__ import annotations

import json
from datetime import timedelta

import cv2
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from sessions import uploads
from sessions.config import parse_autoproctor
from sessions.models import Flag, MediaChunk
from sessions.reports import report_for_page
from sessions.services import media_purge_expired, session_end, session_start, signal_record
from tenants.services import attempt_sign

ORIGIN = "https://exams.alpha.edu"


def _start(tenant, attempt: str, tracking: dict):
    request = parse_autoproctor(
        {
            "clientId": tenant.publishable_key,
            "testAttemptId": attempt,
            "hashedTestAttemptId": attempt_sign(secret_key=tenant.secret_key, attempt_id=attempt),
        },
        {"trackingOptions": tracking, "testDuration": 60},
    )
    return session_start(request=request, origin=ORIGIN)


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def login(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def started(tenant_a):
    return _start(tenant_a, "attempt-screen-1", {"recordSession": True})


def _jpeg(width: int = 64, height: int = 48) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((height, width, 3), 90, np.uint8))
    assert ok
    return buf.tobytes()


# A minimal WebM file, written by hand from the Matroska spec: the EBML header (EBML version 1,
# DocType "webm"), then a Segment of unknown size holding one Info element, then padding.
EBML_HEADER = (
    b"\x1a\x45\xdf\xa3"  # EBML
    + b"\x9f"  # size 31
    + b"\x42\x86\x81\x01"  # EBMLVersion 1
    + b"\x42\xf7\x81\x01"  # EBMLReadVersion 1
    + b"\x42\xf2\x81\x04"  # EBMLMaxIDLength 4
    + b"\x42\xf3\x81\x08"  # EBMLMaxSizeLength 8
    + b"\x42\x82\x84webm"  # DocType "webm"
    + b"\x42\x87\x81\x04"  # DocTypeVersion 4
    + b"\x42\x85\x81\x02"  # DocTypeReadVersion 2
)
SEGMENT = b"\x18\x53\x80\x67" + b"\x01\xff\xff\xff\xff\xff\xff\xff" + b"\x15\x49\xa9\x66\x80"


def _webm(size: int = 2000) -> bytes:
    data = EBML_HEADER + SEGMENT
    return data + b"\x00" * max(size - len(data), 0)


def _post(client, started, items: list[tuple[dict, bytes]]):
    files = {}
    for index, (item, data) in enumerate(items):
        item.setdefault("part", f"p{index}")
        files[item["part"]] = SimpleUploadedFile(item["part"], data)
    return client.post(
        f"/widget/v1/sessions/{started.session.public_id}/media",
        {"meta": json.dumps({"items": [item for item, _ in items]}), **files},
        HTTP_AUTHORIZATION=f"Bearer {started.token}",
        HTTP_ORIGIN=ORIGIN,
    )


def _screen(seq: int, data: bytes | None = None) -> tuple[dict, bytes]:
    return ({"kind": "screen", "seq": seq, "capturedAt": timezone.now().isoformat()}, data or _jpeg())


RUNS = {"camera": "run-camera-1", "screen": "run-screen-1"}


def _segment(
    seq: int, source: str = "camera", data: bytes | None = None, *, chunk: int = 1, **extra
) -> tuple[dict, bytes]:
    """One chunk of a recording run: the first starts the WebM file, the others continue it."""
    item = {
        "kind": "recording",
        "seq": seq,
        "source": source,
        "run": RUNS[source],
        "chunk": chunk,
        "durationMs": 15000,
        **extra,
    }
    if data is None:
        data = _webm() if chunk == 1 else b"\x1f\x43\xb6\x75" + bytes(range(256)) * 4  # a Cluster
    return (item, data)


def _refused(response, status: int, code: str, reason: str | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code, error
    if reason is not None:
        assert error["details"]["reason"] == reason, error
    return error


# --- the two kinds are stored -------------------------------------------------------------------


def test_a_screen_capture_and_recording_segments_are_stored_with_their_types(client, started):
    response = _post(client, started, [_screen(1), _segment(1, "camera"), _segment(2, "screen")])
    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == [
        {"kind": "screen", "seq": 1},
        {"kind": "recording", "seq": 1},
        {"kind": "recording", "seq": 2},
    ]
    screen = MediaChunk.objects.get(session=started.session, kind="screen")
    assert screen.content_type == "image/jpeg" and screen.file.name.endswith(".jpg")
    segments = MediaChunk.objects.filter(session=started.session, kind="recording").order_by("seq")
    assert [(s.content_type, s.meta, s.duration_seconds) for s in segments] == [
        ("video/webm", {"source": "camera", "run": "run-camera-1", "chunk": 1}, 15.0),
        ("video/webm", {"source": "screen", "run": "run-screen-1", "chunk": 1}, 15.0),
    ]
    assert all(s.file.name.endswith(".webm") for s in segments)
    assert segments[0].file.read() == _webm()


# --- refusals -----------------------------------------------------------------------------------


def test_a_screen_capture_that_is_not_a_jpeg_is_refused_and_nothing_is_stored(client, started):
    response = _post(client, started, [_segment(1), _screen(1, data=_webm())])
    _refused(response, 400, "INVALID_MEDIA", "not a JPEG (no SOI marker)")
    assert not MediaChunk.objects.filter(session=started.session).exists()


def test_a_screen_capture_over_one_mib_is_too_large(client, started):
    too_big = _jpeg()[:-2] + b"\x00" * (1024 * 1024) + b"\xff\xd9"
    error = _refused(_post(client, started, [_screen(1, data=too_big)]), 413, "MEDIA_TOO_LARGE")
    assert error["details"]["kind"] == "screen"


def test_a_screen_capture_with_more_pixels_than_2560_by_1600_is_refused(client, started):
    response = _post(client, started, [_screen(1, data=_jpeg(2600, 1600))])
    _refused(response, 400, "INVALID_MEDIA", "JPEG too large: 2600x1600 > 4096000 pixels")
    assert _post(client, started, [_screen(1, data=_jpeg(2560, 1600))]).status_code == 202


def test_a_later_chunk_of_a_run_continues_its_file_and_is_stored_as_sent(client, started):
    item, data = _segment(2, chunk=2)
    assert not data.startswith(b"\x1a\x45\xdf\xa3")  # no header: it continues chunk 1
    assert _post(client, started, [_segment(1), (item, data)]).status_code == 202
    later = MediaChunk.objects.get(session=started.session, kind="recording", seq=2)
    assert later.meta == {"source": "camera", "run": "run-camera-1", "chunk": 2}
    assert later.file.read() == data


def test_a_recording_that_is_not_webm_is_refused(client, started):
    _refused(
        _post(client, started, [_segment(1, data=_jpeg())]),
        400,
        "INVALID_MEDIA",
        "not a WebM file (no EBML header)",
    )
    matroska = EBML_HEADER.replace(b"webm", b"mkv_") + SEGMENT
    _refused(
        _post(client, started, [_segment(1, data=matroska)]),
        400,
        "INVALID_MEDIA",
        "not a WebM file (DocType is not webm)",
    )
    _refused(
        _post(client, started, [_segment(1, data=EBML_HEADER)]),
        400,
        "INVALID_MEDIA",
        "truncated WebM (no Segment)",
    )
    assert not MediaChunk.objects.filter(session=started.session).exists()


def _void(size: int) -> bytes:
    """An EBML Void element of exactly ``size`` bytes (its ID, a 1-byte size, zeros)."""
    return b"\xec" + bytes([0x80 | (size - 2)]) + b"\x00" * (size - 2)


def test_the_doctype_must_end_within_the_headers_first_64_bytes(client, started):
    doctype = b"\x42\x82\x84webm"

    def padded(void: int) -> bytes:
        return b"\x1a\x45\xdf\xa3" + _void(void) + doctype + SEGMENT

    at_limit, past_it = padded(64 - 4 - len(doctype)), padded(64 - 4 - len(doctype) + 1)
    assert at_limit.index(doctype) + len(doctype) == 64
    assert _post(client, started, [_segment(1, data=at_limit)]).status_code == 202
    _refused(
        _post(client, started, [_segment(2, data=past_it)]),
        400,
        "INVALID_MEDIA",
        "not a WebM file (DocType is not webm)",
    )


def test_the_segment_must_start_within_the_files_first_4096_bytes(client, started):
    def padded(end: int) -> bytes:
        """The header, a Void element (2-byte size), then a Segment whose ID ends at byte ``end``."""
        filler = end - len(EBML_HEADER) - 3 - 4
        return EBML_HEADER + b"\xec" + (0x4000 | filler).to_bytes(2, "big") + b"\x00" * filler + SEGMENT

    at_limit, past_it = padded(4096), padded(4097)
    assert at_limit.index(b"\x18\x53\x80\x67") + 4 == 4096
    assert _post(client, started, [_segment(1, data=at_limit)]).status_code == 202
    _refused(
        _post(client, started, [_segment(2, data=past_it)]),
        400,
        "INVALID_MEDIA",
        "truncated WebM (no Segment)",
    )


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"source": "desktop"}, "bad source"),
        ({"source": None}, "bad source"),
        ({"durationMs": 0}, "bad duration"),
        ({"durationMs": 120001}, "bad duration"),
        ({"durationMs": "15000"}, "bad duration"),
        ({"durationMs": True}, "bad duration"),
        ({"run": "short"}, "bad run"),
        ({"run": "has spaces in it"}, "bad run"),
        ({"run": 12345678}, "bad run"),
        ({"chunk": 0}, "bad chunk"),
        ({"chunk": "1"}, "bad chunk"),
        ({"chunk": True}, "bad chunk"),
    ],
)
def test_a_recording_with_a_bad_source_duration_run_or_chunk_is_refused(client, started, extra, reason):
    item, data = _segment(1)
    item.update(extra)
    _refused(_post(client, started, [(item, data)]), 400, "INVALID_MEDIA", reason)


@pytest.mark.parametrize(
    ("extra", "past"),
    [
        ({"chunk": uploads.MAX_SEQ}, {"chunk": uploads.MAX_SEQ + 1}),
        ({"durationMs": 120000}, {"durationMs": 120000.5}),
        ({"durationMs": 1}, {"durationMs": 0.0}),
        ({"run": "r" * 8}, {"run": "r" * 7}),
        ({"run": "R_-9" * 10}, {"run": "R_-9" * 10 + "x"}),
    ],
    ids=["last-chunk", "longest", "shortest", "shortest-run", "longest-run"],
)
def test_a_recordings_chunk_duration_and_run_are_accepted_up_to_their_limits(client, started, extra, past):
    item, data = _segment(1, chunk=2)
    sent = {**item, **extra}
    assert _post(client, started, [(sent, data)]).status_code == 202
    stored = MediaChunk.objects.get(session=started.session, kind="recording", seq=1)
    assert stored.meta == {"source": "camera", "run": sent["run"], "chunk": sent["chunk"]}
    assert stored.duration_seconds == sent["durationMs"] / 1000
    reason = {"chunk": "bad chunk", "durationMs": "bad duration", "run": "bad run"}[next(iter(past))]
    _refused(_post(client, started, [({**item, "seq": 2, **past}, data)]), 400, "INVALID_MEDIA", reason)


def test_a_recording_segment_over_3_mib_is_too_large_and_3_mib_is_not(client, started):
    error = _refused(
        _post(client, started, [_segment(1, data=_webm(3 * 1024 * 1024 + 1))]), 413, "MEDIA_TOO_LARGE"
    )
    assert error["details"]["kind"] == "recording"
    assert _post(client, started, [_segment(1, data=_webm(3 * 1024 * 1024))]).status_code == 202


def test_recording_past_the_sessions_storage_cap_is_refused_the_rest_still_accepted(
    client, started, settings
):
    settings.PROCTORME_RECORDING_MAX_MB = 1
    assert _post(client, started, [_segment(1, data=_webm(600 * 1024))]).status_code == 202
    error = _refused(
        _post(client, started, [_segment(2, data=_webm(500 * 1024))]),
        413,
        "MEDIA_TOO_LARGE",
        "session storage limit",
    )
    assert error["details"] == {"kind": "recording", "reason": "session storage limit", "limit": 1024 * 1024}
    assert error["message"] == "This session has stored all the recording it may keep."
    # Exactly up to the cap is fine, and other kinds are not held back by it.
    assert _post(client, started, [_segment(2, data=_webm(424 * 1024))]).status_code == 202
    assert _post(client, started, [_screen(1)]).status_code == 202
    assert MediaChunk.objects.filter(session=started.session, kind="recording").count() == 2


def test_the_storage_cap_counts_this_sessions_recording_bytes_only_and_not_a_retry(
    client, tenant_a, started, settings
):
    """Another session's recording and this session's other kinds use none of its room, so its
    first segment may fill the cap exactly; a retry of a stored segment is then a duplicate, not
    new bytes over the cap."""
    settings.PROCTORME_RECORDING_MAX_MB = 1
    other = _start(tenant_a, "attempt-screen-2", {"recordSession": True})
    assert _post(client, other, [_segment(1, data=_webm(600 * 1024))]).status_code == 202
    assert _post(client, started, [_screen(1, _jpeg(1280, 800))]).status_code == 202
    whole = _segment(1, data=_webm(1024 * 1024))
    response = _post(client, started, [whole])
    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == [{"kind": "recording", "seq": 1}]
    retried = _post(client, started, [_segment(1, data=_webm(1024 * 1024))])
    assert retried.status_code == 202, retried.content
    assert retried.json() == {"accepted": [], "duplicates": [{"kind": "recording", "seq": 1}]}
    assert MediaChunk.objects.filter(session=started.session, kind="recording").count() == 1


def test_screen_captures_and_segments_count_against_the_per_session_item_cap(client, started, monkeypatch):
    monkeypatch.setattr(uploads, "PER_SESSION_SLACK", 0)
    # A 60-minute test: (3600 + 120) s of room, 2 items of each new kind.
    monkeypatch.setattr(
        uploads, "PER_SECOND", {**uploads.PER_SECOND, "screen": 2 / 3720, "recording": 2 / 3720}
    )
    assert _post(client, started, [_screen(1), _screen(2), _segment(1), _segment(2)]).status_code == 202
    _refused(_post(client, started, [_screen(3)]), 413, "MEDIA_TOO_LARGE", "session limit")
    _refused(_post(client, started, [_segment(3, "screen")]), 413, "MEDIA_TOO_LARGE", "session limit")


def test_an_upload_to_an_ended_session_is_refused(client, started):
    session_end(session=started.session)
    _refused(_post(client, started, [_segment(1)]), 409, "SESSION_ENDED")


# --- a screen capture is the evidence of its TAB_NOT_FOCUS ---------------------------------------


def _leave(session, seq: int, screen_seq) -> Flag:
    payload = {"focused": False, "cause": "visibility"}
    if screen_seq is not None:
        payload["screenSeq"] = screen_seq
    assert signal_record(session_id=session.pk, seq=seq, event="TAB_FOCUS_CHANGE", payload=payload).stored
    return Flag.objects.filter(session=session, type="TAB_NOT_FOCUS").order_by("-pk").first()


def _back(session, seq: int) -> None:
    assert signal_record(
        session_id=session.pk, seq=seq, event="TAB_FOCUS_CHANGE", payload={"focused": True}
    ).stored


def test_a_screen_capture_uploaded_after_the_flag_becomes_its_evidence(client, started):
    session = started.session
    flag = _leave(session, 1, 1)
    assert flag.evidence is None and flag.payload == {"cause": "visibility", "screenSeq": 1}
    assert _post(client, started, [_screen(1)]).status_code == 202
    flag.refresh_from_db()
    assert flag.evidence == MediaChunk.objects.get(session=session, kind="screen", seq=1)


def test_a_screen_capture_uploaded_before_the_flag_becomes_its_evidence(client, started):
    session = started.session
    assert _post(client, started, [_screen(4)]).status_code == 202
    flag = _leave(session, 1, 4)
    assert flag.evidence == MediaChunk.objects.get(session=session, kind="screen", seq=4)


def test_each_departure_gets_its_own_screen_and_a_missing_capture_leaves_no_evidence(client, started):
    session = started.session
    first = _leave(session, 1, 1)
    _back(session, 2)
    second = _leave(session, 3, 2)
    assert _post(client, started, [_screen(2)]).status_code == 202
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.evidence is None  # its capture (seq 1) never arrived
    assert second.evidence.seq == 2


def test_with_capture_switched_tab_off_a_screen_seq_links_nothing(tenant_a):

    tenant_a.institution.detector_settings = {"disabled": ["SCREEN_NOT_SHARED"]}
    tenant_a.institution.save(update_fields=["detector_settings"])
    # Off takes both: the institution disables it and the page does not ask for it.
    started = _start(tenant_a, "attempt-screen-off", {"captureSwitchedTab": False})
    assert started.session.config["tracking"]["captureSwitchedTab"] is False
    flag = _leave(started.session, 1, 1)
    assert flag.payload == {"cause": "visibility"}
    assert signal_record(
        session_id=started.session.pk,
        seq=2,
        event="SCREEN_NOT_SHARED",
        payload={"reason": "denied", "errorCode": 4011},
    ).stored
    assert not Flag.objects.filter(session=started.session, type="SCREEN_NOT_SHARED").exists()


def test_the_page_cannot_switch_screen_capture_off(tenant_a):
    started = _start(tenant_a, "attempt-screen-page-off", {"captureSwitchedTab": False})
    assert started.session.config["tracking"]["captureSwitchedTab"] is True
    assert started.session.config["tracking"]["recordSession"] is False  # off unless asked


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"reason": "denied", "errorCode": 4011}, {"reason": "denied", "errorCode": 4011}),
        ({"reason": "stopped", "errorCode": 4011}, {"reason": "stopped", "errorCode": 4011}),
        (
            {"reason": "not_entire_screen", "errorCode": 4014},
            {"reason": "not_entire_screen", "errorCode": 4014},
        ),
        ({"reason": "<script>", "errorCode": "x"}, {"reason": "failed", "errorCode": None}),
    ],
)
def test_screen_not_shared_is_a_flag_with_its_reason_and_code(started, payload, expected):
    assert signal_record(
        session_id=started.session.pk, seq=1, event="SCREEN_NOT_SHARED", payload=payload
    ).stored
    flag = Flag.objects.get(session=started.session, type="SCREEN_NOT_SHARED")
    assert flag.payload == expected
    assert flag.description == "Screen sharing was refused, stopped, or not of the entire screen."


# --- the replay page, the report, tenancy and retention --------------------------------------------


@pytest.fixture
def recorded(client, started):
    flag = _leave(started.session, 1, 1)
    response = _post(
        client,
        started,
        [_screen(1), _segment(1, "camera"), _segment(2, "screen"), _segment(3, "camera", chunk=2)],
    )
    assert response.status_code == 202
    flag.refresh_from_db()
    return started.session, flag


def test_the_owners_replay_shows_the_recording_and_the_screen_evidence(login, tenant_a, recorded):
    session, flag = recorded
    client = login(tenant_a.reviewer)
    page = client.get(reverse("dashboard:session", args=[session.public_id])).content.decode()
    camera = MediaChunk.objects.filter(session=session, kind="recording", meta__source="camera").order_by(
        "seq"
    )
    screen_segment = MediaChunk.objects.get(session=session, kind="recording", meta__source="screen")
    assert 'data-recording="camera" data-run="run-camera-1"' in page
    assert 'data-recording="screen" data-run="run-screen-1"' in page
    # The player joins the run's parts in order: the page hands it their URLs.
    data = json.loads(page.split('id="recording-data" type="application/json">')[1].split("</script>")[0])
    assert [(t["source"], t["run"], [c["url"] for c in t["chunks"]], t["seconds"]) for t in data] == [
        (
            "camera",
            "run-camera-1",
            [reverse("dashboard:media", args=[c.public_id]) for c in camera],
            30.0,
        ),
        ("screen", "run-screen-1", [reverse("dashboard:media", args=[screen_segment.public_id])], 15.0),
    ]
    assert reverse("dashboard:media", args=[screen_segment.public_id]) in page
    assert f'data-screen-evidence="{flag.evidence.public_id}"' in page
    assert f'data-screen="{flag.evidence.public_id}"' in page
    video = client.get(reverse("dashboard:media", args=[camera[0].public_id]))
    assert video.status_code == 200 and video["Content-Type"] == "video/webm"
    assert video.content == _webm()


def test_an_outsider_gets_404_for_the_replay_and_every_recording_and_screen_url(login, tenant_b, recorded):
    session, flag = recorded
    client = login(tenant_b.reviewer)
    assert client.get(reverse("dashboard:session", args=[session.public_id])).status_code == 404
    chunks = MediaChunk.objects.filter(session=session, kind__in=["recording", "screen"])
    assert chunks.count() == 4
    for chunk in chunks:
        assert client.get(reverse("dashboard:media", args=[chunk.public_id])).status_code == 404


def test_the_report_links_the_recording_per_source_and_the_screen_evidence(client, recorded):
    session, flag = recorded
    report = report_for_page(session=session)
    camera, screen = report["recording"]["camera"], report["recording"]["screen"]
    assert [(run["durationSeconds"], len(run["parts"])) for run in camera] == [(30.0, 2)]
    assert [(run["durationSeconds"], [p["contentType"] for p in run["parts"]]) for run in screen] == [
        (15.0, ["video/webm"])
    ]
    tab = next(f for f in report["flags"] if f["type"] == "TAB_NOT_FOCUS")
    assert tab["evidenceKind"] == "screen" and tab["evidence"]["contentType"] == "image/jpeg"
    # The links are the short-lived signed ones; they serve the segment.
    served = client.get(camera[0]["parts"][0]["url"])
    assert served.status_code == 200 and served["Content-Type"] == "video/webm"
    assert served.content == _webm()


def test_a_session_without_recording_reports_none(tenant_a):
    started = _start(tenant_a, "attempt-no-recording", {})
    assert report_for_page(session=started.session)["recording"] is None


def test_retention_purges_recordings_and_screen_captures_and_keeps_the_flags(recorded):
    session, flag = recorded
    session_end(session=session)
    files = [
        c.file.name for c in MediaChunk.objects.filter(session=session, kind__in=["recording", "screen"])
    ]
    storage = MediaChunk.objects.filter(session=session).first().file.storage
    assert len(files) == 4 and all(storage.exists(name) for name in files)
    days = session.institution.retention_days
    assert media_purge_expired(now=timezone.now() + timedelta(days=days - 1)) == 0
    assert media_purge_expired(now=timezone.now() + timedelta(days=days, minutes=1)) >= 4
    assert not MediaChunk.objects.filter(session=session).exists()
    assert not any(storage.exists(name) for name in files)
    flag.refresh_from_db()
    assert flag.evidence is None and flag.type == "TAB_NOT_FOCUS"
