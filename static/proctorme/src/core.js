/* global SERVER, fetchJson, nowIso, stopStream */
/* exported ProctorCore, errorPayload */
// ---------------------------------------------------------------------------------------------
// The core shared by both dialects
// ---------------------------------------------------------------------------------------------
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
  this.capturePausers = []; // {pause, resume} of the capture layer (a proctor's pause)
  this.paused = false;
  this.reconnectAttempt = 0;
  this.focused = true;
  this.offlineFrom = null;
  this.ui = null;
}

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
  this.dropScreen();
  if (this.ui) {
    this.ui.hidePreview();
    this.ui.setState("ended");
  }
  // Nothing more can be sent for an ended session: forget what is left.
  this.outbox = [];
  this.saveOutbox();
  if (info.message && this.ui) this.ui.setNote(this.ui.t("ended.terminated", { reason: info.message }));
  if (wasLive || info.fromServer) {
    var ended = { reason: reason, endedAt: info.endedAt || nowIso() };
    if (info.message) ended.message = info.message; // a proctor's reason for terminating
    this.emit("END_PROCTORING", ended);
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
  this.dropScreen();
  if (this.ui) {
    this.ui.hidePreview();
    this.ui.setState("error");
    // The candidate reads our wording; error.message keeps the server's, for developers.
    this.ui.showError(this.ui.errorText(error));
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

/** The shared screen (captureSwitchedTab), kept for the session; onStopped(): the candidate ended it. */
ProctorCore.prototype.keepScreen = function (stream, onStopped) {
  var self = this;
  this.screenStream = stream;
  var track = stream.getVideoTracks()[0];
  if (!track) return;
  track.addEventListener("ended", function () {
    if (self.screenStream !== stream) return; // we stopped it ourselves
    self.screenStream = null;
    if (onStopped) onStopped();
  });
};

ProctorCore.prototype.dropScreen = function () {
  var stream = this.screenStream;
  this.screenStream = null;
  stopStream(stream);
};

ProctorCore.prototype.destroyUi = function () {
  if (this.ui) this.ui.destroy();
  this.ui = null;
};
