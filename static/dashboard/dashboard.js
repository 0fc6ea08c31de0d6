// Shared behaviour of the dashboard pages: local times, the institution switcher.
(function () {
  "use strict";

  // The page's language (the reviewer's, as Django chose it), for dates and the strings below.
  var lang = document.documentElement.lang || undefined;
  var formats = {
    "": new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }),
    time: new Intl.DateTimeFormat(lang, { timeStyle: "medium" })
  };
  var catalogue = null;

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
  window.Proctorme.lang = lang;
  // The scripts' visible strings, translated by Django in templates/dashboard/_js_strings.html;
  // "{name}" placeholders are filled from params.
  window.Proctorme.t = function (key, params) {
    if (catalogue === null) {
      var script = document.getElementById("dashboard-i18n");
      catalogue = script ? JSON.parse(script.textContent) : {};
    }
    var text = Object.prototype.hasOwnProperty.call(catalogue, key) ? catalogue[key] : key;
    return text.replace(/\{(\w+)\}/g, function (all, name) {
      return params && Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : all;
    });
  };
  window.Proctorme.clock = function (seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    var mm = String(m).padStart(2, "0"), ss = String(s).padStart(2, "0");
    return h ? h + ":" + mm + ":" + ss : mm + ":" + ss;
  };
})();
