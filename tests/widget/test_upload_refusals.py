"""Every way the widget's media upload refuses a batch, through the real endpoint: each answer
has its stable code and names the offending item, and nothing of a refused batch is stored.
Also: idempotency is on (kind, seq), not seq alone."""

from __future__ import annotations

import json
from datetime import timedelta

import cv2
import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from proctorme.errors import InvalidMedia
from sessions.config import parse_eye
from sessions.models import MediaChunk
from sessions.services import MAX_SEQ, session_end, session_start
from sessions.uploads import MAX_BATCH_BYTES, MAX_ITEMS, MAX_RECORDING_MS

ORIGIN = "https://exams.alpha.edu"


@pytest.fixture
def started(tenant_a):
    request = parse_eye(
        {
            "apiKey": tenant_a.publishable_key,
            "assessmentId": "chem",
            "assessmentTitle": "Chemistry",
            "candidateId": "c-9",
            "candidateEmail": "c9@alpha.edu",
            "candidateFirstName": "C",
            "candidateLastName": "Nine",
            "institutionName": "Alpha",
            "examDuration": 3600,
        }
    )
    return session_start(request=request, origin=ORIGIN)


def _jpeg(size: int | None = None) -> bytes:
    """A small valid JPEG, grown to exactly ``size`` bytes with comment segments when given."""
    ok, buf = cv2.imencode(".jpg", np.full((48, 64, 3), 128, np.uint8))
    assert ok
    data = buf.tobytes()
    extra, comments = (size - len(data) if size else 0), b""
    while extra > 0:
        segment = min(extra, 65537)  # a marker, a 2-byte length, at most 65533 bytes of text
        if 0 < extra - segment < 4:
            segment -= 4
        comments += b"\xff\xfe" + (segment - 2).to_bytes(2, "big") + b"c" * (segment - 4)
        extra -= segment
    return data[:2] + comments + data[2:]


PCM_HALF_SECOND = b"\x01\x00" * 8000


def _post(client, started, meta, files):
    return client.post(
        f"/widget/v1/sessions/{started.session.public_id}/media",
        {"meta": meta if isinstance(meta, str) else json.dumps(meta), **files},
        HTTP_AUTHORIZATION=f"Bearer {started.token}",
        HTTP_ORIGIN=ORIGIN,
    )


def _batch(client, started, items: list[tuple[dict, bytes | None]]):
    """items: (meta item, file bytes or None for no part)."""
    files = {}
    for index, (item, data) in enumerate(items):
        item.setdefault("part", f"p{index}")
        if data is not None:
            files[item["part"]] = SimpleUploadedFile(item["part"], data)
    return _post(client, started, {"items": [item for item, _ in items]}, files)


def _frame(seq: int, **extra) -> tuple[dict, bytes]:
    return ({"kind": "frame", "seq": seq, **extra}, _jpeg())


def _audio(seq: int, data: bytes = PCM_HALF_SECOND, **extra) -> tuple[dict, bytes]:
    return ({"kind": "audio", "seq": seq, "durationMs": 500, "sampleRate": 16000, **extra}, data)


def _refused(response, status: int, code: str, reason: str | None = None) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code, error
    if reason is not None:
        assert error["details"]["reason"] == reason, error
    assert not MediaChunk.objects.exists()
    return error


def test_a_good_batch_of_every_kind_is_accepted(client, started):
    response = _batch(client, started, [_frame(1), ({"kind": "snapshot", "seq": 1}, _jpeg()), _audio(1)])
    assert response.status_code == 202
    assert response.json()["accepted"] == [
        {"kind": "frame", "seq": 1},
        {"kind": "snapshot", "seq": 1},
        {"kind": "audio", "seq": 1},
    ]


@pytest.mark.parametrize(
    "meta",
    ["", "not json", "[]", "{}", '{"items": []}', '{"items": {}}', '{"items": "p0"}', "null"],
    ids=["empty", "not-json", "list", "no-items", "no-item", "items-object", "items-string", "null"],
)
def test_bad_meta_is_refused(client, started, meta):
    response = _post(client, started, meta, {"p0": SimpleUploadedFile("p0", _jpeg())})
    _refused(response, 400, "INVALID_MEDIA", "bad meta")


def test_a_missing_meta_field_is_refused(client, started):
    response = client.post(
        f"/widget/v1/sessions/{started.session.public_id}/media",
        {"p0": SimpleUploadedFile("p0", _jpeg())},
        HTTP_AUTHORIZATION=f"Bearer {started.token}",
        HTTP_ORIGIN=ORIGIN,
    )
    _refused(response, 400, "INVALID_MEDIA", "bad meta")


