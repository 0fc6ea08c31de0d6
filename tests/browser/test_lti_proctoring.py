"""An LMS launches a proctored attempt, in Chromium with the fake camera: the test platform
(tests/lti/platform.py, on loopback) sends LtiStartProctoring → our consent and system check →
LtiStartAssessment reaches the platform and verifies against our JWKS → the attempt runs → a flag
reaches the platform over ACS → the quiz is submitted (LtiEndAssessment) → the score over AGS."""

from __future__ import annotations

import pytest

from .helpers import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]


@pytest.fixture
def lms(proctorme_url, school, settings):
    from sessions.lti.registrations import lti_registration_create
    from tests.lti.platform import start_platform

    settings.PROCTORME_ALLOW_PRIVATE_URLS = True  # every outbound call goes to the loopback platform
    platform = start_platform()
    institution = school.institution.public_id
    platform.tool_login_url = f"{proctorme_url}/lti/{institution}/login"
    platform.tool_jwks_url = f"{proctorme_url}/lti/{institution}/jwks.json"  # fetched over HTTP
    lti_registration_create(institution=school.institution, name="Test LMS", **platform.urls())
    yield platform
    platform.server.shutdown()
    platform.server.server_close()


def test_an_lms_launch_runs_a_proctored_attempt_end_to_end(page, context, lms):
    from django.db import connection

    from tests.conftest import require

    # The end of assessment finalises inline (TASKS_MODE=sync) while the server's socket and upload
    # threads still write: SQLite's shared in-memory test database reports those as table locks.
    require(connection.vendor == "postgresql", "PostgreSQL is not configured (set DATABASE_URL)")
    from sessions.lti.models import LtiAttempt
    from sessions.models import MediaChunk
    from tests.lti.platform import LTI, LTI_AP

    start = lms.start_proctoring_claims(nonce="")
    page.goto(f"{lms.base}/start/{lms.prepare(start)}")  # the LMS's "Start quiz" button
    consent = page.get_by_role("dialog")
    consent.get_by_role("button", name="I agree").click()

    start_button = page.get_by_role("button", name="Start the quiz")
    start_button.wait_for()
    wait_until(lambda: not start_button.is_disabled(), message="the quiz never became available")
    attempt = LtiAttempt.objects.select_related("session").get()
    session = attempt.session
    assert session.status == "active" and session.events.filter(type="SYSTEM_CHECK_COMPLETED").exists()

    with context.expect_page() as opened:
        start_button.click()
    quiz = opened.value
    quiz.locator("#quiz").wait_for()
    assert lms.start_assessment_errors == []
    [claims] = lms.start_assessments  # verified by the platform against our JWKS, fetched over HTTP
    assert claims[LTI + "message_type"] == "LtiStartAssessment"
    assert claims[LTI_AP + "session_data"] == start[LTI_AP + "session_data"]
    assert claims[LTI_AP + "attempt_number"] == 1
    assert claims[LTI + "resource_link"]["id"] == "quiz-42"
    assert claims[LTI + "deployment_id"] == lms.deployment_id

    # The attempt runs: the fake camera's frames arrive while the quiz is open elsewhere.
    wait_until(lambda: MediaChunk.objects.filter(session=session).exists(), timeout=20, message="no media")
    page.evaluate("document.dispatchEvent(new Event('copy'))")  # on the proctoring page
    wait_until(lambda: [c["action"] for c in lms.acs_requests] == ["flag"], message="no ACS flag")
    assert lms.acs_requests[0]["reason_code"] == "COPY_PASTE"
    assert lms.acs_requests[0]["user"]["sub"] == "student-1"

    quiz.locator("#submit").click()  # the LMS sends LtiEndAssessment
    quiz.get_by_text("Proctoring has ended").wait_for()
    wait_until(lambda: lms.scores, timeout=20, message="no AGS score")
    session.refresh_from_db()
    assert session.status == "completed" and session.end_reason == "lms_ended"
    [score] = lms.scores
    assert score["lineitem"] != lms.base + "/lineitems/quiz"
    assert score["scoreGiven"] == round(session.trust_score, 1) and session.trust_score < 100
    assert lms.errors == []
    page.get_by_text("Proctoring has ended.").wait_for()  # the proctoring window heard it too
