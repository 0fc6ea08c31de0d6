/* global AP_EVIDENCE, AP_OWN_CODES, AutoProctor, initAutoProctor, LoadProctormeWidget, MESSAGES, SERVER, VERSION, captureHooks */
// =================================================================================================
// Globals
// =================================================================================================
window.LoadProctormeWidget = LoadProctormeWidget;
window.LoadEyeWidget = LoadProctormeWidget;
window.AutoProctor = AutoProctor;
window.initAutoProctor = initAutoProctor;
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
