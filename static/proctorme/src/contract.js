/* global WIDGET_CONTRACT */
/* exported AP_OWN_CODES, AP_TRACKING_DEFAULTS, CAPTURE_DEFAULTS, EMAIL_RE, EYE_LOCAL_KEYS, EYE_REQUIRED, MAX_EXAM_SECONDS, MESSAGES, ProctormeError, VERSION, apErrorCode */
// The widget's contract with the server: version, error codes and messages. Required config
// fields, limits and capture/tracking defaults come from sessions/config.py: the server embeds
// them as WIDGET_CONTRACT when it assembles /widget.js (sessions/widget_script.py).
var VERSION = "1.0.0";

// ---------------------------------------------------------------------------------------------
// Errors: every failure has a stable string code; AutoProctor pages get a number as well.
// ---------------------------------------------------------------------------------------------
var MESSAGES = {
  INVALID_CONFIG: "The proctoring configuration is incomplete or malformed.",
  INVALID_API_KEY: "This exam's proctoring key is not valid. Please tell your institution.",
  DOMAIN_NOT_REGISTERED: "Proctoring is not enabled for this web site. Please tell your institution.",
  ORIGIN_REQUIRED: "Proctoring only works from a web page.",
  SESSION_ENDED: "This exam attempt has already ended and cannot be restarted.",
  ATTEMPT_IN_USE: "This exam attempt is running in another browser. Continue it there, or ask your institution for help.",
  CAMERA_DENIED: "Camera access is blocked. Allow the camera for this site in your browser settings, then reload the page.",
  MICROPHONE_DENIED: "Microphone access is blocked. Allow the microphone for this site in your browser settings, then reload the page.",
  CAMERA_NOT_FOUND: "No usable camera was found. Connect a camera (and close other apps using it), then reload the page.",
  MICROPHONE_NOT_FOUND: "No usable microphone was found. Connect a microphone (and close other apps using it), then reload the page.",
  BROWSER_NOT_SUPPORTED: "This browser cannot run a proctored exam. Use a recent Chrome, Edge, Firefox or Safari over https.",
  NETWORK_ERROR: "The proctoring server cannot be reached. Check your internet connection and try again.",
  INVALID_ATTEMPT_SIGNATURE: "This exam link is not valid (its attempt signature does not match). Please tell your institution.",
  CONSENT_DECLINED: "You declined proctoring, so the exam cannot start. Reload the page if you change your mind.",
  INVALID_REPORT_CREDENTIAL: "This report link is not valid or has expired.",
  REPORT_NOT_AVAILABLE: "This report is not available here.",
  SCREEN_NOT_SHARED: "This exam needs your entire screen shared. Reload the page and choose Entire screen when asked.",
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
  ATTEMPT_IN_USE: 4109,
  INVALID_REPORT_CREDENTIAL: 4110,
  REPORT_NOT_AVAILABLE: 4111,
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

var EYE_REQUIRED = WIDGET_CONTRACT.eyeRequired;
var MAX_EXAM_SECONDS = WIDGET_CONTRACT.maxExamSeconds;
// Page-side options that are not part of the server contract.
var EYE_LOCAL_KEYS = ["consent", "locale"];
var EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

var AP_TRACKING_DEFAULTS = WIDGET_CONTRACT.trackingDefaults;
var CAPTURE_DEFAULTS = WIDGET_CONTRACT.captureDefaults;
