/* global MESSAGES, ProctorCore, ProctormeError, SCRIPT, SERVER, acquireMedia, browserProblem, localeDirection, localeFor, nowIso, translate */
// ---------------------------------------------------------------------------------------------
// Styles and candidate-facing UI (consent, status badge, camera preview, error message)
// ---------------------------------------------------------------------------------------------
var WIDGET_CSS = [
  ".pm-root{all:initial;display:block;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2933;box-sizing:border-box}",
  ".pm-root *{box-sizing:border-box;font:inherit}",
  ".pm-root.pm-fixed{position:fixed;right:16px;bottom:16px;z-index:2147483000;width:232px}",
  ".pm-root.pm-fixed[dir=rtl]{right:auto;left:16px}",
  ".pm-card{background:#fff;border:1px solid #d5dbe3;border-radius:12px;box-shadow:0 6px 24px rgba(15,23,42,.14);padding:10px 12px;display:flex;flex-direction:column;gap:8px}",
  ".pm-root.pm-inline .pm-card{box-shadow:none}",
  ".pm-head{display:flex;align-items:center;justify-content:space-between;gap:6px 8px;flex-wrap:wrap}",
  ".pm-brand{font-size:12px;font-weight:600;color:#52606d;letter-spacing:.02em}",
  ".pm-badge{display:inline-flex;align-items:center;gap:6px;border-radius:999px;padding:2px 10px;font-size:12px;font-weight:600;background:#eef2f7;color:#334155;max-width:100%}",
  ".pm-dot{width:8px;height:8px;border-radius:50%;background:#94a3b8;flex:none}",
  ".pm-badge[data-state=connecting] .pm-dot{background:#f59e0b;animation:pm-pulse 1.2s infinite}",
  ".pm-badge[data-state=monitoring]{background:#e7f6ec;color:#166534}",
  ".pm-badge[data-state=monitoring] .pm-dot{background:#16a34a}",
  ".pm-badge[data-state=offline]{background:#fdf3e1;color:#92400e}",
  ".pm-badge[data-state=offline] .pm-dot{background:#f59e0b;animation:pm-pulse 1.2s infinite}",
  ".pm-badge[data-state=ended]{background:#eef2f7;color:#475569}",
  ".pm-badge[data-state=error]{background:#fde8e8;color:#9b1c1c}",
  ".pm-badge[data-state=error] .pm-dot{background:#dc2626}",
  "@keyframes pm-pulse{50%{opacity:.35}}",
  "@media (prefers-reduced-motion:reduce){.pm-dot{animation:none!important}}",
  ".pm-preview{width:100%;aspect-ratio:4/3;background:#0f172a;border-radius:8px;object-fit:cover;transform:scaleX(-1);display:block}",
  ".pm-error{margin:0;padding:8px 10px;border-radius:8px;background:#fde8e8;color:#9b1c1c;font-size:13px}",
  ".pm-note{margin:0;font-size:12px;color:#52606d}",
  ".pm-badge[data-state=paused]{background:#e8eefc;color:#1e3a8a}",
  ".pm-badge[data-state=paused] .pm-dot{background:#3b82f6}",
  ".pm-warning{margin:0;padding:8px 10px;border-radius:8px;background:#fdf3e1;color:#7c2d12;font-size:13px;font-weight:600}",
  ".pm-message{margin:0;padding:10px;border-radius:8px;background:#eef4ff;border:1px solid #bfd3fb;display:flex;flex-direction:column;gap:6px}",
  ".pm-message p{margin:0}",
  ".pm-message-title{font-size:12px;font-weight:700;color:#1e3a8a}",
  ".pm-message-text{font-size:14px;white-space:pre-wrap;overflow-wrap:anywhere}",
  ".pm-overlay{all:initial;position:fixed;inset:0;z-index:2147483001;background:rgba(15,23,42,.6);display:flex;align-items:center;justify-content:center;padding:16px;font:14px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2933}",
  ".pm-overlay *{box-sizing:border-box;font:inherit}",
  ".pm-dialog{background:#fff;border-radius:14px;max-width:540px;width:100%;max-height:calc(100vh - 32px);overflow:auto;padding:24px 26px;box-shadow:0 20px 60px rgba(0,0,0,.3)}",
  ".pm-dialog h2{font-size:20px;font-weight:700;margin:0 0 6px;color:#111827}",
  ".pm-dialog p{margin:0 0 10px}",
  ".pm-dialog ul{margin:0 0 12px;padding-inline-start:20px}",
  ".pm-dialog li{margin:3px 0}",
  ".pm-dialog strong{font-weight:650}",
  ".pm-dialog h2:focus{outline:none}",
  ".pm-actions{display:flex;gap:10px;justify-content:flex-end;margin-top:18px;flex-wrap:wrap}",
  ".pm-btn{cursor:pointer;border-radius:8px;padding:9px 16px;font-weight:600;border:1px solid #cbd2d9;background:#fff;color:#1f2933}",
  ".pm-btn-primary{background:#1d4ed8;border-color:#1d4ed8;color:#fff}",
  ".pm-btn:hover{filter:brightness(.96)}",
  ".pm-btn:focus-visible,.pm-dialog h2:focus-visible{outline:3px solid #93c5fd;outline-offset:2px}",
].join("\n");