def test_more_than_64_items_is_too_large_and_64_is_not(client, started):
    many = [_frame(seq) for seq in range(1, MAX_ITEMS + 2)]
    assert len(many) == 65
    _refused(_batch(client, started, many), 413, "MEDIA_TOO_LARGE")
    response = _batch(client, started, [_frame(seq) for seq in range(1, 65)])
    assert response.status_code == 202 and len(response.json()["accepted"]) == 64


def test_an_item_that_is_not_an_object_is_refused(client, started):
    response = _post(client, started, {"items": ["p0"]}, {"p0": SimpleUploadedFile("p0", _jpeg())})
    _refused(response, 400, "INVALID_MEDIA", "bad item")


@pytest.mark.parametrize("kind", ["video", "evidence", "", None, "FRAME"])
def test_a_bad_kind_is_refused(client, started, kind):
    error = _refused(
        _batch(client, started, [_frame(1), ({"kind": kind, "seq": 2}, _jpeg())]),
        400,
        "INVALID_MEDIA",
        "bad kind",
    )
    assert error["details"]["seq"] == 2


@pytest.mark.parametrize("seq", [0, -1, "1", 1.0, 2.5, True, None])
def test_a_bad_seq_is_refused(client, started, seq):
    _refused(
        _batch(client, started, [({"kind": "frame", "seq": seq}, _jpeg())]), 400, "INVALID_MEDIA", "bad seq"
    )


def test_the_first_and_last_seq_are_accepted_and_one_past_the_last_is_not(client, started):
    response = _batch(client, started, [_frame(1), _frame(MAX_SEQ)])
    assert response.status_code == 202
    assert response.json()["accepted"] == [{"kind": "frame", "seq": 1}, {"kind": "frame", "seq": MAX_SEQ}]
    past = _batch(client, started, [({"kind": "frame", "seq": MAX_SEQ + 1}, _jpeg())])
    assert past.status_code == 400 and past.json()["error"]["details"]["reason"] == "bad seq"


def test_the_same_item_twice_in_one_batch_is_refused(client, started):
    error = _refused(
        _batch(client, started, [_frame(3), _frame(4), _frame(3)]), 400, "INVALID_MEDIA", "repeated item"
    )
    assert error["details"]["seq"] == 3 and error["details"]["kind"] == "frame"


def test_the_same_seq_of_two_kinds_in_one_batch_is_fine(client, started):
    response = _batch(client, started, [_frame(3), ({"kind": "snapshot", "seq": 3}, _jpeg())])
    assert response.status_code == 202 and len(response.json()["accepted"]) == 2


@pytest.mark.parametrize("part", ["p9", None, 7, ["p0"], {"p0": "p0"}])
def test_a_missing_file_part_is_refused(client, started, part):
    item, data = _frame(1)
    response = _post(
        client, started, {"items": [{**item, "part": part}]}, {"p0": SimpleUploadedFile("p0", data)}
    )
    _refused(response, 400, "INVALID_MEDIA", "missing part")


@pytest.mark.parametrize("kind, limit", [("frame", 200 * 1024), ("snapshot", 1024 * 1024)])
def test_a_picture_over_its_kinds_limit_is_too_large(client, started, kind, limit):
    at_limit = _jpeg(size=limit)
    assert len(at_limit) == limit
    response = _batch(client, started, [({"kind": kind, "seq": 1}, at_limit + b"\x00")])
    _refused(response, 413, "MEDIA_TOO_LARGE")
    assert _batch(client, started, [({"kind": kind, "seq": 1}, at_limit)]).status_code == 202


def test_audio_over_ten_seconds_is_too_large(client, started):
    eleven_seconds = b"\x00\x00" * 16000 * 11
    _refused(_batch(client, started, [_audio(1, eleven_seconds, durationMs=11000)]), 413, "MEDIA_TOO_LARGE")


def test_a_batch_over_4_mib_is_too_large_even_when_each_item_fits(client, started):
    snapshot = _jpeg(size=900 * 1024)
    count = MAX_BATCH_BYTES // len(snapshot) + 1
    assert count == 5 and len(snapshot) * (count - 1) <= MAX_BATCH_BYTES < len(snapshot) * count
    items = [({"kind": "snapshot", "seq": seq}, snapshot) for seq in range(1, count + 1)]
    error = _refused(_batch(client, started, items), 413, "MEDIA_TOO_LARGE")
    assert error["details"]["seq"] == count
    assert _batch(client, started, items[:-1]).status_code == 202


