"""Warnings to the candidate (sessions.candidate_warnings) and the system check's look at the
camera (POST /widget/v1/sessions/{id}/check): which frames warn, when, and who may ask."""

from __future__ import annotations

from datetime import timedelta

import cv2
import numpy as np
import pytest
from django.utils import timezone

from sessions.candidate_warnings import frame_check, warnings_apply
from sessions.config import parse_eye
from sessions.models import Event
from sessions.services import session_start

ORIGIN = "https://exams.alpha.edu"
FACE = {"faces": 1, "blocked": False}
NOBODY = {"faces": 0, "blocked": False}
DARK = {"faces": 0, "blocked": True, "blockedReason": "dark"}
COVERED = {"faces": 0, "blocked": True, "blockedReason": "uniform"}
ALL = {"FACE_ABSENCE", "CAMERA_BLOCKED"}


def _start(tenant, candidate="cand-1"):
    request = parse_eye(
        {
            "apiKey": tenant.publishable_key,
            "assessmentId": "math",
            "assessmentTitle": "Math",
            "candidateId": candidate,
            "candidateEmail": "c@x.edu",
            "candidateFirstName": "C",
            "candidateLastName": "D",
            "institutionName": "X",
            "examDuration": 3600,
        }
    )
    return session_start(request=request, origin=ORIGIN)


@pytest.fixture
def pushed(monkeypatch):
    """What reaches the widget's group (the channel layer's transport is recorded, not run)."""
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(
        "sessions.services.broadcast", lambda group, body: sent.append((group, body["message"]))
    )
    return sent


def _feed(session, state, frames, pushed, capture, enabled=ALL, start=None):
    """Feed frames one second apart (the newest just now) and commit; the warnings sent so far."""
    start = start or timezone.now() - timedelta(seconds=len(frames))
    observed = [(start + timedelta(seconds=i), obs) for i, obs in enumerate(frames)]
    with capture(execute=True):
        warnings_apply(session, state, observed, enabled)
    return [m["kind"] for _, m in pushed if m.get("type") == "warning"]


def test_two_frames_in_a_row_warn_and_a_good_one_clears(tenant_a, pushed, django_capture_on_commit_callbacks):
    session = _start(tenant_a).session
    assert session.config["warnings"] is True
    state: dict = {}
    # One empty frame may be a missed detection: no warning yet.
    assert _feed(session, state, [FACE, NOBODY], pushed, django_capture_on_commit_callbacks) == []
    assert _feed(session, state, [NOBODY], pushed, django_capture_on_commit_callbacks) == ["absent"]
    # Still away: still the one warning, nothing new sent.
    assert _feed(session, state, [NOBODY, NOBODY], pushed, django_capture_on_commit_callbacks) == ["absent"]
    assert _feed(session, state, [FACE], pushed, django_capture_on_commit_callbacks) == ["absent", None]
    assert list(
        Event.objects.filter(session=session, type="CANDIDATE_WARNING").values_list(
            "payload__kind", flat=True
        )
    ) == ["absent"]


@pytest.mark.parametrize(("obs", "kind"), [(DARK, "dark"), (COVERED, "covered")])
def test_dark_and_covered(tenant_a, pushed, django_capture_on_commit_callbacks, obs, kind):
    session = _start(tenant_a).session
    assert _feed(session, {}, [obs, obs], pushed, django_capture_on_commit_callbacks) == [kind]


def test_silent_proctoring_and_switched_off_detectors_never_warn(
    tenant_a, pushed, django_capture_on_commit_callbacks
):
    tenant_a.institution.candidate_warnings = False
    tenant_a.institution.save(update_fields=["candidate_warnings"])
    silent = _start(tenant_a).session
    assert silent.config["warnings"] is False
    assert silent.config["capture"]["uploadIntervalMs"] == 5000
    assert _feed(silent, {}, [NOBODY] * 4, pushed, django_capture_on_commit_callbacks) == []
    # An assessment may override its institution.
    silent.assessment.candidate_warnings = True
    silent.assessment.save(update_fields=["candidate_warnings"])
    loud = _start(tenant_a, candidate="cand-2").session
    assert loud.config["warnings"] is True and loud.config["capture"]["uploadIntervalMs"] == 2000
    assert (
        _feed(loud, {}, [NOBODY] * 3, pushed, django_capture_on_commit_callbacks, enabled={"CAMERA_BLOCKED"})
        == []
    )
    dark = _feed(loud, {}, [DARK] * 2, pushed, django_capture_on_commit_callbacks, enabled={"CAMERA_BLOCKED"})
    assert dark == ["dark"]


