/* global ProctormeError */
/* exported acquireMedia, browserProblem, stopStream */
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
