"""AutoProctor's own LMS plugins, replayed in Chromium against the product started the way
`make run` starts it (tests/browser/make_run.py: its commands and embedded defaults, in a
process of its own on a free port, with a temporary SQLite file and media folder). See
lms_site.py for the plugin files and commits followed. Only the script URL, client id and
secret differ from what the plugins ship with; the keys are the ones `make run` prints."""

from __future__ import annotations

import hashlib
import json

import pytest

from tenants.services import attempt_sign

from .conftest import PAGE_HOST
from .helpers import switch_tab, wait_until
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
from .make_run import register_lms_host, start_like_make_run

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    """`make run`'s server, for this module; ended (its whole process group) afterwards."""
    running = start_like_make_run(tmp_path_factory.mktemp("make-run"))
    try:
        # What Demo Academy's admin does in /admin/: register the LMS's host, let attempt
        # credentials open finished reports.
        assert PAGE_HOST in register_lms_host(running, PAGE_HOST)
        yield running
    finally:
        running.stop()
    assert running.process.poll() is not None


@pytest.fixture
def lms():
    site = start_lms_site(PAGE_HOST)
    yield site
    site.server.shutdown()
    site.server.server_close()


def _agree(page):
    page.get_by_role("button", name="I agree").click()


def test_moodle_quiz_plugin_call_sequence(page, lms, product):
    attempt = "moodle-41-u7"  # the plugin's test attempt id for quiz attempt 41
    params = {
        "clientId": product.keys["publishable_key"],
        "testAttemptId": attempt,
        # rule.php: base64_encode(hash_hmac('sha256', $attemptid, $client_secret, true)), with the signing key
        "hashedTestAttemptId": attempt_sign(
            secret_key=product.keys["attempt_signing_key"], attempt_id=attempt
        ),
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
    widget = f"{product.url}/widget.js"
    lms.pages["mod/quiz/view.php"] = render(MOODLE_VIEW, widget=widget, params=params)
    lms.pages["mod/quiz/attempt.php"] = MOODLE_ATTEMPT
    lms.pages["mod/quiz/summary.php"] = MOODLE_SUMMARY
    lms.pages["mod/quiz/review.php"] = render(MOODLE_REVIEW, widget=widget, params=params)

    page.goto(lms.url("mod/quiz/view.php?id=7"))
    page.check("#id_autoproctor_consent")
    page.click("#id_submitbutton")
    _agree(page)  # Proctorme's consent notice, before camera and microphone
    page.wait_for_function("window.lms.calls.includes('apMonitoringStarted')")
    assert page.evaluate("window.lms.loaderHidden") is True  # apProgressUpdate action "hide"
    assert page.evaluate("apInstance.isApTestStarted") is True
    frame = page.frame(name="ap-iframe")
    page.wait_for_function("window.lms.calls.includes('iframe:attempt.php')")
    session = product.session(attempt)
    assert session["assessment_external_id"] == "moodle-quiz-7"  # lookupKey
    assert session["status"] == "active"
    # attempt.php's load makes the plugin call its web service (a fetch: wait for it to arrive).
    wait_until(lambda: "lib/ajax/service.php" in [path for path, _ in lms.posts])
    assert any(
        path == "mod/quiz/startattempt.php" and "autoproctor_consent=1" in body for path, body in lms.posts
    )

    switch_tab(page, hidden=True)  # the candidate looks elsewhere during the attempt
    switch_tab(page, hidden=False)
    wait_until(lambda: "TAB_NOT_FOCUS" in product.flag_types(session["id"]))

    frame = page.frame(name="ap-iframe")
    frame.click("#finish-attempt")
    page.wait_for_function("window.lms.calls.includes('iframe:summary.php')")
    frame = page.frame(name="ap-iframe")
    frame.click("#frm-finishattempt button[type='submit']")
    frame.click("div.modal-footer > button.btn.btn-primary")  # the final submit
    page.wait_for_url("**/mod/quiz/review.php*")  # stopped first, then Moodle went on to review
    session = product.session(attempt)
    assert session["status"] != "active" and session["end_reason"] == "stopped"

    page.wait_for_function("window.reportResult !== undefined")
    assert page.evaluate("window.reportResult") == "loaded"
    assert page.locator("#ap-report__proctor tr[data-type=TAB_NOT_FOCUS]").count() >= 1
    assert "Ada Lovelace" in page.locator("#ap-report__overview").inner_text()


def test_wordpress_plugin_legacy_start_test_page_with_its_phone(page, browser, lms, product):
    attempt = "wp-attempt-0042"
    # autoproctor.php getHashedTestAttemptId(): hash('sha256', $test_attempt_id . $clientSecret)
    legacy_hash = hashlib.sha256((attempt + product.keys["attempt_signing_key"]).encode()).hexdigest()
    params = {
        "clientId": product.keys["publishable_key"],
        "testAttemptId": attempt,
        "hashedTestAttemptId": legacy_hash,
    }
    widget = f"{product.url}/widget.js"
    lms.pages["ap/start-test/2/"] = render(
        WORDPRESS_START_TEST, widget=widget, params=params, report_url=lms.url("ap/report/")
    )
    lms.pages["ap/report/"] = render(WORDPRESS_REPORT, widget=widget, params=params)

    page.goto(lms.url("ap/start-test/2/"))
    _agree(page)
    # The plugin's start-test page asks for the phone (auxiliaryDevice: true): the pairing QR code
    # and its link are shown and the label event fires; initAutoProctor waits for the phone.
    link = page.get_attribute("[data-proctorme=aux-pairing-url]", "href")
    page.wait_for_function("window.wp.calls.some(c => c.startsWith('aux-label:'))")
    label = next(c for c in page.evaluate("window.wp.calls") if c.startswith("aux-label:"))[
        len("aux-label:") :
    ]
    assert label in page.inner_text("[data-proctorme=aux-label]")
    assert "initAutoProctor" not in page.evaluate("window.wp.calls")

    phone_context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone_context.set_default_timeout(15_000)
    try:
        phone = phone_context.new_page()
        phone.goto(link)
        assert phone.inner_text("#aux-label") == label
        phone.click("#aux-start")
        page.wait_for_function("window.wp.calls.includes('aux-confirmed')")
        page.wait_for_function("window.wp.calls.includes('initAutoProctor')")
        assert page.evaluate(
            "window.wp.calls.indexOf('aux-confirmed') < window.wp.calls.indexOf('initAutoProctor')"
        )

        page.click("#testStart")
        page.wait_for_function("window.wp.calls.includes('apStartTest')")
        session = product.session(attempt)
        # Legacy tracking keys mapped onto today's: preventMultipleScreens → detectMultipleScreens, and so on.
        tracking = json.loads(session["config"])["tracking"]
        assert tracking["detectMultipleScreens"] is True and tracking["forceDesktop"] is True
        assert tracking["auxiliaryDevice"] is True
        wait_until(
            lambda: (
                product.rows(
                    "SELECT count(*) AS n FROM proctoring_mediachunk WHERE session_id = ? AND kind = 'aux'",
                    session["id"],
                )[0]["n"]
                >= 1
            ),
            timeout=20,
        )
        switch_tab(page, hidden=True)
        switch_tab(page, hidden=False)
        wait_until(lambda: "TAB_NOT_FOCUS" in product.flag_types(session["id"]))
        page.click("#testEnd")
        page.wait_for_function("window.wp.calls.includes('apStopMonitoring')")
    finally:
        phone_context.close()
    assert page.locator("#test-completed-ctr").is_visible()
    assert product.session(attempt)["end_reason"] == "stopped"
    assert [body for path, body in lms.posts if path == "wp-admin/admin-ajax.php"] == [
        f"action=mark_test_attempt_started&testAttemptLabel={attempt}",
        f"action=mark_test_attempt_finished&testAttemptLabel={attempt}",
    ]

    page.click("#report-url-ctr a")
    page.wait_for_function("window.reportResult !== undefined")
    assert page.evaluate("window.reportResult") == "loaded"
    assert page.locator("#ap-report__proctor tr[data-type=TAB_NOT_FOCUS]").count() >= 1
    assert "First Last" in page.locator("#ap-report__overview").inner_text()
    assert "Phone side view" in page.locator("#ap-report__overview").inner_text()
