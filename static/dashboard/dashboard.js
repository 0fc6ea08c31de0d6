// Shared behaviour of the dashboard pages: local times, the institution switcher.
(function () {
  "use strict";

  var formats = {
    "": new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }),
    time: new Intl.DateTimeFormat(undefined, { timeStyle: "medium" })
  };

  function localTimes(root) {
    root.querySelectorAll("time[data-local]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when)) {
        el.textContent = (formats[el.dataset.local] || formats[""]).format(when);
        el.title = when.toISOString();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    // Filters take the whole screen on a phone: start folded there.
    document.querySelectorAll("details[data-fold-small]").forEach(function (details) {
      if (window.matchMedia("(max-width: 760px)").matches) details.open = false;
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.requestSubmit(); });
    });
  });
  document.addEventListener("htmx:afterSettle", function (event) { localTimes(event.target); });
  document.addEventListener("htmx:oobAfterSwap", function (event) { localTimes(event.detail.target || document); });

  window.Proctorme = window.Proctorme || {};
  window.Proctorme.clock = function (seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = String(m).padStart(2, "0"), ss = String(s).padStart(2, "0");
    return h ? h + ":" + mm + ":" + ss : mm + ":" + ss;
  };
})();
