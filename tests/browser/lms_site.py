"""Minimal stand-ins of the LMS pages AutoProctor's own plugins run in.

Written from reading the plugins, not copied from them:

* Moodle: socrateasehq/moodle-quizaccess_autoproctor, amd/src/proctoring.js at
  660e69a3c2f303d4f1787c9b4ff50289b21b0745 (v0.3, 2026-04-27) — the preflight
  form, the attempt loaded into an iframe, the summary page's finish form and
  confirmation modal, and the review page that calls showReport().
* WordPress: socrateasehq/autoproctor-wordpress-plugin,
  includes/frontend/start-test.php at 89230f1 (the legacy initAutoProctor API)
  and includes/frontend/report.php at b9f80c5c7d2e6061ea93b68008e364c30d45d0e7.

The pages replay the plugins' calls to the SDK in their order and with their
arguments; the LMS around them (PHP, jQuery, Moodle's AMD loader) is reduced
to plain DOM. A tiny server answers GET from a dict of pages and POST (the
preflight form, admin-ajax.php) with what the LMS would.
"""

from __future__ import annotations

import http.server
import json
import socket
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class LmsSite:
    base: str
    pages: dict[str, str] = field(default_factory=dict)
    posts: list[tuple[str, str]] = field(default_factory=list)
    server: http.server.ThreadingHTTPServer | None = None

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"


def start_lms_site(host: str) -> LmsSite:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    site = LmsSite(base=f"http://{host}:{port}")

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - stdlib signature
            pass

        def _send(self, status: int, body: str = "", content_type="text/html; charset=utf-8", **headers):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            page = site.pages.get(urlsplit(self.path).path.lstrip("/"))
            if page is None:
                self._send(404, "not found", "text/plain")
            else:
                self._send(200, page)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            path = urlsplit(self.path).path.lstrip("/")
            site.posts.append((path, body))
            if path == "mod/quiz/startattempt.php":
                # Moodle starts the attempt and redirects to its first page.
                self._send(303, "", Location="/mod/quiz/attempt.php?attempt=41&cmid=7")
            else:  # admin-ajax.php and Moodle's web services
                self._send(200, json.dumps({"success": True}), "application/json")

    site.server = http.server.ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=site.server.serve_forever, name="lms-site", daemon=True).start()
    return site


# --- Moodle -------------------------------------------------------------------------------------

