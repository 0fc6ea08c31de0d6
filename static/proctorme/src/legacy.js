/* global AutoProctor, dispatch, isPlainObject */
/* exported initAutoProctor */
// =================================================================================================
// AutoProctor's older generation: initAutoProctor(settings), as its WordPress plugin calls it
// =================================================================================================
// One settings object holds the credentials (tenantId is the client id) and the setup options;
// the promise resolves with an instance that has start() and stop(). Older tracking keys are
// mapped onto today's; the older event names are sent beside today's. The phone pairing's own
// events (auxDeviceTestAttemptLabelGenerated, auxDeviceConfirmed) come from the pairing flow
// itself (aux.js), for both generations.
var LEGACY_TRACKING = {
  preventMultipleScreens: "detectMultipleScreens",
  forcePreventMultipleScreens: "detectMultipleScreens",
  forceCaptureSwitchedTab: "captureSwitchedTab",
  previewVideo: "showCamPreview",
};
var LEGACY_EVENTS = { apMonitoringStarted: "apStartTest", apMonitoringStopped: "apStopMonitoring" };
var legacyEventsBridged = false;

function legacyOptions(settings) {
  var options = {};
  Object.keys(settings).forEach(function (key) {
    if (["tenantId", "clientId", "testAttemptId", "hashedTestAttemptId", "domain", "environment"].indexOf(key) === -1) {
      options[key] = settings[key];
    }
  });
  var given = isPlainObject(settings.trackingOptions) ? settings.trackingOptions : {};
  var tracking = {};
  Object.keys(given).forEach(function (key) {
    var modern = LEGACY_TRACKING[key];
    if (!modern) tracking[key] = given[key];
    // A legacy key turns its modern option on; it never turns off what the modern key asked for.
    else if (given[key] === true) tracking[modern] = true;
  });
  options.trackingOptions = tracking;
  return options;
}

/** AutoProctor's legacy entry point: setup done, resolves with the instance (start()/stop()). */
function initAutoProctor(settings) {
  settings = isPlainObject(settings) ? settings : {};
  if (!legacyEventsBridged) {
    legacyEventsBridged = true;
    Object.keys(LEGACY_EVENTS).forEach(function (name) {
      window.addEventListener(name, function (event) { dispatch(LEGACY_EVENTS[name], event.detail); });
    });
  }
  var instance = new AutoProctor({
    clientId: settings.tenantId || settings.clientId,
    testAttemptId: settings.testAttemptId,
    hashedTestAttemptId: settings.hashedTestAttemptId,
    domain: settings.domain,
    environment: settings.environment,
  });
  return instance.setup(legacyOptions(settings)).then(function () { return instance; });
}
