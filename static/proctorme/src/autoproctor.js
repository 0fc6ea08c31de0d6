/* global AP_TRACKING_DEFAULTS, ProctorCore, ProctormeError, acquireScreen, apErrorCode, copyWithout, isPlainObject, nonEmptyString, nowIso, screenError, sleep */
/* exported AP_EVIDENCE, AutoProctor, dispatch */
// =================================================================================================
// Dialect 2: AutoProctor
// =================================================================================================
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

// start() and stop() settle first and send their event on the next task: AutoProctor's Moodle
// plugin awaits them and only then adds its apMonitoringStarted / apMonitoringStopped listener.
function dispatchAfterSettling(name, detail) {
  setTimeout(function () { dispatch(name, detail); }, 0);
}

function AutoProctor(credentials) {
  if (!(this instanceof AutoProctor)) throw new TypeError("AutoProctor must be called with new");
  credentials = credentials || {};
  this.credentials = {
    clientId: credentials.clientId,
    testAttemptId: credentials.testAttemptId,
    hashedTestAttemptId: credentials.hashedTestAttemptId,
  };
  // A report credential from the institution's server (showReport() only).
  if (nonEmptyString(credentials.reportToken)) this.credentials.reportToken = credentials.reportToken;
  // AutoProctor's own server and environment ("https://autoproctor.co", "production"): kept
  // so pages can read them back, never used; this widget talks to the server it came from.
  this.domain = credentials.domain;
  this.environment = credentials.environment;
  this.hashedTestAttemptId = credentials.hashedTestAttemptId;
  this.testAttemptId = credentials.testAttemptId;
  this.setupState = null; // "ready" or "error" once setup() settles, as AutoProctor's
  this.isApTestStarted = false; // true while monitoring (AutoProctor's Moodle plugin reads it)
  this.isAuxiliaryDeviceConfirmed = false; // true once a phone is paired (auxiliaryDevice; its WordPress plugin reads it)
  this.idCardResult = null; // the photo-ID step's last answer (idCardVerification)
  this.stopped = false;
  this.destroyed = false;
  var self = this;
  this._core = new ProctorCore({
    dialect: "autoproctor",
    emit: function (type, payload, meta) { self._onCoreEvent(type, payload, meta || {}); },
  });
}

// A setup step that takes longer than this makes an apProgressDelayed event.
var AP_PROGRESS_DELAY_MS = 15000;

AutoProctor.prototype._progress = function (percentage, step, successCode) {
  var self = this;
  // action "show" while setting up, then one "hide" (AutoProctor's loader protocol).
  dispatch("apProgressUpdate", { action: "show", percentage: percentage, step: step });
  if (successCode) dispatch("apSuccessEvent", { successCode: successCode });
  clearTimeout(this._delayTimer);
  this._delayTimer = setTimeout(function () {
    dispatch("apProgressDelayed", { percentage: percentage, step: step, delayedMs: AP_PROGRESS_DELAY_MS });
  }, AP_PROGRESS_DELAY_MS);
  if (percentage >= 100) self._progressDone();
};

AutoProctor.prototype._progressDone = function () {
  clearTimeout(this._delayTimer);
  this._delayTimer = null;
  dispatch("apProgressUpdate", { action: "hide", percentage: 100 });
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
    // Ended elsewhere (time up, the server, a proctor): the page should learn that monitoring stopped.
    this.stopped = true;
    this.isApTestStarted = false;
    this._guardUnload(false);
    var stopped = { reason: payload.reason, endedAt: payload.endedAt };
    if (payload.message) stopped.message = payload.message;
    dispatch("apMonitoringStopped", stopped);
    return;
  }
  // Live intervention and warnings (intervention.js), named as AutoProctor names its events.
  switch (type) {
    case "PROCTOR_MESSAGE": dispatch("apProctorMessage", payload); return;
    case "MESSAGE_ACKNOWLEDGED": dispatch("apMessageAcknowledged", payload); return;
    case "PROCTORING_PAUSED": dispatch("apMonitoringPaused", payload); return;
    case "PROCTORING_RESUMED": dispatch("apMonitoringResumed", payload); return;
    case "TIME_EXTENDED": dispatch("apTimeExtended", payload); return;
    case "CANDIDATE_WARNING": dispatch("apCandidateWarning", payload); return;
    default: break;
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

  var serverOptions = copyWithout(options, ["track", "consent", "locale"]);
  serverOptions.trackingOptions = tracking;
  var userDetails = options.userDetails || {};
  core.state = "starting";
  core.makeUi({ containerId: options.testContainerId, inline: false, locale: options.locale });
  core.setUi("connecting", "settingUp");
  this._progress(5, "Checking credentials");

  this._setupPromise = core
    .startSession({ dialect: "autoproctor", credentials: this.credentials, options: serverOptions })
    .then(function () {
      self._progress(20, "Credentials verified");
      core.signal("SET_CONFIG", { config: { trackingOptions: tracking, userDetails: userDetails, testDuration: options.testDuration, testContainerId: options.testContainerId } });
      var decided = self._decided();
      return core.consent(options.consent, {
        institution: options.institutionName,
        title: options.assessmentTitle,
        camera: true,
        microphone: tracking.audio,
        screen: decided.captureSwitchedTab === true,
        recording: decided.recordSession === true,
      });
    })
    .then(function () {
      self._progress(40, "Checking browser, camera and microphone");
      var media = core.settings.media || {};
      return core.systemCheck({ video: media.camera !== false, audio: Boolean(tracking.audio) && media.microphone !== false, desktopOnly: Boolean(tracking.forceDesktop) });
    })
    .then(function (check) {
      if (check.error) throw check.error;
      return self._shareScreen();
    })
    .then(function () {
      dispatch("apBrowserDependencyCheckPassed", { successCode: 2001 });
      self._progress(60, "Browser and permissions fine", 2001);
      if (tracking.showCamPreview && core.stream) core.ui.showPreview(core.stream);
      self._progress(75, "Page elements ready", 2002);
      return waitForVideo(core.stream);
    })
    .then(function () {
      self._progress(90, "Video ready", 2003);
      if (!core.session.idCardUrl) return null;
      self._progress(92, "Photo ID");
      return self._idCardStep();
    })
    .then(function () {
      if (!core.session.auxPairingUrl) return null;
      self._progress(95, "Pairing the phone");
      return self._auxStep();
    })
    .then(function () {
      core.state = "ready";
      core.setUi("idle", "ready");
      self.setupState = "ready";
      self._progress(100, "Setup completed");
      dispatch("apSetupCompleted", { sessionId: core.session.sessionId, resumed: Boolean(core.session.resumed) });
      return { sessionId: core.session.sessionId, resumed: Boolean(core.session.resumed) };
    })
    .catch(function (error) {
      self._setupPromise = null;
      self.setupState = "error";
      self._progressDone();
      core.fail(error);
      throw self._error(error);
    });
  return this._setupPromise;
};

