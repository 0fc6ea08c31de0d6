/*!
 * Proctorme widget — one script, two SDK dialects.
 *
 *   Eye by Proctorme:  const widget = await LoadProctormeWidget();   // or LoadEyeWidget()
 *                      widget.on("STARTED", cb); await widget.init(config); await widget.endProctoring();
 *   AutoProctor:       const ap = new AutoProctor({clientId, testAttemptId, hashedTestAttemptId});
 *                      await ap.setup(options); await ap.start(); await ap.stop(); ap.destroy();
 *
 * Both dialects share one core (ProctorCore): session start/resume, consent, system check,
 * camera/microphone, browser signals over a resumable WebSocket, flags, end. The wire
 * contract is docs/widget-protocol.md; the integrator documentation is docs/widget.md.
 * Plain modern JavaScript, no build step, no dependencies.
 */
(function () {
  "use strict";

  if (window.Proctorme && window.Proctorme.version) return; // loaded twice: keep the first

  var VERSION = "1.0.0";

  // ---------------------------------------------------------------------------------------------
  // Where the Proctorme server is: the origin this very script was loaded from, unless the
  // script tag says otherwise (data-proctorme-server="https://proctor.example.edu").
  // ---------------------------------------------------------------------------------------------
  var SCRIPT = document.currentScript || findOwnScript();
  var SERVER = resolveServer(SCRIPT);

  function findOwnScript() {
    var scripts = document.getElementsByTagName("script");
    for (var i = scripts.length - 1; i >= 0; i--) {
      if (/\/widget\.js(\?|#|$)/.test(scripts[i].src || "")) return scripts[i];
    }
    return null;
  }

  function resolveServer(script) {
    var explicit = script && script.getAttribute("data-proctorme-server");
    if (explicit) return explicit.replace(/\/+$/, "");
    if (script && script.src) return new URL(script.src, location.href).origin;
    return location.origin;
  }

  // ---------------------------------------------------------------------------------------------
  // Errors: every failure has a stable string code; AutoProctor pages get a number as well.
  // ---------------------------------------------------------------------------------------------
  var MESSAGES = {
    INVALID_CONFIG: "The proctoring configuration is incomplete or malformed.",
    INVALID_API_KEY: "This exam's proctoring key is not valid. Please tell your institution.",
    DOMAIN_NOT_REGISTERED: "Proctoring is not enabled for this web site. Please tell your institution.",
    ORIGIN_REQUIRED: "Proctoring only works from a web page.",
    SESSION_ENDED: "This exam attempt has already ended and cannot be restarted.",
    CAMERA_DENIED: "Camera access is blocked. Allow the camera for this site in your browser settings, then reload the page.",
    MICROPHONE_DENIED: "Microphone access is blocked. Allow the microphone for this site in your browser settings, then reload the page.",
    CAMERA_NOT_FOUND: "No usable camera was found. Connect a camera (and close other apps using it), then reload the page.",
    MICROPHONE_NOT_FOUND: "No usable microphone was found. Connect a microphone (and close other apps using it), then reload the page.",
    BROWSER_NOT_SUPPORTED: "This browser cannot run a proctored exam. Use a recent Chrome, Edge, Firefox or Safari over https.",
    NETWORK_ERROR: "The proctoring server cannot be reached. Check your internet connection and try again.",
    INVALID_ATTEMPT_SIGNATURE: "This exam link is not valid (its attempt signature does not match). Please tell your institution.",
    CONSENT_DECLINED: "You declined proctoring, so the exam cannot start. Reload the page if you change your mind.",
  };

  // Our own AutoProctor error numbers, in a range AutoProctor does not use (docs/widget.md).
  var AP_OWN_CODES = {
    INVALID_API_KEY: 4101,
    DOMAIN_NOT_REGISTERED: 4102,
    INVALID_ATTEMPT_SIGNATURE: 4103,
    SESSION_ENDED: 4104,
    INVALID_CONFIG: 4105,
    NETWORK_ERROR: 4106,
    ORIGIN_REQUIRED: 4107,
    CONSENT_DECLINED: 4108,
  };
  var AP_MEDIA_DEFAULTS = {
    BROWSER_NOT_SUPPORTED: 4001,
    CAMERA_DENIED: 4004,
    MICROPHONE_DENIED: 4004,
    CAMERA_NOT_FOUND: 4010,
    MICROPHONE_NOT_FOUND: 4009,
  };

  function ProctormeError(code, message, extra) {
    var error = new Error(message || MESSAGES[code] || code);
    error.name = "ProctormeError";
    error.code = code;
    if (extra) for (var key in extra) if (Object.prototype.hasOwnProperty.call(extra, key)) error[key] = extra[key];
    return error;
  }

  function apErrorCode(error) {
    if (error.apCode) return error.apCode;
    return AP_OWN_CODES[error.code] || AP_MEDIA_DEFAULTS[error.code] || 4005;
  }

  // ---------------------------------------------------------------------------------------------
  // Small helpers
  // ---------------------------------------------------------------------------------------------
  function nowIso() {
    return new Date().toISOString();
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function isPlainObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function nonEmptyString(value) {
    return typeof value === "string" && value.trim() !== "";
  }

  function copyWithout(source, keys) {
    var out = {};
    for (var key in source) {
      if (Object.prototype.hasOwnProperty.call(source, key) && keys.indexOf(key) === -1) out[key] = source[key];
    }
    return out;
  }

  var storage = (function () {
    try {
      var probe = "__proctorme_probe__";
      window.localStorage.setItem(probe, "1");
      window.localStorage.removeItem(probe);
      return window.localStorage;
    } catch (e) {
      return null; // private mode or blocked: the outbox lives in memory only
    }
  })();

  function fetchJson(url, init) {
    init = init || {};
    init.credentials = "omit";
    init.mode = "cors";
    return fetch(url, init).then(
      function (response) {
        return response.text().then(function (text) {
          var body = null;
          try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
          return { status: response.status, ok: response.ok, body: body };
        });
      },
      function (cause) {
        throw ProctormeError("NETWORK_ERROR", null, { cause: cause });
      }
    );
  }

  function serverError(result) {
    var err = (result.body && result.body.error) || {};
    var code = err.code || (result.status >= 500 ? "NETWORK_ERROR" : "INVALID_CONFIG");
    var extra = { status: result.status, details: err.details || {} };
    if (code === "INVALID_CONFIG") {
      // details.fields: {name: reason} from this server; a plain list is accepted too.
      var fields = (err.details && err.details.fields) || [];
      extra.fields = Array.isArray(fields) ? fields : Object.keys(fields);
      extra.fieldErrors = Array.isArray(fields) ? {} : fields;
    }
    return ProctormeError(code, err.message || MESSAGES[code], extra);
  }

  // A tiny event emitter shared by the Eye widget (listeners by event name, plus "*").
  function Emitter() {
    this.listeners = {};
  }
  Emitter.prototype.on = function (type, callback) {
    if (typeof callback !== "function") throw new TypeError("on(event, callback): callback must be a function");
    (this.listeners[type] = this.listeners[type] || []).push(callback);
    var self = this;
    return function off() { self.off(type, callback); };
  };
  Emitter.prototype.off = function (type, callback) {
    var list = this.listeners[type];
    if (!list) return;
    var index = list.indexOf(callback);
    if (index !== -1) list.splice(index, 1);
  };
  Emitter.prototype.reset = function () {
    this.listeners = {};
  };
  Emitter.prototype.emit = function (type, payload) {
    var callbacks = (this.listeners[type] || []).concat(this.listeners["*"] || []);
    for (var i = 0; i < callbacks.length; i++) {
      try {
        callbacks[i](payload, type);
      } catch (e) {
        // A broken integrator callback must never stop proctoring.
        if (window.console) console.error("[proctorme] listener for " + type + " threw", e);
      }
    }
  };

  // ---------------------------------------------------------------------------------------------
  // Styles and candidate-facing UI (consent, status badge, camera preview, error message)
  // ---------------------------------------------------------------------------------------------
  var CSS = [
    ".pm-root{all:initial;display:block;font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2933;box-sizing:border-box}",
    ".pm-root *{box-sizing:border-box;font:inherit}",
    ".pm-root.pm-fixed{position:fixed;right:16px;bottom:16px;z-index:2147483000;width:232px}",
    ".pm-card{background:#fff;border:1px solid #d5dbe3;border-radius:12px;box-shadow:0 6px 24px rgba(15,23,42,.14);padding:10px 12px;display:flex;flex-direction:column;gap:8px}",
    ".pm-root.pm-inline .pm-card{box-shadow:none}",
    ".pm-head{display:flex;align-items:center;justify-content:space-between;gap:8px}",
    ".pm-brand{font-size:12px;font-weight:600;color:#52606d;letter-spacing:.02em}",
    ".pm-badge{display:inline-flex;align-items:center;gap:6px;border-radius:999px;padding:2px 10px;font-size:12px;font-weight:600;background:#eef2f7;color:#334155;white-space:nowrap}",
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
    ".pm-overlay{all:initial;position:fixed;inset:0;z-index:2147483001;background:rgba(15,23,42,.6);display:flex;align-items:center;justify-content:center;padding:16px;font:14px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2933}",
    ".pm-overlay *{box-sizing:border-box;font:inherit}",
    ".pm-dialog{background:#fff;border-radius:14px;max-width:540px;width:100%;max-height:calc(100vh - 32px);overflow:auto;padding:24px 26px;box-shadow:0 20px 60px rgba(0,0,0,.3)}",
    ".pm-dialog h2{font-size:20px;font-weight:700;margin:0 0 6px;color:#111827}",
    ".pm-dialog p{margin:0 0 10px}",
    ".pm-dialog ul{margin:0 0 12px;padding-left:20px}",
    ".pm-dialog li{margin:3px 0}",
    ".pm-dialog strong{font-weight:650}",
    ".pm-dialog h2:focus{outline:none}",
    ".pm-actions{display:flex;gap:10px;justify-content:flex-end;margin-top:18px;flex-wrap:wrap}",
    ".pm-btn{cursor:pointer;border-radius:8px;padding:9px 16px;font-weight:600;border:1px solid #cbd2d9;background:#fff;color:#1f2933}",
    ".pm-btn-primary{background:#1d4ed8;border-color:#1d4ed8;color:#fff}",
    ".pm-btn:hover{filter:brightness(.96)}",
    ".pm-btn:focus-visible,.pm-dialog h2:focus-visible{outline:3px solid #93c5fd;outline-offset:2px}",
  ].join("\n");

  function injectStyles() {
    if (document.getElementById("proctorme-widget-styles")) return;
    var style = document.createElement("style");
    style.id = "proctorme-widget-styles";
    style.textContent = CSS;
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

  var BADGE_TEXT = {
    idle: "Not started",
    connecting: "Connecting…",
    monitoring: "Proctoring on",
    offline: "Offline — reconnecting…",
    ended: "Proctoring ended",
    error: "Proctoring stopped",
  };

  var uid = 0;

  function WidgetUI(options) {
    injectStyles();
    this.options = options;
    var host = options.containerId ? document.getElementById(options.containerId) : null;
    this.inline = Boolean(host) && options.inline;
    this.host = host || document.body;
    this.badge = el("span", { class: "pm-badge", "data-state": "idle" }, [el("span", { class: "pm-dot", "aria-hidden": "true" }), el("span", { class: "pm-badge-text", text: BADGE_TEXT.idle })]);
    this.status = el("div", { role: "status", "aria-live": "polite", "aria-atomic": "true" }, [this.badge]);
    this.errorBox = el("p", { class: "pm-error", role: "alert", hidden: "" });
    this.note = el("p", { class: "pm-note", hidden: "" });
    this.card = el("div", { class: "pm-card" }, [
      el("div", { class: "pm-head" }, [el("span", { class: "pm-brand", text: "Proctorme" }), this.status]),
      this.note,
      this.errorBox,
    ]);
    this.root = el("section", { class: "pm-root " + (this.inline ? "pm-inline" : "pm-fixed"), "aria-label": "Exam proctoring status", "data-proctorme": "widget" }, [this.card]);
    this.host.appendChild(this.root);
  }

  WidgetUI.prototype.setState = function (state, text) {
    this.badge.setAttribute("data-state", state);
    this.badge.querySelector(".pm-badge-text").textContent = text || BADGE_TEXT[state] || state;
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
      this.preview = el("video", { class: "pm-preview", muted: "", playsinline: "", autoplay: "", "aria-label": "Your camera" });
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
      var captured = [];
      if (info.camera) captured.push("Images from your camera, to check that you are the person taking the exam and that you are alone.");
      if (info.microphone) captured.push("Sound from your microphone, to notice voices or other sounds during the exam.");
      captured.push("Browser activity: leaving this tab or window, leaving full screen, extra screens, copy and paste, and losing your internet connection.");
      var retention = info.retentionDays
        ? "Recordings are kept for " + info.retentionDays + " days, then deleted."
        : "Recordings are kept only as long as " + info.institution + "'s retention policy allows, then deleted.";
      var title = el("h2", { id: titleId, tabindex: "-1", text: "This exam is proctored" });
      var accept = el("button", { type: "button", class: "pm-btn pm-btn-primary", "data-proctorme": "consent-accept", text: "I agree — start proctoring" });
      var decline = el("button", { type: "button", class: "pm-btn", "data-proctorme": "consent-decline", text: "Decline" });
      var list = el("ul", null, captured.map(function (item) { return el("li", { text: item }); }));
      var dialog = el("div", { class: "pm-dialog", role: "dialog", "aria-modal": "true", "aria-labelledby": titleId, "aria-describedby": bodyId }, [
        title,
        el("div", { id: bodyId }, [
          el("p", { text: (info.institution || "Your institution") + " uses Proctorme to supervise " + (info.title ? "“" + info.title + "”" : "this exam") + ". While the exam runs we capture:" }),
          list,
          el("p", { text: "Why: so that " + (info.institution || "your institution") + " can check the exam was taken fairly. Automated checks raise flags; a person at " + (info.institution || "your institution") + " reviews them before any decision." }),
          el("p", { text: retention }),
          el("p", { text: "Nothing is captured before you agree, and capture stops when the exam ends." }),
        ]),
        el("div", { class: "pm-actions" }, [decline, accept]),
      ]);
      var overlay = el("div", { class: "pm-overlay", "data-proctorme": "consent" }, [dialog]);
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

  // ---------------------------------------------------------------------------------------------
  // Camera and microphone
  // ---------------------------------------------------------------------------------------------
  function permissionState(name) {
    if (!navigator.permissions || !navigator.permissions.query) return Promise.resolve(undefined);
    return navigator.permissions.query({ name: name }).then(
      function (status) { return status.state; },
      function () { return undefined; }
    );
  }

  function permissionStates() {
    return Promise.all([permissionState("camera"), permissionState("microphone")]).then(function (s) {
      return { camera: s[0], microphone: s[1] };
    });
  }

  function deviceKinds() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return Promise.resolve(null);
    return navigator.mediaDevices.enumerateDevices().then(
      function (devices) {
        return {
          camera: devices.some(function (d) { return d.kind === "videoinput"; }),
          microphone: devices.some(function (d) { return d.kind === "audioinput"; }),
        };
      },
      function () { return null; }
    );
  }

  function browserProblem(needMedia) {
    var missing = [];
    if (!window.fetch) missing.push("fetch");
    if (!window.WebSocket) missing.push("WebSocket");
    if (!window.Promise) missing.push("Promise");
    if (needMedia) {
      if (!window.isSecureContext) {
        return ProctormeError("BROWSER_NOT_SUPPORTED", "Camera and microphone need a secure page (https).", { apCode: 4004, reason: "insecure_context" });
      }
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) missing.push("getUserMedia");
    }
    if (missing.length) return ProctormeError("BROWSER_NOT_SUPPORTED", null, { apCode: 4001, missing: missing });
    return null;
  }

  /** getUserMedia, with its failures turned into our codes (and AutoProctor's numbers). */
  function acquireMedia(want) {
    var problem = browserProblem(true);
    if (problem) return Promise.reject(problem);
    return permissionStates().then(function (before) {
      var constraints = {
        video: want.video ? { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" } : false,
        audio: want.audio ? { echoCancellation: false, noiseSuppression: false, autoGainControl: false } : false,
      };
      return navigator.mediaDevices.getUserMedia(constraints).catch(function (cause) {
        return explainMediaError(cause, want, before).then(function (error) { throw error; });
      });
    });
  }

  function explainMediaError(cause, want, before) {
    var name = (cause && cause.name) || "Error";
    var extra = { cause: cause };
    if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
      return permissionStates().then(function (after) {
        var cam = want.video && after.camera === "denied";
        var mic = want.audio && after.microphone === "denied";
        if (!cam && !mic) cam = want.video; // a dismissed prompt: report the camera
        if (cam && mic) {
          return ProctormeError("CAMERA_DENIED", "Camera and microphone access are blocked. Allow both for this site in your browser settings, then reload the page.", Object.assign(extra, { apCode: 4006, devices: ["camera", "microphone"] }));
        }
        if (cam) return ProctormeError("CAMERA_DENIED", null, Object.assign(extra, { apCode: before.camera === "denied" ? 4002 : 4004, devices: ["camera"] }));
        return ProctormeError("MICROPHONE_DENIED", null, Object.assign(extra, { apCode: before.microphone === "denied" ? 4003 : 4004, devices: ["microphone"] }));
      });
    }
    if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") {
      return deviceKinds().then(function (kinds) {
        if (want.audio && kinds && kinds.camera && !kinds.microphone) return ProctormeError("MICROPHONE_NOT_FOUND", null, Object.assign(extra, { apCode: 4009 }));
        return ProctormeError("CAMERA_NOT_FOUND", null, Object.assign(extra, { apCode: 4010 }));
      });
    }
    if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") {
      // The device exists but cannot be opened (usually another application holds it).
      // Find which one by opening each alone.
      var probe = function (constraints) {
        return navigator.mediaDevices.getUserMedia(constraints).then(
          function (s) { s.getTracks().forEach(function (t) { t.stop(); }); return true; },
          function () { return false; }
        );
      };
      return (want.video ? probe({ video: true }) : Promise.resolve(true)).then(function (videoOk) {
        if (!videoOk) return ProctormeError("CAMERA_NOT_FOUND", "The camera is in use by another application or not working. Close other apps that use it, then reload the page.", Object.assign(extra, { apCode: 4008, reason: "not_readable" }));
        return ProctormeError("MICROPHONE_NOT_FOUND", "The microphone is in use by another application or not working. Close other apps that use it, then reload the page.", Object.assign(extra, { apCode: 4007, reason: "not_readable" }));
      });
    }
    return Promise.resolve(ProctormeError(want.video ? "CAMERA_NOT_FOUND" : "MICROPHONE_NOT_FOUND", "The camera or microphone failed: " + (cause && cause.message ? cause.message : name), Object.assign(extra, { apCode: 4005 })));
  }

  function stopStream(stream) {
    if (stream) stream.getTracks().forEach(function (track) { track.stop(); });
  }

  // ---------------------------------------------------------------------------------------------
  // Capture hooks: the later capture/upload layer registers here and receives the live
  // MediaStream when monitoring starts. Internal and unstable; see docs/widget.md.
  // ---------------------------------------------------------------------------------------------
  var captureHooks = [];

  // ---------------------------------------------------------------------------------------------
  // The core shared by both dialects
  // ---------------------------------------------------------------------------------------------
  var STORAGE_PREFIX = "proctorme:outbox:";
  var INTERNET_SPEED_BYTES = 200000;
  var MIN_MBPS = 0.5; // frames + 16 kHz audio need about 0.35 Mbit/s up
  var CAPTURE_FLUSH_MS = 5000; // how long end() waits for pending uploads

  /**
   * @param {object} opts
   *   dialect: "eye" | "autoproctor"
   *   emit(type, payload): where lifecycle events, browser events and flags go (the dialect maps them)
   *   progress(percentage, step, successCode?): setup progress (AutoProctor)
   */
  function ProctorCore(opts) {
    this.dialect = opts.dialect;
    this.emit = opts.emit;
    this.progress = opts.progress || function () {};
    this.state = "idle"; // idle → starting → ready → monitoring → ended | failed
    this.session = null;
    this.stream = null;
    this.socket = null;
    this.outbox = [];
    this.nextSeq = 1;
    this.seenFlags = {};
    this.flagChain = Promise.resolve();
    this.cleanups = [];
    this.captureStops = [];
    this.captureFlushes = [];
    this.reconnectAttempt = 0;
    this.focused = true;
    this.offlineFrom = null;
    this.ui = null;
  }

  // ---- session start / resume ---------------------------------------------------------------

  ProctorCore.prototype.startSession = function (body) {
    var self = this;
    return fetchJson(SERVER + "/widget/v1/sessions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }).then(
      function (result) {
        if (!result.ok || !result.body || !result.body.sessionId) throw serverError(result);
        self.startBody = body;
        self.adoptSession(result.body);
        return result.body;
      },
      function (error) {
        // A cross-origin refusal hides the server's answer from us (no CORS headers on it):
        // if the server is otherwise reachable, the page's origin is what it refused.
        if (error.code !== "NETWORK_ERROR") throw error;
        return serverReachable().then(function (reachable) {
          if (reachable) {
            throw ProctormeError("DOMAIN_NOT_REGISTERED", null, { origin: location.origin, inferred: true });
          }
          throw error;
        });
      }
    );
  };

  function serverReachable() {
    return fetch(SERVER + "/widget/v1/ping?bytes=1&t=" + Date.now(), { credentials: "omit", cache: "no-store" }).then(
      function (response) { return response.ok; },
      function () { return false; }
    );
  }

  ProctorCore.prototype.adoptSession = function (session) {
    var first = !this.session || this.session.sessionId !== session.sessionId;
    this.session = session;
    this.settings = session.settings || {};
    if (first) {
      this.storageKey = STORAGE_PREFIX + session.sessionId;
      this.outbox = this.loadOutbox();
    }
    var last = Number(session.lastClientSeq) || 0;
    var highest = this.outbox.length ? this.outbox[this.outbox.length - 1].seq : 0;
    this.nextSeq = Math.max(this.nextSeq, last + 1, highest + 1);
    this.clockSkew = session.serverTime ? Date.parse(session.serverTime) - Date.now() : 0;
  };

  // ---- the outbox: every signal is kept until acknowledged, across reloads -------------------

  ProctorCore.prototype.loadOutbox = function () {
    if (!storage) return [];
    try {
      var items = JSON.parse(storage.getItem(this.storageKey) || "[]");
      if (!Array.isArray(items)) return [];
      return items
        .filter(function (i) { return i && typeof i.seq === "number"; })
        .map(function (i) { return { type: "signal", seq: i.seq, event: i.event, at: i.at, payload: i.payload }; });
    } catch (e) {
      return [];
    }
  };

  ProctorCore.prototype.saveOutbox = function () {
    if (!storage || !this.storageKey) return;
    try {
      if (this.outbox.length) {
        var plain = this.outbox.map(function (i) { return { seq: i.seq, event: i.event, at: i.at, payload: i.payload }; });
        storage.setItem(this.storageKey, JSON.stringify(plain));
      }
      else storage.removeItem(this.storageKey);
    } catch (e) {
      /* quota: memory still has it */
    }
  };

  ProctorCore.prototype.signal = function (event, payload, at) {
    if (!this.session || this.state === "ended") return null;
    var item = { type: "signal", seq: this.nextSeq++, event: event, at: at || nowIso(), payload: payload || {} };
    this.outbox.push(item);
    this.saveOutbox();
    this.flush();
    return item.seq;
  };

  ProctorCore.prototype.flush = function () {
    var socket = this.socket;
    if (!socket || socket.readyState !== WebSocket.OPEN || !this.helloSeen) return;
    var now = Date.now();
    for (var i = 0; i < this.outbox.length; i++) {
      var item = this.outbox[i];
      // Not yet sent on this connection, or sent a while ago without an ack (rate limited).
      if (item._conn === this.connectionId && now - item._sentAt < 4000) continue;
      if (this.sentThisSecond() >= 15) {
        this.scheduleFlush(1000);
        return;
      }
      item._conn = this.connectionId;
      item._sentAt = now;
      this.sendTimes.push(now);
      socket.send(JSON.stringify({ type: "signal", seq: item.seq, event: item.event, at: item.at, payload: item.payload }));
    }
    if (this.outbox.length) this.scheduleFlush(4500);
  };

  // Stay well under the server's 20 messages/s so a burst after a reconnect is not refused.
  ProctorCore.prototype.sentThisSecond = function () {
    var cutoff = Date.now() - 1000;
    this.sendTimes = (this.sendTimes || []).filter(function (t) { return t > cutoff; });
    return this.sendTimes.length;
  };

  ProctorCore.prototype.scheduleFlush = function (ms) {
    var self = this;
    if (this.flushTimer) return;
    this.flushTimer = setTimeout(function () {
      self.flushTimer = null;
      self.flush();
    }, ms);
  };

  ProctorCore.prototype.acknowledge = function (seq) {
    var before = this.outbox.length;
    this.outbox = this.outbox.filter(function (item) { return item.seq !== seq; });
    if (this.outbox.length !== before) this.saveOutbox();
  };

  // ---- the WebSocket --------------------------------------------------------------------------

  /** Opens the socket and resolves on the server's hello; NETWORK_ERROR after timeoutMs. */
  ProctorCore.prototype.connectFirst = function (timeoutMs) {
    var self = this;
    if (this.socket && this.helloSeen) return Promise.resolve();
    return new Promise(function (resolve, reject) {
      var timer = setTimeout(function () {
        self.helloWaiter = null;
        reject(ProctormeError("NETWORK_ERROR", "The live connection to the proctoring server could not be opened. Check your internet connection and try again."));
      }, timeoutMs || 20000);
      self.helloWaiter = {
        resolve: function () { clearTimeout(timer); resolve(); },
        reject: function (error) { clearTimeout(timer); reject(error); },
      };
      self.connect();
    });
  };

  ProctorCore.prototype.connect = function () {
    var self = this;
    if (this.state === "ended" || this.state === "failed" || !this.session) return;
    this.clearTimer("reconnectTimer");
    if (this.socket) {
      var old = this.socket;
      this.socket = null;
      old.onclose = old.onmessage = old.onerror = null;
      try { old.close(); } catch (e) { /* ignore */ }
    }
    this.helloSeen = false;
    this.connectionId = (this.connectionId || 0) + 1;
    var socket;
    try {
      socket = new WebSocket(this.session.wsUrl);
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    socket.onmessage = function (event) { self.onMessage(event.data); };
    socket.onclose = function (event) { self.onClose(socket, event); };
    socket.onerror = function () { /* onclose follows */ };
  };

  ProctorCore.prototype.onMessage = function (raw) {
    var message;
    try { message = JSON.parse(raw); } catch (e) { return; }
    this.lastMessageAt = Date.now();
    switch (message.type) {
      case "hello":
        this.helloSeen = true;
        this.reconnectAttempt = 0;
        var last = Number(message.lastClientSeq) || 0;
        this.nextSeq = Math.max(this.nextSeq, last + 1);
        if (message.deadlineAt) this.session.deadlineAt = message.deadlineAt;
        if (message.serverTime) this.clockSkew = Date.parse(message.serverTime) - Date.now();
        this.armDeadline();
        this.startHeartbeat();
        if (this.state === "monitoring") this.setUi(navigator.onLine === false ? "offline" : "monitoring");
        if (this.helloWaiter) {
          this.helloWaiter.resolve();
          this.helloWaiter = null;
        }
        this.flush();
        break;
      case "ack":
        this.acknowledge(message.seq);
        break;
      case "flag":
        if (message.flag) this.onFlag(message.flag);
        break;
      case "ended":
        this.finish(message.reason || "server", { fromServer: true });
        break;
      case "error":
        if (message.code === "RATE_LIMITED") {
          this.scheduleFlush(1500); // not stored: resent later
          break;
        }
        // INVALID_MESSAGE, UNKNOWN_EVENT, BAD_SEQUENCE: the server will never store this signal,
        // so resending it would only repeat the refusal.
        if (typeof message.seq === "number") this.acknowledge(message.seq);
        if (window.console) console.warn("[proctorme] server refused a message:", message.code, message.message);
        break;
      default:
        break;
    }
  };

  ProctorCore.prototype.onClose = function (socket, event) {
    if (socket !== this.socket) return;
    this.socket = null;
    this.helloSeen = false;
    this.stopHeartbeat();
    var code = event.code;
    if (this.state === "ended") return;
    if (code === 4409) {
      this.rejectHello(ProctormeError("SESSION_ENDED"));
      this.finish("ended", { fromServer: true });
      return;
    }
    if (code === 4403) {
      var refused = ProctormeError("DOMAIN_NOT_REGISTERED");
      this.rejectHello(refused);
      this.fail(refused);
      return;
    }
    if (this.state === "monitoring") this.setUi("offline");
    if (code === 4401) {
      // The token expired (long exam, laptop asleep): resume the session for a new one.
      this.refreshToken();
      return;
    }
    this.scheduleReconnect();
  };

  ProctorCore.prototype.rejectHello = function (error) {
    if (this.helloWaiter) {
      this.helloWaiter.reject(error);
      this.helloWaiter = null;
    }
  };

  ProctorCore.prototype.refreshToken = function () {
    var self = this;
    fetchJson(SERVER + "/widget/v1/sessions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(this.startBody),
    }).then(
      function (result) {
        if (result.ok && result.body && result.body.sessionId === self.session.sessionId) {
          self.adoptSession(result.body);
          self.scheduleReconnect(0);
          return;
        }
        var error = serverError(result);
        if (error.code === "SESSION_ENDED") self.finish("ended", { fromServer: true });
        else if (result.status >= 500) self.scheduleReconnect();
        else self.fail(error);
      },
      function () { self.scheduleReconnect(); }
    );
  };

  /** Exponential backoff with full jitter: 0.5 s, 1 s, 2 s … capped at 15 s. */
  ProctorCore.prototype.scheduleReconnect = function (delay) {
    var self = this;
    if (this.state === "ended" || this.reconnectTimer) return;
    if (delay === undefined) {
      var cap = Math.min(15000, 500 * Math.pow(2, this.reconnectAttempt));
      delay = 250 + Math.random() * cap;
      this.reconnectAttempt++;
    }
    this.reconnectTimer = setTimeout(function () {
      self.reconnectTimer = null;
      self.connect();
    }, delay);
  };

  ProctorCore.prototype.startHeartbeat = function () {
    var self = this;
    this.stopHeartbeat();
    this.lastMessageAt = Date.now();
    this.heartbeat = setInterval(function () {
      var socket = self.socket;
      if (!socket || socket.readyState !== WebSocket.OPEN) return;
      if (Date.now() - self.lastMessageAt > 45000) {
        // Silent for too long: a half-open connection. Drop it and reconnect.
        self.onClose(socket, { code: 1006 });
        try { socket.close(); } catch (e) { /* ignore */ }
        return;
      }
      socket.send(JSON.stringify({ type: "ping" }));
    }, 15000);
  };

  ProctorCore.prototype.stopHeartbeat = function () {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
  };

  ProctorCore.prototype.clearTimer = function (name) {
    if (this[name]) clearTimeout(this[name]);
    this[name] = null;
  };

  /** The server ends the session at its deadline; this is the fallback if it cannot tell us. */
  ProctorCore.prototype.armDeadline = function () {
    var self = this;
    this.clearTimer("deadlineTimer");
    if (!this.session || !this.session.deadlineAt) return;
    var remaining = Date.parse(this.session.deadlineAt) - (Date.now() + (this.clockSkew || 0));
    if (!isFinite(remaining)) return;
    this.deadlineTimer = setTimeout(function () {
      if (self.state === "monitoring") self.end("ended").catch(function () {});
    }, Math.max(0, remaining) + 5000);
  };

  // ---- flags coming down ------------------------------------------------------------------------

  ProctorCore.prototype.onFlag = function (flag) {
    var self = this;
    var key = flag.flagId || flag.type + "@" + flag.createdAt;
    if (this.seenFlags[key]) return; // one callback per flag, even when the server pushes an update
    this.seenFlags[key] = true;
    var data = Object.assign({}, flag);
    // The server sends evidence links relative to itself; the page gets them absolute.
    if (flag.mediaUrl) data.mediaUrl = new URL(flag.mediaUrl, SERVER).toString();
    // Keep the order flags arrived in even when one of them needs its evidence fetched.
    this.flagChain = this.flagChain.then(function () {
      if (!data.mediaUrl) return data;
      return fetch(data.mediaUrl, { credentials: "omit", cache: "no-store" })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.blob();
        })
        .then(
          function (blob) {
            var type = blob.type || "application/octet-stream";
            var extension = /jpeg|jpg/.test(type) ? ".jpg" : /png/.test(type) ? ".png" : /wav/.test(type) ? ".wav" : /webm/.test(type) ? ".webm" : "";
            data.mediaFile = new File([blob], (flag.type || "evidence") + "-" + (flag.flagId || Date.now()) + extension, { type: type });
            return data;
          },
          function () { return data; }
        );
    }).then(function (payload) {
      self.emit(flag.type, payload, { flag: true });
    });
  };

  // ---- consent and the system check ----------------------------------------------------------

  ProctorCore.prototype.makeUi = function (options) {
    if (!this.ui) this.ui = new WidgetUI(options);
    this.ui.showError("");
    return this.ui;
  };

  ProctorCore.prototype.setUi = function (state, text) {
    if (this.ui) this.ui.setState(state, text);
  };

  ProctorCore.prototype.consent = function (given, info) {
    if (given === "accepted" || given === true) return Promise.resolve();
    var retention = this.settings && (this.settings.retentionDays || (this.settings.media && this.settings.media.retentionDays));
    info.retentionDays = retention || null;
    this.setUi("connecting", "Waiting for consent");
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

    var media = problem
      ? Promise.resolve()
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
    return Promise.all([media, speed]).then(function () {
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

  // ---- monitoring: browser signals -------------------------------------------------------------

  ProctorCore.prototype.listen = function (target, type, handler, options) {
    target.addEventListener(type, handler, options);
    this.cleanups.push(function () { target.removeEventListener(type, handler, options); });
  };

  /**
   * @param {object} track  which signals to watch: {focus, fullscreen, screens, clipboard}
   */
  ProctorCore.prototype.monitor = function (track) {
    var self = this;
    if (this.monitoring) return;
    this.monitoring = true;

    if (track.focus) {
      var setFocus = function (focused, cause) {
        if (self.focused === focused) return;
        self.focused = focused;
        var payload = { focused: focused, cause: cause };
        self.emit("TAB_FOCUS_CHANGE", payload, { local: true });
        self.signal("TAB_FOCUS_CHANGE", payload);
      };
      this.focused = document.visibilityState !== "hidden";
      this.listen(document, "visibilitychange", function () {
        setFocus(document.visibilityState !== "hidden", "visibility");
      });
      this.listen(window, "blur", function () {
        // Focus moving into an iframe of the exam page itself is not leaving the exam.
        setTimeout(function () {
          var active = document.activeElement;
          if (active && active.tagName === "IFRAME") return;
          if (!document.hasFocus()) setFocus(false, "blur");
        }, 0);
      });
      this.listen(window, "focus", function () {
        if (document.visibilityState !== "hidden") setFocus(true, "blur");
      });
    }

    if (track.fullscreen) {
      this.listen(document, "fullscreenchange", function () {
        var payload = { fullscreen: Boolean(document.fullscreenElement) };
        if (self.ui) self.ui.followFullscreen();
        self.emit("FULLSCREEN_CHANGE", payload, { local: true });
        self.signal("FULLSCREEN_CHANGE", payload);
      });
    }

    if (track.screens && window.screen && "isExtended" in window.screen) {
      var extended = false;
      var check = function () {
        var now = Boolean(window.screen.isExtended);
        if (now && !extended) self.signal("MULTIPLE_SCREENS", { screens: 2 }); // isExtended: at least two
        extended = now;
      };
      check();
      if (typeof window.screen.addEventListener === "function") this.listen(window.screen, "change", check);
    }

    if (track.clipboard) {
      ["copy", "cut", "paste"].forEach(function (action) {
        self.listen(document, action, function () { self.signal("COPY_PASTE", { action: action }); });
      });
    }

    this.listen(window, "offline", function () { self.wentOffline(); });
    this.listen(window, "online", function () { self.cameOnline(); });
    if (navigator.onLine === false) this.wentOffline();
  };

  ProctorCore.prototype.wentOffline = function () {
    if (this.offlineFrom) return;
    this.offlineFrom = new Date();
    this.setUi("offline");
  };

  ProctorCore.prototype.cameOnline = function () {
    if (this.offlineFrom) {
      var to = new Date();
      this.signal("CONNECTION_LOST", { offlineFrom: this.offlineFrom.toISOString(), offlineTo: to.toISOString(), durationMs: to - this.offlineFrom });
      this.offlineFrom = null;
    }
    if (this.socket && this.socket.readyState === WebSocket.OPEN && this.helloSeen) {
      this.setUi("monitoring");
      this.flush();
    } else {
      // Do not wait out the backoff: the network is back now.
      this.clearTimer("reconnectTimer");
      this.reconnectAttempt = 0;
      this.scheduleReconnect(100 + Math.random() * 400);
    }
  };

  ProctorCore.prototype.runCaptureHooks = function () {
    var self = this;
    if (!this.stream) return;
    var context = {
      stream: this.stream,
      session: this.session,
      settings: this.settings || {},
      server: SERVER,
      dialect: this.dialect,
      signal: function (event, payload) { return self.signal(event, payload); },
      // For the capture layer: the session as it is now (a token refresh replaces it), the
      // server's clock, whether the session is over, and a way to ask for a fresh token.
      currentSession: function () { return self.session; },
      now: function () { return Date.now() + (self.clockSkew || 0); },
      isEnded: function () { return self.state === "ended"; },
      refreshSession: function () { if (self.state === "monitoring") self.refreshToken(); },
    };
    captureHooks.forEach(function (hook) {
      try {
        var stop = hook(context);
        if (typeof stop === "function") self.captureStops.push(stop);
        // A stop function may carry flush(timeoutMs) → Promise: end() waits for it (bounded).
        if (stop && typeof stop.flush === "function") self.captureFlushes.push(stop.flush);
      } catch (e) {
        if (window.console) console.error("[proctorme] capture hook failed", e);
      }
    });
  };

  ProctorCore.prototype.stopMonitoring = function () {
    this.cleanups.forEach(function (fn) { fn(); });
    this.cleanups = [];
    this.captureStops.forEach(function (fn) { try { fn(); } catch (e) { /* ignore */ } });
    this.captureStops = [];
    this.captureFlushes = [];
    this.monitoring = false;
  };

  /** Lets the capture layer upload what it holds before the session ends (at most timeoutMs). */
  ProctorCore.prototype.flushCapture = function (timeoutMs) {
    var flushes = this.captureFlushes || [];
    if (!flushes.length) return Promise.resolve();
    var waits = flushes.map(function (flush) {
      try { return Promise.resolve(flush(timeoutMs)).catch(function () {}); } catch (e) { return Promise.resolve(); }
    });
    return Promise.race([Promise.all(waits), sleep(timeoutMs + 250)]);
  };

  // ---- end ----------------------------------------------------------------------------------------

  /** Ask the server to end the session, then stop everything (idempotent). */
  ProctorCore.prototype.end = function (reason) {
    var self = this;
    if (this.endPromise) return this.endPromise;
    if (!this.session) {
      this.finish(reason, {});
      return Promise.resolve({ status: "ended" });
    }
    // Last chance for queued signals on an open socket; the server keeps what arrived.
    this.flush();
    // Uploads still pending would be refused once the session ends (409): send them first.
    this.endPromise = this.flushCapture(CAPTURE_FLUSH_MS).then(function () {
      return fetchJson(self.session.endUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: "Bearer " + self.session.token },
        body: JSON.stringify({ reason: reason }),
      });
    }).then(
      function (result) {
        var info = result.ok && result.body ? result.body : { status: "ended" };
        self.finish(reason, { endedAt: info.endedAt });
        return info;
      },
      function (error) {
        self.endPromise = null;
        throw error;
      }
    );
    return this.endPromise;
  };

  ProctorCore.prototype.finish = function (reason, info) {
    if (this.state === "ended") return;
    var wasLive = this.state === "monitoring" || this.state === "ready" || this.state === "starting";
    this.state = "ended";
    this.stopMonitoring();
    this.stopHeartbeat();
    this.clearTimer("reconnectTimer");
    this.clearTimer("deadlineTimer");
    this.clearTimer("flushTimer");
    if (this.socket) {
      var socket = this.socket;
      this.socket = null;
      socket.onclose = socket.onmessage = null;
      try { socket.close(1000, "ended"); } catch (e) { /* ignore */ }
    }
    stopStream(this.stream);
    this.stream = null;
    if (this.ui) {
      this.ui.hidePreview();
      this.ui.setState("ended");
    }
    // Nothing more can be sent for an ended session: forget what is left.
    this.outbox = [];
    this.saveOutbox();
    if (wasLive || info.fromServer) {
      this.emit("END_PROCTORING", { reason: reason, endedAt: info.endedAt || nowIso() });
    }
  };

  /** A failure after which the session cannot go on from this page. */
  ProctorCore.prototype.fail = function (error) {
    if (this.state === "ended" || this.state === "failed") return;
    this.state = "failed";
    this.stopMonitoring();
    this.stopHeartbeat();
    this.clearTimer("reconnectTimer");
    this.clearTimer("flushTimer");
    if (this.socket) {
      var socket = this.socket;
      this.socket = null;
      socket.onclose = socket.onmessage = null;
      try { socket.close(1000, "failed"); } catch (e) { /* ignore */ }
    }
    stopStream(this.stream);
    this.stream = null;
    if (this.ui) {
      this.ui.hidePreview();
      this.ui.setState("error");
      // The candidate reads our wording; error.message keeps the server's, for developers.
      this.ui.showError(error.code === "INVALID_CONFIG" || !MESSAGES[error.code] ? error.message : MESSAGES[error.code]);
    }
    var payload = errorPayload(error);
    // Kept in the outbox (and localStorage): it reaches the server if the page resumes.
    if (this.session) this.signal("ERROR", payload);
    this.emit("ERROR", payload);
  };

  function errorPayload(error) {
    var payload = { code: error.code || "NETWORK_ERROR", message: error.message };
    if (error.fields) payload.fields = error.fields;
    if (error.devices) payload.devices = error.devices;
    return payload;
  }

  ProctorCore.prototype.destroyUi = function () {
    if (this.ui) this.ui.destroy();
    this.ui = null;
  };

  // =================================================================================================
  // Dialect 1: Eye by Proctorme
  // =================================================================================================
  var EYE_REQUIRED = [
    "apiKey",
    "assessmentId",
    "assessmentTitle",
    "candidateId",
    "candidateEmail",
    "candidateFirstName",
    "candidateLastName",
    "institutionName",
    "examDuration",
  ];
  // Page-side options that are not part of the server contract.
  var EYE_LOCAL_KEYS = ["consent"];
  var EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

  function validateEyeConfig(config) {
    if (!isPlainObject(config)) return EYE_REQUIRED.slice();
    var fields = [];
    // The LMS tool page (LTI) starts with a signed launch ticket instead of an API key.
    var launched = nonEmptyString(config.launchTicket);
    EYE_REQUIRED.forEach(function (name) {
      if (name === "apiKey" && launched) return;
      var value = config[name];
      if (name === "examDuration") {
        if (typeof value !== "number" || !isFinite(value) || value <= 0 || value > 86400) fields.push(name);
      } else if (typeof value === "number" && name !== "apiKey" && (name === "assessmentId" || name === "candidateId")) {
        // Numeric ids are common in real pages; they are sent as given.
      } else if (!nonEmptyString(value)) {
        fields.push(name);
      }
    });
    if (nonEmptyString(config.candidateEmail) && !EMAIL_RE.test(config.candidateEmail.trim()) && fields.indexOf("candidateEmail") === -1) {
      fields.push("candidateEmail");
    }
    if (config.candidateImageUrl !== undefined && config.candidateImageUrl !== null && config.candidateImageUrl !== "") {
      try {
        var url = new URL(config.candidateImageUrl);
        if (url.protocol !== "https:" && url.protocol !== "http:") fields.push("candidateImageUrl");
      } catch (e) {
        fields.push("candidateImageUrl");
      }
    }
    if (config.features !== undefined) {
      if (!isPlainObject(config.features)) fields.push("features");
      else {
        ["aiProctoring", "facialRecognition"].forEach(function (name) {
          if (config.features[name] !== undefined && typeof config.features[name] !== "boolean") fields.push("features." + name);
        });
      }
    }
    if (config.containerId !== undefined && config.containerId !== null && typeof config.containerId !== "string") fields.push("containerId");
    return fields;
  }

  function EyeWidget() {
    this._emitter = new Emitter();
    this._core = null;
    this._initPromise = null;
  }

  EyeWidget.prototype.on = function (event, callback) {
    return this._emitter.on(event, callback);
  };

  EyeWidget.prototype.off = function (event, callback) {
    this._emitter.off(event, callback);
  };

  EyeWidget.prototype.resetSessionListeners = function () {
    this._emitter.reset();
  };

  EyeWidget.prototype.init = function (config) {
    var self = this;
    if (this._initPromise && this._core && this._core.state !== "ended" && this._core.state !== "failed") {
      return this._initPromise; // already starting or running this page's session
    }
    var emitter = this._emitter;
    if (this._core) this._core.destroyUi(); // a new attempt from this page replaces the old badge
    var core = new ProctorCore({
      dialect: "eye",
      emit: function (type, payload) { emitter.emit(type, payload); },
    });
    this._core = core;

    function reject(error) {
      if (core.state !== "failed" && core.state !== "ended") core.fail(error);
      throw error;
    }

    var fields = validateEyeConfig(config);
    if (fields.length) {
      var invalid = ProctormeError("INVALID_CONFIG", "Missing or malformed config fields: " + fields.join(", ") + ".", { fields: fields });
      core.state = "failed";
      emitter.emit("ERROR", errorPayload(invalid));
      this._initPromise = Promise.reject(invalid);
      return this._initPromise;
    }

    var publicConfig = copyWithout(config, ["apiKey", "launchTicket"]);
    var serverConfig = copyWithout(config, EYE_LOCAL_KEYS);
    var features = Object.assign({ aiProctoring: true, facialRecognition: true }, config.features || {});
    serverConfig.features = features;
    core.state = "starting";
    core.makeUi({ containerId: config.containerId, inline: true });
    core.setUi("connecting", "Checking…");
    emitter.emit("SET_CONFIG", { config: publicConfig });

    this._initPromise = core
      .startSession({ dialect: nonEmptyString(config.launchTicket) ? "lti" : "eye", config: serverConfig })
      .then(function () {
        core.signal("SET_CONFIG", { config: publicConfig });
        return core.consent(config.consent, {
          institution: config.institutionName,
          title: config.assessmentTitle,
          camera: true,
          microphone: true,
        });
      })
      .then(function () {
        core.setUi("connecting", "System check…");
        return core.systemCheck({ video: true, audio: true });
      })
      .then(function (check) {
        if (check.error) throw check.error;
        core.setUi("connecting");
        return core.connectFirst();
      })
      .then(function () {
        core.state = "monitoring";
        if (config.showCamPreview && core.stream) core.ui.showPreview(core.stream);
        core.monitor({ focus: true, fullscreen: true, screens: true, clipboard: true });
        core.setUi(core.offlineFrom ? "offline" : "monitoring");
        core.runCaptureHooks();
        var started = {
          sessionId: core.session.sessionId,
          resumed: Boolean(core.session.resumed),
          startedAt: core.session.startedAt,
          deadlineAt: core.session.deadlineAt,
        };
        emitter.emit("STARTED", started);
        core.signal("STARTED", started);
        return started;
      })
      .catch(reject);
    return this._initPromise;
  };

  EyeWidget.prototype.endProctoring = function () {
    var core = this._core;
    if (!core) return Promise.resolve({ status: "ended" });
    return core.end("ended");
  };

  function LoadProctormeWidget() {
    return Promise.resolve(new EyeWidget());
  }

  // =================================================================================================
  // Dialect 2: AutoProctor
  // =================================================================================================
  var AP_TRACKING_DEFAULTS = {
    audio: true,
    numHumans: true,
    tabSwitch: true,
    captureSwitchedTab: true,
    photosAtRandom: true,
    numPhotosAtRandom: 25,
    recordSession: false,
    testTakerPhoto: false,
    forceFullScreen: false,
    detectMultipleScreens: true,
    forceDesktop: false,
    impersonation: false,
    showCamPreview: false,
  };
  var AP_EVIDENCE = {
    FACE_ABSENCE: 5001,
    MULTIPLE_FACE: 5002,
    PERIODIC_SNAPSHOT: 5003,
    SOUND_DETECTED: 5004,
    TAB_NOT_FOCUS: 5005,
    MULTIPLE_SCREENS: 5007,
    EXIT_FULLSCREEN: 5009,
  };

  function dispatch(name, detail) {
    window.dispatchEvent(new CustomEvent(name, { detail: detail }));
  }

  function AutoProctor(credentials) {
    if (!(this instanceof AutoProctor)) throw new TypeError("AutoProctor must be called with new");
    credentials = credentials || {};
    this.credentials = {
      clientId: credentials.clientId,
      testAttemptId: credentials.testAttemptId,
      hashedTestAttemptId: credentials.hashedTestAttemptId,
    };
    this.stopped = false;
    this.destroyed = false;
    var self = this;
    this._core = new ProctorCore({
      dialect: "autoproctor",
      emit: function (type, payload, meta) { self._onCoreEvent(type, payload, meta || {}); },
    });
  }

  AutoProctor.prototype._progress = function (percentage, step, successCode) {
    dispatch("apProgressUpdate", { percentage: percentage, step: step });
    if (successCode) dispatch("apSuccessEvent", { successCode: successCode });
  };

  AutoProctor.prototype._error = function (error) {
    var detail = { errorCode: apErrorCode(error), code: error.code, message: error.message };
    if (error.fields) detail.fields = error.fields;
    error.errorCode = detail.errorCode;
    dispatch("apErrorEvent", detail);
    return error;
  };

  AutoProctor.prototype._onCoreEvent = function (type, payload, meta) {
    if (type === "ERROR") return; // apErrorEvent is dispatched where the error is thrown
    if (type === "TAB_FOCUS_CHANGE" && payload.focused && this._leftTab) {
      this._leftTab = false;
      dispatch("apEvidenceEvent", { evidenceCode: 5006, type: "TAB_FOCUS_BACK", createdAt: nowIso() });
      return;
    }
    if (type === "TAB_FOCUS_CHANGE" && !payload.focused) this._leftTab = true;
    if (type === "END_PROCTORING" && payload.reason !== "stopped" && payload.reason !== "destroyed") {
      // Ended elsewhere (time up, the server): the page should learn that monitoring stopped.
      this.stopped = true;
      dispatch("apMonitoringStopped", { reason: payload.reason });
      return;
    }
    if (meta.flag && AP_EVIDENCE[type]) {
      dispatch("apEvidenceEvent", Object.assign({ evidenceCode: AP_EVIDENCE[type] }, payload));
    }
  };

  function validateApCredentials(credentials, options) {
    var fields = [];
    if (!nonEmptyString(credentials.clientId)) fields.push("clientId");
    if (!nonEmptyString(credentials.testAttemptId) || credentials.testAttemptId.length > 40) fields.push("testAttemptId");
    if (!nonEmptyString(credentials.hashedTestAttemptId)) fields.push("hashedTestAttemptId");
    if (options.testDuration !== undefined && (typeof options.testDuration !== "number" || !(options.testDuration > 0))) fields.push("testDuration");
    if (options.userDetails !== undefined && !isPlainObject(options.userDetails)) fields.push("userDetails");
    var tracking = options.trackingOptions || options.track;
    if (tracking !== undefined && !isPlainObject(tracking)) fields.push("trackingOptions");
    if (tracking && tracking.forceFullScreen && !nonEmptyString(options.testContainerId)) fields.push("testContainerId");
    if (nonEmptyString(options.testContainerId) && !document.getElementById(options.testContainerId)) fields.push("testContainerId");
    return fields;
  }

  AutoProctor.prototype.setup = function (options) {
    var self = this;
    var core = this._core;
    options = options || {};
    if (this.destroyed) return Promise.reject(ProctormeError("SESSION_ENDED", "This AutoProctor instance was destroyed."));
    if (this._setupPromise) return this._setupPromise;

    var fields = validateApCredentials(this.credentials, options);
    if (fields.length) {
      var invalid = ProctormeError("INVALID_CONFIG", "Missing or malformed: " + fields.join(", ") + ".", { fields: fields });
      return Promise.reject(this._error(invalid));
    }
    var given = options.trackingOptions || options.track || {};
    var tracking = {};
    Object.keys(AP_TRACKING_DEFAULTS).forEach(function (key) {
      tracking[key] = given[key] === undefined ? AP_TRACKING_DEFAULTS[key] : given[key];
    });
    this.tracking = tracking;
    this.options = options;

    var serverOptions = copyWithout(options, ["track", "consent"]);
    serverOptions.trackingOptions = tracking;
    var userDetails = options.userDetails || {};
    core.state = "starting";
    core.makeUi({ containerId: options.testContainerId, inline: false });
    core.setUi("connecting", "Setting up…");
    this._progress(5, "Checking credentials");

    this._setupPromise = core
      .startSession({ dialect: "autoproctor", credentials: this.credentials, options: serverOptions })
      .then(function () {
        self._progress(20, "Credentials verified");
        core.signal("SET_CONFIG", { config: { trackingOptions: tracking, userDetails: userDetails, testDuration: options.testDuration, testContainerId: options.testContainerId } });
        return core.consent(options.consent, {
          institution: options.institutionName || "Your institution",
          title: options.assessmentTitle,
          camera: true,
          microphone: tracking.audio,
        });
      })
      .then(function () {
        self._progress(40, "Checking browser, camera and microphone");
        return core.systemCheck({ video: true, audio: Boolean(tracking.audio), desktopOnly: Boolean(tracking.forceDesktop) });
      })
      .then(function (check) {
        if (check.error) throw check.error;
        self._progress(60, "Browser and permissions fine", 2001);
        if (tracking.showCamPreview && core.stream) core.ui.showPreview(core.stream);
        self._progress(75, "Page elements ready", 2002);
        return waitForVideo(core.stream);
      })
      .then(function () {
        self._progress(90, "Video ready", 2003);
        core.state = "ready";
        core.setUi("idle", "Ready");
        self._progress(100, "Setup completed");
        dispatch("apSetupCompleted", { sessionId: core.session.sessionId, resumed: Boolean(core.session.resumed) });
        return { sessionId: core.session.sessionId, resumed: Boolean(core.session.resumed) };
      })
      .catch(function (error) {
        self._setupPromise = null;
        core.fail(error);
        throw self._error(error);
      });
    return this._setupPromise;
  };

  function waitForVideo(stream) {
    var track = stream && stream.getVideoTracks()[0];
    if (!track || track.readyState === "live") return Promise.resolve();
    return sleep(200);
  }

  /** Starts (or, before stop(), resumes) monitoring. Throws once stop() or destroy() ran. */
  AutoProctor.prototype.start = function () {
    var self = this;
    var core = this._core;
    if (this.stopped || this.destroyed) {
      throw ProctormeError("SESSION_ENDED", "Monitoring was stopped for this attempt; it cannot be started again.");
    }
    var ready = this._setupPromise || Promise.reject(ProctormeError("INVALID_CONFIG", "Call setup() before start()."));
    return ready.then(function () {
      if (self.stopped) throw ProctormeError("SESSION_ENDED");
      if (core.state === "monitoring" && core.socket) {
        dispatch("apMonitoringStarted", { sessionId: core.session.sessionId, resumed: true });
        return;
      }
      core.setUi("connecting");
      var tracking = self.tracking;
      return core.connectFirst().then(function () {
        core.state = "monitoring";
        core.monitor({
          focus: tracking.tabSwitch,
          fullscreen: true,
          screens: tracking.detectMultipleScreens,
          clipboard: true,
        });
        if (tracking.forceFullScreen) self._enterFullscreen();
        core.setUi(core.offlineFrom ? "offline" : "monitoring");
        core.runCaptureHooks();
        var started = { sessionId: core.session.sessionId, resumed: Boolean(core.session.resumed), startedAt: core.session.startedAt, deadlineAt: core.session.deadlineAt };
        core.signal("STARTED", started);
        dispatch("apMonitoringStarted", started);
      });
    }).catch(function (error) {
      if (error.errorCode === undefined) self._error(error);
      throw error;
    });
  };

  AutoProctor.prototype._enterFullscreen = function () {
    var container = document.getElementById(this.options.testContainerId);
    if (container && container.requestFullscreen && !document.fullscreenElement) {
      // Needs a user gesture: start() is normally called from a click handler.
      container.requestFullscreen().catch(function () {});
    }
  };

  AutoProctor.prototype.stop = function () {
    var self = this;
    if (this.stopped) return Promise.resolve();
    this.stopped = true;
    var core = this._core;
    return core.end("stopped").then(
      function (info) {
        dispatch("apMonitoringStopped", { reason: "stopped", endedAt: info && info.endedAt });
        return info;
      },
      function (error) {
        self.stopped = false;
        throw self._error(error);
      }
    );
  };

  AutoProctor.prototype.destroy = function () {
    var self = this;
    if (this.destroyed) return Promise.resolve();
    this.destroyed = true;
    var core = this._core;
    var ending = !this.stopped && core.session && core.state !== "ended" ? core.end("destroyed").catch(function () {}) : Promise.resolve();
    this.stopped = true;
    return ending.then(function () {
      core.finish("destroyed", {});
      core.destroyUi();
      dispatch("apInstanceDestroyed", { testAttemptId: self.credentials.testAttemptId });
    });
  };

  // =================================================================================================
  // Globals
  // =================================================================================================
  window.LoadProctormeWidget = LoadProctormeWidget;
  window.LoadEyeWidget = LoadProctormeWidget;
  window.AutoProctor = AutoProctor;
  window.Proctorme = {
    version: VERSION,
    server: SERVER,
    errorMessages: Object.assign({}, MESSAGES),
    autoProctorErrorCodes: Object.assign({}, AP_OWN_CODES),
    evidenceCodes: Object.assign({}, AP_EVIDENCE),
    /**
     * Internal hook for the capture/upload layer: hook({stream, session, settings, server,
     * dialect, signal}) is called when monitoring starts and may return a stop function.
     */
    registerCaptureHook: function (hook) {
      if (typeof hook !== "function") throw new TypeError("registerCaptureHook(hook): hook must be a function");
      captureHooks.push(hook);
      return function unregister() {
        var index = captureHooks.indexOf(hook);
        if (index !== -1) captureHooks.splice(index, 1);
      };
    },
  };

  // =================================================================================================
  // Capture and upload layer (camera frames, snapshots, gated 16 kHz audio → numbered multipart
  // uploads; docs/widget-protocol.md "Media uploads", docs/widget.md "Capture and bandwidth").
  // It only talks to the core through registerCaptureHook's context; nothing above depends on it
  // except end(), which awaits the flush function attached to the stop function returned here.
  // =================================================================================================
  var CAPTURE_DEFAULTS = {
    frameIntervalMs: 1000,
    frameWidth: 320,
    frameHeight: 240,
    snapshotIntervalMs: 30000,
    snapshotWidth: 640,
    snapshotHeight: 480,
    uploadIntervalMs: 5000,
    audioSampleRate: 16000,
  };
  var CAP = {
    // Measured on noisy 640×480 webcam-like material (docs/widget.md, "Capture and bandwidth"):
    frameQuality: 0.4, // 320×240 detection frames: ~4–7 kB each (0.5 costs ~12 % more)
    snapshotQuality: 0.5, // 640×480 identity / evidence snapshots: ~15–20 kB each
    firstSnapshotMs: 2000, // the first snapshot soon after start (identity enrolment)
    tickMs: 250,
    audioRate: 16000,
    blockMs: 100, // RMS blocks for the gate
    windowBlocks: 50, // 5-s windows
    floorHistoryBlocks: 600, // the noise floor looks at the last minute…
    floorPercentile: 0.1, // …and takes its quieter tenth
    gateDb: 10, // a block is loud 10 dB above the floor…
    minDbfs: -50, // …and above an absolute minimum
    minLoudBlocks: 2, // a window is sent when it has at least this many loud blocks
    maxBatchItems: 48, // server limits: 64 items, 4 MB
    maxBatchBytes: 3 * 1024 * 1024,
    maxPendingBytes: 64 * 1024 * 1024, // beyond this (a very long outage) the oldest frames go
    backoffBaseMs: 1000,
    backoffCapMs: 30000,
  };
  var CAPTURE_SEQ_PREFIX = "proctorme:capture:";
  var captureInstance = null;

  // The AudioWorklet: mixes to mono, low-passes and decimates to 16 kHz when the context runs at
  // another rate, and posts 100-ms blocks of 16-bit PCM with their RMS. Loaded from a Blob URL.
  var WORKLET_SOURCE = [
    "class ProctormeTap extends AudioWorkletProcessor {",
    "  constructor(options) {",
    "    super();",
    "    var o = (options && options.processorOptions) || {};",
    "    this.target = o.targetRate || 16000;",
    "    this.blockSamples = o.blockSamples || 1600;",
    "    this.ratio = sampleRate / this.target;",
    "    this.block = new Int16Array(this.blockSamples);",
    "    this.fill = 0;",
    "    this.energy = 0;",
    "    this.resample = this.ratio > 1.0001;",
    "    if (this.resample) {",
    "      // Windowed-sinc low-pass at 0.45 × the target rate, then linear interpolation.",
    "      var fc = (0.45 * this.target) / sampleRate;",
    "      var n = Math.max(15, Math.round(8 * this.ratio) | 1);",
    "      var taps = new Float32Array(n);",
    "      var sum = 0;",
    "      for (var k = 0; k < n; k++) {",
    "        var m = k - (n - 1) / 2;",
    "        var sinc = m === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * m) / (Math.PI * m);",
    "        taps[k] = sinc * (0.54 - 0.46 * Math.cos((2 * Math.PI * k) / (n - 1)));",
    "        sum += taps[k];",
    "      }",
    "      for (var j = 0; j < n; j++) taps[j] /= sum;",
    "      this.taps = taps;",
    "      this.ring = new Float32Array(n);",
    "      this.ringPos = 0;",
    "      this.inputIndex = -1;",
    "      this.nextOut = 0;",
    "      this.prev = 0;",
    "    }",
    "  }",
    "  emit(v) {",
    "    if (v > 1) v = 1; else if (v < -1) v = -1;",
    "    this.block[this.fill++] = v < 0 ? v * 32768 : v * 32767;",
    "    this.energy += v * v;",
    "    if (this.fill === this.blockSamples) {",
    "      var rms = Math.sqrt(this.energy / this.blockSamples);",
    "      this.port.postMessage({ pcm: this.block.buffer, rms: rms }, [this.block.buffer]);",
    "      this.block = new Int16Array(this.blockSamples);",
    "      this.fill = 0;",
    "      this.energy = 0;",
    "    }",
    "  }",
    "  process(inputs) {",
    "    var input = inputs[0];",
    "    if (!input || !input.length) return true;",
    "    var channels = input.length, frames = input[0].length;",
    "    for (var i = 0; i < frames; i++) {",
    "      var x = 0;",
    "      for (var c = 0; c < channels; c++) x += input[c][i];",
    "      x /= channels;",
    "      if (!this.resample) { this.emit(x); continue; }",
    "      var n = this.taps.length;",
    "      this.ring[this.ringPos] = x;",
    "      this.ringPos = (this.ringPos + 1) % n;",
    "      var y = 0;",
    "      for (var k = 0, p = this.ringPos; k < n; k++, p = (p + 1) % n) y += this.taps[k] * this.ring[p];",
    "      this.inputIndex++;",
    "      while (this.nextOut <= this.inputIndex) {",
    "        var frac = this.nextOut - (this.inputIndex - 1);",
    "        this.emit(this.prev + (y - this.prev) * frac);",
    "        this.nextOut += this.ratio;",
    "      }",
    "      this.prev = y;",
    "    }",
    "    return true;",
    "  }",
    "}",
    "registerProcessor('proctorme-tap', ProctormeTap);",
  ].join("\n");

  // ---- pending items kept in IndexedDB (a reload or a crash loses nothing unacknowledged) -------
  var captureDb = {
    promise: null,
    open: function () {
      if (this.promise) return this.promise;
      this.promise = new Promise(function (resolve) {
        var request;
        try {
          if (!window.indexedDB) return resolve(null);
          request = window.indexedDB.open("proctorme-capture", 1);
        } catch (e) {
          return resolve(null);
        }
        request.onupgradeneeded = function () {
          var store = request.result.createObjectStore("items", { keyPath: "id" });
          store.createIndex("session", "sessionId");
        };
        request.onsuccess = function () { resolve(request.result); };
        request.onerror = request.onblocked = function () { resolve(null); };
      });
      return this.promise;
    },
    run: function (mode, work) {
      return this.open().then(function (db) {
        if (!db) return null;
        return new Promise(function (resolve) {
          var result = null;
          try {
            var tx = db.transaction("items", mode);
            result = work(tx.objectStore("items"));
            tx.oncomplete = function () { resolve(result && "value" in result ? result.value : null); };
            tx.onerror = tx.onabort = function () { resolve(null); };
          } catch (e) {
            resolve(null); // quota, private mode: memory still has everything
          }
        });
      });
    },
    put: function (record) {
      return this.run("readwrite", function (store) { store.put(record); });
    },
    remove: function (ids) {
      if (!ids.length) return Promise.resolve();
      return this.run("readwrite", function (store) { ids.forEach(function (id) { store.delete(id); }); });
    },
    load: function (sessionId) {
      return this.run("readonly", function (store) {
        var out = { value: [] };
        store.index("session").openCursor(window.IDBKeyRange.only(sessionId)).onsuccess = function (event) {
          var cursor = event.target.result;
          if (!cursor) return;
          out.value.push(cursor.value);
          cursor.continue();
        };
        return out;
      });
    },
    /** Drops this session's items, and anything left over from sessions more than two days old. */
    forget: function (sessionId) {
      var cutoff = Date.now() - 2 * 24 * 3600 * 1000;
      return this.run("readwrite", function (store) {
        store.openCursor().onsuccess = function (event) {
          var cursor = event.target.result;
          if (!cursor) return;
          if (cursor.value.sessionId === sessionId || cursor.value.savedAt < cutoff) cursor.delete();
          cursor.continue();
        };
      });
    },
  };

  function dbfs(rms) {
    return 20 * Math.log10(rms + 1e-9);
  }

  function percentile(values, fraction) {
    if (!values.length) return -120;
    var sorted = values.slice().sort(function (a, b) { return a - b; });
    return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
  }

  function MediaCapture(ctx) {
    var self = this;
    var settings = ctx.settings || {};
    var features = settings.features || {};
    var tracking = settings.tracking || {};
    this.ctx = ctx;
    this.opts = Object.assign({}, CAPTURE_DEFAULTS, settings.capture || {});
    this.sessionId = ctx.session.sessionId;
    var ai = features.aiProctoring !== false;
    var identity = features.facialRecognition !== false;
    var hasVideo = ctx.stream.getVideoTracks().length > 0;
    var hasAudio = ctx.stream.getAudioTracks().length > 0;
    this.want = {
      frame: hasVideo && ai,
      snapshot: hasVideo && (identity || (ai && tracking.photosAtRandom !== false)),
      audio: hasAudio && ai && tracking.audio !== false,
    };
    this.pending = []; // {id, kind, seq, capturedAt, blob, size, durationMs?, sampleRate?}
    this.pendingBytes = 0;
    this.seqs = this.loadSeqs();
    this.busy = {};
    this.inFlight = false;
    this.attempt = 0;
    this.maxItems = CAP.maxBatchItems;
    this.nextUploadAt = Date.now() + this.opts.uploadIntervalMs;
    this.flushWaiters = [];
    this.stopped = false;
    this.halted = false; // the server refused uploads for good (403 / 409)
    this.audioHistory = [];
    this.audioWindow = [];
    this.stats = {
      startedAt: Date.now(),
      captured: { frame: 0, snapshot: 0, audio: 0 },
      acknowledged: { frame: 0, snapshot: 0, audio: 0 },
      bytes: { frame: 0, snapshot: 0, audio: 0 },
      audioWindows: { seen: 0, sent: 0 },
      uploads: 0,
      failures: 0,
      dropped: 0,
      noiseFloorDbfs: null,
    };
    var start = Date.now();
    this.due = { frame: start, snapshot: start + CAP.firstSnapshotMs };

    if (this.want.frame || this.want.snapshot) this.openVideo();
    if (this.want.audio) this.openAudio();
    this.restore();
    this.timer = setInterval(function () { self.tick(); }, CAP.tickMs);
    this.onOnline = function () {
      self.attempt = 0;
      self.nextUploadAt = 0;
      self.tick();
    };
    window.addEventListener("online", this.onOnline);
  }

  // ---- sequence numbers: per kind, consecutive, kept across reloads of the page ------------------

  MediaCapture.prototype.loadSeqs = function () {
    var seqs = { frame: 0, snapshot: 0, audio: 0 };
    try {
      var saved = storage && JSON.parse(storage.getItem(CAPTURE_SEQ_PREFIX + this.sessionId) || "null");
      if (saved) Object.keys(seqs).forEach(function (k) { seqs[k] = Number(saved[k]) || 0; });
    } catch (e) { /* start from what IndexedDB has */ }
    return seqs;
  };

  MediaCapture.prototype.saveSeqs = function () {
    try {
      if (storage) storage.setItem(CAPTURE_SEQ_PREFIX + this.sessionId, JSON.stringify(this.seqs));
    } catch (e) { /* quota */ }
  };

  /** Items a previous page of this session captured but never got acknowledged. */
  MediaCapture.prototype.restore = function () {
    var self = this;
    captureDb.load(this.sessionId).then(function (records) {
      if (!records || !records.length || self.stopped) return;
      var known = {};
      self.pending.forEach(function (item) { known[item.id] = true; });
      records.forEach(function (record) {
        self.seqs[record.kind] = Math.max(self.seqs[record.kind] || 0, record.seq);
        if (known[record.id]) return;
        self.pending.push(record);
        self.pendingBytes += record.size;
      });
      self.pending.sort(function (a, b) { return a.capturedAt < b.capturedAt ? -1 : a.capturedAt > b.capturedAt ? 1 : 0; });
      self.saveSeqs();
      self.nextUploadAt = 0;
    });
  };

  MediaCapture.prototype.add = function (kind, blob, capturedAt, extra) {
    if (this.stopped) return;
    var seq = ++this.seqs[kind];
    this.saveSeqs();
    var item = Object.assign({ id: this.sessionId + ":" + kind + ":" + seq, sessionId: this.sessionId, kind: kind, seq: seq, capturedAt: capturedAt, blob: blob, size: blob.size, savedAt: Date.now() }, extra || {});
    this.pending.push(item);
    this.pendingBytes += item.size;
    this.stats.captured[kind]++;
    captureDb.put(item);
    this.trim();
  };

  /** A very long outage: keep memory bounded by giving up the oldest detection frames. */
  MediaCapture.prototype.trim = function () {
    if (this.pendingBytes <= CAP.maxPendingBytes) return;
    var dropped = [];
    for (var i = 0; i < this.pending.length && this.pendingBytes > CAP.maxPendingBytes * 0.9; ) {
      var item = this.pending[i];
      if (item.kind !== "frame") { i++; continue; }
      this.pending.splice(i, 1);
      this.pendingBytes -= item.size;
      dropped.push(item.id);
    }
    this.stats.dropped += dropped.length;
    captureDb.remove(dropped);
  };

  MediaCapture.prototype.isoNow = function (offsetMs) {
    return new Date(this.ctx.now() - (offsetMs || 0)).toISOString();
  };

  // ---- camera: one detached video element, one canvas ----------------------------------------

  MediaCapture.prototype.openVideo = function () {
    var video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.setAttribute("playsinline", "");
    video.srcObject = new MediaStream(this.ctx.stream.getVideoTracks());
    var playing = video.play();
    if (playing && playing.catch) playing.catch(function () {});
    this.video = video;
    this.canvas = document.createElement("canvas");
    this.canvas2d = this.canvas.getContext("2d", { alpha: false });
  };

  MediaCapture.prototype.grab = function (kind, maxWidth, maxHeight, quality) {
    var self = this;
    var video = this.video;
    if (!video || this.busy[kind] || video.readyState < 2 || !video.videoWidth) return;
    // Fit inside maxWidth × maxHeight keeping the camera's aspect (no distortion, no crop).
    var scale = Math.min(maxWidth / video.videoWidth, maxHeight / video.videoHeight, 1);
    var width = Math.max(2, Math.round(video.videoWidth * scale));
    var height = Math.max(2, Math.round(video.videoHeight * scale));
    if (this.canvas.width !== width) this.canvas.width = width;
    if (this.canvas.height !== height) this.canvas.height = height;
    // (Resizing resets the context.) A filtered downscale averages sensor noise away: better
    // detection and smaller JPEGs.
    this.canvas2d.imageSmoothingEnabled = true;
    this.canvas2d.imageSmoothingQuality = "high";
    this.canvas2d.drawImage(video, 0, 0, width, height);
    var capturedAt = this.isoNow();
    this.busy[kind] = true;
    this.canvas.toBlob(function (blob) {
      self.busy[kind] = false;
      if (blob && blob.size > 0) self.add(kind, blob, capturedAt);
    }, "image/jpeg", quality);
  };

  // ---- microphone: AudioWorklet → 100-ms blocks → 5-s windows, sent when louder than the room --

  MediaCapture.prototype.openAudio = function () {
    var self = this;
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context || !window.AudioWorkletNode) return;
    var track = this.ctx.stream.getAudioTracks()[0];
    var audio, source;
    try {
      // Chromium and Safari resample a microphone into a 16 kHz context themselves.
      audio = new Context({ sampleRate: CAP.audioRate });
      source = audio.createMediaStreamSource(new MediaStream([track]));
    } catch (e) {
      // Firefox refuses to connect a stream to a context at another rate: the worklet resamples.
      if (audio) audio.close().catch(function () {});
      try {
        audio = new Context();
        source = audio.createMediaStreamSource(new MediaStream([track]));
      } catch (e2) {
        if (window.console) console.warn("[proctorme] no audio capture:", e2);
        return;
      }
    }
    this.audio = audio;
    var url = URL.createObjectURL(new Blob([WORKLET_SOURCE], { type: "application/javascript" }));
    audio.audioWorklet.addModule(url).then(function () {
      URL.revokeObjectURL(url);
      if (self.stopped) return;
      var node = new AudioWorkletNode(audio, "proctorme-tap", {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        outputChannelCount: [1],
        processorOptions: { targetRate: CAP.audioRate, blockSamples: (CAP.audioRate * CAP.blockMs) / 1000 },
      });
      node.port.onmessage = function (event) { self.onAudioBlock(event.data); };
      // A silent path to the destination keeps the graph pulling in every browser.
      var mute = audio.createGain();
      mute.gain.value = 0;
      source.connect(node);
      node.connect(mute);
      mute.connect(audio.destination);
      self.audioNode = node;
      self.resumeAudio();
    }, function (error) {
      URL.revokeObjectURL(url);
      if (window.console) console.warn("[proctorme] audio worklet unavailable:", error);
    });
  };

  /** A context made without a user gesture may start suspended: resume it on the next one. */
  MediaCapture.prototype.resumeAudio = function () {
    var self = this;
    var audio = this.audio;
    if (!audio || audio.state !== "suspended") return;
    audio.resume().catch(function () {});
    if (this.gestureListening) return;
    this.gestureListening = true;
    var resume = function () {
      if (self.audio && self.audio.state === "suspended") self.audio.resume().catch(function () {});
      ["pointerdown", "keydown"].forEach(function (type) { document.removeEventListener(type, resume, true); });
      self.gestureListening = false;
    };
    ["pointerdown", "keydown"].forEach(function (type) { document.addEventListener(type, resume, true); });
  };

  MediaCapture.prototype.onAudioBlock = function (data) {
    if (this.stopped) return;
    if (!(this.holdUntil && Date.now() < this.holdUntil)) { // ending: see flush()
      var db = dbfs(data.rms);
      if (!this.audioWindow.length) this.audioWindowStart = this.isoNow(CAP.blockMs);
      this.audioWindow.push({ pcm: new Int16Array(data.pcm), db: db });
      this.audioHistory.push(db);
      if (this.audioHistory.length > CAP.floorHistoryBlocks) this.audioHistory.shift();
      if (this.audioWindow.length >= CAP.windowBlocks) this.closeAudioWindow();
    }
    this.tick(); // the audio thread is never throttled: it also keeps capture going in hidden tabs
  };

  /** Sends the window when enough of its 100-ms blocks stand clear of the room's noise floor. */
  MediaCapture.prototype.closeAudioWindow = function () {
    var blocks = this.audioWindow;
    this.audioWindow = [];
    if (!blocks.length) return;
    var floor = percentile(this.audioHistory, CAP.floorPercentile);
    this.stats.noiseFloorDbfs = Math.round(floor * 10) / 10;
    this.stats.audioWindows.seen++;
    var loud = 0;
    for (var i = 0; i < blocks.length; i++) {
      if (blocks[i].db >= floor + CAP.gateDb && blocks[i].db >= CAP.minDbfs) loud++;
    }
    if (loud < CAP.minLoudBlocks) return;
    var samples = 0;
    blocks.forEach(function (b) { samples += b.pcm.length; });
    var pcm = new Int16Array(samples);
    var offset = 0;
    blocks.forEach(function (b) { pcm.set(b.pcm, offset); offset += b.pcm.length; });
    // Raw 16-bit little-endian PCM (every browser platform is little-endian).
    var blob = new Blob([pcm.buffer], { type: "application/octet-stream" });
    this.stats.audioWindows.sent++;
    this.add("audio", blob, this.audioWindowStart, {
      durationMs: Math.round((samples * 1000) / CAP.audioRate),
      sampleRate: CAP.audioRate,
    });
  };

  // ---- the clock: capture when due, upload when due ------------------------------------------

  MediaCapture.prototype.tick = function () {
    if (this.stopped) return;
    var now = Date.now();
    var opts = this.opts;
    var holding = this.holdUntil && now < this.holdUntil;
    if (this.want.frame && now >= this.due.frame && !holding) {
      this.due.frame += opts.frameIntervalMs;
      if (this.due.frame <= now) this.due.frame = now + opts.frameIntervalMs; // throttled: no burst
      this.grab("frame", opts.frameWidth, opts.frameHeight, CAP.frameQuality);
    }
    if (this.want.snapshot && now >= this.due.snapshot && !holding) {
      this.due.snapshot = now + opts.snapshotIntervalMs;
      this.grab("snapshot", opts.snapshotWidth, opts.snapshotHeight, CAP.snapshotQuality);
    }
    if (this.audio && this.audio.state === "suspended") this.resumeAudio();
    if (!this.inFlight && !this.halted && this.pending.length && now >= this.nextUploadAt) this.upload();
  };

  // ---- uploads ------------------------------------------------------------------------------------

  MediaCapture.prototype.pickBatch = function () {
    var batch = [];
    var bytes = 0;
    for (var i = 0; i < this.pending.length && batch.length < this.maxItems; i++) {
      var item = this.pending[i];
      if (batch.length && bytes + item.size > CAP.maxBatchBytes) break;
      batch.push(item);
      bytes += item.size;
    }
    return batch;
  };

  MediaCapture.prototype.upload = function () {
    var self = this;
    var session = this.ctx.currentSession() || this.ctx.session;
    var batch = this.pickBatch();
    if (!batch.length || !session || !session.uploadUrl) return;
    var form = new FormData();
    var meta = batch.map(function (item, index) {
      var entry = { part: "p" + index, kind: item.kind, seq: item.seq, capturedAt: item.capturedAt };
      if (item.kind === "audio") {
        entry.durationMs = item.durationMs;
        entry.sampleRate = item.sampleRate;
      }
      return entry;
    });
    form.append("meta", JSON.stringify({ items: meta }));
    batch.forEach(function (item, index) {
      form.append("p" + index, item.blob, item.kind + "-" + item.seq + (item.kind === "audio" ? ".pcm" : ".jpg"));
    });
    this.inFlight = true;
    this.stats.uploads++;
    fetch(session.uploadUrl, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { Authorization: "Bearer " + session.token },
      body: form,
    }).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
        return { status: response.status, body: body };
      });
    }).then(
      function (result) { self.inFlight = false; self.answered(batch, result); },
      function () { self.inFlight = false; self.failed(); }
    );
  };

  MediaCapture.prototype.remove = function (items) {
    var ids = {};
    items.forEach(function (item) { ids[item.id] = true; });
    var kept = [];
    var bytes = 0;
    this.pending.forEach(function (item) {
      if (ids[item.id]) return;
      kept.push(item);
      bytes += item.size;
    });
    this.pending = kept;
    this.pendingBytes = bytes;
    captureDb.remove(Object.keys(ids));
  };

  MediaCapture.prototype.answered = function (batch, result) {
    var self = this;
    var error = (result.body && result.body.error) || {};
    var details = error.details || {};
    if (result.status === 202) {
      this.attempt = 0;
      this.maxItems = CAP.maxBatchItems;
      batch.forEach(function (item) {
        self.stats.acknowledged[item.kind]++;
        self.stats.bytes[item.kind] += item.size;
      });
      this.remove(batch);
      // A backlog (after an outage) goes out batch after batch; otherwise wait for the cadence.
      this.nextUploadAt = this.pending.length > this.maxItems || this.flushing ? 0 : Date.now() + this.opts.uploadIntervalMs;
    } else if (result.status === 400 && error.code === "INVALID_MEDIA") {
      // Nothing of the batch was stored: drop the item the server named, resend the rest.
      var bad = batch.filter(function (item) { return item.kind === details.kind && item.seq === details.seq; });
      if (!bad.length) bad = batch; // it could not name one (bad meta): do not loop on it
      if (window.console) console.warn("[proctorme] upload refused:", details.reason || error.message, bad.length, "item(s) dropped");
      this.stats.dropped += bad.length;
      this.remove(bad);
      this.nextUploadAt = 0;
    } else if (result.status === 413) {
      if (batch.length > 1) {
        this.maxItems = Math.max(1, Math.floor(batch.length / 2)); // smaller batches
      } else {
        this.stats.dropped += 1;
        this.remove(batch);
      }
      this.nextUploadAt = 0;
    } else if (result.status === 409) {
      this.halt(true); // SESSION_ENDED: nothing more will be accepted
    } else if (result.status === 403) {
      this.halt(false); // this page may not use the session: keep what we have for a later page
    } else {
      if (result.status === 401) this.refreshToken();
      this.failed(); // 401 (after a refresh), 429, 5xx: back off and retry
      return;
    }
    this.settleFlush();
    if (this.nextUploadAt === 0) this.tick();
  };

  MediaCapture.prototype.refreshToken = function () {
    var now = Date.now();
    if (this.lastRefresh && now - this.lastRefresh < 60000) return;
    this.lastRefresh = now;
    this.ctx.refreshSession();
  };

  /** Exponential backoff with jitter: ~1 s, 2 s, 4 s … capped at 30 s (short while flushing). */
  MediaCapture.prototype.failed = function () {
    this.stats.failures++;
    var cap = Math.min(CAP.backoffCapMs, CAP.backoffBaseMs * Math.pow(2, this.attempt));
    this.attempt++;
    var delay = cap / 2 + Math.random() * (cap / 2);
    if (this.flushing) delay = Math.min(delay, 400 + Math.random() * 300);
    this.nextUploadAt = Date.now() + delay;
    this.settleFlush();
  };

  MediaCapture.prototype.halt = function (forget) {
    this.halted = true;
    if (forget) {
      this.pending = [];
      this.pendingBytes = 0;
      this.forget();
    }
  };

  MediaCapture.prototype.forget = function () {
    captureDb.forget(this.sessionId);
    try { if (storage) storage.removeItem(CAPTURE_SEQ_PREFIX + this.sessionId); } catch (e) { /* ignore */ }
  };

  /** Upload everything captured so far (the last, partial audio window too); ≤ timeoutMs. */
  MediaCapture.prototype.flush = function (timeoutMs) {
    var self = this;
    if (this.stopped || this.halted) return Promise.resolve();
    if (this.audioWindow.length >= 10) this.closeAudioWindow(); // a partial window of ≥ 1 s
    this.audioWindow = [];
    // The session is about to end: capture nothing new meanwhile (it would be refused after the
    // end). Should the end fail, capture resumes by itself a little later.
    this.holdUntil = Date.now() + timeoutMs + 5000;
    this.flushing = true;
    this.attempt = Math.min(this.attempt, 1);
    this.nextUploadAt = 0;
    return new Promise(function (resolve) {
      var done = function () {
        clearTimeout(timer);
        self.flushing = false;
        resolve();
      };
      var timer = setTimeout(function () {
        self.flushWaiters = self.flushWaiters.filter(function (w) { return w !== done; });
        done();
      }, timeoutMs);
      self.flushWaiters.push(done);
      // Wait for capture already under way (a toBlob in progress) to land in the queue.
      setTimeout(function () { self.settleFlush(); self.tick(); }, 50);
    });
  };

  MediaCapture.prototype.settleFlush = function () {
    if (!this.flushWaiters.length) return;
    var busy = this.busy.frame || this.busy.snapshot;
    if (this.halted || (!this.pending.length && !this.inFlight && !busy)) {
      var waiters = this.flushWaiters;
      this.flushWaiters = [];
      waiters.forEach(function (done) { done(); });
    }
  };

  MediaCapture.prototype.stop = function () {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    window.removeEventListener("online", this.onOnline);
    if (this.video) {
      this.video.pause();
      this.video.srcObject = null;
      this.video = null;
    }
    if (this.audioNode) this.audioNode.port.onmessage = null;
    if (this.audio) this.audio.close().catch(function () {});
    this.audio = null;
    var waiters = this.flushWaiters;
    this.flushWaiters = [];
    waiters.forEach(function (done) { done(); });
    // An ended session accepts nothing more; otherwise (a failure) keep it for a resuming page.
    if (this.ctx.isEnded()) this.forget();
    if (captureInstance === this) captureInstance = null;
  };

  window.Proctorme.registerCaptureHook(function (ctx) {
    if (!ctx.session || !ctx.session.uploadUrl || !window.fetch || !window.FormData) return undefined;
    var capture = new MediaCapture(ctx);
    captureInstance = capture;
    var stop = function () { capture.stop(); };
    stop.flush = function (timeoutMs) { return capture.flush(timeoutMs); };
    return stop;
  });
  // Internal, for tests and debugging: the running capture (stats, pending queue).
  Object.defineProperty(window.Proctorme, "capture", { get: function () { return captureInstance; } });
})();
