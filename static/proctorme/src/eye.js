/* global EMAIL_RE, EYE_LOCAL_KEYS, EYE_REQUIRED, MAX_EXAM_SECONDS, Emitter, ProctorCore, ProctormeError, copyWithout, errorPayload, isPlainObject, nonEmptyString */
/* exported LoadProctormeWidget */
// =================================================================================================
// Dialect 1: Eye by Proctorme
// =================================================================================================
function validateEyeConfig(config) {
  if (!isPlainObject(config)) return EYE_REQUIRED.slice();
  var fields = [];
  // The LMS tool page (LTI) starts with a signed launch ticket instead of an API key.
  var launched = nonEmptyString(config.launchTicket);
  EYE_REQUIRED.forEach(function (name) {
    if (name === "apiKey" && launched) return;
    var value = config[name];
    if (name === "examDuration") {
      if (typeof value !== "number" || !isFinite(value) || value <= 0 || value > MAX_EXAM_SECONDS) fields.push(name);
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
  // features go up as the page gave them: the server fills in the defaults and has the last word.
  var serverConfig = copyWithout(config, EYE_LOCAL_KEYS);
  core.state = "starting";
  core.makeUi({ containerId: config.containerId, inline: true, locale: config.locale });
  core.setUi("connecting", "checking");
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
      core.setUi("connecting", "systemCheck");
      var media = core.settings.media || {};
      return core.systemCheck({ video: media.camera !== false, audio: media.microphone !== false });
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