MOODLE_VIEW = """<!doctype html><meta charset="utf-8"><title>Quiz: Algebra</title>
<div id="page-wrapper"><div id="page-content">
  <h1>Algebra quiz</h1>
  <form id="mod_quiz_preflight_form" action="/mod/quiz/startattempt.php" method="post">
    <label><input type="checkbox" name="autoproctor_consent" value="1" id="id_autoproctor_consent">
      I agree to be proctored by AutoProctor</label>
    <input type="hidden" name="cmid" value="7">
    <div class="felement"><div class="aptw-flex">
      <input type="submit" id="id_submitbutton" value="Start attempt">
      <button type="button" id="id_cancel">Cancel</button>
    </div></div>
  </form>
</div></div>
<div id="ap-iframe-loader"><div id="pre-loader-text">Loading…</div><div id="ap-progress-text" style="display:none"></div></div>
<script src="{widget}"></script>
<script>
  // quizaccess_autoproctor/proctoring init(clientId, hashedTestAttemptId, testAttemptId,
  // trackingOptions, cmid, lookupKey, apDomain, apEnv, userDetails), as rule.php passes them.
  window.lms = {{calls: [], loaderHidden: false}};
  var P = {params};
  var credentials = {{clientId: P.clientId, testAttemptId: P.testAttemptId, hashedTestAttemptId: P.hashedTestAttemptId,
                      domain: P.apDomain || "https://autoproctor.co", environment: P.apEnv || "production"}};
  var apInstance = new window.AutoProctor(credentials);
  var proctoringInProgress = false;
  var isPreflightFormSubmitted = false;
  var iframe = document.createElement("iframe");
  iframe.name = "ap-iframe"; iframe.id = "ap-iframe"; iframe.style.cssText = "width:100%;height:600px;display:none";
  document.body.append(iframe);
  window.addEventListener("apProgressUpdate", function (e) {{
    if (e.detail.action === "hide") {{ window.lms.loaderHidden = true; return; }}
    document.getElementById("ap-progress-text").style.display = "block";
    document.getElementById("pre-loader-text").style.display = "none";
    document.getElementById("ap-progress-text").textContent = e.detail.percentage + "%";
  }});
  function proctoringOptions() {{
    var options = {{trackingOptions: P.trackingOptions, showHowToVideo: false, lookupKey: P.lookupKey,
                    testContainerId: "page-content", alertBeforeUnload: false}};
    if (P.userDetails) options.userDetails = P.userDetails;
    return options;
  }}
  function fileOf(url) {{ return new URL(url).pathname.split("/").pop(); }}
  function waitForElement(selector, callback) {{
    var timer = setInterval(function () {{
      var found = iframe.contentWindow && iframe.contentWindow.document.querySelector(selector);
      if (found) {{ clearInterval(timer); callback(found); }}
    }}, 200);
  }}
  function onIframeUrl(url) {{
    var file = fileOf(url);
    window.lms.calls.push("iframe:" + file);
    if (file === "summary.php") {{
      waitForElement("#frm-finishattempt button[type='submit']", function (finish) {{
        finish.addEventListener("click", function () {{
          waitForElement("div.modal-footer > button.btn.btn-primary", function (submit) {{
            submit.addEventListener("click", async function (e) {{
              if (proctoringInProgress) {{
                e.preventDefault();
                e.stopPropagation();
                window.lms.calls.push("stop");
                await apInstance.stop();
                window.addEventListener("apMonitoringStopped", function () {{
                  proctoringInProgress = false;
                  submit.click();
                }});
              }}
            }});
          }});
        }});
      }});
      return;
    }}
    if (file === "review.php" && proctoringInProgress) {{
      apInstance.stop().then(function () {{
        window.addEventListener("apMonitoringStopped", function () {{ proctoringInProgress = false; location.href = url; }});
      }});
      return;
    }}
    if (file === "attempt.php") {{
      // quizaccess_autoproctor_create_session (Moodle web service): the plugin's own bookkeeping.
      fetch("/lib/ajax/service.php", {{method: "POST", body: JSON.stringify({{methodname: "quizaccess_autoproctor_create_session",
        args: {{attemptid: 41, test_attempt_id: P.testAttemptId, tracking_options: JSON.stringify(P.trackingOptions)}}}})}});
      return;
    }}
    location.href = url;
  }}
  iframe.addEventListener("load", function () {{
    if (iframe.contentWindow.location.href !== "about:blank") onIframeUrl(iframe.contentWindow.location.href);
  }});
  var form = document.getElementById("mod_quiz_preflight_form");
  form.addEventListener("submit", async function (e) {{
    e.preventDefault();
    if (isPreflightFormSubmitted) return;
    isPreflightFormSubmitted = true;
    var formData = new URLSearchParams(new FormData(form)).toString();
    if (formData.indexOf("autoproctor_consent=1") === -1) return;
    form.querySelector("#id_cancel").click();
    window.lms.calls.push("setup");
    await apInstance.setup(proctoringOptions());
    window.lms.calls.push("start");
    await apInstance.start();
    window.addEventListener("apMonitoringStarted", function () {{
      proctoringInProgress = true;
      window.lms.calls.push("apMonitoringStarted");
      fetch(form.action, {{method: "POST", body: formData, headers: {{"Content-Type": "application/x-www-form-urlencoded"}}}})
        .then(function () {{
          form.setAttribute("target", "ap-iframe");
          HTMLFormElement.prototype.submit.call(form);
          iframe.style.display = "block";
          var wrapper = document.getElementById("page-content");
          wrapper.querySelector("h1").textContent = "Attempt in progress";
          form.remove();
        }});
    }});
  }});
</script>"""

