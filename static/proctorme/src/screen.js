/* global ProctormeError, stopStream */
/* exported SCREEN_AP_CODES, acquireScreen, screenError */
// ---------------------------------------------------------------------------------------------
// Screen sharing (AutoProctor's captureSwitchedTab): the entire screen, kept for the session.
// ---------------------------------------------------------------------------------------------
// AutoProctor's screen-share error numbers, as its own SDK documentation lists them (the
// error table its WordPress plugin ships, includes/frontend/ap-docs.php): 4011 permission
// denied, 4012 a hardware or operating-system error, 4013 no screen source available, 4014
// not the entire screen, 4017 a browser without screen capture. A share the candidate stops
// during the exam withdraws the permission: 4011 again, with reason "stopped".
var SCREEN_AP_CODES = {
  denied: 4011,
  stopped: 4011,
  failed: 4012,
  unavailable: 4013,
  not_entire_screen: 4014,
  unsupported: 4017,
};
var SCREEN_REASON_TEXT = {
  denied: "Permission to share the screen was denied. Reload the page to share it.",
  stopped: "Screen sharing was stopped during the exam.",
  failed: "The screen could not be shared (an operating-system or hardware error).",
  unavailable: "No screen is available to share.",
  not_entire_screen: "You must share your entire screen to take this exam. Reload the page to choose again.",
  unsupported: "This browser cannot share the screen. Use a recent Chrome, Edge or Firefox.",
};

function screenError(reason, cause) {
  return ProctormeError("SCREEN_NOT_SHARED", SCREEN_REASON_TEXT[reason], {
    apCode: SCREEN_AP_CODES[reason],
    reason: reason,
    cause: cause,
  });
}

/** getDisplayMedia for the entire screen; rejects with SCREEN_NOT_SHARED and its reason. */
function acquireScreen() {
  var devices = navigator.mediaDevices;
  if (!devices || typeof devices.getDisplayMedia !== "function") return Promise.reject(screenError("unsupported"));
  var constraints = {
    video: { displaySurface: "monitor", frameRate: { ideal: 5, max: 5 } },
    audio: false,
    monitorTypeSurfaces: "include",
    selfBrowserSurface: "exclude",
    surfaceSwitching: "exclude",
  };
  return devices.getDisplayMedia(constraints).then(
    function (stream) {
      var track = stream.getVideoTracks()[0];
      var surface = track && track.getSettings ? track.getSettings().displaySurface : undefined;
      // Browsers that report the surface must report the entire screen ("monitor").
      if (!track || (surface && surface !== "monitor")) {
        stopStream(stream);
        throw screenError("not_entire_screen");
      }
      return stream;
    },
    function (cause) {
      var name = (cause && cause.name) || "";
      if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") throw screenError("denied", cause);
      if (name === "NotFoundError" || name === "OverconstrainedError") throw screenError("unavailable", cause);
      throw screenError("failed", cause);
    }
  );
}