def test_old_frames_and_paused_sessions_do_not_warn(tenant_a, pushed, django_capture_on_commit_callbacks):
    session = _start(tenant_a).session
    old = timezone.now() - timedelta(minutes=5)
    assert _feed(session, {}, [NOBODY] * 3, pushed, django_capture_on_commit_callbacks, start=old) == []
    session.paused_at = timezone.now()
    assert _feed(session, {}, [NOBODY] * 3, pushed, django_capture_on_commit_callbacks) == []


def test_frame_check_verdicts():
    assert frame_check({"faces": 1, "blocked": False, "brightness": 120.0})["result"] == "ok"
    assert frame_check({"faces": 2, "blocked": False})["result"] == "several"
    assert frame_check(NOBODY)["result"] == "absent"
    # A face behind a cup is not an absence (the FACE_ABSENCE rule): no warning either.
    assert frame_check({"faces": 0, "blocked": False, "hidden": True})["result"] == "ok"
    assert frame_check(DARK)["result"] == "dark"
    assert frame_check(COVERED)["result"] == "covered"


# --- the endpoint: real frames through the real detector ------------------------------------------


def _jpeg(rgb: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return data.tobytes()


def _check(client, started, body: bytes, origin=ORIGIN, token=None):
    return client.post(
        f"/widget/v1/sessions/{started.session.public_id}/check",
        data=body,
        content_type="image/jpeg",
        headers={"Authorization": f"Bearer {token or started.token}", "Origin": origin},
    )


def test_the_check_tells_what_to_fix(client, tenant_a):
    from tests.browser import media_support as ms

    started = _start(tenant_a)
    at_desk = _check(client, started, _jpeg(ms.scene(1)))
    assert at_desk.status_code == 200, at_desk.content
    assert at_desk.json()["result"] == "ok" and at_desk.json()["faces"] == 1
    assert _check(client, started, _jpeg(ms.scene(0))).json()["result"] == "absent"
    dark = _check(client, started, _jpeg(np.full((480, 640, 3), 8, np.uint8))).json()
    assert dark["result"] == "dark" and dark["brightness"] < 28
    assert _check(client, started, _jpeg(np.full((480, 640, 3), 190, np.uint8))).json()["result"] == "covered"
    assert at_desk["Access-Control-Allow-Origin"] == ORIGIN
    assert not started.session.media.exists()  # nothing is stored


def test_the_check_refuses_others(client, tenant_a, tenant_b):
    started = _start(tenant_a)
    other = _start(tenant_a, candidate="cand-2")
    body = _jpeg(np.full((48, 64, 3), 120, np.uint8))
    wrong = _check(client, started, body, token=other.token)
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "INVALID_TOKEN"
    foreign = _check(client, started, body, origin="https://exams.beta.edu")
    assert foreign.status_code == 403 and foreign.json()["error"]["code"] == "DOMAIN_NOT_REGISTERED"
    garbage = _check(client, started, b"not a jpeg")
    assert garbage.status_code == 400 and garbage.json()["error"]["code"] == "INVALID_MEDIA"
    from sessions.services import session_end

    session_end(session=started.session)
    ended = _check(client, started, body)
    assert ended.status_code == 409 and ended.json()["error"]["code"] == "SESSION_ENDED"


def test_a_face_hidden_behind_a_cup_is_not_warned_about(tenant_a, pushed, django_capture_on_commit_callbacks):
    session = _start(tenant_a).session
    hidden = {"faces": 0, "blocked": False, "hidden": True}
    assert _feed(session, {}, [hidden] * 3, pushed, django_capture_on_commit_callbacks) == []