// Constructable stylesheets are not inline styles, so a page's strict style-src (no
// 'unsafe-inline') does not block them; older browsers get a <style> carrying the nonce of
// the widget's own <script> tag (or data-proctorme-nonce), which such a policy allows.
function injectStyles() {
  if (injectStyles.done) return;
  injectStyles.done = true;
  if (window.CSSStyleSheet && "adoptedStyleSheets" in document) {
    try {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(WIDGET_CSS);
      document.adoptedStyleSheets = document.adoptedStyleSheets.concat([sheet]);
      return;
    } catch (e) { /* fall back to a <style> element */ }
  }
  var style = document.createElement("style");
  style.id = "proctorme-widget-styles";
  var nonce = SCRIPT && (SCRIPT.nonce || SCRIPT.getAttribute("data-proctorme-nonce"));
  if (nonce) style.setAttribute("nonce", nonce);
  style.textContent = WIDGET_CSS;
  (document.head || document.documentElement).appendChild(style);
}

function el(tag, attrs, children) {
  var node = document.createElement(tag);
  if (attrs) {
    for (var key in attrs) {
      if (key === "text") node.textContent = attrs[key];
      else if (attrs[key] !== undefined && attrs[key] !== null) node.setAttribute(key, attrs[key]);
    }
  }
  (children || []).forEach(function (child) { if (child) node.appendChild(child); });
  return node;
}

var uid = 0;

function WidgetUI(options) {
  injectStyles();
  this.options = options;
  this.locale = localeFor(options.locale);
  var host = options.containerId ? document.getElementById(options.containerId) : null;
  this.inline = Boolean(host) && options.inline;
  this.host = host || document.body;
  this.badge = el("span", { class: "pm-badge", "data-state": "idle" }, [el("span", { class: "pm-dot", "aria-hidden": "true" }), el("span", { class: "pm-badge-text", text: this.t("badge.idle") })]);
  this.status = el("div", { role: "status", "aria-live": "polite", "aria-atomic": "true" }, [this.badge]);
  this.errorBox = el("p", { class: "pm-error", role: "alert", hidden: "" });
  this.note = el("p", { class: "pm-note", hidden: "" });
  this.card = el("div", { class: "pm-card" }, [
    el("div", { class: "pm-head" }, [el("span", { class: "pm-brand", text: "Proctorme" }), this.status]),
    this.note,
    this.errorBox,
  ]);
  this.root = el("section", this.langAttrs({ class: "pm-root " + (this.inline ? "pm-inline" : "pm-fixed"), "aria-label": this.t("ui.region"), "data-proctorme": "widget" }), [this.card]);
  this.host.appendChild(this.root);
}

WidgetUI.prototype.t = function (key, params) {
  return translate(this.locale, key, params);
};

/** lang and dir on each element the widget adds to the page, which may be in another language. */
WidgetUI.prototype.langAttrs = function (attrs) {
  attrs.lang = this.locale;
  attrs.dir = localeDirection(this.locale);
  return attrs;
};

/** An error's text for the candidate: ours in their language, else the error's own message. */
WidgetUI.prototype.errorText = function (error) {
  if (error.code === "INVALID_CONFIG" || !MESSAGES[error.code]) return error.message;
  return this.t("error." + error.code);
};

