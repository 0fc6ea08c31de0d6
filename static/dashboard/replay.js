// Session replay: a frame player kept in step with the timeline, the filmstrip and the flag list.
// Everything that seeks carries data-seek="<seconds from the start>"; clicks are delegated, so
// parts that htmx swaps after a review action keep working.
(function () {
  "use strict";

  var data = null;
  var current = -1;
  var playing = null;

  function $(id) { return document.getElementById(id); }
  function clock(t) { return window.Proctorme.clock(t); }
  function mediaUrl(id) { return "/dashboard/media/" + id; }

  // Index of the last frame captured at or before t (the first frame if t is before all of them).
  function frameAt(t) {
    var frames = data.frames, lo = 0, hi = frames.length - 1, found = 0;
    while (lo <= hi) {
      var mid = (lo + hi) >> 1;
      if (frames[mid].t <= t + 1e-6) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found;
  }

  function show(index, t) {
    if (!data.frames.length) return;
    index = Math.max(0, Math.min(index, data.frames.length - 1));
    var frame = data.frames[index];
    var at = t === undefined ? frame.t : t;
    current = index;
    var img = $("player-frame");
    if (img && img.dataset.frameId !== frame.id) {
      img.src = mediaUrl(frame.id);
      img.dataset.frameId = frame.id;
    }
    var t = window.Proctorme.t;
    if (img) img.alt = t(frame.kind === "snapshot" ? "photoAt" : "frameAt", { t: clock(frame.t) });
    var faces = frame.faces === null || frame.faces === undefined ? "" : " · " + t("faces", { n: frame.faces });
    var kind = t(frame.kind === "snapshot" ? "photo" : "frame");
    if ($("player-caption")) $("player-caption").textContent = clock(frame.t) + " · " + kind + faces;
    if ($("player-time")) $("player-time").textContent = clock(at);
    var scrub = $("player-scrub");
    if (scrub) { scrub.value = Math.round(at); scrub.setAttribute("aria-valuetext", clock(at)); }
    var head = $("tl-playhead");
    if (head) head.style.left = Math.min(100, (at / data.duration) * 100) + "%";
    var strip = $("filmstrip");
    if (strip) {
      var best = null;
      strip.querySelectorAll("button[data-seek]").forEach(function (b) {
        b.removeAttribute("aria-current");
        if (parseFloat(b.dataset.seek) <= frame.t + 1e-6) best = b;
      });
      if (best) {
        best.setAttribute("aria-current", "true");
        var left = best.offsetLeft - strip.offsetLeft;
        if (left < strip.scrollLeft || left + best.offsetWidth > strip.scrollLeft + strip.clientWidth) {
          strip.scrollTo({ left: left - strip.clientWidth / 2, behavior: "smooth" });
        }
      }
    }
  }

  function seek(t) { show(frameAt(t), t); }

  function highlightFlag(flagId) {
    document.querySelectorAll(".tl-marker[aria-current]").forEach(function (m) { m.removeAttribute("aria-current"); });
    document.querySelectorAll(".flag-item.is-current").forEach(function (li) { li.classList.remove("is-current"); });
    if (!flagId) return;
    document.querySelectorAll('.tl-marker[data-flag="' + flagId + '"]').forEach(function (m) { m.setAttribute("aria-current", "true"); });
    var item = $("flag-" + flagId);
    if (item) {
      item.classList.add("is-current");
      item.scrollIntoView({ block: "nearest", behavior: "smooth" });
    }
  }

  function setPlaying(on) {
    var button = document.querySelector('[data-player="play"]');
    if (playing) { clearInterval(playing); playing = null; }
    if (on) {
      if (current >= data.frames.length - 1) show(0);
      var speed = parseFloat(($("player-speed") || {}).value || "1");
      // One tick per second of session time, sped up; a tick shows the frame of that moment.
      var t = data.frames[Math.max(current, 0)].t;
      playing = setInterval(function () {
        t += 0.25;
        if (t > data.frames[data.frames.length - 1].t) { setPlaying(false); return; }
        seek(t);
      }, 250 / speed);
    }
    if (button) {
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.setAttribute("aria-label", window.Proctorme.t(on ? "pause" : "play"));
      button.querySelector(".i-play").hidden = on;
      button.querySelector(".i-pause").hidden = !on;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    var script = $("replay-data");
    if (!script) return;
    data = JSON.parse(script.textContent);
    document.querySelectorAll("[data-clock]").forEach(function (el) { el.textContent = clock(parseFloat(el.dataset.clock)); });
    if (data.frames.length) show(0, 0);

    document.addEventListener("click", function (event) {
      var target = event.target.closest("[data-seek]");
      if (target) {
        setPlaying(false);
        seek(parseFloat(target.dataset.seek));
        highlightFlag(target.dataset.flag);
        return;
      }
      var control = event.target.closest("[data-player]");
      if (!control || !data.frames.length) return;
      var action = control.dataset.player;
      if (action === "play") setPlaying(!playing);
      if (action === "prev") { setPlaying(false); show(current - 1); }
      if (action === "next") { setPlaying(false); show(current + 1); }
    });

    var scrub = $("player-scrub");
    if (scrub) scrub.addEventListener("input", function () { setPlaying(false); seek(parseFloat(scrub.value)); });
    var speed = $("player-speed");
    if (speed) speed.addEventListener("change", function () { if (playing) { setPlaying(false); setPlaying(true); } });

    // Keyboard: space plays or pauses, arrows step, while the focus is in the player.
    var player = $("player");
    if (player) player.addEventListener("keydown", function (event) {
      if (!data.frames.length || event.target.tagName === "INPUT" || event.target.tagName === "SELECT") return;
      if (event.key === " " && event.target.tagName !== "BUTTON") { event.preventDefault(); setPlaying(!playing); }
      if (event.key === "ArrowLeft") { event.preventDefault(); setPlaying(false); show(current - 1); }
      if (event.key === "ArrowRight") { event.preventDefault(); setPlaying(false); show(current + 1); }
    });

    // The session recording: a run's parts, joined in order, are one WebM file (the first part
    // holds the header): fetch them, join them, play the whole.
    var recordingNode = $("recording-data");
    var tracks = recordingNode ? JSON.parse(recordingNode.textContent) : [];
    tracks.forEach(function (track) {
      var video = document.querySelector('video[data-run="' + track.run + '"][data-recording="' + track.source + '"]');
      if (!video || !track.chunks.length) return;
      Promise.all(track.chunks.map(function (chunk) {
        return fetch(chunk.url, { credentials: "same-origin" }).then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.blob();
        });
      })).then(function (parts) {
        video.src = URL.createObjectURL(new Blob(parts, { type: "video/webm" }));
        video.dataset.joined = String(parts.length);
      }, function () {
        video.dataset.joined = "failed";
      });
    });

    // Only one audio clip at a time.
    document.addEventListener("play", function (event) {
      document.querySelectorAll("audio").forEach(function (a) { if (a !== event.target) a.pause(); });
    }, true);

    // The player answers clicks and keys from here on (a click before this is not heard).
    if (player) player.dataset.ready = "true";
  });
})();
