// Overview charts (Chart.js, vendored): data comes from the page's json_script.
(function () {
  "use strict";
  var BAND = { low: "#1f7a4d", review: "#d08700", high: "#b42318" };

  document.addEventListener("DOMContentLoaded", function () {
    var script = document.getElementById("overview-data");
    if (!script || !window.Chart) return;
    var data = JSON.parse(script.textContent);
    var reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = "#5c6675";
    Chart.defaults.animation = reduce ? false : Chart.defaults.animation;
    Chart.defaults.maintainAspectRatio = false;
    var t = window.Proctorme.t;
    var shortDay = new Intl.DateTimeFormat(window.Proctorme.lang, { day: "numeric", month: "short" });

    new Chart(document.getElementById("chart-daily"), {
      data: {
        labels: data.days.map(function (d) { return shortDay.format(new Date(d + "T00:00:00")); }),
        datasets: [
          { type: "bar", label: t("sessions"), data: data.sessions, backgroundColor: "#3451b2", borderRadius: 4, yAxisID: "y" },
          { type: "line", label: t("candidateHours"), data: data.hours, borderColor: "#d08700", backgroundColor: "#d08700", tension: 0, pointRadius: 2, yAxisID: "y1" }
        ]
      },
      options: {
        interaction: { mode: "index", intersect: false },
        scales: {
          y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: t("sessionsAxis") } },
          y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: t("hoursAxis") } },
          x: { ticks: { maxRotation: 0, autoSkipPadding: 12 } }
        }
      }
    });

    new Chart(document.getElementById("chart-distribution"), {
      type: "bar",
      data: {
        labels: data.distribution.labels,
        datasets: [{ label: t("sessions"), data: data.distribution.counts, borderRadius: 4,
          backgroundColor: data.distribution.bands.map(function (b) { return BAND[b]; }) }]
      },
      options: {
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { title: { display: true, text: t("trustScoreAxis") } } }
      }
    });

    var flags = document.getElementById("chart-flags");
    if (flags) {
      new Chart(flags, {
        type: "bar",
        data: { labels: data.flags.labels, datasets: [{ label: t("flags"), data: data.flags.counts, backgroundColor: "#7c3aed", borderRadius: 4 }] },
        options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
      });
    }
  });
})();