/** textKey: a "status.*" key of i18n.js for a note beside the state, else the state's own text. */
WidgetUI.prototype.setState = function (state, textKey) {
  this.badge.setAttribute("data-state", state);
  this.badge.querySelector(".pm-badge-text").textContent = this.t(textKey ? "status." + textKey : "badge." + state);
  this.root.setAttribute("data-state", state);
};

WidgetUI.prototype.setNote = function (text) {
  this.note.textContent = text || "";
  if (text) this.note.removeAttribute("hidden");
  else this.note.setAttribute("hidden", "");
};

WidgetUI.prototype.showError = function (message) {
  this.errorBox.textContent = message || "";
  if (message) this.errorBox.removeAttribute("hidden");
  else this.errorBox.setAttribute("hidden", "");
};

WidgetUI.prototype.showPreview = function (stream) {
  if (!this.preview) {
    this.preview = el("video", { class: "pm-preview", muted: "", playsinline: "", autoplay: "", "aria-label": this.t("ui.camera") });
    this.preview.muted = true;
    this.card.insertBefore(this.preview, this.note);
  }
  this.preview.srcObject = stream;
  var playing = this.preview.play();
  if (playing && playing.catch) playing.catch(function () {});
};

WidgetUI.prototype.hidePreview = function () {
  if (this.preview) {
    this.preview.srcObject = null;
    this.preview.remove();
    this.preview = null;
  }
};

// Full screen only shows the full-screen element's subtree: keep our UI inside it.
WidgetUI.prototype.followFullscreen = function () {
  var parent = this.inline ? this.host : document.fullscreenElement || this.host;
  if (this.root.parentNode !== parent) parent.appendChild(this.root);
};

WidgetUI.prototype.destroy = function () {
  this.hidePreview();
  if (this.root.parentNode) this.root.parentNode.removeChild(this.root);
  if (this.consentOverlay && this.consentOverlay.parentNode) this.consentOverlay.parentNode.removeChild(this.consentOverlay);
};

/**
 * The consent notice: a modal dialog that must be accepted before the camera or microphone
 * is touched. Keyboard-accessible (Tab stays inside, Enter/Space on the buttons), focus goes
 * to the dialog title and returns to where it was afterwards.
 */
WidgetUI.prototype.askConsent = function (info) {
  var self = this;
  return new Promise(function (resolve) {
    var n = ++uid;
    var previouslyFocused = document.activeElement;
    var titleId = "pm-consent-title-" + n;
    var bodyId = "pm-consent-body-" + n;
    var t = function (key, params) { return self.t(key, params); };
    var institution = info.institution || t("consent.yourInstitution");
    var captured = [];
    if (info.camera) captured.push(t("consent.camera"));
    if (info.microphone) captured.push(t("consent.microphone"));
    captured.push(t("consent.browser"));
    if (info.screen) captured.push(t("consent.screen"));
    if (info.recording) captured.push(t("consent.recording"));
    var retention = info.retentionDays
      ? t("consent.retentionDays", { days: info.retentionDays })
      : t("consent.retentionPolicy", { institution: institution });
    var exam = info.title ? t("consent.namedExam", { title: info.title }) : t("consent.thisExam");
    var title = el("h2", { id: titleId, tabindex: "-1", text: t("consent.title") });
    var accept = el("button", { type: "button", class: "pm-btn pm-btn-primary", "data-proctorme": "consent-accept", text: t("consent.accept") });
    var decline = el("button", { type: "button", class: "pm-btn", "data-proctorme": "consent-decline", text: t("consent.decline") });
    var list = el("ul", null, captured.map(function (item) { return el("li", { text: item }); }));
    var dialog = el("div", { class: "pm-dialog", role: "dialog", "aria-modal": "true", "aria-labelledby": titleId, "aria-describedby": bodyId }, [
      title,
      el("div", { id: bodyId }, [
        el("p", { text: t("consent.intro", { institution: institution, exam: exam }) }),
        list,
        el("p", { text: t("consent.why", { institution: institution }) }),
        el("p", { text: retention }),
        el("p", { text: t("consent.nothingBefore") }),
      ]),
      el("div", { class: "pm-actions" }, [decline, accept]),
    ]);
    var overlay = el("div", self.langAttrs({ class: "pm-overlay", "data-proctorme": "consent" }), [dialog]);
    self.consentOverlay = overlay;

    function onKey(event) {
      if (event.key !== "Tab") return;
      var focusables = [decline, accept];
      var index = focusables.indexOf(document.activeElement);
      event.preventDefault();
      var next = event.shiftKey ? (index <= 0 ? focusables.length - 1 : index - 1) : (index + 1) % focusables.length;
      focusables[next].focus();
    }
    function close(result) {
      overlay.removeEventListener("keydown", onKey);
      if (overlay.parentNode) overlay.parentNode.removeChild(overlay);
      self.consentOverlay = null;
      if (previouslyFocused && previouslyFocused.focus && document.contains(previouslyFocused)) {
        try { previouslyFocused.focus(); } catch (e) { /* ignore */ }
      }
      resolve(result);
    }
    overlay.addEventListener("keydown", onKey);
    accept.addEventListener("click", function () { close(true); });
    decline.addEventListener("click", function () { close(false); });
    (document.fullscreenElement || document.body).appendChild(overlay);
    title.focus();
  });
};

