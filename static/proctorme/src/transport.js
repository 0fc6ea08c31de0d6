/* global ProctorCore, ProctormeError, SERVER, fetchJson, nowIso, serverError, storage */
// ---- session start / resume ---------------------------------------------------------------

// A random secret per attempt, kept in this browser: the server lets only the browser that
// created a session (or an attempt signed by the integrator's server) resume it.
var RESUME_PREFIX = "proctorme:resume:";
var memorySecrets = {};

function resumeSecretFor(body) {
  var ids = body.config || body.credentials || {};
  var key = RESUME_PREFIX + JSON.stringify([body.dialect, ids.apiKey || ids.clientId, ids.assessmentId, ids.candidateId, ids.testAttemptId]);
  var secret = memorySecrets[key];
  try { secret = secret || (storage && storage.getItem(key)); } catch (e) { /* blocked: memory only */ }
  if (!secret) {
    var bytes = new Uint8Array(24);
    window.crypto.getRandomValues(bytes);
    secret = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
    try { if (storage) storage.setItem(key, secret); } catch (e) { /* quota: memory still has it */ }
  }
  memorySecrets[key] = secret;
  return secret;
}

ProctorCore.prototype.startSession = function (body) {
  var self = this;
  body = Object.assign({}, body, { resumeSecret: resumeSecretFor(body) });
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

var STORAGE_PREFIX = "proctorme:outbox:";

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
    old.onopen = old.onclose = old.onmessage = old.onerror = null;
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
  // The token goes in the first message, never in the URL (proxies log URLs).
  socket.onopen = function () { socket.send(JSON.stringify({ type: "auth", token: self.session.token })); };
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
      if (!message.paused) this.armDeadline();
      this.startHeartbeat();
      this.adoptInterventionState(message);
      if (this.state === "monitoring" && !this.paused) this.setUi(navigator.onLine === false ? "offline" : "monitoring");
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
      // Before the hello, too: a page that reconnects to an ended session is told how it ended.
      this.rejectHello(ProctormeError("SESSION_ENDED"));
      this.finish(message.reason || "server", { fromServer: true, endedAt: message.endedAt, message: message.message });
      break;
    case "message":
      this.onProctorMessage(message.message);
      break;
    case "paused":
      this.onPaused(message);
      break;
    case "resumed":
      this.onResumed(message);
      break;
    case "deadline":
      this.onDeadline(message);
      break;
    case "warning":
      this.onWarning(message);
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
  if (this.paused) return; // the server's clock is stopped: no deadline while paused
  var remaining = Date.parse(this.session.deadlineAt) - (Date.now() + (this.clockSkew || 0));
  if (!isFinite(remaining)) return;
  this.deadlineTimer = setTimeout(function () {
    if (self.state === "monitoring") self.end("ended").catch(function () {});
  }, Math.max(0, remaining) + 5000);
};
