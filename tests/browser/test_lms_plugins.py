"""AutoProctor's own LMS plugins, replayed against Proctorme in Chromium (see lms_site.py for the
plugin files and commits followed). Only the script URL, client id and secret differ."""

from __future__ import annotations

import hashlib

import pytest

from .conftest import PAGE_HOST
from .helpers import retry_locked, switch_tab, wait_until
from .lms_site import (
    MOODLE_ATTEMPT,
    MOODLE_REVIEW,
    MOODLE_SUMMARY,
    MOODLE_VIEW,
    WORDPRESS_REPORT,
    WORDPRESS_START_TEST,
    render,
    start_lms_site,
)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]


@pytest.fixture
def lms(proctorme_url):
    site = start_lms_site(PAGE_HOST)
    yield site
    site.server.shutdown()
    site.server.server_close()


@pytest.fixture
def signing_key(school):
    from tenants.models import ApiKey
    from tenants.services import api_key_create

    return api_key_create(institution=school.institution, kind=ApiKey.Kind.SIGNING, name="LMS plugin")[1]


def _allow_attempt_credentials_to_open_reports(school):
    school.institution.attempt_credentials_open_report = True
    retry_locked(lambda: school.institution.save(update_fields=["attempt_credentials_open_report"]))


def _agree(page):
    page.get_by_role("button", name="I agree").click()


def test_moodle_quiz_plugin_call_sequence(page, lms, school, signing_key, proctorme_url):
    from sessions.models import Flag, ProctoringSession
    from tenants.services import attempt_sign

    attempt = "moodle-41-u7"  # the plugin's test attempt id for quiz attempt 41
    params = {
        "clientId": school.publishable_key,
        "testAttemptId": attempt,
        # rule.php: base64_encode(hash_hmac('sha256', $attemptid, $client_secret, true)), with the signing key
        "hashedTestAttemptId": attempt_sign(secret_key=signing_key, attempt_id=attempt),
        "trackingOptions": {
            "audio": True,
            "numHumans": True,
            "tabSwitch": True,
            "photosAtRandom": False,
            "detectMultipleScreens": True,
            "forceFullScreen": False,
            "auxiliaryDevice": False,
            "recordSession": True,
        },
        "lookupKey": "moodle-quiz-7",
        "apDomain": "https://autoproctor.co",
        "apEnv": "production",
        "userDetails": {"name": "Ada Lovelace", "email": "ada@moodle.example.edu"},
    }
    widget = f"{proctorme_url}/widget.js"
    lms.pages["mod/quiz/view.php"] = render(MOODLE_VIEW, widget=widget, params=params)
    lms.pages["mod/quiz/attempt.php"] = MOODLE_ATTEMPT
    lms.pages["mod/quiz/summary.php"] = MOODLE_SUMMARY
    lms.pages["mod/quiz/review.php"] = render(MOODLE_REVIEW, widget=widget, params=params)
    _allow_attempt_credentials_to_open_reports(school)

    page.goto(lms.url("mod/quiz/view.php?id=7"))
    page.check("#id_autoproctor_consent")
    page.click("#id_submitbutton")
    _agree(page)  # Proctorme's consent notice, before camera and microphone
    page.wait_for_function("window.lms.calls.includes('apMonitoringStarted')")
    assert page.evaluate("window.lms.loaderHidden") is True  # apProgressUpdate action "hide"
    assert page.evaluate("apInstance.isApTestStarted") is True
    frame = page.frame(name="ap-iframe")
    page.wait_for_function("window.lms.calls.includes('iframe:attempt.php')")
    session = ProctoringSession.objects.get(attempt_id=f"ap:{attempt}")
    assert session.assessment.external_id == "moodle-quiz-7"  # lookupKey
    assert ("lib/ajax/service.php" in [path for path, _ in lms.posts]) and any(
        path == "mod/quiz/startattempt.php" and "autoproctor_consent=1" in body for path, body in lms.posts
    )

    switch_tab(page, hidden=True)  # the candidate looks elsewhere during the attempt
    switch_tab(page, hidden=False)
    wait_until(lambda: Flag.objects.filter(session=session, type="TAB_NOT_FOCUS").exists())

    frame = page.frame(name="ap-iframe")
    frame.click("#finish-attempt")
    page.wait_for_function("window.lms.calls.includes('iframe:summary.php')")
    frame = page.frame(name="ap-iframe")
    frame.click("#frm-finishattempt button[type='submit']")
    frame.click("div.modal-footer > button.btn.btn-primary")  # the final submit
    page.wait_for_url("**/mod/quiz/review.php*")  # stopped first, then Moodle went on to review
    session.refresh_from_db()
    assert session.status != "active" and session.end_reason == "stopped"

    assert page.evaluate("window.reportResult") == "loaded"
    assert page.locator("#ap-report__proctor tr[data-type=TAB_NOT_FOCUS]").count() >= 1
    assert "Ada Lovelace" in page.locator("#ap-report__overview").inner_text()


def test_wordpress_plugin_legacy_start_test_page(page, lms, school, signing_key, proctorme_url):
    from sessions.models import Flag, ProctoringSession

    attempt = "wp-attempt-0042"
    # autoproctor.php getHashedTestAttemptId(): hash('sha256', $test_attempt_id . $clientSecret)
    legacy_hash = hashlib.sha256((attempt + signing_key).encode()).hexdigest()
    params = {
        "clientId": school.publishable_key,
        "testAttemptId": attempt,
        "hashedTestAttemptId": legacy_hash,
    }
    widget = f"{proctorme_url}/widget.js"
    lms.pages["ap/start-test/2/"] = render(
        WORDPRESS_START_TEST, widget=widget, params=params, report_url=lms.url("ap/report/")
    )
    lms.pages["ap/report/"] = render(WORDPRESS_REPORT, widget=widget, params=params)
    _allow_attempt_credentials_to_open_reports(school)

    page.goto(lms.url("ap/start-test/2/"))
    _agree(page)
    page.wait_for_function("window.wp.calls.includes('initAutoProctor')")
    page.click("#testStart")
    page.wait_for_function("window.wp.calls.includes('apStartTest')")
    session = ProctoringSession.objects.get(attempt_id=f"ap:{attempt}")
    # Legacy tracking keys mapped onto today's: preventMultipleScreens → detectMultipleScreens, and so on.
    tracking = session.config["tracking"]
    assert tracking["detectMultipleScreens"] is True and tracking["forceDesktop"] is True
    switch_tab(page, hidden=True)
    switch_tab(page, hidden=False)
    wait_until(lambda: Flag.objects.filter(session=session, type="TAB_NOT_FOCUS").exists())
    page.click("#testEnd")
    page.wait_for_function("window.wp.calls.includes('apStopMonitoring')")
    assert page.locator("#test-completed-ctr").is_visible()
    session.refresh_from_db()
    assert session.end_reason == "stopped"
    assert [body for path, body in lms.posts if path == "wp-admin/admin-ajax.php"] == [
        f"action=mark_test_attempt_started&testAttemptLabel={attempt}",
        f"action=mark_test_attempt_finished&testAttemptLabel={attempt}",
    ]
    assert "aux-label" not in page.evaluate("window.wp.calls")  # no phone pairing here

    page.click("#report-url-ctr a")
    page.wait_for_function("window.reportResult !== undefined")
    assert page.evaluate("window.reportResult") == "loaded"
    assert page.locator("#ap-report__proctor tr[data-type=TAB_NOT_FOCUS]").count() >= 1
    assert "First Last" in page.locator("#ap-report__overview").inner_text()