@pytest.mark.parametrize("rate", [8000, 44100, 48000, "16000", None])
def test_audio_that_is_not_16_khz_is_refused(client, started, rate):
    _refused(_batch(client, started, [_audio(1, sampleRate=rate)]), 400, "INVALID_MEDIA", "bad sample rate")


def test_audio_without_a_sample_rate_is_taken_as_16_khz(client, started):
    item, data = _audio(1)
    del item["sampleRate"]
    assert _batch(client, started, [(item, data)]).status_code == 202


@pytest.mark.parametrize(
    "data, extra, reason",
    [
        (b"", {}, "odd length"),
        (PCM_HALF_SECOND + b"\x00", {}, "odd length"),
        (PCM_HALF_SECOND, {"durationMs": None}, "length mismatch"),
        (PCM_HALF_SECOND, {"durationMs": "500"}, "length mismatch"),
        (PCM_HALF_SECOND, {"durationMs": 530}, "length mismatch"),
        (PCM_HALF_SECOND, {"durationMs": 470}, "length mismatch"),
    ],
    ids=["empty", "odd", "no-duration", "duration-text", "too-long", "too-short"],
)
def test_audio_of_the_wrong_length_is_refused(client, started, data, extra, reason):
    _refused(_batch(client, started, [_audio(1, data, **extra)]), 400, "INVALID_MEDIA", reason)


def test_audio_within_20_ms_of_its_duration_is_accepted(client, started):
    assert _batch(client, started, [_audio(1, durationMs=520)]).status_code == 202
    assert _batch(client, started, [_audio(2, durationMs=480)]).status_code == 202


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"GIF89a", "not a JPEG (no SOI marker)"),
        (b"\xff\xd8\xff\xe0" + b"0" * 100, "truncated JPEG (no EOI marker)"),
    ],
)
def test_a_picture_that_is_not_a_whole_jpeg_is_refused(client, started, data, reason):
    _refused(_batch(client, started, [({"kind": "snapshot", "seq": 1}, data)]), 400, "INVALID_MEDIA", reason)


def test_a_refusal_late_in_the_batch_stores_nothing_of_its_start(client, started):
    error = _refused(
        _batch(client, started, [_frame(1), _frame(2), _audio(1, sampleRate=8000)]), 400, "INVALID_MEDIA"
    )
    assert error["details"]["kind"] == "audio"


def test_an_upload_to_an_ended_session_is_refused(client, started):
    session_end(session=started.session, reason="ended")
    _refused(_batch(client, started, [_frame(1)]), 409, "SESSION_ENDED")


# --- idempotency is on (session, kind, seq) --------------------------------------------------------


def test_a_snapshot_with_the_seq_of_a_stored_frame_is_stored_not_a_duplicate(client, started):
    assert _batch(client, started, [_frame(7)]).json()["accepted"] == [{"kind": "frame", "seq": 7}]
    response = _batch(client, started, [({"kind": "snapshot", "seq": 7}, _jpeg()), _audio(7)])
    assert response.json() == {
        "accepted": [{"kind": "snapshot", "seq": 7}, {"kind": "audio", "seq": 7}],
        "duplicates": [],
    }
    assert sorted(MediaChunk.objects.values_list("kind", "seq")) == [
        ("audio", 7),
        ("frame", 7),
        ("snapshot", 7),
    ]


def test_a_repeated_batch_reports_exactly_the_stored_items_as_duplicates(client, started):
    _batch(client, started, [_frame(1), _frame(2)])
    response = _batch(client, started, [_frame(2), _frame(3), ({"kind": "snapshot", "seq": 2}, _jpeg())])
    assert response.json() == {
        "accepted": [{"kind": "frame", "seq": 3}, {"kind": "snapshot", "seq": 2}],
        "duplicates": [{"kind": "frame", "seq": 2}],
    }
    assert MediaChunk.objects.count() == 4


def test_another_sessions_items_with_the_same_kind_and_seq_are_not_duplicates(client, tenant_a, started):
    _batch(client, started, [_frame(1)])
    other = session_start(
        request=parse_eye(
            {
                "apiKey": tenant_a.publishable_key,
                "assessmentId": "chem",
                "assessmentTitle": "Chemistry",
                "candidateId": "c-10",
                "candidateEmail": "c10@alpha.edu",
                "candidateFirstName": "D",
                "candidateLastName": "Ten",
                "institutionName": "Alpha",
                "examDuration": 3600,
            }
        ),
        origin=ORIGIN,
    )
    assert _batch(client, other, [_frame(1)]).json()["accepted"] == [{"kind": "frame", "seq": 1}]


