"""AutoProctor's auxiliaryDevice through its endpoints: a single-use, short-lived pairing bound
to one running session; a device secret that uploads side-view frames of that session and
nothing else; the heartbeat timeout (AUX_DISCONNECTED, closed when the phone is back); and the
side view's own analysis."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.utils import timezone

from proctorme.times import iso
from sessions.analysis_pipeline import session_analyse
from sessions.models import AuxDevice, Flag, MediaChunk, ProctoringSession
from tenants.services import attempt_sign
from tests.analysis import material
from tests.browser import media_support
from tests.conftest import require

ORIGIN = "https://exams.alpha.edu"


def _start(client, tenant, tracking, attempt="att-aux-1", origin=ORIGIN):
    body = {
        "dialect": "autoproctor",
        "credentials": {
            "clientId": tenant.publishable_key,
            "testAttemptId": attempt,
            "hashedTestAttemptId": attempt_sign(secret_key=tenant.secret_key, attempt_id=attempt),
        },
        "options": {"trackingOptions": tracking},
        "resumeSecret": "resume-secret-0123456789-abcdef",
    }
    response = client.post(
        "/widget/v1/sessions", data=json.dumps(body), content_type="application/json", HTTP_ORIGIN=origin
    )
    assert response.status_code == 201, response.content
    return response.json()


def _path(url: str) -> str:
    return url.replace("http://testserver", "")


def _widget(client, started, name, *, token=None, origin=ORIGIN):
    return client.post(
        _path(started[name]) if name in started else name,
        data="{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token or started['token']}",
        HTTP_ORIGIN=origin,
    )


def _pair(client, started) -> tuple[dict, str]:
    response = _widget(client, started, "auxPairingUrl")
    assert response.status_code == 201, response.content
    pairing = response.json()
    return pairing, _path(pairing["pairingUrl"]).rsplit("/", 1)[1]


def _claim(client, secret):
    return client.post("/aux/v1/claim", data=json.dumps({"pairing": secret}), content_type="application/json")


def _frames(client, device_token, seqs, *, kind="aux", picture=None, start=None):
    picture = picture or material.jpeg_bytes(media_support.scene(1), 70)
    start = start or timezone.now() - timedelta(seconds=30)
    items, files = [], {}
    for seq in seqs:
        items.append(
            {
                "part": f"p{seq}",
                "kind": kind,
                "seq": seq,
                "capturedAt": iso(start + timedelta(seconds=2 * seq)),
            }
        )
        files[f"p{seq}"] = SimpleUploadedFile(f"p{seq}.jpg", picture, "image/jpeg")
    return client.post(
        "/aux/v1/frames",
        {"meta": json.dumps({"items": items}), **files},
        HTTP_AUTHORIZATION=f"Bearer {device_token}",
    )


def _status(client, started):
    response = _widget(client, started, "auxStatusUrl")
    assert response.status_code == 200
    return response.json()


def test_off_there_is_no_pairing(client, tenant_a):
    started = _start(client, tenant_a, {})
    assert "auxPairingUrl" not in started and "auxStatusUrl" not in started
    response = _widget(client, started, f"/widget/v1/sessions/{started['sessionId']}/aux/pairing")
    assert response.status_code == 409 and response.json()["error"]["code"] == "OPTION_NOT_ENABLED"
    assert not AuxDevice.objects.exists()


def test_a_pairing_is_a_qr_code_of_a_single_use_url(client, tenant_a):
    started = _start(client, tenant_a, {"auxiliaryDevice": True})
    pairing, secret = _pair(client, started)
    assert pairing["pairingUrl"] == f"http://testserver/aux/{secret}"
    assert pairing["qrSvg"].lstrip().startswith(("<?xml", "<svg")) and "<path" in pairing["qrSvg"]
    assert len(pairing["label"]) == 7 and pairing["label"][3] == "-"
    device = AuxDevice.objects.get()
    assert secret not in device.pairing_digest  # only a digest is kept
    page = client.get(f"/aux/{secret}")
    assert page.status_code == 200 and pairing["label"] in page.content.decode()
    assert page["Referrer-Policy"] == "no-referrer"
    assert _status(client, started)["state"] == "waiting"

    claimed = _claim(client, secret)
    assert claimed.status_code == 201
    token = claimed.json()["deviceToken"]
    assert token.startswith("aux_")
    again = _claim(client, secret)
    assert again.status_code == 404 and again.json()["error"]["code"] == "INVALID_PAIRING"
    status = _status(client, started)
    assert status["state"] == "paired" and status["label"] == pairing["label"]

    assert _frames(client, token, [1, 2]).status_code == 202
    stored = list(MediaChunk.objects.filter(kind="aux").order_by("seq"))
    assert [c.seq for c in stored] == [1, 2] and stored[0].meta["device"] == "aux"
    assert stored[0].session.public_id.hex == started["sessionId"].replace("-", "")
    assert _status(client, started)["state"] == "streaming"


def test_an_unknown_or_expired_pairing_is_refused(client, tenant_a):
    started = _start(client, tenant_a, {"auxiliaryDevice": True})
    assert client.get("/aux/not-a-pairing-secret").status_code == 404
    assert _claim(client, "not-a-pairing-secret").status_code == 404
    _, secret = _pair(client, started)
    AuxDevice.objects.update(pairing_expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(f"/aux/{secret}").status_code == 404
    response = _claim(client, secret)
    assert response.status_code == 404 and response.json()["error"]["code"] == "INVALID_PAIRING"


def test_the_device_secret_uploads_side_view_frames_of_its_session_and_nothing_else(client, tenant_a):
    started = _start(client, tenant_a, {"auxiliaryDevice": True})
    other = _start(client, tenant_a, {"auxiliaryDevice": True}, attempt="att-aux-2")
    _, secret = _pair(client, started)
    token = _claim(client, secret).json()["deviceToken"]
    # Only kind aux.
    response = _frames(client, token, [1], kind="frame")
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_MEDIA"
    # Not a widget session token: the exam page's endpoints refuse it, for its session or another.
    for target in (started, other):
        media = client.post(
            f"/widget/v1/sessions/{target['sessionId']}/media",
            {"meta": json.dumps({"items": []})},
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_ORIGIN=ORIGIN,
        )
        assert media.status_code == 401 and media.json()["error"]["code"] == "INVALID_TOKEN"
        assert _widget(client, target, "endUrl", token=token).status_code == 401
        assert _widget(client, target, "auxPairingUrl", token=token).status_code == 401
    # The exam page's session token is no device secret.
    response = _frames(client, started["token"], [1])
    assert response.status_code == 404 and response.json()["error"]["code"] == "INVALID_PAIRING"
    # The widget itself may not upload side-view frames.
    picture = material.jpeg_bytes(media_support.scene(1), 70)
    response = client.post(
        _path(started["uploadUrl"]),
        {
            "meta": json.dumps({"items": [{"part": "p", "kind": "aux", "seq": 1}]}),
            "p": SimpleUploadedFile("p.jpg", picture, "image/jpeg"),
        },
        HTTP_AUTHORIZATION=f"Bearer {started['token']}",
        HTTP_ORIGIN=ORIGIN,
    )
    assert response.status_code == 400 and response.json()["error"]["details"]["reason"] == "bad kind"
    assert _frames(client, token, [1]).status_code == 202
    assert MediaChunk.objects.filter(kind="aux", session__public_id=other["sessionId"]).count() == 0
    assert MediaChunk.objects.filter(kind="aux", session__public_id=started["sessionId"]).count() == 1


def test_another_institutions_session_cannot_be_paired(client, tenant_a, tenant_b):
    mine = _start(client, tenant_a, {"auxiliaryDevice": True})
    theirs = _start(
        client, tenant_b, {"auxiliaryDevice": True}, attempt="att-b", origin="https://exams.beta.edu"
    )
    url = f"/widget/v1/sessions/{theirs['sessionId']}/aux/pairing"
    response = _widget(client, mine, url)  # my token, their session
    assert response.status_code == 401 and response.json()["error"]["code"] == "INVALID_TOKEN"
    response = _widget(client, theirs, url, origin=ORIGIN)  # their token from my registered page
    assert response.status_code == 403 and response.json()["error"]["code"] == "DOMAIN_NOT_REGISTERED"
    assert not AuxDevice.objects.filter(session__public_id=theirs["sessionId"]).exists()


@override_settings(PROCTORME_AUX_HEARTBEAT_TIMEOUT=15)
def test_a_silent_phone_is_disconnected_and_its_flag_closes_when_it_is_back(client, tenant_a):
    started = _start(client, tenant_a, {"auxiliaryDevice": True})
    _, secret = _pair(client, started)
    token = _claim(client, secret).json()["deviceToken"]
    assert _frames(client, token, [1]).status_code == 202
    device = AuxDevice.objects.get()
    # 14 s of silence: still streaming.
    AuxDevice.objects.update(last_seen_at=timezone.now() - timedelta(seconds=14))
    assert _status(client, started)["state"] == "streaming"
    silent_since = timezone.now() - timedelta(seconds=20)
    AuxDevice.objects.update(last_seen_at=silent_since)
    status = _status(client, started)
    assert status["state"] == "disconnected" and status["disconnects"] == 1
    flag = Flag.objects.get(type="AUX_DISCONNECTED")
    assert flag.started_at == silent_since and flag.ended_at is None
    assert flag.payload == {"device": "aux", "label": device.label}
    assert _status(client, started)["state"] == "disconnected"
    assert Flag.objects.filter(type="AUX_DISCONNECTED").count() == 1  # asked again: still one drop

    assert client.post("/aux/v1/heartbeat", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 204
    assert _status(client, started)["state"] == "streaming"
    flag.refresh_from_db()
    assert flag.ended_at is not None and flag.duration_seconds >= 20


def test_an_ended_attempt_stops_the_phone(client, tenant_a):
    started = _start(client, tenant_a, {"auxiliaryDevice": True})
    _, secret = _pair(client, started)
    _, unused = _pair(client, started)
    token = _claim(client, secret).json()["deviceToken"]
    assert _widget(client, started, "endUrl").status_code == 200
    response = _frames(client, token, [1])
    assert response.status_code == 409 and response.json()["error"]["code"] == "SESSION_ENDED"
    assert client.post("/aux/v1/heartbeat", HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 409
    assert _claim(client, unused).status_code == 404
    assert client.get(f"/aux/{unused}").status_code == 404


@pytest.mark.slow
def test_the_side_view_has_its_own_analysis_and_flags(client, tenant_a):
    started = _start(client, tenant_a, {"auxiliaryDevice": True})
    _, secret = _pair(client, started)
    token = _claim(client, secret).json()["deviceToken"]
    # The session began a minute ago, so the frames' capture times (2 s apart) are in the past.
    ProctoringSession.objects.filter(public_id=started["sessionId"]).update(
        started_at=timezone.now() - timedelta(seconds=60)
    )
    session = ProctoringSession.objects.get(public_id=started["sessionId"])
    try:
        two = material.jpeg_bytes(media_support.scene(2), 80)  # someone behind the candidate
    except material.MissingTool as exc:  # the visitor is a photo of Debian's opencv-doc
        require(False, str(exc))
    start = session.started_at + timedelta(seconds=1)
    assert _frames(client, token, [1, 2, 3, 4], picture=two, start=start).status_code == 202
    session_analyse(session=session, final=True)
    flag = Flag.objects.get(type="MULTIPLE_FACE")
    assert flag.payload == {"device": "aux"} and flag.episode_key.startswith("aux:MULTIPLE_FACE@")
    assert flag.evidence.kind == "aux"
    # frames at 2 s apart from seq 1 (t = 3 s) to seq 4 (t = 9 s): one episode of 6 s
    assert flag.duration_seconds == pytest.approx(6.0, abs=0.01)
