"""Finding 3: what the institution set wins over the candidate's (editable) page config."""

import pytest

from sessions.api.services import assessment_create
from sessions.models import Assessment, ProctoringSession
from tenants.services import attempt_sign
from tests.widget.test_session_start import eye_config, start


def _seconds(session: ProctoringSession) -> float:
    return session.config["examSeconds"]


def test_finding3_the_assessments_duration_caps_the_pages(client, tenant_a):
    assessment_create(institution=tenant_a.institution, external_id="math-101", duration_seconds=1800)
    response = start(client, {"dialect": "eye", "config": eye_config(tenant_a, examDuration=86400)})
    assert response.status_code == 201
    session = ProctoringSession.objects.get()
    assert _seconds(session) == 1800
    assert (session.deadline_at - session.started_at).total_seconds() == pytest.approx(1860, abs=2)


def test_finding3_the_page_may_shorten_the_exam(client, tenant_a):
    assessment_create(institution=tenant_a.institution, external_id="math-101", duration_seconds=1800)
    start(client, {"dialect": "eye", "config": eye_config(tenant_a, examDuration=600)})
    assert _seconds(ProctoringSession.objects.get()) == 600


def test_finding3_a_page_does_not_set_the_assessments_duration(client, tenant_a):
    start(client, {"dialect": "eye", "config": eye_config(tenant_a, examDuration=86400)})
    assert Assessment.objects.get().duration_seconds is None


def test_finding3_the_page_cannot_switch_eye_detection_off(client, tenant_a):
    features = {"aiProctoring": False, "facialRecognition": False}
    response = start(client, {"dialect": "eye", "config": eye_config(tenant_a, features=features)})
    settings = response.json()["settings"]
    assert settings["features"] == {"aiProctoring": True, "facialRecognition": True}
    assert settings["tracking"]["audio"] is True and settings["tracking"]["numHumans"] is True
    assert ProctoringSession.objects.get().config["features"]["aiProctoring"] is True


def test_finding3_the_institution_switches_detectors_off(client, tenant_a):
    tenant_a.institution.detector_settings = {"disabled": ["FACE_MISMATCH"]}
    tenant_a.institution.save()
    response = start(client, {"dialect": "eye", "config": eye_config(tenant_a)})
    assert response.json()["settings"]["features"] == {"aiProctoring": True, "facialRecognition": False}


def test_finding3_autoproctor_options_may_tighten_never_loosen(client, tenant_a):
    signature = attempt_sign(secret_key=tenant_a.secret_key, attempt_id="att-9")
    body = {
        "dialect": "autoproctor",
        "credentials": {
            "clientId": tenant_a.publishable_key,
            "testAttemptId": "att-9",
            "hashedTestAttemptId": signature,
        },
        "options": {
            "trackingOptions": {
                "audio": False,
                "tabSwitch": False,
                "numHumans": False,
                "impersonation": True,
            },
            "testDuration": 1440,
        },
    }
    assessment_create(institution=tenant_a.institution, external_id="autoproctor", duration_seconds=3600)
    response = start(client, body)
    assert response.status_code == 201, response.content
    tracking = response.json()["settings"]["tracking"]
    assert (tracking["audio"], tracking["tabSwitch"], tracking["numHumans"]) == (True, True, True)
    assert tracking["impersonation"] is True
    assert _seconds(ProctoringSession.objects.get()) == 3600
