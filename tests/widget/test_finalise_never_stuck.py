"""Finding 5: a session never stays in FINALISING: settings are validated where they are written,
malformed old settings do not break the score, and a failed finalise is retried with backoff."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from analysis.frames import FrameSensitivity
from proctorme.detector_settings import SENSITIVITY_KEYS, detector_settings_problems
from sessions import finalise as finalise_module
from sessions import signals
from sessions.finalise import session_finalise, sessions_finalise_stuck
from sessions.models import ProctoringSession
from sessions.services import session_end
from tenants.models import Institution
from tests.widget.test_consumer import _start

BAD = [
    {"weights": {"TAB_NOT_FOCUS": 5}},
    {"weights": {"TAB_NOT_FOCUS": {"cap": "x"}}},
    {"weights": {"NOT_A_TYPE": {"cap": 1}}},
    {"disabled": "LOOKING_AWAY"},
    {"sensitivity": {"max_yaw_deg": "wide"}},
    {"sensitivity": {"timing": {"FACE_ABSENCE": [1]}}},
    {"weight": {}},
    ["LOOKING_AWAY"],
]


@pytest.mark.parametrize("value", BAD)
def test_finding5_malformed_detector_settings_are_refused_where_written(tenant_a, value):
    tenant_a.institution.detector_settings = value
    with pytest.raises(ValidationError) as caught:
        tenant_a.institution.full_clean()
    assert "detector_settings" in caught.value.message_dict


def test_finding5_the_documented_settings_are_accepted():
    assert not detector_settings_problems(
        {
            "disabled": ["LOOKING_AWAY"],
            "weights": {"TAB_NOT_FOCUS": {"cap": 20, "per_event": 0.05, "per_minute": 0.1}},
            "sensitivity": {"max_yaw_deg": 40, "timing": {"FACE_ABSENCE": [5, 3]}},
        }
    )


def test_finding5_sensitivity_names_are_the_detectors_own():
    assert {f.name for f in dataclasses.fields(FrameSensitivity)} == SENSITIVITY_KEYS


def test_finding5_the_admin_form_refuses_them(client, tenant_a):
    client.force_login(tenant_a.admin)
    url = reverse("admin:tenants_institution_change", args=[tenant_a.institution.pk])
    page = client.get(url)
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, list | dict)}
    data.update(
        name=tenant_a.institution.name,
        detector_settings='{"weights": {"TAB_NOT_FOCUS": 5}}',
        retention_days=90,
        **{"domains-TOTAL_FORMS": 0, "domains-INITIAL_FORMS": 0},
    )
    response = client.post(url, data)
    assert response.status_code == 200
    assert "detector_settings" in response.context["adminform"].form.errors
    tenant_a.institution.refresh_from_db()
    assert tenant_a.institution.detector_settings == {}


def test_finding5_old_malformed_settings_still_finalise(client, tenant_a, django_capture_on_commit_callbacks):
    Institution.objects.filter(pk=tenant_a.institution.pk).update(
        detector_settings={"weights": {"TAB_NOT_FOCUS": 5}}
    )
    completed = []
    signals.session_completed.connect(lambda sender, session, **kw: completed.append(session.pk), weak=False)
    started = _start(tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        session_end(session=started.session)  # TASKS_MODE=sync: finalises at once
    session = ProctoringSession.objects.get(pk=started.session.pk)
    assert session.status == ProctoringSession.Status.COMPLETED and session.trust_score == 100
    assert completed == [session.pk]
    client.force_login(tenant_a.reviewer)
    assert client.get(reverse("dashboard:session", args=[session.public_id])).status_code == 200


def test_finding5_a_failed_finalise_is_retried_with_backoff_until_it_completes(
    tenant_a, monkeypatch, time_machine, django_capture_on_commit_callbacks
):
    time_machine.move_to(timezone.now(), tick=False)
    started = _start(tenant_a)
    real = finalise_module._session_finalise
    failures = {"left": 2}

    def flaky(session):
        if failures["left"]:
            failures["left"] -= 1
            raise TimeoutError("a worker's time limit")
        return real(session)

    monkeypatch.setattr(finalise_module, "_session_finalise", flaky)
    with pytest.raises(TimeoutError), django_capture_on_commit_callbacks(execute=True):
        session_end(session=started.session)
    session = ProctoringSession.objects.get(pk=started.session.pk)
    assert session.status == ProctoringSession.Status.FINALISING
    assert session.analysis_state["finalise_retry"]["failures"] == 1

    time_machine.shift(timedelta(minutes=2, seconds=30))  # past the grace, and the first 60 s
    with pytest.raises(TimeoutError), django_capture_on_commit_callbacks(execute=True):
        assert sessions_finalise_stuck() == 1  # queued, and it fails again
    session.refresh_from_db()
    assert session.analysis_state["finalise_retry"]["failures"] == 2
    time_machine.shift(timedelta(seconds=100))  # the second wait is 120 s: not yet due
    assert sessions_finalise_stuck() == 0
    time_machine.shift(timedelta(seconds=30))
    with django_capture_on_commit_callbacks(execute=True):
        assert sessions_finalise_stuck() == 1
    session.refresh_from_db()
    assert session.status == ProctoringSession.Status.COMPLETED


def test_finding5_a_finalising_session_is_left_alone_within_the_grace(tenant_a, monkeypatch):
    started = _start(tenant_a)
    ProctoringSession.objects.filter(pk=started.session.pk).update(
        status=ProctoringSession.Status.FINALISING, ended_at=timezone.now()
    )
    assert sessions_finalise_stuck() == 0
    session_finalise(session=ProctoringSession.objects.get(pk=started.session.pk))
    assert ProctoringSession.objects.get(pk=started.session.pk).status == "completed"