// ---- consent and the system check ----------------------------------------------------------

var INTERNET_SPEED_BYTES = 200000;
var MIN_MBPS = 0.5; // frames + 16 kHz audio need about 0.35 Mbit/s up

ProctorCore.prototype.makeUi = function (options) {
  if (!this.ui) this.ui = new WidgetUI(options);
  this.ui.showError("");
  return this.ui;
};

ProctorCore.prototype.setUi = function (state, text) {
  if (this.paused && state === "monitoring") state = "paused"; // a proctor's pause shows until resumed
  if (this.ui) this.ui.setState(state, text);
};

ProctorCore.prototype.consent = function (given, info) {
  if (given === "accepted" || given === true) return Promise.resolve();
  var retention = this.settings && (this.settings.retentionDays || (this.settings.media && this.settings.media.retentionDays));
  info.retentionDays = retention || null;
  this.setUi("connecting", "waitingConsent");
  return this.ui.askConsent(info).then(function (accepted) {
    if (!accepted) throw ProctormeError("CONSENT_DECLINED");
  });
};

/**
 * SYSTEM_CHECK_STARTED → camera + microphone + browser + internet speed → SYSTEM_CHECK_COMPLETED.
 * Resolves with {result, error}: error is the first blocking failure (camera, microphone, browser).
 */
ProctorCore.prototype.systemCheck = function (want) {
  var self = this;
  var begun = { timestamp: nowIso() };
  this.emit("SYSTEM_CHECK_STARTED", begun);
  this.signal("SYSTEM_CHECK_STARTED", begun);
  var items = {
    webcam: { name: "webcam", status: "default", finished: false },
    microphone: { name: "microphone", status: "default", finished: false },
    browser: { name: "browser", status: "default", finished: false },
    internetSpeed: { name: "internetSpeed", status: "default", finished: false },
  };
  var details = {};
  var blocking = null;

  var problem = browserProblem(want.video || want.audio);
  if (!problem && want.desktopOnly && isMobile()) {
    problem = ProctormeError("BROWSER_NOT_SUPPORTED", "This exam must be taken on a desktop or laptop computer.", { apCode: 4001, reason: "mobile" });
  }
  items.browser.status = problem ? "failed" : "success";
  items.browser.finished = true;
  details.browser = navigator.userAgent;
  if (problem) blocking = problem;

  var media = problem || (!want.video && !want.audio)
    ? Promise.resolve() // an accommodation may exempt both devices: nothing to ask for
    : acquireMedia(want).then(
        function (stream) {
          self.stream = stream;
          var hasVideo = stream.getVideoTracks().length > 0;
          var hasAudio = stream.getAudioTracks().length > 0;
          if (want.video) items.webcam.status = hasVideo ? "success" : "failed";
          if (want.audio) items.microphone.status = hasAudio ? "success" : "failed";
        },
        function (error) {
          blocking = error;
          var devices = error.devices || [];
          var camFailed = /^CAMERA_/.test(error.code) || devices.indexOf("camera") !== -1;
          var micFailed = /^MICROPHONE_/.test(error.code) || devices.indexOf("microphone") !== -1;
          if (want.video) items.webcam.status = camFailed ? "failed" : "default";
          if (want.audio) items.microphone.status = micFailed ? "failed" : "default";
        }
      );
  var speed = measureSpeed().then(function (mbps) {
    details.internetSpeedMbps = mbps;
    items.internetSpeed.status = mbps !== null && mbps >= MIN_MBPS ? "success" : "failed";
  });
  // Can the camera see the candidate? Lighting and face quality, judged by the server's detector.
  var view = media.then(function () {
    if (blocking || !self.stream || !self.stream.getVideoTracks().length) return null;
    return checkCameraView(self.stream, self.session).then(function (result) {
      if (!result) return;
      details.cameraView = result;
      if (self.ui) self.ui.setNote(result.result === "ok" ? "" : self.ui.t("check." + result.result));
    });
  });
  return Promise.all([media, speed, view]).then(function () {
    items.webcam.finished = items.microphone.finished = items.internetSpeed.finished = true;
    var data = [items.webcam, items.microphone, items.browser, items.internetSpeed];
    var result = {
      success: !blocking,
      timestamp: nowIso(),
      data: data,
      details: details,
    };
    self.emit("SYSTEM_CHECK_COMPLETED", result);
    self.signal("SYSTEM_CHECK_COMPLETED", result);
    return { result: result, error: blocking };
  });
};

