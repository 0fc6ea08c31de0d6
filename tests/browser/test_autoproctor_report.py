"""AutoProctor's isApTestStarted, apProgressUpdate show/hide and showReport() in real Chromium."""

from __future__ import annotations

import json
import uuid

import pytest

from .helpers import retry_locked, session_for, switch_tab, wait_for_event, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("failure_report")]

REPORT_PAGE = """<!doctype html><meta charset="utf-8"><title>Report</title>
<div id="ap-report__overview"></div><div id="ap-report__proctor"></div><div id="ap-report__session"></div>
<script src="{widget}"></script>
<script>
  window.reportEvents = [];
  ["apReportLoaded", "apErrorEvent"].forEach(function (name) {{
    window.addEventListener(name, function (e) {{ window.reportEvents.push({{type: name, detail: e.detail}}); }});
  }});
  window.reportDone = new AutoProctor({credentials}).showReport({{
    showProctoringOverview: true, showProctoringSummary: true, showSessionRecording: true,
    userDetails: {{name: "Grace Hopper", email: "grace@example.edu"}}
  }}).then(function () {{ return "loaded"; }}, function (e) {{ return e.code; }});
</script>"""


def _report_page(pages_root, site_urls, proctorme_url, credentials: dict) -> str:
    from .conftest import PAGE_HOST

    name = f"report-{uuid.uuid4().hex[:8]}.html"
    html = REPORT_PAGE.format(widget=f"{proctorme_url}/widget.js", credentials=json.dumps(credentials))
    (pages_root / name).write_text(html, encoding="utf-8")
    return f"{site_urls[PAGE_HOST]}/{name}"


def test_attempt_lifecycle_properties_and_the_report_behind_its_credentials(
    page, context, exam_page, school, pages_root, site_urls, proctorme_url
):
    from sessions.models import Flag
    from sessions.reports import report_credential_make

    exam = exam_page("autoproctor", query="consent=accepted&autostart=1")
    page.goto(exam.url)
    assert page.evaluate("window.demoWidget.isApTestStarted") is False
    wait_for_event(page, "apMonitoringStarted")
    assert page.evaluate("window.demoWidget.isApTestStarted") is True
    assert page.evaluate("window.demoWidget.setupState") == "ready"
    actions = [e["payload"]["action"] for e in wait_for_event(page, "apProgressUpdate")]
    assert actions[-1] == "hide" and set(actions[:-1]) == {"show"} and actions.count("hide") == 1
    assert wait_for_event(page, "apBrowserDependencyCheckPassed")[0]["payload"]["successCode"] == 2001
    switch_tab(page, hidden=True)
    switch_tab(page, hidden=False)
    session = session_for(exam)
    wait_until(lambda: Flag.objects.filter(session=session, type="TAB_NOT_FOCUS").exists())
    page.evaluate("window.demoWidget.stop()")
    wait_for_event(page, "apMonitoringStopped")
    assert page.evaluate("window.demoWidget.isApTestStarted") is False
    wait_until(lambda: session.__class__.objects.filter(pk=session.pk, score_final=True).exists(), timeout=30)
    session.refresh_from_db()

    attempt = exam.context["test_attempt_id"]
    token, _ = report_credential_make(session=session)
    viewer = context.new_page()

    # The integrator's report page with the credential its server made: the report.
    viewer.goto(
        _report_page(
            pages_root,
            site_urls,
            proctorme_url,
            {"clientId": school.publishable_key, "testAttemptId": attempt, "reportToken": token},
        )
    )
    assert viewer.evaluate("window.reportDone") == "loaded"
    rows = viewer.locator("#ap-report__proctor tr[data-type]")
    assert rows.count() >= 1 and "TAB_NOT_FOCUS" in viewer.locator(
        "#ap-report__proctor tr[data-type]"
    ).evaluate_all("rows => rows.map(r => r.dataset.type)")
    assert "5005" in viewer.locator("#ap-report__proctor").inner_text()
    assert "Grace Hopper" in viewer.locator("#ap-report__overview").inner_text()
    assert viewer.locator(".ap-report-trust-score").inner_text() == f"{round(session.trust_score)} %"
    assert "No session recording" in viewer.locator("#ap-report__session").inner_text()

    # The candidate's start credentials (the institution did not allow attempt credentials): nothing.
    start_credentials = {
        "clientId": school.publishable_key,
        "testAttemptId": attempt,
        "hashedTestAttemptId": exam.context["hashed_test_attempt_id"],
    }
    viewer.goto(_report_page(pages_root, site_urls, proctorme_url, start_credentials))
    assert viewer.evaluate("window.reportDone") == "REPORT_NOT_AVAILABLE"
    assert viewer.locator("#ap-report__proctor tr").count() == 0
    assert viewer.locator("#ap-report__overview").inner_text() == ""
    assert viewer.evaluate("window.reportEvents[0].detail.errorCode") == 4111

    # Another attempt's credential, presented for this attempt: nothing.
    other = exam_page("autoproctor")
    from sessions.models import ProctoringSession

    other_session = retry_locked(
        lambda: ProctoringSession.objects.create(
            institution=school.institution,
            assessment=session.assessment,
            candidate=session.candidate,
            attempt_id=f"ap:{other.context['test_attempt_id']}",
            dialect="autoproctor",
            config={"testAttemptId": other.context["test_attempt_id"]},
        )
    )
    other_token, _ = report_credential_make(session=other_session)
    viewer.goto(
        _report_page(
            pages_root,
            site_urls,
            proctorme_url,
            {"clientId": school.publishable_key, "testAttemptId": attempt, "reportToken": other_token},
        )
    )
    assert viewer.evaluate("window.reportDone") == "INVALID_REPORT_CREDENTIAL"
    assert viewer.locator("#ap-report__proctor tr").count() == 0

    # With the institution's switch on, the attempt's own credentials open the finished attempt.
    school.institution.attempt_credentials_open_report = True
    retry_locked(lambda: school.institution.save(update_fields=["attempt_credentials_open_report"]))
    viewer.goto(_report_page(pages_root, site_urls, proctorme_url, start_credentials))
    assert viewer.evaluate("window.reportDone") == "loaded"
    assert viewer.locator("#ap-report__proctor tr[data-type=TAB_NOT_FOCUS]").count() >= 1
