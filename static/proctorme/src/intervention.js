/* global ProctorCore, WidgetUI, el, nowIso */
// ---------------------------------------------------------------------------------------------
// Live intervention and warnings, pushed by the server down the WebSocket (docs/widget.md,
// "Live intervention and warnings"): a proctor's message (shown until the candidate
// acknowledges it), a pause (capture and the clock stop), a resume, more time, and warnings
// while the candidate is out of view, the camera is covered or the light is too poor.
// Each reaches the page as an event of its dialect (eye.js emits the core's names,
// autoproctor.js maps them to ap* window events).
// ---------------------------------------------------------------------------------------------

/** Messages the candidate has not acknowledged yet, shown one under the other. */
ProctorCore.prototype.onProctorMessage = function (message) {
  if (!message || !message.messageId || this.state === "ended") return;
  this.shownMessages = this.shownMessages || {};
  if (this.shownMessages[message.messageId]) return; // pushed and then repeated by a hello
  this.shownMessages[message.messageId] = true;
  var payload = { messageId: message.messageId, text: message.text, sentAt: message.sentAt };
  if (this.ui) this.ui.showMessage(payload, this.acknowledgeMessage.bind(this));
  this.emit("PROCTOR_MESSAGE", payload);
};

/** The candidate pressed "OK": the server records it (the outbox keeps it until acknowledged). */
ProctorCore.prototype.acknowledgeMessage = function (messageId) {
  var payload = { messageId: messageId, acknowledgedAt: nowIso() };
  this.signal("MESSAGE_ACKNOWLEDGED", payload);
  this.emit("MESSAGE_ACKNOWLEDGED", payload);
};

ProctorCore.prototype.onPaused = function (message) {
  if (this.paused || this.state === "ended") return;
  this.paused = true;
  this.clearTimer("deadlineTimer"); // the server's clock has stopped too
  this.capturePausers.forEach(function (pauser) { pauser.pause(); });
  if (this.ui) {
    this.ui.setState("paused");
    this.ui.showPaused(message.reason || "");
  }
  this.emit("PROCTORING_PAUSED", { pausedAt: message.pausedAt, reason: message.reason || "" });
};

ProctorCore.prototype.onResumed = function (message) {
  if (!this.paused || this.state === "ended") return;
  this.paused = false;
  if (message.deadlineAt && this.session) this.session.deadlineAt = message.deadlineAt;
  this.armDeadline();
  this.capturePausers.forEach(function (pauser) { pauser.resume(); });
  if (this.ui) {
    this.ui.showPaused(null);
    this.ui.setState(navigator.onLine === false ? "offline" : "monitoring");
  }
  this.emit("PROCTORING_RESUMED", { resumedAt: message.resumedAt, pausedSeconds: message.pausedSeconds, deadlineAt: message.deadlineAt });
};

ProctorCore.prototype.onDeadline = function (message) {
  if (!message.deadlineAt || !this.session || this.state === "ended") return;
  this.session.deadlineAt = message.deadlineAt;
  if (!this.paused) this.armDeadline();
  this.emit("TIME_EXTENDED", { seconds: message.seconds, deadlineAt: message.deadlineAt });
};

/** kind: "absent" | "covered" | "dark", or null when the view is fine again. */
ProctorCore.prototype.onWarning = function (message) {
  if (this.state === "ended") return;
  var kind = message.kind || null;
  if (kind === this.warningKind) return;
  this.warningKind = kind;
  var text = kind && this.ui ? this.ui.t("warning." + kind) : "";
  if (this.ui) this.ui.showWarning(text);
  this.emit("CANDIDATE_WARNING", { kind: kind, message: text, at: message.at || nowIso() });
};

/** The server's hello on every (re)connection: a pause in force, messages still unread. */
ProctorCore.prototype.adoptInterventionState = function (hello) {
  var self = this;
  if (hello.paused) this.onPaused({ pausedAt: hello.pausedAt, reason: hello.pauseReason });
  else if (this.paused) this.onResumed({ deadlineAt: hello.deadlineAt });
  (hello.messages || []).forEach(function (message) { self.onProctorMessage(message); });
};

// ---- the candidate's view of it ---------------------------------------------------------------

WidgetUI.prototype.showMessage = function (message, acknowledge) {
  var self = this;
  var ok = el("button", { type: "button", class: "pm-btn pm-btn-primary", "data-proctorme": "acknowledge" }, [document.createTextNode(this.t("message.ok"))]);
  var box = el("div", { class: "pm-message", role: "alertdialog", "aria-live": "assertive", "data-message-id": message.messageId, "data-proctorme": "message" }, [
    el("p", { class: "pm-message-title", text: this.t("message.title") }),
    el("p", { class: "pm-message-text", text: message.text }),
    ok,
  ]);
  ok.addEventListener("click", function () {
    if (box.parentNode) box.parentNode.removeChild(box);
    acknowledge(message.messageId);
  });
  this.card.insertBefore(box, this.note);
  if (!this.inline) ok.focus({ preventScroll: true });
  self.root.setAttribute("data-messages", String(this.card.querySelectorAll(".pm-message").length));
};

WidgetUI.prototype.showPaused = function (reason) {
  if (reason === null) {
    this.setNote("");
    return;
  }
  this.setNote(this.t("paused.note") + (reason ? " " + reason : ""));
};

WidgetUI.prototype.showWarning = function (text) {
  if (!this.warningBox) {
    this.warningBox = el("p", { class: "pm-warning", role: "alert", "data-proctorme": "warning", hidden: "" });
    this.card.insertBefore(this.warningBox, this.errorBox);
  }
  this.warningBox.textContent = text || "";
  if (text) this.warningBox.removeAttribute("hidden");
  else this.warningBox.setAttribute("hidden", "");
};