MOODLE_ATTEMPT = """<!doctype html><meta charset="utf-8"><title>Attempt</title>
<div id="question-1"><p>What is 2 + 2?</p><input name="q1" value="4"></div>
<a id="finish-attempt" href="/mod/quiz/summary.php?attempt=41">Finish attempt …</a>"""

MOODLE_SUMMARY = """<!doctype html><meta charset="utf-8"><title>Summary</title>
<form id="frm-finishattempt" action="/mod/quiz/processattempt.php" method="post">
  <button type="submit">Submit all and finish</button>
</form>
<div id="modal" style="display:none"><div class="modal-footer">
  <button type="button" class="btn btn-secondary">Cancel</button>
  <button type="button" class="btn btn-primary">Submit all and finish</button>
</div></div>
<script>
  // Moodle asks for confirmation in a modal; its button submits (delegated handler, as Moodle's).
  document.querySelector("#frm-finishattempt button").addEventListener("click", function (e) {
    e.preventDefault();
    document.getElementById("modal").style.display = "block";
  });
  document.addEventListener("click", function (e) {
    if (e.target.matches("div.modal-footer > button.btn.btn-primary") && !e.defaultPrevented) {
      location.href = "/mod/quiz/review.php?attempt=41";
    }
  });
</script>"""

MOODLE_REVIEW = """<!doctype html><meta charset="utf-8"><title>Review</title>
<div id="region-main">
  <div class="mb-3"><table class="quizreviewsummary"><tr><th>State</th><td>Finished</td></tr></table></div>
  <div id="question-1">What is 2 + 2? <b>4</b></div>
  <div id="ap-report-content">
    <div id="ap-report__overview"></div>
    <div id="ap-report__proctor"></div>
  </div>
  <div id="ap-report__session"></div>
</div>
<script src="{widget}"></script>
<script>
  // loadReport(clientId, hashedTestAttemptId, testAttemptId, apDomain, apEnv, userDetails)
  var P = {params};
  var credentials = {{clientId: P.clientId, testAttemptId: P.testAttemptId, hashedTestAttemptId: P.hashedTestAttemptId,
                      domain: P.apDomain || "https://autoproctor.co", environment: P.apEnv || "production"}};
  var options = {{showProctoringOverview: true, showProctoringSummary: true, showSessionRecording: true,
                  proctoringSummaryDOMId: "ap-report__proctor", proctoringOverviewDOMId: "ap-report__overview",
                  sessionRecordingDOMId: "ap-report__session", groupReportsIntoTabs: false, showDownloadReportBtn: true}};
  if (P.userDetails) options.userDetails = P.userDetails;
  window.reportResult = new window.AutoProctor(credentials).showReport(options)
    .then(function () {{ return "loaded"; }}, function (e) {{ return e.code; }});
</script>"""


# --- WordPress (legacy API) ---------------------------------------------------------------------

