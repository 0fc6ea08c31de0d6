/* global MESSAGES, ProctormeError */
/* exported Emitter, SCRIPT, SERVER, copyWithout, fetchJson, isPlainObject, nonEmptyString, nowIso, serverError, sleep, storage */
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
        var body;
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