/** The tracking options as the server decided them (the page may turn some on, never off). */
AutoProctor.prototype._decided = function () {
  var settings = this._core.settings || {};
  return settings.tracking || this.tracking || {};
};

/**
 * captureSwitchedTab: the entire screen is shared before the test starts and kept until it ends.
 * A refusal (or the wrong surface) fails setup with AutoProctor's 4011–4014 / 4017 and is
 * reported as SCREEN_NOT_SHARED; a share stopped during the test is reported (4011, reason
 * "stopped") and the test goes on without screen captures.
 */
AutoProctor.prototype._shareScreen = function () {
  var self = this;
  var core = this._core;
  if (this._decided().captureSwitchedTab !== true || core.screenStream) return Promise.resolve();
  this._progress(50, "Sharing the screen");
  return acquireScreen().then(
    function (stream) {
      core.keepScreen(stream, function () {
        if (self.stopped || self.destroyed) return;
        var stopped = screenError("stopped");
        core.signal("SCREEN_NOT_SHARED", { reason: "stopped", errorCode: stopped.apCode });
        self._error(stopped);
      });
    },
    function (error) {
      core.signal("SCREEN_NOT_SHARED", { reason: error.reason, errorCode: error.apCode });
      throw error;
    }
  );
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
      self.isApTestStarted = true;
      dispatchAfterSettling("apMonitoringStarted", { sessionId: core.session.sessionId, resumed: true });
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
        blockClipboard: Boolean(tracking.disableCopyPaste),
      });
      if (tracking.forceFullScreen) self._enterFullscreen();
      core.setUi(core.offlineFrom ? "offline" : "monitoring");
      core.runCaptureHooks();
      var started = { sessionId: core.session.sessionId, resumed: Boolean(core.session.resumed), startedAt: core.session.startedAt, deadlineAt: core.session.deadlineAt };
      core.signal("STARTED", started);
      self.isApTestStarted = true;
      if (self.options.alertBeforeUnload !== false) self._guardUnload(true);
      dispatchAfterSettling("apMonitoringStarted", started);
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

// alertBeforeUnload (default on): the browser asks before the candidate leaves a monitored page.
AutoProctor.prototype._guardUnload = function (on) {
  if (on && !this._unloadGuard) {
    this._unloadGuard = function (event) {
      event.preventDefault();
      event.returnValue = "";
      return "";
    };
    window.addEventListener("beforeunload", this._unloadGuard);
  } else if (!on && this._unloadGuard) {
    window.removeEventListener("beforeunload", this._unloadGuard);
    this._unloadGuard = null;
  }
};

AutoProctor.prototype.stop = function () {
  var self = this;
  if (this.stopped) return Promise.resolve();
  this.stopped = true;
  this._guardUnload(false);
  var core = this._core;
  return core.end("stopped").then(
    function (info) {
      self.isApTestStarted = false;
      dispatchAfterSettling("apMonitoringStopped", { reason: "stopped", endedAt: info && info.endedAt });
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
  clearTimeout(this._auxTimer);
  this._guardUnload(false);
  clearTimeout(this._delayTimer);
  var core = this._core;
  var ending = !this.stopped && core.session && core.state !== "ended" ? core.end("destroyed").catch(function () {}) : Promise.resolve();
  this.stopped = true;
  return ending.then(function () {
    self.isApTestStarted = false;
    core.finish("destroyed", {});
    core.destroyUi();
    dispatch("apInstanceDestroyed", { testAttemptId: self.credentials.testAttemptId });
  });
};
