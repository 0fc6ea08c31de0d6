// Live page: the WebSocket's state, countdowns and each candidate's connection state.
// Fragments from the server (new flags, scores, signals) are swapped in by htmx's ws extension.
(function () {
  "use strict";
  var STALLED_MS = 20000, OFFLINE_MS = 60000;

  function setSocketState(state, label) {
    var el = document.getElementById("ws-state");
    if (!el) return;
    el.dataset.state = state;
    var span = document.createElement("span");
    span.className = "conn";
    span.textContent = label;
    el.replaceChildren(span);
  }

  function t(key, params) { return window.Proctorme.t(key, params); }

  document.addEventListener("htmx:wsConnecting", function () { setSocketState("connecting", t("connecting")); });
  document.addEventListener("htmx:wsOpen", function () { setSocketState("open", t("live")); });
  document.addEventListener("htmx:wsClose", function () { setSocketState("closed", t("reconnecting")); });
  document.addEventListener("htmx:wsError", function () { setSocketState("error", t("socketError")); });

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var deadline = Date.parse(el.dataset.deadline);
      if (isNaN(deadline)) return;
      el.textContent = window.Proctorme.clock((deadline - now) / 1000);
    });
    document.querySelectorAll("[data-last-activity]").forEach(function (el) {
      var last = Date.parse(el.dataset.lastActivity);
      var state = isNaN(last) || now - last > OFFLINE_MS ? "offline" : now - last > STALLED_MS ? "stalled" : "online";
      el.className = "conn conn-" + state;
      el.dataset.connection = state;
      el.textContent = t(state);
      el.title = isNaN(last) ? t("nothingYet") : t("lastHeard", { n: Math.round((now - last) / 1000) });
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 1000); });
  document.addEventListener("htmx:afterSettle", tick);
})();
