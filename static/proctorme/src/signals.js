/* global ProctorCore */
// ---- monitoring: browser signals -------------------------------------------------------------

ProctorCore.prototype.listen = function (target, type, handler, options) {
  target.addEventListener(type, handler, options);
  this.cleanups.push(function () { target.removeEventListener(type, handler, options); });
};

/**
 * @param {object} track  which signals to watch: {focus, fullscreen, screens, clipboard,
 *                        blockClipboard (also stop copy, cut and paste)}
 */
ProctorCore.prototype.monitor = function (track) {
  var self = this;
  if (this.monitoring) return;
  this.monitoring = true;

  if (track.focus) {
    var setFocus = function (focused, cause) {
      if (self.focused === focused) return;
      self.focused = focused;
      var payload = { focused: focused, cause: cause };
      if (!focused) {
        (self.focusLostHooks || []).forEach(function (hook) {
          try { hook(payload); } catch (e) { /* a capture failure must not lose the signal */ }
        });
      }
      self.emit("TAB_FOCUS_CHANGE", payload, { local: true });
      self.signal("TAB_FOCUS_CHANGE", payload);
    };
    this.focused = document.visibilityState !== "hidden";
    this.listen(document, "visibilitychange", function () {
      setFocus(document.visibilityState !== "hidden", "visibility");
    });
    this.listen(window, "blur", function () {
      // Focus moving into an iframe of the exam page itself is not leaving the exam.
      setTimeout(function () {
        var active = document.activeElement;
        if (active && active.tagName === "IFRAME") return;
        if (!document.hasFocus()) setFocus(false, "blur");
      }, 0);
    });
    this.listen(window, "focus", function () {
      if (document.visibilityState !== "hidden") setFocus(true, "blur");
    });
  }

  if (track.fullscreen) {
    this.listen(document, "fullscreenchange", function () {
      var payload = { fullscreen: Boolean(document.fullscreenElement) };
      if (self.ui) self.ui.followFullscreen();
      self.emit("FULLSCREEN_CHANGE", payload, { local: true });
      self.signal("FULLSCREEN_CHANGE", payload);
    });
  }

  if (track.screens && window.screen && "isExtended" in window.screen) {
    var extended = false;
    var check = function () {
      var now = Boolean(window.screen.isExtended);
      if (now && !extended) self.signal("MULTIPLE_SCREENS", { screens: 2 }); // isExtended: at least two
      extended = now;
    };
    check();
    if (typeof window.screen.addEventListener === "function") this.listen(window.screen, "change", check);
  }

  if (track.clipboard) {
    ["copy", "cut", "paste"].forEach(function (action) {
      self.listen(document, action, function (event) {
        // disableCopyPaste: the action does not happen, and the attempt is still reported.
        if (track.blockClipboard) event.preventDefault();
        self.signal("COPY_PASTE", { action: action, blocked: Boolean(track.blockClipboard) });
      });
    });
  }

  this.listen(window, "offline", function () { self.wentOffline(); });
  this.listen(window, "online", function () { self.cameOnline(); });
  if (navigator.onLine === false) this.wentOffline();
};

ProctorCore.prototype.wentOffline = function () {
  if (this.offlineFrom) return;
  this.offlineFrom = new Date();
  this.setUi("offline");
};

ProctorCore.prototype.cameOnline = function () {
  if (this.offlineFrom) {
    var to = new Date();
    this.signal("CONNECTION_LOST", { offlineFrom: this.offlineFrom.toISOString(), offlineTo: to.toISOString(), durationMs: to - this.offlineFrom });
    this.offlineFrom = null;
  }
  if (this.socket && this.socket.readyState === WebSocket.OPEN && this.helloSeen) {
    this.setUi("monitoring");
    this.flush();
  } else {
    // Do not wait out the backoff: the network is back now.
    this.clearTimer("reconnectTimer");
    this.reconnectAttempt = 0;
    this.scheduleReconnect(100 + Math.random() * 400);
  }
};

ProctorCore.prototype.stopMonitoring = function () {
  this.cleanups.forEach(function (fn) { fn(); });
  this.cleanups = [];
  this.captureStops.forEach(function (fn) { try { fn(); } catch (e) { /* ignore */ } });
  this.captureStops = [];
  this.captureFlushes = [];
  this.focusLostHooks = [];
  this.monitoring = false;
};
