"""The pipeline's folding rules on observations written straight onto chunks (no decoding), so
each case takes milliseconds: the minimum durations and tolerated gaps of docs/trust-score.md,
every detector switched off by ``features`` / ``trackingOptions`` / ``detector_settings`` (a
switched-off detector raises nothing), and a permanently missing batch being skipped.

The expected numbers are the documented rules, written out by hand."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from analysis.audio import pcm_to_wav
from sessions.analysis_pipeline import session_analyse
from sessions.config import parse_autoproctor, parse_eye
from sessions.models import Flag, MediaChunk, ProctoringSession
from sessions.services import session_start
from tenants.services import attempt_sign

ORIGIN = "https://exams.alpha.edu"
FACE = {"faces": 1, "blocked": False, "away": False}
NO_FACE = {"faces": 0, "blocked": False, "away": False}
TWO = {"faces": 2, "blocked": False, "away": False}
AWAY = {"faces": 1, "blocked": False, "away": True}
BLOCKED = {"faces": 0, "blocked": True, "away": False}
ME, SOMEONE_ELSE = [0.0] * 128, [0.1] * 128  # descriptor distance 1.13 > 0.6


def _rewind(started):
    earlier = started.session.started_at - timedelta(hours=2)
    ProctoringSession.objects.filter(pk=started.session.pk).update(started_at=earlier)
    started.session.refresh_from_db()
    return started.session


def _eye(tenant, **features):
    config = {
        "apiKey": tenant.publishable_key,
        "assessmentId": "law",
        "assessmentTitle": "Law",
        "candidateId": "c-1",
        "candidateEmail": "c1@alpha.edu",
        "candidateFirstName": "C",
        "candidateLastName": "One",
        "institutionName": "Alpha",
        "examDuration": 3600,
    }
    if features:
        config["features"] = features
    return _rewind(session_start(request=parse_eye(config), origin=ORIGIN))


def _autoproctor(tenant, **tracking):
    credentials = {
        "clientId": tenant.publishable_key,
        "testAttemptId": "att-7",
        "hashedTestAttemptId": attempt_sign(secret_key=tenant.secret_key, attempt_id="att-7"),
    }
    options = {"trackingOptions": tracking, "testDuration": 60}
    return _rewind(session_start(request=parse_autoproctor(credentials, options), origin=ORIGIN))


def _chunk(
    session, kind: str, seq: int, seconds: float, obs: dict | None, *, data: bytes = b"", duration=0.0
):
    chunk = MediaChunk(
        institution_id=session.institution_id,
        session=session,
        kind=kind,
        seq=seq,
        captured_at=session.started_at + timedelta(seconds=seconds),
        duration_seconds=duration,
        content_type="audio/wav" if kind == "audio" else "image/jpeg",
        size=len(data),
        meta={"obs": obs} if obs is not None else {},
        analysed_at=timezone.now() if obs is not None and kind != "frame" else None,
    )
    chunk.file.save(f"t/{session.public_id}/{kind}-{seq}", ContentFile(data), save=False)
    chunk.save()
    return chunk


def _frames(session, timeline: list[dict], *, start_seq: int = 1, cadence: float = 1.0) -> None:
    """One frame per ``cadence`` seconds, seq n at n × cadence seconds."""
    for offset, obs in enumerate(timeline):
        seq = start_seq + offset
        _chunk(session, "frame", seq, seq * cadence, obs)


def _flags(session) -> list[tuple[str, int, int | None]]:
    return sorted(
        (
            f.type,
            round((f.started_at - session.started_at).total_seconds()),
            round((f.ended_at - session.started_at).total_seconds()) if f.ended_at else None,
        )
        for f in Flag.objects.filter(session=session)
    )


# --- minimum durations and gaps (docs/trust-score.md, "What produces flags") ------------------------------


@pytest.mark.parametrize(
    "type_, obs, minimum",
    [
        ("FACE_ABSENCE", NO_FACE, 5),
        ("LOOKING_AWAY", AWAY, 5),
        ("CAMERA_BLOCKED", BLOCKED, 5),
        ("MULTIPLE_FACE", TWO, 2),
    ],
)
def test_a_run_one_second_short_of_its_minimum_raises_nothing(tenant_a, type_, obs, minimum):
    session = _eye(tenant_a)
    # seconds 10 .. 10 + minimum - 1: a run lasting minimum - 1 seconds
    _frames(session, [FACE] * 9 + [obs] * minimum + [FACE] * 10)
    session_analyse(session=session, final=True)
    assert _flags(session) == []


@pytest.mark.parametrize(
    "type_, obs, minimum",
    [
        ("FACE_ABSENCE", NO_FACE, 5),
        ("LOOKING_AWAY", AWAY, 5),
        ("CAMERA_BLOCKED", BLOCKED, 5),
        ("MULTIPLE_FACE", TWO, 2),
    ],
)
def test_a_run_of_exactly_its_minimum_raises_one_flag_with_its_span(tenant_a, type_, obs, minimum):
    session = _eye(tenant_a)
    _frames(session, [FACE] * 9 + [obs] * (minimum + 1) + [FACE] * 10)
    session_analyse(session=session, final=True)
    assert _flags(session) == [(type_, 10, 10 + minimum)]


def test_a_short_absence_does_not_flag_while_the_session_runs_either(tenant_a):
    session = _eye(tenant_a)
    _frames(session, [FACE] * 9 + [NO_FACE] * 4 + [FACE] * 3)
    session_analyse(session=session)
    assert _flags(session) == []
    _frames(session, [NO_FACE] * 6, start_seq=17)  # seconds 17..22: five seconds
    session_analyse(session=session)
    assert _flags(session) == [("FACE_ABSENCE", 17, None)]  # raised as soon as it lasts 5 s, still open


def test_one_missed_second_does_not_split_an_absence(tenant_a):
    session = _eye(tenant_a)
    # absent 10..13, a face at 14, absent 15..18: the step 13 → 15 is 2 s ≤ 2.5 s, one 8-s episode
    _frames(session, [FACE] * 9 + [NO_FACE] * 4 + [FACE] + [NO_FACE] * 4 + [FACE] * 5)
    session_analyse(session=session, final=True)
    assert _flags(session) == [("FACE_ABSENCE", 10, 18)]


def test_a_gap_over_two_and_a_half_seconds_splits_it_into_two_short_runs(tenant_a):
    session = _eye(tenant_a)
    # absent 10..13, faces at 14 and 15, absent 16..19: the step 13 → 16 is 3 s > 2.5 s
    _frames(session, [FACE] * 9 + [NO_FACE] * 4 + [FACE] * 2 + [NO_FACE] * 4 + [FACE] * 5)
    session_analyse(session=session, final=True)
    assert _flags(session) == []


def test_institution_timing_overrides_the_default_minimum(tenant_a):
    tenant_a.institution.detector_settings = {"sensitivity": {"timing": {"FACE_ABSENCE": [10, 2.5]}}}
    tenant_a.institution.save()
    session = _eye(tenant_a)
    _frames(session, [FACE] * 9 + [NO_FACE] * 8 + [FACE] * 5 + [NO_FACE] * 11 + [FACE] * 5)
    session_analyse(session=session, final=True)
    assert _flags(session) == [("FACE_ABSENCE", 23, 33)]  # the 7-s run no longer counts, the 10-s one does


# --- detectors switched off ------------------------------------------------------------------------


def _everything(session) -> None:
    """Material that trips every detector: frames 1..50, 120 snapshots, one audio batch with speech."""
    _frames(session, [FACE] * 4 + [NO_FACE] * 8 + [TWO] * 8 + [AWAY] * 8 + [BLOCKED] * 8 + [FACE] * 14)
    for seq in range(1, 121):
        obs = dict(FACE)
        if seq == 1:
            obs["descriptor"] = ME
        elif seq in (5, 9):
            obs["descriptor"] = SOMEONE_ELSE
        _chunk(session, "snapshot", seq, seq * 30, obs)
    pcm = b"\x00\x00" * 16000 * 5
    _chunk(session, "audio", 1, 40, {"segments": [[0.5, 3.0]]}, data=pcm_to_wav(pcm), duration=5.0)


ALL = {
    "FACE_ABSENCE",
    "MULTIPLE_FACE",
    "LOOKING_AWAY",
    "CAMERA_BLOCKED",
    "FACE_MISMATCH",
    "SOUND_DETECTED",
    "PERIODIC_SNAPSHOT",
}
FRAME_AND_AUDIO = {"FACE_ABSENCE", "MULTIPLE_FACE", "LOOKING_AWAY", "CAMERA_BLOCKED", "SOUND_DETECTED"}


def _raised(session) -> Counter:
    """The detectors' flags (SUSPICIOUS_ACTIVITY, a summary of five kinds, is left out)."""
    session_analyse(session=session, final=True)
    return Counter(
        Flag.objects.filter(session=session)
        .exclude(type="SUSPICIOUS_ACTIVITY")
        .values_list("type", flat=True)
    )