# --- a failure after files were written leaves nothing behind ----------------------------------------


def test_a_disk_that_fills_up_mid_batch_leaves_neither_rows_nor_files(client, started, monkeypatch):
    from django.core.files.storage import FileSystemStorage, default_storage

    real_save, saved = FileSystemStorage._save, []

    def save_twice_then_fail(self, name, content):
        if len(saved) == 2:
            raise OSError(28, "No space left on device")
        saved.append(real_save(self, name, content))
        return saved[-1]

    monkeypatch.setattr(FileSystemStorage, "_save", save_twice_then_fail)
    with pytest.raises(OSError, match="No space left"):
        _batch(client, started, [_frame(1), _frame(2), _frame(3)])
    assert len(saved) == 2
    assert not MediaChunk.objects.exists()
    assert not any(default_storage.exists(name) for name in saved)
    monkeypatch.undo()
    response = _batch(client, started, [_frame(1), _frame(2), _frame(3)])  # the widget's retry
    assert response.status_code == 202 and len(response.json()["accepted"]) == 3


# --- each refusal's message and details, as the widget and integrators receive them -----------


def _parse(items: list, files: dict[str, bytes], **kwargs):
    from sessions.uploads import parse_upload

    uploaded = {part: SimpleUploadedFile(part, data) for part, data in files.items()}
    return parse_upload(json.dumps({"items": items}), uploaded, **kwargs)


def _recording(**extra) -> dict:
    return {
        "kind": "recording",
        "seq": 1,
        "part": "p0",
        "source": "camera",
        "run": "run-camera-1",
        "chunk": 2,
        "durationMs": 15000,
        **extra,
    }


