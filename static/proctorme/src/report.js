/* global AP_EVIDENCE, AutoProctor, MESSAGES, SERVER, dispatch, el, fetchJson, serverError */
// =================================================================================================
// AutoProctor's showReport(reportOptions) / showResults(): one attempt's report in the page
// =================================================================================================
// The page needs a credential for the attempt: a report credential its server made
// (credentials.reportToken, or an rpt_… in hashedTestAttemptId), or — where the institution
// allows it — the attempt's own credentials once the attempt has ended (sessions/reports.py).
// Server data is only ever put into the page as text (textContent), never as HTML.
var AP_REPORT_DEFAULTS = {
  showProctoringOverview: true,
  proctoringOverviewDOMId: "ap-report__overview",
  showProctoringSummary: true,
  proctoringSummaryDOMId: "ap-report__proctor",
  showSessionRecording: true,
  sessionRecordingDOMId: "ap-report__session",
  groupReportsIntoTabs: false,
  tabContainerDOMId: "ap-report-tab-container",
  insertTestReportTab: false,
  testReportDOMId: "ap-report__test-results",
  showDownloadReportBtn: false,
  userDetails: null,
};
var AP_VIOLATION_NAMES = {
  FACE_ABSENCE: "No one looking at the camera",
  MULTIPLE_FACE: "More than one person",
  PERIODIC_SNAPSHOT: "Random photo",
  SOUND_DETECTED: "Audio above background level",
  TAB_NOT_FOCUS: "Switched to another tab or window",
  MULTIPLE_SCREENS: "Several monitors",
  EXIT_FULLSCREEN: "Left full screen",
  LOOKING_AWAY: "Looking away from the screen",
  FACE_MISMATCH: "A different person",
  CAMERA_BLOCKED: "Camera covered or dark",
  COPY_PASTE: "Copy, cut or paste",
  CONNECTION_LOST: "Connection lost",
  SUSPICIOUS_ACTIVITY: "Many kinds of violation",
  ID_CARD_MISMATCH: "Photo ID does not match",
  AUX_DISCONNECTED: "Phone side view stopped",
};

function serverUrl(url) {
  return url && url.charAt(0) === "/" ? SERVER + url : url;
}

function localTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

function reportTarget(id, tabs, label) {
  var node = document.getElementById(id);
  if (!node && tabs) {
    node = el("div", { id: id });
    tabs.panels.appendChild(node);
  }
  if (node && tabs) tabs.add(label, node);
  return node;
}

function makeTabs(container) {
  var bar = el("div", { class: "ap-report-tabs", role: "tablist" });
  var panels = el("div", { class: "ap-report-panels" });
  container.appendChild(bar);
  container.appendChild(panels);
  var entries = [];
  function select(index) {
    entries.forEach(function (entry, i) {
      entry.tab.setAttribute("aria-selected", String(i === index));
      entry.node.style.display = i === index ? "" : "none";
    });
  }
  return {
    panels: panels,
    add: function (label, node) {
      var tab = el("button", { type: "button", role: "tab", class: "ap-report-tab", text: label });
      var index = entries.length;
      tab.addEventListener("click", function () { select(index); });
      bar.appendChild(tab);
      if (node.parentNode !== panels) panels.appendChild(node);
      entries.push({ tab: tab, node: node });
      select(0);
    },
  };
}