def test_with_everything_on_every_detector_raises(tenant_a):
    session = _eye(tenant_a)
    _everything(session)
    raised = _raised(session)
    assert set(raised) == ALL
    assert raised["PERIODIC_SNAPSHOT"] == 25  # numPhotosAtRandom's default, all 120 snapshots present
    assert raised["FACE_MISMATCH"] == 1 and raised["SOUND_DETECTED"] == 1


def test_a_page_cannot_switch_detectors_off(tenant_a):
    """features / trackingOptions are the candidate's to edit: the server runs every detector anyway."""
    eye = _eye(tenant_a, aiProctoring=False, facialRecognition=False)
    _everything(eye)
    assert set(_raised(eye)) == ALL
    ap = _autoproctor(tenant_a, audio=False, numHumans=False, photosAtRandom=False, impersonation=True)
    _everything(ap)
    assert set(_raised(ap)) == ALL


@pytest.mark.parametrize("dialect", ["eye", "autoproctor"])
@pytest.mark.parametrize("off", sorted(ALL - {"FACE_MISMATCH"}))
def test_each_detector_the_institution_switches_off_raises_nothing(tenant_a, dialect, off):
    tenant_a.institution.detector_settings = {"disabled": [off]}
    tenant_a.institution.save()
    session = _eye(tenant_a) if dialect == "eye" else _autoproctor(tenant_a, impersonation=True)
    _everything(session)
    assert set(_raised(session)) == ALL - {off}


