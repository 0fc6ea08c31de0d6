"""AutoProctor's idCardVerification through the widget's endpoint: each try is stored as
evidence with its outcome, a match ends the step, five failed tries raise one ID_CARD_MISMATCH
with the closest try as evidence, and every refusal has its code."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sessions.models import Flag, MediaChunk, ProctoringSession
from tenants.services import attempt_sign
from tests.analysis import material
from tests.browser import media_support
from tests.conftest import require

pytestmark = pytest.mark.slow
ORIGIN = "https://exams.alpha.edu"


def _start(client, tenant, tracking, attempt="att-id-1"):
    body = {
        "dialect": "autoproctor",
        "credentials": {
            "clientId": tenant.publishable_key,
            "testAttemptId": attempt,
            "hashedTestAttemptId": attempt_sign(secret_key=tenant.secret_key, attempt_id=attempt),
        },
        "options": {"trackingOptions": tracking, "userDetails": {"name": "Ada L", "email": "ada@alpha.edu"}},
        "resumeSecret": "resume-secret-0123456789-abcdef",
    }
    response = client.post(
        "/widget/v1/sessions", data=json.dumps(body), content_type="application/json", HTTP_ORIGIN=ORIGIN
    )
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture(scope="module")
def photos():
    try:
        return _photos()
    except material.MissingTool as exc:  # man_a is a photo of Debian's opencv-doc
        require(False, str(exc))


def _photos():
    return {
        "live": material.jpeg_bytes(media_support.scene(1), 85),
        "own": material.jpeg_bytes(media_support.card_scene("astronaut"), 85),
        "other": material.jpeg_bytes(media_support.card_scene("man_a"), 85),
        "blank": material.jpeg_bytes(media_support.card_scene(None), 85),
        "none": material.jpeg_bytes(media_support.scene(1), 85),
    }


def _try(client, started, card: bytes, *, face: bytes | None = None, auto=False, token=None, url=None):
    data = {"card": SimpleUploadedFile("card.jpg", card, "image/jpeg")}
    if face is not None:
        data["face"] = SimpleUploadedFile("face.jpg", face, "image/jpeg")
    if auto:
        data["auto"] = "1"
    return client.post(
        url or started["idCardUrl"].replace("http://testserver", ""),
        data,
        HTTP_AUTHORIZATION=f"Bearer {token or started['token']}",
        HTTP_ORIGIN=ORIGIN,
    )


def test_true_turns_the_step_on_with_a_face_check_and_the_test_takers_photo(client, tenant_a):
    started = _start(client, tenant_a, {"idCardVerification": True})
    session = ProctoringSession.objects.get(public_id=started["sessionId"])
    assert session.config["tracking"]["idCardVerification"] == {
        "face": True,
        "name": False,
        "expiryDate": False,
    }
    assert session.config["tracking"]["testTakerPhoto"] is True  # AutoProctor: face turns it on
    assert started["idCardUrl"].endswith(f"/widget/v1/sessions/{started['sessionId']}/idcard")


def test_off_there_is_no_step_and_the_endpoint_refuses(client, tenant_a, photos):
    started = _start(client, tenant_a, {})
    assert "idCardUrl" not in started
    url = f"/widget/v1/sessions/{started['sessionId']}/idcard"
    response = _try(client, started, photos["own"], url=url)
    assert response.status_code == 409 and response.json()["error"]["code"] == "OPTION_NOT_ENABLED"
    assert not MediaChunk.objects.filter(kind="idcard").exists()


def test_a_malformed_option_is_refused_with_its_field(client, tenant_a):
    body = {
        "dialect": "autoproctor",
        "credentials": {
            "clientId": tenant_a.publishable_key,
            "testAttemptId": "att-x",
            "hashedTestAttemptId": attempt_sign(secret_key=tenant_a.secret_key, attempt_id="att-x"),
        },
        "options": {"trackingOptions": {"idCardVerification": "yes"}},
    }
    response = client.post(
        "/widget/v1/sessions", data=json.dumps(body), content_type="application/json", HTTP_ORIGIN=ORIGIN
    )
    assert response.status_code == 400
    assert "trackingOptions.idCardVerification" in response.json()["error"]["details"]["fields"]


def test_the_candidates_own_card_passes_and_is_kept_as_evidence(client, tenant_a, photos):
    started = _start(client, tenant_a, {"idCardVerification": {"face": True}})
    response = _try(client, started, photos["own"], face=photos["live"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["outcome"] == "match" and body["passed"] and body["done"] and body["attempt"] == 1
    assert body["distance"] <= 0.6
    card = MediaChunk.objects.get(kind="idcard")
    assert card.seq == 1 and card.meta["outcome"] == "match" and card.file.read() == photos["own"]
    reference = MediaChunk.objects.get(kind="reference")  # the live photo: the report's photo
    assert reference.file.read() == photos["live"]
    assert not Flag.objects.filter(type="ID_CARD_MISMATCH").exists()
    again = _try(client, started, photos["own"], face=photos["live"])
    assert again.status_code == 409 and again.json()["error"]["code"] == "ID_CARD_ATTEMPTS_USED"


def test_five_failed_tries_raise_one_flag_with_the_closest_try_as_evidence(client, tenant_a, photos):
    started = _start(client, tenant_a, {"idCardVerification": True})
    outcomes = []
    for card in ("other", "blank", "other", "none", "other"):
        body = _try(client, started, photos[card], face=photos["live"]).json()
        outcomes.append(body["outcome"])
        assert body["passed"] is False
    assert outcomes == ["mismatch", "no_face_on_card", "mismatch", "no_card", "mismatch"]
    assert body["done"] is True and body["attemptsLeft"] == 0
    flag = Flag.objects.get(type="ID_CARD_MISMATCH")
    tries = list(MediaChunk.objects.filter(kind="idcard").order_by("seq"))
    assert [t.seq for t in tries] == [1, 2, 3, 4, 5]
    closest = min((t for t in tries if t.meta["distance"] is not None), key=lambda t: t.meta["distance"])
    assert flag.evidence_id == closest.pk and flag.payload["outcome"] == "mismatch"
    assert flag.payload["attempts"] == 5 and flag.payload["outcomes"] == outcomes
    assert _try(client, started, photos["own"]).json()["error"]["code"] == "ID_CARD_ATTEMPTS_USED"


def test_a_look_without_a_card_in_view_is_not_kept(client, tenant_a, photos):
    started = _start(client, tenant_a, {"idCardVerification": True})
    body = _try(client, started, photos["none"], face=photos["live"], auto=True).json()
    assert body["outcome"] == "searching" and body["attempt"] == 0
    assert not MediaChunk.objects.filter(kind="idcard").exists()
    body = _try(client, started, photos["own"], face=photos["live"], auto=True).json()
    assert body["outcome"] == "match" and MediaChunk.objects.filter(kind="idcard").count() == 1


def test_the_live_face_is_taken_beside_the_card_when_no_live_photo_came(client, tenant_a, photos):
    started = _start(client, tenant_a, {"idCardVerification": True})
    assert _try(client, started, photos["own"]).json()["outcome"] == "match"


def test_refusals_have_their_codes(client, tenant_a, tenant_b, photos):
    started = _start(client, tenant_a, {"idCardVerification": True})
    other = _start(client, tenant_a, {"idCardVerification": True}, attempt="att-id-2")
    # Another session's token, for this session's URL.
    response = _try(client, started, photos["own"], token=other["token"])
    assert response.status_code == 401 and response.json()["error"]["code"] == "INVALID_TOKEN"
    response = _try(client, started, b"not a jpeg")
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_MEDIA"
    response = client.post(
        started["idCardUrl"].replace("http://testserver", ""),
        {},
        HTTP_AUTHORIZATION=f"Bearer {started['token']}",
        HTTP_ORIGIN=ORIGIN,
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_MEDIA"
    client.post(
        started["endUrl"].replace("http://testserver", ""),
        data="{}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {started['token']}",
        HTTP_ORIGIN=ORIGIN,
    )
    response = _try(client, started, photos["own"])
    assert response.status_code == 409 and response.json()["error"]["code"] == "SESSION_ENDED"
    assert not MediaChunk.objects.filter(kind="idcard").exists()