function renderOverview(node, report, userDetails) {
  var name = (userDetails && userDetails.name) || report.candidate.name || "—";
  var email = (userDetails && userDetails.email) || report.candidate.email || "";
  var score = report.trustScore;
  var photo = report.candidate.photo;
  node.textContent = "";
  node.appendChild(
    el("div", { class: "ap-report-overview", "data-status": report.status }, [
      photo ? el("img", { class: "ap-report-photo", alt: "Candidate photo", src: serverUrl(photo.url), width: "160" }) : null,
      el("div", { class: "ap-report-name", text: name }),
      email ? el("div", { class: "ap-report-email", text: email }) : null,
      el("dl", {}, [
        el("dt", { text: "Test attempt" }),
        el("dd", { text: report.testAttemptId || report.sessionId }),
        el("dt", { text: "Started at" }),
        el("dd", { text: localTime(report.startedAt) }),
        el("dt", { text: "Submitted at" }),
        el("dd", { class: "ap-report-submitted", text: localTime(report.submittedAt) }),
        el("dt", { text: "Trust Score" }),
        el("dd", { class: "ap-report-trust-score", text: score === null || score === undefined ? "—" : Math.round(score) + " %" }),
      ]),
      score !== null && score !== undefined && score < 85
        ? el("p", { class: "ap-report-advice", text: "A Trust Score below 85 % means this attempt should be reviewed." })
        : null,
      renderIdCard(report.idCard),
      renderSideView(report.auxiliaryDevice),
    ])
  );
}

// idCardVerification: the card photo and whether its face matched the candidate's.
function renderIdCard(card) {
  if (!card) return null;
  var distance = typeof card.distance === "number" ? " (distance " + card.distance.toFixed(2) + ")" : "";
  return el("div", { class: "ap-report-idcard", "data-status": card.status }, [
    el("div", { class: "ap-report-idcard-status", text: "Photo ID: " + card.status + distance + ", " + card.attempts + " tries" }),
    card.image ? el("img", { class: "ap-report-idcard-image", alt: "Photo ID", src: serverUrl(card.image.url), width: "240" }) : null,
  ]);
}

// auxiliaryDevice: a few frames of the phone's side view and how often it dropped.
function renderSideView(aux) {
  if (!aux) return null;
  return el("div", { class: "ap-report-aux", "data-state": aux.state }, [
    el("div", { class: "ap-report-aux-status", text: "Phone side view: " + aux.frames + " frames, " + aux.disconnects + " disconnections" }),
    el("div", {}, aux.sideView.map(function (frame) {
      return el("img", { class: "ap-report-aux-frame", alt: "Side view " + localTime(frame.capturedAt), src: serverUrl(frame.url), width: "160", loading: "lazy" });
    })),
  ]);
}

function renderEvidence(evidence) {
  if (!evidence) return el("span", { text: "—" });
  var url = serverUrl(evidence.url);
  if ((evidence.contentType || "").indexOf("audio") === 0) return el("audio", { controls: "", src: url, preload: "none" });
  return el("a", { href: url, target: "_blank", rel: "noopener" }, [
    el("img", { class: "ap-report-evidence", alt: "Evidence", src: url, width: "120", loading: "lazy" }),
  ]);
}

function renderSummary(node, report) {
  node.textContent = "";
  if (!report.flags.length) {
    node.appendChild(el("p", { class: "ap-report-empty", text: report.status === "active" ? "The attempt is still running: no violations so far." : "No violations were found." }));
    return;
  }
  var rows = report.flags.map(function (flag) {
    return el("tr", { "data-type": flag.type }, [
      el("td", { text: localTime(flag.startedAt) }),
      el("td", { text: AP_VIOLATION_NAMES[flag.type] || flag.type }),
      el("td", { text: AP_EVIDENCE[flag.type] ? String(AP_EVIDENCE[flag.type]) : "" }),
      el("td", { text: flag.durationSeconds ? flag.durationSeconds.toFixed(0) + " s" : "" }),
      el("td", { text: flag.description }),
      el("td", {}, [renderEvidence(flag.evidence)]),
    ]);
  });
  var head = el("tr", {}, ["Time", "Violation", "Evidence code", "Duration", "Description", "Evidence"].map(function (label) {
    return el("th", { text: label });
  }));
  node.appendChild(el("table", { class: "ap-report-table" }, [el("thead", {}, [head]), el("tbody", {}, rows)]));
}

var RECORDING_LABELS = { camera: "Camera and sound", screen: "Shared screen" };

