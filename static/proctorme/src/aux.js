/* global AutoProctor, dispatch, el, fetchJson, serverError */
// =================================================================================================
// AutoProctor's idCardVerification (the photo-ID step) and auxiliaryDevice (a paired phone)
// =================================================================================================
// Both run inside setup(), after the system check and before apSetupCompleted: the test does not
// start before the photo ID was tried and the phone streams, as AutoProctor's docs describe.
var ID_CARD_PROBE_MS = 1500; // how often the widget looks for a card by itself
var AUX_POLL_MS = 2000; // how often the widget asks for the phone's state

function grabJpeg(video, maxSide, quality) {
  var scale = Math.min(1, maxSide / Math.max(video.videoWidth, video.videoHeight));
  var canvas = document.createElement("canvas");
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return new Promise(function (resolve) { canvas.toBlob(resolve, "image/jpeg", quality); });
}

function videoOf(stream) {
  var video = el("video", { class: "pm-preview", autoplay: "", playsinline: "", "aria-hidden": "true" });
  video.muted = true;
  video.srcObject = stream;
  var ready = new Promise(function (resolve) {
    if (video.readyState >= 2 && video.videoWidth) return resolve(video);
    video.addEventListener("loadeddata", function () { resolve(video); }, { once: true });
  });
  video.play().catch(function () {});
  return { video: video, ready: ready };
}

function overlayDialog(ui, name, titleText) {
  var title = el("h2", { tabindex: "-1", text: titleText });
  var dialog = el("div", { class: "pm-dialog", role: "dialog", "aria-modal": "true", "aria-label": titleText }, [title]);
  var overlay = el("div", ui.langAttrs({ class: "pm-overlay", "data-proctorme": name }), [dialog]);
  (document.fullscreenElement || document.body).appendChild(overlay);
  title.focus();
  return {
    dialog: dialog,
    close: function () { if (overlay.parentNode) overlay.parentNode.removeChild(overlay); },
  };
}

// ---- the photo-ID step ---------------------------------------------------------------------

/** Resolves with the step's last answer once it passed or every try was used (null when off). */
AutoProctor.prototype._idCardStep = function () {
  var self = this;
  var core = this._core;
  var session = core.session;
  if (!session || !session.idCardUrl || !core.stream) return Promise.resolve(null);
  var ui = core.ui;
  var t = function (key, params) { return ui.t(key, params); };
  var box = overlayDialog(ui, "idcard", t("idcard.title"));
  var preview = videoOf(core.stream);
  var line = el("p", { role: "status", "aria-live": "polite", "data-proctorme": "idcard-status", text: t("idcard.lookAtCamera") });
  var take = el("button", { type: "button", class: "pm-btn pm-btn-primary", "data-proctorme": "idcard-take", text: t("idcard.take") });
  var actions = el("div", { class: "pm-actions" }, [take]);
  box.dialog.appendChild(el("p", { text: t("idcard.intro") }));
  box.dialog.appendChild(preview.video);
  box.dialog.appendChild(line);
  box.dialog.appendChild(actions);

  return new Promise(function (resolve) {
    var live = null;
    var busy = false;
    var finished = false;
    var timer = null;

    function finish(result) {
      finished = true;
      clearInterval(timer);
      self.idCardResult = result;
      if (result.passed) {
        box.close();
        resolve(result);
        return;
      }
      // Every try failed: the test goes on, the report records it.
      line.textContent = t("idcard.failed");
      take.remove();
      var go = el("button", { type: "button", class: "pm-btn pm-btn-primary", "data-proctorme": "idcard-continue", text: t("idcard.continue") });
      go.addEventListener("click", function () { box.close(); resolve(result); });
      actions.appendChild(go);
      go.focus();
    }

    var clicked = false; // a click while the widget's own look was in flight: sent right after it
    var busyAuto = false;

    function send(auto) {
      if (finished) return Promise.resolve();
      if (busy) {
        if (!auto && busyAuto) clicked = true; // a second click during the candidate's own try is not another try
        return Promise.resolve();
      }
      busy = true;
      busyAuto = auto;
      return look(auto).then(function () {
        if (clicked && !finished) {
          clicked = false;
          return send(false);
        }
      });
    }

    function look(auto) {
      return grabJpeg(preview.video, 1280, 0.85).then(function (card) {
        var form = new FormData();
        form.append("card", card, "card.jpg");
        if (live) form.append("face", live, "face.jpg");
        if (auto) form.append("auto", "1");
        var current = core.session;
        return fetchJson(current.idCardUrl, { method: "POST", headers: { Authorization: "Bearer " + current.token }, body: form });
      }).then(function (response) {
        busy = false;
        if (finished) return;
        if (!response.ok) {
          var error = serverError(response);
          if (error.code === "ID_CARD_ATTEMPTS_USED") finish({ passed: false, done: true, outcome: "attempts_used" });
          else line.textContent = t("idcard.error");
          return;
        }
        var result = response.body;
        if (result.outcome === "searching") return;
        if (result.done) return finish(result);
        line.textContent = t("idcard.retry", { reason: t("idcard.reason." + result.outcome), left: result.attemptsLeft });
      }, function () {
        busy = false;
        line.textContent = t("idcard.error");
      });
    }

    take.addEventListener("click", function () { send(false); });
    preview.ready.then(function (video) {
      // The live photo first, while the candidate looks at the camera; then the card.
      return grabJpeg(video, 640, 0.85).then(function (blob) {
        live = blob;
        line.textContent = t("idcard.holdCard");
        timer = setInterval(function () { send(true); }, ID_CARD_PROBE_MS);
      });
    });
  });
};