WORDPRESS_START_TEST = """<!doctype html><meta charset="utf-8"><title>AutoProctor Test</title>
<button id="testStart">Start Test</button> <button id="testEnd" disabled>End Test</button>
<button id="testReload">Reload</button> <span id="ap-test-proctoring-status"></span>
<div id="testLabel" style="display:none"></div>
<div id="ap-test-ctr-main" style="display:none"><p>Question 1 …</p></div>
<div id="test-completed-ctr" style="display:none"><h1>Test Completed</h1>
  <p id="report-url-ctr"><a href="{report_url}">View Report</a></p></div>
<script defer src="{widget}"></script>
<script>
  window.wp = {{calls: []}};
  function ajax(action, label) {{
    fetch("/wp-admin/admin-ajax.php", {{method: "POST", body: "action=" + action + "&testAttemptLabel=" + label,
      headers: {{"Content-Type": "application/x-www-form-urlencoded"}}}});
  }}
  window.addEventListener("load", function () {{
    var P = {params};
    var apSettings = {{
      tenantId: P.clientId, testAttemptId: P.testAttemptId, hashedTestAttemptId: P.hashedTestAttemptId,
      trackingOptions: {{audio: true, numHumans: true, tabSwitch: true, captureSwitchedTab: true, photosAtRandom: true,
        numPhotosAtRandom: 5, recordSession: true, preventMultipleScreens: true, testTakerPhoto: true,
        forceCaptureSwitchedTab: true, forcePreventMultipleScreens: true, forceFullScreen: false, previewVideo: false,
        forceDesktop: true, showCamPreview: false, auxiliaryDevice: true}},
      restrictConsole: false, evidencePushInterval: 5, auxiliaryDeviceRandomPhotoPushInterval: 10,
      userDetails: {{}}, testDuration: 60, domain: "https://autoproctor.co/", showHowToVideo: false
    }};
    async function init() {{
      try {{
        var autoProctorTest = await initAutoProctor(apSettings);
        window.wp.calls.push("initAutoProctor");
        document.getElementById("testStart").addEventListener("click", function () {{ autoProctorTest.start(); }});
        document.getElementById("testEnd").addEventListener("click", function () {{ autoProctorTest.stop(); }});
        window.addEventListener("apStartTest", function () {{
          window.wp.calls.push("apStartTest");
          ajax("mark_test_attempt_started", P.testAttemptId);
          document.getElementById("ap-test-ctr-main").style.display = "block";
          document.getElementById("testEnd").disabled = false;
          document.getElementById("testStart").disabled = true;
          document.getElementById("ap-test-proctoring-status").textContent = "Proctoring...";
        }});
        window.addEventListener("apStopMonitoring", function () {{
          window.wp.calls.push("apStopMonitoring");
          document.getElementById("ap-test-ctr-main").style.display = "none";
          document.getElementById("test-completed-ctr").style.display = "block";
          ajax("mark_test_attempt_finished", P.testAttemptId);
        }});
      }} catch (err) {{ window.wp.calls.push("error:" + (err && err.code)); }}
    }}
    init();
  }});
  // The plugin shows e.detail.auxDeviceLabel when its test label is clicked.
  window.addEventListener("auxDeviceTestAttemptLabelGenerated", function (e) {{ window.wp.calls.push("aux-label:" + e.detail.auxDeviceLabel); }});
  window.addEventListener("auxDeviceConfirmed", function () {{ window.wp.calls.push("aux-confirmed"); }});
</script>"""

WORDPRESS_REPORT = """<!doctype html><meta charset="utf-8"><title>Proctor Summary</title>
<h1>Proctor Summary</h1><div id="ap-report__overview"></div><div id="ap-report__proctor"></div>
<script defer src="{widget}"></script>
<script>
  window.addEventListener("load", async function () {{
    var P = {params};
    var credentials = {{clientId: P.clientId, testAttemptId: P.testAttemptId, hashedTestAttemptId: P.hashedTestAttemptId,
                        domain: "https://autoproctor.co/"}};
    var apInst = new AutoProctor(credentials);
    window.reportResult = apInst.showReport({{showProctoringOverview: true, showProctoringSummary: true,
      showDownloadReportBtn: true, proctoringSummaryDOMId: "ap-report__proctor", proctoringOverviewDOMId: "ap-report__overview",
      groupReportsIntoTabs: false, insertTestReportTab: false, userDetails: {{name: "First Last", email: "user@gmail.co"}}}})
      .then(function () {{ return "loaded"; }}, function (e) {{ return e.code; }});
  }});
</script>"""


def render(template: str, *, widget: str, params: dict, **extra) -> str:
    return template.format(widget=widget, params=json.dumps(params), **extra)