/** recordSession: one player per run; a run's parts, joined in order, are one WebM file. */
function renderRecording(node, report) {
  node.textContent = "";
  if (!report.recording) {
    node.appendChild(el("p", { class: "ap-report-no-recording", text: "No session recording for this attempt." }));
    return;
  }
  ["camera", "screen"].forEach(function (source) {
    (report.recording[source] || []).forEach(function (run) {
      var video = el("video", { class: "ap-report-recording", controls: "", preload: "metadata", playsinline: "", "data-source": source, width: "480" });
      Promise.all(run.parts.map(function (part) {
        return fetch(serverUrl(part.url), { credentials: "omit", cache: "no-store" }).then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.blob();
        });
      })).then(function (blobs) {
        video.src = URL.createObjectURL(new Blob(blobs, { type: "video/webm" }));
        video.setAttribute("data-joined", String(blobs.length));
      }, function () {
        video.setAttribute("data-joined", "failed");
      });
      node.appendChild(el("figure", { class: "ap-report-recording-track" }, [
        video,
        el("figcaption", { text: RECORDING_LABELS[source] + " · " + localTime(run.startedAt) + " · " + Math.round(run.durationSeconds) + " s" }),
      ]));
    });
  });
}

function downloadButton(report, nodes) {
  var button = el("button", { type: "button", class: "ap-report-download", text: "Download report" });
  button.addEventListener("click", function () {
    var html = "<!doctype html><meta charset=utf-8><title>Proctoring report</title>" + nodes.map(function (node) { return node.outerHTML; }).join("");
    var link = el("a", { href: URL.createObjectURL(new Blob([html], { type: "text/html" })), download: "proctoring-report-" + (report.testAttemptId || report.sessionId) + ".html" });
    link.click();
  });
  return button;
}

AutoProctor.prototype.showReport = function (reportOptions) {
  var self = this;
  var options = Object.assign({}, AP_REPORT_DEFAULTS, reportOptions || {});
  var userDetails = options.userDetails || (this.options && this.options.userDetails) || null;
  return fetchJson(SERVER + "/widget/v1/report", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ credentials: this.credentials }),
  }).then(function (result) {
    if (!result.ok) throw serverError(result);
    var report = result.body;
    var tabs = null;
    if (options.groupReportsIntoTabs) {
      var container = document.getElementById(options.tabContainerDOMId);
      if (container) tabs = makeTabs(container);
    }
    var rendered = [];
    if (options.showProctoringOverview) {
      var overview = reportTarget(options.proctoringOverviewDOMId, null);
      if (overview) { renderOverview(overview, report, userDetails); rendered.push(overview); }
    }
    if (options.showProctoringSummary) {
      var summary = reportTarget(options.proctoringSummaryDOMId, tabs, "Proctoring Summary");
      if (summary) { renderSummary(summary, report); rendered.push(summary); }
    }
    if (options.showSessionRecording) {
      var recording = reportTarget(options.sessionRecordingDOMId, tabs, "Session Recording");
      if (recording) { renderRecording(recording, report); rendered.push(recording); }
    }
    if (options.insertTestReportTab && tabs) {
      var own = document.getElementById(options.testReportDOMId);
      if (own) tabs.add("Test Report", own);
    }
    if (options.showDownloadReportBtn && rendered.length) rendered[0].appendChild(downloadButton(report, rendered.slice()));
    dispatch("apReportLoaded", { testAttemptId: report.testAttemptId, sessionId: report.sessionId });
    return report;
  }).catch(function (error) {
    if (error.code === "INVALID_REPORT_CREDENTIAL" || error.code === "REPORT_NOT_AVAILABLE") {
      var target = document.getElementById(options.proctoringSummaryDOMId);
      if (target) target.textContent = MESSAGES[error.code];
    }
    throw self._error(error);
  });
};

/** The proctoring results of the attempt: showReport() with its default options. */
AutoProctor.prototype.showResults = function (reportOptions) {
  return this.showReport(reportOptions);
};