// ---- the paired phone --------------------------------------------------------------------

function svgNode(markup) {
  var parsed = new DOMParser().parseFromString(markup, "image/svg+xml");
  var svg = parsed.documentElement;
  if (!svg || svg.nodeName.toLowerCase() !== "svg") return null;
  svg.setAttribute("width", "260");
  svg.setAttribute("height", "260");
  svg.setAttribute("role", "img");
  return document.importNode(svg, true);
}

AutoProctor.prototype._auxRequest = function (name) {
  var current = this._core.session;
  return fetchJson(current[name], {
    method: "POST",
    headers: { Authorization: "Bearer " + current.token, "Content-Type": "application/json" },
    body: "{}",
  }).then(function (response) {
    if (!response.ok) throw serverError(response);
    return response.body;
  });
};

/** Shows the pairing QR code; resolves once the phone's side view streams (null when off). */
AutoProctor.prototype._auxStep = function () {
  var self = this;
  var core = this._core;
  var session = core.session;
  if (!session || !session.auxPairingUrl) return Promise.resolve(null);
  var ui = core.ui;
  var t = function (key, params) { return ui.t(key, params); };
  var containerId = this.options.auxDeviceContainerId || this.options.auxDeviceTestContainerId;
  var host = containerId ? document.getElementById(containerId) : null;
  var box = host ? null : overlayDialog(ui, "aux-pairing", t("aux.title"));
  var panel = el("div", ui.langAttrs({ class: "pm-root pm-inline", "data-proctorme": "aux" }));
  (host || box.dialog).appendChild(panel);

  return this._auxRequest("auxPairingUrl").then(function (pairing) {
    var qr = svgNode(pairing.qrSvg);
    var link = el("a", { href: pairing.pairingUrl, "data-proctorme": "aux-pairing-url", target: "_blank", rel: "noopener noreferrer", text: t("aux.link") });
    var line = el("p", { role: "status", "aria-live": "polite", "data-proctorme": "aux-status", text: t("aux.waiting") });
    panel.appendChild(el("p", { text: t("aux.intro") }));
    if (qr) panel.appendChild(el("div", { "data-proctorme": "aux-qr" }, [qr]));
    panel.appendChild(el("p", { "data-proctorme": "aux-label", text: t("aux.code", { label: pairing.label }) }));
    panel.appendChild(link);
    panel.appendChild(line);
    self.auxDeviceLabel = pairing.label;
    dispatch("auxDeviceTestAttemptLabelGenerated", { auxDeviceLabel: pairing.label, pairingUrl: pairing.pairingUrl });
    return new Promise(function (resolve) {
      self._auxWatch(function (state) {
        if (state === "paired") line.textContent = t("aux.paired");
        if (state === "streaming" && panel.parentNode) {
          panel.parentNode.removeChild(panel);
          if (box) box.close();
          resolve(self.auxStatus);
        }
      });
    });
  });
};

/** Follows the phone's state for the rest of the attempt and sends its window events. */
AutoProctor.prototype._auxWatch = function (onState) {
  var self = this;
  var core = this._core;
  var last = null;
  function poll() {
    if (self.destroyed || self.stopped || core.state === "ended" || core.state === "failed") return;
    self._auxRequest("auxStatusUrl").then(function (status) {
      self.auxStatus = status;
      var state = status.state;
      if ((state === "paired" || state === "streaming") && !self.isAuxiliaryDeviceConfirmed) {
        self.isAuxiliaryDeviceConfirmed = true;
        dispatch("auxDeviceConfirmed", { auxDeviceLabel: status.label, pairedAt: status.pairedAt });
      }
      if (state !== last) {
        if (state === "streaming") {
          dispatch("apMonitoringOnAuxStarted", { auxDeviceLabel: status.label, startedAt: status.startedAt, resumed: last === "disconnected" });
          if (core.ui) core.ui.setNote("");
        }
        if (state === "disconnected") {
          dispatch("apAuxDisconnected", { auxDeviceLabel: status.label, lastSeenAt: status.lastSeenAt, disconnectedAt: status.disconnectedAt });
          if (core.ui) core.ui.setNote(core.ui.t("aux.disconnected"));
        }
        last = state;
        if (onState) onState(state);
      }
    }, function () { /* offline for a moment: ask again */ }).then(function () {
      self._auxTimer = setTimeout(poll, AUX_POLL_MS);
    });
  }
  clearTimeout(this._auxTimer);
  poll();
};
