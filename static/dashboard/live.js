// Live page: the WebSocket's state, countdowns and each candidate's connection state.
// Fragments from the server (new flags, scores, signals) are swapped in by htmx's ws extension.
(function () {
  "use strict";
  var STALLED_MS = 20000, OFFLINE_MS = 60000;

  function setSocketState(state, label) {
    var el = document.getElementById("ws-state");
    if (!el) return;
    el.dataset.state = state;
    el.innerHTML = '<span class="conn">' + label + "</span>";
  }

  document.addEventListener("htmx:wsConnecting", function () { setSocketState("connecting", "Connecting…"); });
  document.addEventListener("htmx:wsOpen", function () { setSocketState("open", "Live"); });
  document.addEventListener("htmx:wsClose", function () { setSocketState("closed", "Reconnecting…"); });
  document.addEventListener("htmx:wsError", function () { setSocketState("error", "Connection problem, retrying…"); });

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
      el.textContent = state;
      el.title = isNaN(last) ? "Nothing received yet" : "Last heard from " + Math.round((now - last) / 1000) + " s ago";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { tick(); setInterval(tick, 1000); });
  document.addEventListener("htmx:afterSettle", tick);
})();