var VIEW_CHECK_TRIES = 3;
var VIEW_CHECK_GAP_MS = 700;

/** Up to three frames ~0.7 s apart, until one is fine: {result, faces, brightness} or null. */
function checkCameraView(stream, session) {
  if (!session || !session.checkUrl || !window.fetch) return Promise.resolve(null);
  var video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  video.srcObject = new MediaStream(stream.getVideoTracks());
  var playing = video.play();
  if (playing && playing.catch) playing.catch(function () {});
  var canvas = document.createElement("canvas");
  function ready(waited) {
    if (video.readyState >= 2 && video.videoWidth) return Promise.resolve(true);
    if (waited > 5000) return Promise.resolve(false);
    return new Promise(function (resolve) { setTimeout(resolve, 100); }).then(function () { return ready(waited + 100); });
  }
  function once() {
    var scale = Math.min(640 / video.videoWidth, 480 / video.videoHeight, 1);
    canvas.width = Math.round(video.videoWidth * scale);
    canvas.height = Math.round(video.videoHeight * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", 0.7); }).then(function (blob) {
      if (!blob) return null;
      return fetch(session.checkUrl, {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        headers: { Authorization: "Bearer " + session.token, "Content-Type": "image/jpeg" },
        body: blob,
      }).then(function (response) { return response.ok ? response.json() : null; });
    });
  }
  function attempt(n, last) {
    if (n >= VIEW_CHECK_TRIES) return Promise.resolve(last);
    return once().then(function (result) {
      if (result && result.result === "ok") return result;
      return new Promise(function (resolve) { setTimeout(resolve, VIEW_CHECK_GAP_MS); }).then(function () { return attempt(n + 1, result || last); });
    });
  }
  return ready(0)
    .then(function (ok) { return ok ? attempt(0, null) : null; })
    .catch(function () { return null; })
    .then(function (result) {
      // The element is left as it is (it is not in the page): in Chromium, pausing it or clearing
      // its srcObject also stopped the camera's frames reaching the photo-ID step and the phone
      // pairing that follow (tests/browser/test_autoproctor_id_card_and_phone.py).
      return result;
    });
}

function isMobile() {
  if (navigator.userAgentData && typeof navigator.userAgentData.mobile === "boolean") return navigator.userAgentData.mobile;
  return /Android|iPhone|iPad|iPod|Mobi/i.test(navigator.userAgent);
}

/** Mbit/s measured by timing a GET of 200 kB from the Proctorme server (null when it fails). */
function measureSpeed() {
  var started = performance.now();
  return fetch(SERVER + "/widget/v1/ping?bytes=" + INTERNET_SPEED_BYTES + "&t=" + Date.now(), { credentials: "omit", cache: "no-store" })
    .then(function (response) {
      if (!response.ok) throw new Error("HTTP " + response.status);
      return response.arrayBuffer();
    })
    .then(
      function (buffer) {
        var seconds = Math.max((performance.now() - started) / 1000, 0.001);
        return Math.round(((buffer.byteLength * 8) / seconds / 1e6) * 100) / 100;
      },
      function () { return null; }
    );
}