_AUDIO = {"kind": "audio", "seq": 1, "part": "p0", "durationMs": 500}
_WHERE = {"part": "p0", "kind": "frame", "seq": 1}
MESSAGES = [
    ("bad kind", [{"kind": "video", "seq": 1, "part": "p0"}], {"p0": b"x"},
     "kind must be one of frame, snapshot, audio, screen, recording.", {**_WHERE, "kind": "video"}),
    ("bad seq", [{"kind": "frame", "seq": 0, "part": "p0"}], {"p0": b"x"},
     f"seq must be an integer from 1 to {MAX_SEQ}.", {**_WHERE, "seq": 0}),
    ("repeated item", [{"kind": "frame", "seq": 1, "part": "p0"}] * 2, {"p0": _jpeg()},
     "The same item twice in one batch.", _WHERE),
    ("missing part", [{"kind": "frame", "seq": 1, "part": "p1"}], {"p0": b"x"},
     "The item's file part is missing.", {**_WHERE, "part": "p1"}),
    (None, [{"kind": "frame", "seq": 1, "part": "p0"}], {"p0": b"x" * (200 * 1024 + 1)},
     f"A frame may be at most {200 * 1024} bytes.", _WHERE),
    ("bad jpeg", [{"kind": "frame", "seq": 1, "part": "p0"}], {"p0": b"GIF89a"},
     "The frame is not a valid JPEG: not a JPEG (no SOI marker).", {**_WHERE, "reason": "not a JPEG (no SOI marker)"}),
    ("bad sample rate", [{**_AUDIO, "sampleRate": 8000}], {"p0": PCM_HALF_SECOND},
     "Audio must be 16 kHz.", {**_WHERE, "kind": "audio"}),
    ("odd length", [_AUDIO], {"p0": PCM_HALF_SECOND + b"\x00"},
     "Audio must be whole 16-bit samples.", {**_WHERE, "kind": "audio"}),
    ("length mismatch", [{**_AUDIO, "durationMs": 600}], {"p0": PCM_HALF_SECOND},
     "The audio length does not match durationMs (truncated?).", {**_WHERE, "kind": "audio"}),
    ("bad source", [_recording(source="mic")], {"p0": b"x"},
     "A recording's source must be camera or screen.", {**_WHERE, "kind": "recording"}),
    ("bad duration", [_recording(durationMs=0)], {"p0": b"x"},
     f"A recording's durationMs must be between 1 and {MAX_RECORDING_MS}.", {**_WHERE, "kind": "recording"}),
    ("bad run", [_recording(run="short")], {"p0": b"x"},
     "A recording's run must be 8 to 40 letters, digits, - or _.", {**_WHERE, "kind": "recording"}),
    ("bad chunk", [_recording(chunk=0)], {"p0": b"x"},
     f"A recording's chunk must be an integer from 1 to {MAX_SEQ}.", {**_WHERE, "kind": "recording"}),
    ("not webm", [_recording(chunk=1)], {"p0": b"x" * 100},
     "The recording is not a valid WebM file: not a WebM file (no EBML header).",
     {**_WHERE, "kind": "recording", "reason": "not a WebM file (no EBML header)"}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("reason", "items", "files", "message", "details"), MESSAGES, ids=[m[0] or "frame size" for m in MESSAGES]
)
def test_each_refusal_has_its_message_and_names_the_item(reason, items, files, message, details):
    from sessions.uploads import MediaTooLarge

    with pytest.raises((InvalidMedia, MediaTooLarge)) as refused:
        _parse(items, files)
    assert refused.value.message == message
    assert refused.value.details == (details if reason is None else {"reason": reason, **details})


def test_the_batch_wide_refusals_have_their_messages():
    from sessions.uploads import MediaTooLarge, parse_upload

    with pytest.raises(InvalidMedia) as bad_meta:
        parse_upload(None, {})
    assert bad_meta.value.message == "meta must be JSON with a non-empty items list."
    assert bad_meta.value.details == {"reason": "bad meta"}
    with pytest.raises(MediaTooLarge) as too_many:
        _parse([{"kind": "frame", "seq": n, "part": "p0"} for n in range(1, 66)], {"p0": _jpeg()})
    assert too_many.value.message == "At most 64 items per upload."
    with pytest.raises(InvalidMedia) as not_an_object:
        _parse(["p0"], {"p0": _jpeg()})
    assert not_an_object.value.message == "Every item must be an object."
    assert not_an_object.value.details == {"part": None, "reason": "bad item"}
    snapshot = _jpeg(size=900 * 1024)
    with pytest.raises(MediaTooLarge) as batch:
        _parse([{"kind": "snapshot", "seq": n, "part": f"p{n}"} for n in range(1, 6)],
               {f"p{n}": snapshot for n in range(1, 6)})  # fmt: skip
    assert batch.value.message == "The batch is too large."
    assert batch.value.details == {"part": "p5", "kind": "snapshot", "seq": 5}
    with pytest.raises(InvalidMedia) as not_aux:
        _parse([{"kind": "frame", "seq": 1, "part": "p0"}], {"p0": _jpeg()}, kinds=("aux",))
    assert not_aux.value.message == "kind must be aux."


def test_a_batch_of_exactly_4_mib_is_accepted():
    snapshot = _jpeg(size=1024 * 1024)
    items = [{"kind": "snapshot", "seq": n, "part": f"p{n}"} for n in range(1, 5)]
    assert len(snapshot) * len(items) == MAX_BATCH_BYTES
    assert len(_parse(items, {f"p{n}": snapshot for n in range(1, 5)})) == 4


def test_a_phones_side_view_is_checked_as_a_jpeg_of_at_most_1280_by_960():
    # kinds=("aux",) is the phone's own endpoint (sessions.aux)
    item = {"kind": "aux", "seq": 1, "part": "p0"}
    (stored,) = _parse([item], {"p0": _jpeg()}, kinds=("aux",))
    assert (stored.kind, stored.seq, stored.data, stored.duration_seconds) == ("aux", 1, _jpeg(), 0.0)
    with pytest.raises(InvalidMedia) as not_a_jpeg:
        _parse([item], {"p0": b"GIF89a"}, kinds=("aux",))
    assert not_a_jpeg.value.message == "The aux is not a valid JPEG: not a JPEG (no SOI marker)."
    ok, too_big = cv2.imencode(".jpg", np.zeros((961, 1280, 3), np.uint8))
    assert ok
    with pytest.raises(InvalidMedia) as too_many_pixels:
        _parse([item], {"p0": too_big.tobytes()}, kinds=("aux",))
    assert too_many_pixels.value.details == {
        "part": "p0",
        "kind": "aux",
        "seq": 1,
        "reason": f"JPEG too large: 1280x961 > {1280 * 960} pixels",
    }


def test_an_audio_items_duration_is_its_samples_over_16_khz():
    # 8,000 samples; durationMs only has to agree within 20 ms
    (audio,) = _parse([{**_AUDIO, "durationMs": 510}], {"p0": PCM_HALF_SECOND})
    assert (audio.kind, audio.duration_seconds, audio.data) == ("audio", 0.5, PCM_HALF_SECOND)


def test_an_item_keeps_the_time_the_browser_captured_it():
    from django.utils import timezone

    captured = timezone.now() - timedelta(seconds=3)
    (frame,) = _parse(
        [{"kind": "frame", "seq": 1, "part": "p0", "capturedAt": captured.isoformat()}], {"p0": _jpeg()}
    )
    assert frame.captured_at == captured