def test_identity_is_off_for_autoproctor_unless_the_page_asks_and_the_institution_allows(tenant_a):
    session = _autoproctor(tenant_a)
    _everything(session)
    assert set(_raised(session)) == ALL - {"FACE_MISMATCH"}
    tenant_a.institution.detector_settings = {"disabled": ["FACE_MISMATCH"]}
    tenant_a.institution.save()
    Flag.objects.all().delete()
    ProctoringSession.objects.all().delete()
    asked = _autoproctor(tenant_a, impersonation=True)
    _everything(asked)
    assert set(_raised(asked)) == ALL - {"FACE_MISMATCH"}


@pytest.mark.parametrize(
    "stored, off",
    [
        ({"features": {"aiProctoring": False}}, FRAME_AND_AUDIO | {"PERIODIC_SNAPSHOT"}),
        ({"features": {"facialRecognition": False}}, {"FACE_MISMATCH"}),
        ({"tracking": {"audio": False}}, {"SOUND_DETECTED"}),
        ({"tracking": {"numHumans": False}}, {"MULTIPLE_FACE"}),
        ({"tracking": {"photosAtRandom": False}}, {"PERIODIC_SNAPSHOT"}),
    ],
    ids=["aiProctoring", "facialRecognition", "audio", "numHumans", "photosAtRandom"],
)
def test_the_pipeline_obeys_the_switches_stored_on_the_session(tenant_a, stored, off):
    """What the server decided at start (sessions.config.rules_apply) is what the pipeline runs."""
    session = _eye(tenant_a)
    for section, values in stored.items():
        session.config[section].update(values)
    session.save(update_fields=["config"])
    _everything(session)
    assert set(_raised(session)) == ALL - off


def test_a_detector_disabled_by_the_institution_or_the_assessment_raises_nothing(tenant_a):
    tenant_a.institution.detector_settings = {"disabled": ["LOOKING_AWAY"]}
    tenant_a.institution.save()
    session = _eye(tenant_a)
    session.assessment.detector_settings = {"disabled": ["LOOKING_AWAY", "SOUND_DETECTED"]}
    session.assessment.save()
    _everything(session)
    assert set(_raised(session)) == ALL - {"LOOKING_AWAY", "SOUND_DETECTED"}


def test_random_photos_follow_num_photos_at_random(tenant_a):
    session = _autoproctor(tenant_a, numPhotosAtRandom=3)
    _everything(session)
    assert _raised(session)["PERIODIC_SNAPSHOT"] == 3


# --- a batch that never arrives ------------------------------------------------------------------------


def test_a_missing_batch_holds_the_cursor_until_it_is_30_seconds_behind_then_is_skipped(tenant_a):
    session = _eye(tenant_a)
    # seq 1..9 arrive, 10..14 never do, 15..30 arrive: absent from 15 on.
    _frames(session, [FACE] * 9)
    _frames(session, [NO_FACE] * 10, start_seq=15)  # seconds 15..24
    session_analyse(session=session)
    assert _flags(session) == []  # held at seq 9: the newest frame is only 15 s past the hole
    assert session_state(session)["frame"]["cursor"] == 9
    _frames(session, [NO_FACE] * 16, start_seq=25)  # up to second 40: seq 15 is now 25 s behind
    session_analyse(session=session)
    assert session_state(session)["frame"]["cursor"] == 9
    _frames(session, [NO_FACE] * 6, start_seq=41)  # second 46: seq 15 is 31 s behind → skip the hole
    session_analyse(session=session)
    assert session_state(session)["frame"]["cursor"] == 46
    assert _flags(session) == [("FACE_ABSENCE", 15, None)]


def test_the_final_pass_skips_a_hole_at_once(tenant_a):
    session = _eye(tenant_a)
    _frames(session, [FACE] * 9)
    _frames(session, [NO_FACE] * 6 + [FACE] * 5, start_seq=12)  # 10, 11 missing; absent 12..17
    session_analyse(session=session)
    assert _flags(session) == []
    session_analyse(session=session, final=True)
    assert _flags(session) == [("FACE_ABSENCE", 12, 17)]


def session_state(session) -> dict:
    session.refresh_from_db()
    return session.analysis_state
