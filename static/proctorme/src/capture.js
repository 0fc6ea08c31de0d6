/* global CAPTURE_DEFAULTS, ProctorCore, SERVER, sleep, storage */
/* exported captureHooks */
// ---------------------------------------------------------------------------------------------
// Capture hooks: the later capture/upload layer registers here and receives the live
// MediaStream when monitoring starts. Internal and unstable; see docs/widget.md.
// ---------------------------------------------------------------------------------------------
var captureHooks = [];

ProctorCore.prototype.runCaptureHooks = function () {
  var self = this;
  if (!this.stream) return;
  var context = {
    stream: this.stream,
    // The shared screen (AutoProctor's captureSwitchedTab), or null.
    screen: this.screenStream || null,
    session: this.session,
    settings: this.settings || {},
    server: SERVER,
    dialect: this.dialect,
    signal: function (event, payload) { return self.signal(event, payload); },
    // For the capture layer: the session as it is now (a token refresh replaces it), the
    // server's clock, whether the session is over, and a way to ask for a fresh token.
    currentSession: function () { return self.session; },
    now: function () { return Date.now() + (self.clockSkew || 0); },
    isEnded: function () { return self.state === "ended"; },
    refreshSession: function () { if (self.state === "monitoring") self.refreshToken(); },
    // hook(payload) runs when focus leaves the exam, before TAB_FOCUS_CHANGE is sent: it may add
    // to the payload (the seq of the screen capture it is about to take).
    onFocusLost: function (hook) { self.focusLostHooks.push(hook); },
  };
  this.focusLostHooks = [];
  captureHooks.forEach(function (hook) {
    try {
      var stop = hook(context);
      if (typeof stop === "function") self.captureStops.push(stop);
      // A stop function may carry flush(timeoutMs) → Promise: end() waits for it (bounded).
      if (stop && typeof stop.flush === "function") self.captureFlushes.push(stop.flush);
      // …and pause() / resume(): a proctor's pause stops capture and uploads until resumed.
      if (stop && typeof stop.pause === "function") {
        self.capturePausers.push({ pause: stop.pause, resume: stop.resume });
        if (self.paused) stop.pause();
      }
    } catch (e) {
      if (window.console) console.error("[proctorme] capture hook failed", e);
    }
  });
};

/** Lets the capture layer upload what it holds before the session ends (at most timeoutMs). */
ProctorCore.prototype.flushCapture = function (timeoutMs) {
  var flushes = this.captureFlushes || [];
  if (!flushes.length) return Promise.resolve();
  var waits = flushes.map(function (flush) {
    try { return Promise.resolve(flush(timeoutMs)).catch(function () {}); } catch (e) { return Promise.resolve(); }
  });
  return Promise.race([Promise.all(waits), sleep(timeoutMs + 250)]);
};

// =================================================================================================
// Capture and upload layer (camera frames, snapshots, gated 16 kHz audio → numbered multipart
// uploads; docs/widget-protocol.md "Media uploads", docs/widget.md "Capture and bandwidth").
// It only talks to the core through registerCaptureHook's context; nothing above depends on it
// except end(), which awaits the flush function attached to the stop function returned here.
// =================================================================================================
var CAP = {
  // Measured on noisy 640×480 webcam-like material (docs/widget.md, "Capture and bandwidth"):
  // Detection frames, 320×240, at 0.6 (~8 kB each) rather than 0.4 (~6.5 kB): unchanged frames
  // are not sent, and the bytes saved go on the small faces behind the candidate that 0.4's
  // blocks wiped out (chosen on the evaluation's tune half, docs/accuracy.md). When the frames
  // sent in the last minute pass their share of the 30-MB hour (a view changing every second),
  // the next ones go at frameQualityLow until they are back under it.
  frameQuality: 0.6,
  frameQualityLow: 0.4,
  frameBytesPerMinute: 400000, // 24 MB an hour; snapshots, sound and headers have the rest
  snapshotQuality: 0.5, // 640×480 identity / evidence snapshots: ~15–20 kB each
  // A detection frame that has not changed since the last changed one (frameChange below, the
  // server's frame_change in analysis/frames.py) is not sent: the server reuses the analysis of
  // the frames it has. Camera noise and exposure drift are not change; the threshold is chosen
  // on the evaluation's tune half (eval/unchanged.py). One frame still goes at least every
  // frameHoldMs, so the server's episodes (gaps of at most 2.5 s) stay continuous.
  stillThreshold: 3,
  frameHoldMs: 2000,
  firstSnapshotMs: 2000, // the first snapshot soon after start (identity enrolment)
  tickMs: 250,
  audioRate: 16000,
  blockMs: 100, // RMS blocks for the gate
  windowBlocks: 50, // 5-s windows
  floorHistoryBlocks: 600, // the noise floor looks at the last minute…
  floorPercentile: 0.1, // …and takes its quieter tenth
  gateDb: 10, // a block is loud 10 dB above the floor…
  minDbfs: -50, // …and above an absolute minimum
  minLoudBlocks: 2, // a window is sent when it has at least this many loud blocks
  maxBatchItems: 48, // server limits: 64 items, 4 MB
  maxBatchBytes: 3 * 1024 * 1024,
  maxPendingBytes: 64 * 1024 * 1024, // beyond this (a very long outage) the oldest frames go
  backoffBaseMs: 1000,
  backoffCapMs: 30000,
  // captureSwitchedTab: one frame of the shared screen, shortly after focus leaves the exam
  // (what the candidate switched to is on screen by then), at most 1280×800.
  screenGrabDelayMs: 700,
  screenMaxWidth: 1280,
  screenMaxHeight: 800,
  screenQuality: 0.6,
  // recordSession: low-frame-rate WebM, handed over in chunks every recordingSegmentMs.
  recordFrameRate: 5,
  recordWidth: 320,
  cameraVideoBps: 120000,
  audioBps: 32000,
  screenVideoBps: 250000,
  minSegmentBytes: 1024,
};
var CAPTURE_KINDS = ["frame", "snapshot", "audio", "screen", "recording"];
var CAPTURE_SEQ_PREFIX = "proctorme:capture:";
var captureInstance = null;

// The AudioWorklet: mixes to mono, low-passes and decimates to 16 kHz when the context runs at
// another rate, and posts 100-ms blocks of 16-bit PCM with their RMS. Loaded from a Blob URL.
var WORKLET_SOURCE = [
  "class ProctormeTap extends AudioWorkletProcessor {",
  "  constructor(options) {",
  "    super();",
  "    var o = (options && options.processorOptions) || {};",
  "    this.target = o.targetRate || 16000;",
  "    this.blockSamples = o.blockSamples || 1600;",
  "    this.ratio = sampleRate / this.target;",
  "    this.block = new Int16Array(this.blockSamples);",
  "    this.fill = 0;",
  "    this.energy = 0;",
  "    this.resample = this.ratio > 1.0001;",
  "    if (this.resample) {",
  "      // Windowed-sinc low-pass at 0.45 × the target rate, then linear interpolation.",
  "      var fc = (0.45 * this.target) / sampleRate;",
  "      var n = Math.max(15, Math.round(8 * this.ratio) | 1);",
  "      var taps = new Float32Array(n);",
  "      var sum = 0;",
  "      for (var k = 0; k < n; k++) {",
  "        var m = k - (n - 1) / 2;",
  "        var sinc = m === 0 ? 2 * fc : Math.sin(2 * Math.PI * fc * m) / (Math.PI * m);",
  "        taps[k] = sinc * (0.54 - 0.46 * Math.cos((2 * Math.PI * k) / (n - 1)));",
  "        sum += taps[k];",
  "      }",
  "      for (var j = 0; j < n; j++) taps[j] /= sum;",
  "      this.taps = taps;",
  "      this.ring = new Float32Array(n);",
  "      this.ringPos = 0;",
  "      this.inputIndex = -1;",
  "      this.nextOut = 0;",
  "      this.prev = 0;",
  "    }",
  "  }",
  "  emit(v) {",
  "    if (v > 1) v = 1; else if (v < -1) v = -1;",
  "    this.block[this.fill++] = v < 0 ? v * 32768 : v * 32767;",
  "    this.energy += v * v;",
  "    if (this.fill === this.blockSamples) {",
  "      var rms = Math.sqrt(this.energy / this.blockSamples);",
  "      this.port.postMessage({ pcm: this.block.buffer, rms: rms }, [this.block.buffer]);",
  "      this.block = new Int16Array(this.blockSamples);",
  "      this.fill = 0;",
  "      this.energy = 0;",
  "    }",
  "  }",
  "  process(inputs) {",
  "    var input = inputs[0];",
  "    if (!input || !input.length) return true;",
  "    var channels = input.length, frames = input[0].length;",
  "    for (var i = 0; i < frames; i++) {",
  "      var x = 0;",
  "      for (var c = 0; c < channels; c++) x += input[c][i];",
  "      x /= channels;",
  "      if (!this.resample) { this.emit(x); continue; }",
  "      var n = this.taps.length;",
  "      this.ring[this.ringPos] = x;",
  "      this.ringPos = (this.ringPos + 1) % n;",
  "      var y = 0;",
  "      for (var k = 0, p = this.ringPos; k < n; k++, p = (p + 1) % n) y += this.taps[k] * this.ring[p];",
  "      this.inputIndex++;",
  "      while (this.nextOut <= this.inputIndex) {",
  "        var frac = this.nextOut - (this.inputIndex - 1);",
  "        this.emit(this.prev + (y - this.prev) * frac);",
  "        this.nextOut += this.ratio;",
  "      }",
  "      this.prev = y;",
  "    }",
  "    return true;",
  "  }",
  "}",
  "registerProcessor('proctorme-tap', ProctormeTap);",
].join("\n");

// ---- pending items kept in IndexedDB (a reload or a crash loses nothing unacknowledged) -------
var captureDb = {
  promise: null,
  open: function () {
    if (this.promise) return this.promise;
    this.promise = new Promise(function (resolve) {
      var request;
      try {
        if (!window.indexedDB) return resolve(null);
        request = window.indexedDB.open("proctorme-capture", 1);
      } catch (e) {
        return resolve(null);
      }
      request.onupgradeneeded = function () {
        var store = request.result.createObjectStore("items", { keyPath: "id" });
        store.createIndex("session", "sessionId");
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = request.onblocked = function () { resolve(null); };
    });
    return this.promise;
  },
  run: function (mode, work) {
    return this.open().then(function (db) {
      if (!db) return null;
      return new Promise(function (resolve) {
        var result = null;
        try {
          var tx = db.transaction("items", mode);
          result = work(tx.objectStore("items"));
          tx.oncomplete = function () { resolve(result && "value" in result ? result.value : null); };
          tx.onerror = tx.onabort = function () { resolve(null); };
        } catch (e) {
          resolve(null); // quota, private mode: memory still has everything
        }
      });
    });
  },
  put: function (record) {
    return this.run("readwrite", function (store) { store.put(record); });
  },
  remove: function (ids) {
    if (!ids.length) return Promise.resolve();
    return this.run("readwrite", function (store) { ids.forEach(function (id) { store.delete(id); }); });
  },
  load: function (sessionId) {
    return this.run("readonly", function (store) {
      var out = { value: [] };
      store.index("session").openCursor(window.IDBKeyRange.only(sessionId)).onsuccess = function (event) {
        var cursor = event.target.result;
        if (!cursor) return;
        out.value.push(cursor.value);
        cursor.continue();
      };
      return out;
    });
  },
  /** Drops this session's items, and anything left over from sessions more than two days old. */
  forget: function (sessionId) {
    var cutoff = Date.now() - 2 * 24 * 3600 * 1000;
    return this.run("readwrite", function (store) {
      store.openCursor().onsuccess = function (event) {
        var cursor = event.target.result;
        if (!cursor) return;
        if (cursor.value.sessionId === sessionId || cursor.value.savedAt < cutoff) cursor.delete();
        cursor.continue();
      };
    });
  },
};

function dbfs(rms) {
  return 20 * Math.log10(rms + 1e-9);
}

function percentile(values, fraction) {
  if (!values.length) return -120;
  var sorted = values.slice().sort(function (a, b) { return a - b; });
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))];
}

function MediaCapture(ctx) {
  var self = this;
  var settings = ctx.settings || {};
  var features = settings.features || {};
  var tracking = settings.tracking || {};
  this.ctx = ctx;
  this.opts = Object.assign({}, CAPTURE_DEFAULTS, settings.capture || {});
  this.sessionId = ctx.session.sessionId;
  var ai = features.aiProctoring !== false;
  var identity = features.facialRecognition !== false;
  var hasVideo = ctx.stream.getVideoTracks().length > 0;
  var hasAudio = ctx.stream.getAudioTracks().length > 0;
  var snapshots = hasVideo && (identity || (ai && tracking.photosAtRandom !== false));
  // AutoProctor's testTakerPhoto without random photos: one snapshot at the start, the photo of
  // the report (and the identity reference where no other exists).
  this.photoOnly = hasVideo && !snapshots && tracking.testTakerPhoto === true;
  var autoproctor = ctx.dialect === "autoproctor";
  this.want = {
    frame: hasVideo && ai,
    snapshot: snapshots || this.photoOnly,
    audio: hasAudio && ai && tracking.audio !== false,
    // AutoProctor's captureSwitchedTab (a shared screen is there only when it is on) and
    // recordSession, as the server decided them.
    screen: autoproctor && Boolean(ctx.screen) && tracking.captureSwitchedTab === true,
    recording: autoproctor && tracking.recordSession === true && typeof window.MediaRecorder === "function",
  };
  this.pending = []; // {id, kind, seq, capturedAt, blob, size, durationMs?, sampleRate?}
  this.recentFrames = []; // {at, size} of the detection frames sent in the last minute
  this.pendingBytes = 0;
  this.seqs = this.loadSeqs();
  if (this.photoOnly && this.seqs.snapshot > 0) this.want.snapshot = false; // taken before a reload
  this.busy = {};
  this.inFlight = false;
  this.attempt = 0;
  this.maxItems = CAP.maxBatchItems;
  this.nextUploadAt = Date.now() + this.opts.uploadIntervalMs;
  this.flushWaiters = [];
  this.stopped = false;
  this.halted = false; // the server refused uploads for good (403 / 409)
  this.audioHistory = [];
  this.audioWindow = [];
  this.stats = {
    startedAt: Date.now(),
    captured: { frame: 0, snapshot: 0, audio: 0, screen: 0, recording: 0 },
    unchangedFrames: 0, // detection frames not sent: nothing changed since the last one sent
    lowQualityFrames: 0, // detection frames sent at frameQualityLow (over the minute's bytes)
    acknowledged: { frame: 0, snapshot: 0, audio: 0, screen: 0, recording: 0 },
    bytes: { frame: 0, snapshot: 0, audio: 0, screen: 0, recording: 0 },
    audioWindows: { seen: 0, sent: 0 },
    uploads: 0,
    failures: 0,
    dropped: 0,
    noiseFloorDbfs: null,
  };
  var start = Date.now();
  this.due = { frame: start, snapshot: start + CAP.firstSnapshotMs };

  if (this.want.frame || this.want.snapshot) this.openVideo();
  if (this.want.audio) this.openAudio();
  if (this.want.screen) ctx.onFocusLost(function (payload) { payload.screenSeq = self.screenOnLeave(); });
  this.recorders = [];
  if (this.want.recording) this.startRecording();
  this.restore();
  this.timer = setInterval(function () { self.tick(); }, CAP.tickMs);
  this.onOnline = function () {
    self.attempt = 0;
    self.nextUploadAt = 0;
    self.tick();
  };
  window.addEventListener("online", this.onOnline);
}

// ---- sequence numbers: per kind, consecutive, kept across reloads of the page ------------------

MediaCapture.prototype.loadSeqs = function () {
  var seqs = {};
  CAPTURE_KINDS.forEach(function (kind) { seqs[kind] = 0; });
  try {
    var saved = storage && JSON.parse(storage.getItem(CAPTURE_SEQ_PREFIX + this.sessionId) || "null");
    if (saved) Object.keys(seqs).forEach(function (k) { seqs[k] = Number(saved[k]) || 0; });
  } catch (e) { /* start from what IndexedDB has */ }
  return seqs;
};

MediaCapture.prototype.saveSeqs = function () {
  try {
    if (storage) storage.setItem(CAPTURE_SEQ_PREFIX + this.sessionId, JSON.stringify(this.seqs));
  } catch (e) { /* quota */ }
};

/** Items a previous page of this session captured but never got acknowledged. */
MediaCapture.prototype.restore = function () {
  var self = this;
  captureDb.load(this.sessionId).then(function (records) {
    if (!records || !records.length || self.stopped) return;
    var known = {};
    self.pending.forEach(function (item) { known[item.id] = true; });
    records.forEach(function (record) {
      self.seqs[record.kind] = Math.max(self.seqs[record.kind] || 0, record.seq);
      if (known[record.id]) return;
      self.pending.push(record);
      self.pendingBytes += record.size;
    });
    self.pending.sort(function (a, b) { return a.capturedAt < b.capturedAt ? -1 : a.capturedAt > b.capturedAt ? 1 : 0; });
    self.saveSeqs();
    self.nextUploadAt = 0;
  });
};

MediaCapture.prototype.add = function (kind, blob, capturedAt, extra) {
  if (this.stopped) return;
  var seq = extra && extra.seq ? extra.seq : ++this.seqs[kind];
  this.saveSeqs();
  var item = Object.assign({ id: this.sessionId + ":" + kind + ":" + seq, sessionId: this.sessionId, kind: kind, seq: seq, capturedAt: capturedAt, blob: blob, size: blob.size, savedAt: Date.now() }, extra || {});
  this.pending.push(item);
  this.pendingBytes += item.size;
  this.stats.captured[kind]++;
  captureDb.put(item);
  this.trim();
};

/** A very long outage: keep memory bounded by giving up the oldest detection frames. */
MediaCapture.prototype.trim = function () {
  if (this.pendingBytes <= CAP.maxPendingBytes) return;
  var dropped = [];
  for (var i = 0; i < this.pending.length && this.pendingBytes > CAP.maxPendingBytes * 0.9; ) {
    var item = this.pending[i];
    if (item.kind !== "frame") { i++; continue; }
    this.pending.splice(i, 1);
    this.pendingBytes -= item.size;
    dropped.push(item.id);
  }
  this.stats.dropped += dropped.length;
  captureDb.remove(dropped);
};

MediaCapture.prototype.isoNow = function (offsetMs) {
  return new Date(this.ctx.now() - (offsetMs || 0)).toISOString();
};

// ---- camera: one detached video element, one canvas ----------------------------------------

MediaCapture.prototype.openVideo = function () {
  var video = document.createElement("video");
  video.muted = true;
  video.playsInline = true;
  video.setAttribute("playsinline", "");
  video.srcObject = new MediaStream(this.ctx.stream.getVideoTracks());
  var playing = video.play();
  if (playing && playing.catch) playing.catch(function () {});
  this.video = video;
  this.canvas = document.createElement("canvas");
  this.canvas2d = this.canvas.getContext("2d", { alpha: false });
};

MediaCapture.prototype.grab = function (kind, maxWidth, maxHeight, quality) {
  var self = this;
  var video = this.video;
  if (!video || this.busy[kind] || video.readyState < 2 || !video.videoWidth) return;
  // Fit inside maxWidth × maxHeight keeping the camera's aspect (no distortion, no crop).
  var scale = Math.min(maxWidth / video.videoWidth, maxHeight / video.videoHeight, 1);
  var width = Math.max(2, Math.round(video.videoWidth * scale));
  var height = Math.max(2, Math.round(video.videoHeight * scale));
  if (this.canvas.width !== width) this.canvas.width = width;
  if (this.canvas.height !== height) this.canvas.height = height;
  // (Resizing resets the context.) A filtered downscale averages sensor noise away: better
  // detection and smaller JPEGs.
  this.canvas2d.imageSmoothingEnabled = true;
  this.canvas2d.imageSmoothingQuality = "high";
  this.canvas2d.drawImage(video, 0, 0, width, height);
  var capturedAt = this.isoNow();
  if (kind === "frame" && this.frameUnchanged(width, height)) {
    this.stats.unchangedFrames++;
    return;
  }
  this.busy[kind] = true;
  this.canvas.toBlob(function (blob) {
    self.busy[kind] = false;
    if (!blob || !blob.size) return;
    if (kind === "frame") {
      self.recentFrames.push({ at: Date.now(), size: blob.size });
      if (quality < CAP.frameQuality) self.stats.lowQualityFrames++;
    }
    self.add(kind, blob, capturedAt);
  }, "image/jpeg", quality);
};

/** The next detection frame's JPEG quality: CAP.frameQuality while the frames sent in the last
 * minute stay within CAP.frameBytesPerMinute, CAP.frameQualityLow while they are over it. */
MediaCapture.prototype.frameQuality = function (now) {
  var recent = this.recentFrames;
  while (recent.length && recent[0].at <= now - 60000) recent.shift();
  var bytes = 0;
  for (var i = 0; i < recent.length; i++) bytes += recent[i].size;
  return bytes > CAP.frameBytesPerMinute ? CAP.frameQualityLow : CAP.frameQuality;
};

/** Grey 32×24 thumbnail of the canvas, each pixel the mean of its box (OpenCV's INTER_AREA). */
function frameThumbnail(rgba, width, height) {
  var tw = 32;
  var th = 24;
  var sums = new Float64Array(tw * th);
  var counts = new Float64Array(tw * th);
  for (var y = 0; y < height; y++) {
    var ty = Math.min(th - 1, Math.floor((y * th) / height));
    for (var x = 0; x < width; x++) {
      var tx = Math.min(tw - 1, Math.floor((x * tw) / width));
      var i = (y * width + x) * 4;
      sums[ty * tw + tx] += 0.299 * rgba[i] + 0.587 * rgba[i + 1] + 0.114 * rgba[i + 2];
      counts[ty * tw + tx]++;
    }
  }
  for (var k = 0; k < sums.length; k++) sums[k] = counts[k] ? sums[k] / counts[k] : 0;
  return sums;
}

/** The q-quantile (0..1) of an array, interpolated between neighbours as numpy's percentile. */
function quantile(values, q) {
  var sorted = Array.prototype.slice.call(values).sort(function (p, r) { return p - r; });
  var pos = (sorted.length - 1) * q;
  var lo = Math.floor(pos);
  var hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** The largest mean |difference| over 4×4-pixel cells of two thumbnails, after taking out a small
 *  overall gain (±6 %, least squares) and shift (±4): the exposure drifting.
 *  analysis/frames.py frame_change. */
function frameChange(a, b) {
  var n = a.length;
  var ma = 0;
  var mb = 0;
  for (var i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= n;
  mb /= n;
  var cov = 0;
  var va = 0;
  for (var j = 0; j < n; j++) { cov += (a[j] - ma) * (b[j] - mb); va += (a[j] - ma) * (a[j] - ma); }
  var gain = va > 0 ? Math.max(0.94, Math.min(1.06, cov / va)) : 1;
  var d = new Float64Array(n);
  for (var k = 0; k < n; k++) d[k] = b[k] - a[k] * gain;
  var shift = Math.max(-4, Math.min(4, quantile(d, 0.5)));
  var worst = 0;
  for (var cy = 0; cy < 24; cy += 4) {
    for (var cx = 0; cx < 32; cx += 4) {
      var sum = 0;
      for (var y = cy; y < cy + 4; y++) for (var x = cx; x < cx + 4; x++) sum += Math.abs(d[y * 32 + x] - shift);
      worst = Math.max(worst, sum / 16);
    }
  }
  return worst;
}

/** Is the frame on the canvas the same view as the last changed frame sent (and one was sent
 *  recently enough)? Remembers it as the new reference when it changed. */
MediaCapture.prototype.frameUnchanged = function (width, height) {
  var now = Date.now();
  var thumb;
  try {
    thumb = frameThumbnail(this.canvas2d.getImageData(0, 0, width, height).data, width, height);
  } catch (e) {
    return false; // a canvas that cannot be read: send every frame
  }
  var ref = this.frameRef;
  var same = ref && ref.width === width && ref.height === height && frameChange(ref.thumb, thumb) < CAP.stillThreshold;
  // Due at twice the frame interval or so: a timer that fires a little early still sends it.
  var due = !this.frameSentAt || now - this.frameSentAt >= CAP.frameHoldMs - this.opts.frameIntervalMs / 2;
  if (same && !due) return true;
  if (!same) this.frameRef = { thumb: thumb, width: width, height: height };
  this.frameSentAt = now;
  return false;
};

// ---- microphone: AudioWorklet → 100-ms blocks → 5-s windows, sent when louder than the room --

MediaCapture.prototype.openAudio = function () {
  var self = this;
  var Context = window.AudioContext || window.webkitAudioContext;
  if (!Context || !window.AudioWorkletNode) return;
  var track = this.ctx.stream.getAudioTracks()[0];
  var audio, source;
  try {
    // Chromium and Safari resample a microphone into a 16 kHz context themselves.
    audio = new Context({ sampleRate: CAP.audioRate });
    source = audio.createMediaStreamSource(new MediaStream([track]));
  } catch (e) {
    // Firefox refuses to connect a stream to a context at another rate: the worklet resamples.
    if (audio) audio.close().catch(function () {});
    try {
      audio = new Context();
      source = audio.createMediaStreamSource(new MediaStream([track]));
    } catch (e2) {
      if (window.console) console.warn("[proctorme] no audio capture:", e2);
      return;
    }
  }
  this.audio = audio;
  var url = URL.createObjectURL(new Blob([WORKLET_SOURCE], { type: "application/javascript" }));
  audio.audioWorklet.addModule(url).then(function () {
    URL.revokeObjectURL(url);
    if (self.stopped) return;
    var node = new AudioWorkletNode(audio, "proctorme-tap", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      outputChannelCount: [1],
      processorOptions: { targetRate: CAP.audioRate, blockSamples: (CAP.audioRate * CAP.blockMs) / 1000 },
    });
    node.port.onmessage = function (event) { self.onAudioBlock(event.data); };
    // A silent path to the destination keeps the graph pulling in every browser.
    var mute = audio.createGain();
    mute.gain.value = 0;
    source.connect(node);
    node.connect(mute);
    mute.connect(audio.destination);
    self.audioNode = node;
    self.resumeAudio();
  }, function (error) {
    URL.revokeObjectURL(url);
    if (window.console) console.warn("[proctorme] audio worklet unavailable:", error);
  });
};

/** A context made without a user gesture may start suspended: resume it on the next one. */
MediaCapture.prototype.resumeAudio = function () {
  var self = this;
  var audio = this.audio;
  if (!audio || audio.state !== "suspended") return;
  audio.resume().catch(function () {});
  if (this.gestureListening) return;
  this.gestureListening = true;
  var resume = function () {
    if (self.audio && self.audio.state === "suspended") self.audio.resume().catch(function () {});
    ["pointerdown", "keydown"].forEach(function (type) { document.removeEventListener(type, resume, true); });
    self.gestureListening = false;
  };
  ["pointerdown", "keydown"].forEach(function (type) { document.addEventListener(type, resume, true); });
};

MediaCapture.prototype.onAudioBlock = function (data) {
  if (this.stopped || this.paused) return;
  if (!(this.holdUntil && Date.now() < this.holdUntil)) { // ending: see flush()
    var db = dbfs(data.rms);
    if (!this.audioWindow.length) this.audioWindowStart = this.isoNow(CAP.blockMs);
    this.audioWindow.push({ pcm: new Int16Array(data.pcm), db: db });
    this.audioHistory.push(db);
    if (this.audioHistory.length > CAP.floorHistoryBlocks) this.audioHistory.shift();
    if (this.audioWindow.length >= CAP.windowBlocks) this.closeAudioWindow();
  }
  this.tick(); // the audio thread is never throttled: it also keeps capture going in hidden tabs
};

/** Sends the window when enough of its 100-ms blocks stand clear of the room's noise floor. */
MediaCapture.prototype.closeAudioWindow = function () {
  var blocks = this.audioWindow;
  this.audioWindow = [];
  if (!blocks.length) return;
  var floor = percentile(this.audioHistory, CAP.floorPercentile);
  this.stats.noiseFloorDbfs = Math.round(floor * 10) / 10;
  this.stats.audioWindows.seen++;
  var loud = 0;
  for (var i = 0; i < blocks.length; i++) {
    if (blocks[i].db >= floor + CAP.gateDb && blocks[i].db >= CAP.minDbfs) loud++;
  }
  if (loud < CAP.minLoudBlocks) return;
  var samples = 0;
  blocks.forEach(function (b) { samples += b.pcm.length; });
  var pcm = new Int16Array(samples);
  var offset = 0;
  blocks.forEach(function (b) { pcm.set(b.pcm, offset); offset += b.pcm.length; });
  // Raw 16-bit little-endian PCM (every browser platform is little-endian).
  var blob = new Blob([pcm.buffer], { type: "application/octet-stream" });
  this.stats.audioWindows.sent++;
  this.add("audio", blob, this.audioWindowStart, {
    durationMs: Math.round((samples * 1000) / CAP.audioRate),
    sampleRate: CAP.audioRate,
  });
};

// ---- the clock: capture when due, upload when due ------------------------------------------

MediaCapture.prototype.tick = function () {
  if (this.stopped) return;
  // Paused by a proctor: nothing captured, nothing uploaded — unless the session is ending
  // (flush() holds capture and sends what is queued).
  if (this.paused && !this.flushing) return;
  var now = Date.now();
  var opts = this.opts;
  var holding = this.holdUntil && now < this.holdUntil;
  if (this.want.frame && now >= this.due.frame && !holding) {
    this.due.frame += opts.frameIntervalMs;
    if (this.due.frame <= now) this.due.frame = now + opts.frameIntervalMs; // throttled: no burst
    this.grab("frame", opts.frameWidth, opts.frameHeight, this.frameQuality(now));
  }
  if (this.want.snapshot && now >= this.due.snapshot && !holding) {
    this.due.snapshot = this.photoOnly ? Infinity : now + opts.snapshotIntervalMs;
    this.grab("snapshot", opts.snapshotWidth, opts.snapshotHeight, CAP.snapshotQuality);
  }
  if (this.audio && this.audio.state === "suspended") this.resumeAudio();
  if (!this.inFlight && !this.halted && this.pending.length && now >= this.nextUploadAt) this.upload();
};

// ---- uploads ------------------------------------------------------------------------------------

MediaCapture.prototype.pickBatch = function () {
  var batch = [];
  var bytes = 0;
  for (var i = 0; i < this.pending.length && batch.length < this.maxItems; i++) {
    var item = this.pending[i];
    if (batch.length && bytes + item.size > CAP.maxBatchBytes) break;
    batch.push(item);
    bytes += item.size;
  }
  return batch;
};

MediaCapture.prototype.upload = function () {
  var self = this;
  var session = this.ctx.currentSession() || this.ctx.session;
  var batch = this.pickBatch();
  if (!batch.length || !session || !session.uploadUrl) return;
  var form = new FormData();
  var meta = batch.map(function (item, index) {
    var entry = { part: "p" + index, kind: item.kind, seq: item.seq, capturedAt: item.capturedAt };
    if (item.kind === "audio") {
      entry.durationMs = item.durationMs;
      entry.sampleRate = item.sampleRate;
    } else if (item.kind === "recording") {
      entry.durationMs = item.durationMs;
      entry.source = item.source;
      entry.run = item.run;
      entry.chunk = item.chunk;
    }
    return entry;
  });
  form.append("meta", JSON.stringify({ items: meta }));
  batch.forEach(function (item, index) {
    var suffix = item.kind === "audio" ? ".pcm" : item.kind === "recording" ? ".webm" : ".jpg";
    form.append("p" + index, item.blob, item.kind + "-" + item.seq + suffix);
  });
  this.inFlight = true;
  this.uploadStartedAt = Date.now();
  this.stats.uploads++;
  fetch(session.uploadUrl, {
    method: "POST",
    mode: "cors",
    credentials: "omit",
    headers: { Authorization: "Bearer " + session.token },
    body: form,
  }).then(function (response) {
    return response.text().then(function (text) {
      var body;
      try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
      return { status: response.status, body: body };
    });
  }).then(
    function (result) { self.inFlight = false; self.answered(batch, result); },
    function () { self.inFlight = false; self.failed(); }
  );
};

MediaCapture.prototype.remove = function (items) {
  var ids = {};
  items.forEach(function (item) { ids[item.id] = true; });
  var kept = [];
  var bytes = 0;
  this.pending.forEach(function (item) {
    if (ids[item.id]) return;
    kept.push(item);
    bytes += item.size;
  });
  this.pending = kept;
  this.pendingBytes = bytes;
  captureDb.remove(Object.keys(ids));
};

MediaCapture.prototype.answered = function (batch, result) {
  var self = this;
  var error = (result.body && result.body.error) || {};
  var details = error.details || {};
  if (result.status === 202) {
    this.attempt = 0;
    this.maxItems = CAP.maxBatchItems;
    batch.forEach(function (item) {
      self.stats.acknowledged[item.kind]++;
      self.stats.bytes[item.kind] += item.size;
    });
    this.remove(batch);
    // A backlog (after an outage) goes out batch after batch; otherwise wait for the cadence.
    // The cadence counts from when this upload started, so a slow answer does not stretch it.
    this.nextUploadAt = this.pending.length > this.maxItems || this.flushing ? 0 : (this.uploadStartedAt || Date.now()) + this.opts.uploadIntervalMs;
  } else if (result.status === 400 && error.code === "INVALID_MEDIA") {
    // Nothing of the batch was stored: drop the item the server named, resend the rest.
    var bad = batch.filter(function (item) { return item.kind === details.kind && item.seq === details.seq; });
    if (!bad.length) bad = batch; // it could not name one (bad meta): do not loop on it
    if (window.console) console.warn("[proctorme] upload refused:", details.reason || error.message, bad.length, "item(s) dropped");
    this.stats.dropped += bad.length;
    this.remove(bad);
    this.nextUploadAt = 0;
  } else if (result.status === 413 && details.kind === "recording" && details.reason === "session storage limit") {
    // The session stored all the recording it may keep: stop recording, keep the rest going.
    this.stopRecording(false);
    var recordings = this.pending.filter(function (item) { return item.kind === "recording"; });
    this.stats.dropped += recordings.length;
    this.remove(recordings);
    this.nextUploadAt = 0;
  } else if (result.status === 413) {
    if (batch.length > 1) {
      this.maxItems = Math.max(1, Math.floor(batch.length / 2)); // smaller batches
    } else {
      this.stats.dropped += 1;
      this.remove(batch);
    }
    this.nextUploadAt = 0;
  } else if (result.status === 409) {
    this.halt(true); // SESSION_ENDED: nothing more will be accepted
  } else if (result.status === 403) {
    this.halt(false); // this page may not use the session: keep what we have for a later page
  } else {
    if (result.status === 401) this.refreshToken();
    this.failed(); // 401 (after a refresh), 429, 5xx: back off and retry
    return;
  }
  this.settleFlush();
  if (this.nextUploadAt === 0) this.tick();
};

MediaCapture.prototype.refreshToken = function () {
  var now = Date.now();
  if (this.lastRefresh && now - this.lastRefresh < 60000) return;
  this.lastRefresh = now;
  this.ctx.refreshSession();
};

/** Exponential backoff with jitter: ~1 s, 2 s, 4 s … capped at 30 s (short while flushing). */
MediaCapture.prototype.failed = function () {
  this.stats.failures++;
  var cap = Math.min(CAP.backoffCapMs, CAP.backoffBaseMs * Math.pow(2, this.attempt));
  this.attempt++;
  var delay = cap / 2 + Math.random() * (cap / 2);
  if (this.flushing) delay = Math.min(delay, 400 + Math.random() * 300);
  this.nextUploadAt = Date.now() + delay;
  this.settleFlush();
};

MediaCapture.prototype.halt = function (forget) {
  this.halted = true;
  if (forget) {
    this.pending = [];
    this.pendingBytes = 0;
    this.forget();
  }
};

MediaCapture.prototype.forget = function () {
  captureDb.forget(this.sessionId);
  try { if (storage) storage.removeItem(CAPTURE_SEQ_PREFIX + this.sessionId); } catch (e) { /* ignore */ }
};

/** Upload everything captured so far (the last, partial audio window too); ≤ timeoutMs. */
MediaCapture.prototype.flush = function (timeoutMs) {
  var self = this;
  if (this.stopped || this.halted) return Promise.resolve();
  if (this.audioWindow.length >= 10) this.closeAudioWindow(); // a partial window of ≥ 1 s
  this.audioWindow = [];
  // The session is about to end: capture nothing new meanwhile (it would be refused after the
  // end). Should the end fail, capture resumes by itself a little later.
  this.holdUntil = Date.now() + timeoutMs + 5000;
  this.flushing = true;
  this.attempt = Math.min(this.attempt, 1);
  this.nextUploadAt = 0;
  this.stopRecording(true); // the last segments go into the queue when their recorders stop
  return new Promise(function (resolve) {
    var done = function () {
      clearTimeout(timer);
      self.flushing = false;
      resolve();
    };
    var timer = setTimeout(function () {
      self.flushWaiters = self.flushWaiters.filter(function (w) { return w !== done; });
      done();
    }, timeoutMs);
    self.flushWaiters.push(done);
    // Wait for capture already under way (a toBlob in progress) to land in the queue.
    setTimeout(function () { self.settleFlush(); self.tick(); }, 50);
  });
};

MediaCapture.prototype.settleFlush = function () {
  if (!this.flushWaiters.length) return;
  var busy = this.busy.frame || this.busy.snapshot || this.busy.screen || this.recordersClosing > 0;
  if (this.halted || (!this.pending.length && !this.inFlight && !busy)) {
    var waiters = this.flushWaiters;
    this.flushWaiters = [];
    waiters.forEach(function (done) { done(); });
  }
};

// A proctor's pause: nothing is captured or uploaded; what was captured before stays queued
// (and in IndexedDB) and goes up after the resume, so nothing is lost.
MediaCapture.prototype.pause = function () {
  if (this.paused) return;
  this.paused = true;
  this.audioWindow = [];
  this.stats.pauses = (this.stats.pauses || 0) + 1;
};

MediaCapture.prototype.resume = function () {
  if (!this.paused) return;
  this.paused = false;
  var now = Date.now();
  this.due.frame = now;
  if (this.due.snapshot !== Infinity) this.due.snapshot = now + CAP.firstSnapshotMs;
  this.nextUploadAt = now;
  this.tick();
};

MediaCapture.prototype.stop = function () {
  if (this.stopped) return;
  this.stopped = true;
  clearInterval(this.timer);
  window.removeEventListener("online", this.onOnline);
  if (this.video) {
    this.video.pause();
    this.video.srcObject = null;
    this.video = null;
  }
  this.stopRecording(false);
  if (this.screenVideo) {
    this.screenVideo.srcObject = null;
    this.screenVideo = null;
  }
  if (this.audioNode) this.audioNode.port.onmessage = null;
  if (this.audio) this.audio.close().catch(function () {});
  this.audio = null;
  var waiters = this.flushWaiters;
  this.flushWaiters = [];
  waiters.forEach(function (done) { done(); });
  // An ended session accepts nothing more; otherwise (a failure) keep it for a resuming page.
  if (this.ctx.isEnded()) this.forget();
  if (captureInstance === this) captureInstance = null;
};

// ---- the shared screen: one frame each time focus leaves (captureSwitchedTab) ------------------

/** Focus left: reserve the screen capture's seq now (the flag names it), take it a little later. */
MediaCapture.prototype.screenOnLeave = function () {
  var self = this;
  var seq = ++this.seqs.screen;
  this.saveSeqs();
  setTimeout(function () { self.grabScreen(seq); }, CAP.screenGrabDelayMs);
  return seq;
};

MediaCapture.prototype.screenSource = function (track) {
  var self = this;
  var fromVideo = function () {
    if (!self.screenVideo) {
      var video = document.createElement("video");
      video.muted = true;
      video.playsInline = true;
      video.srcObject = new MediaStream([track]);
      var playing = video.play();
      if (playing && playing.catch) playing.catch(function () {});
      self.screenVideo = video;
    }
    var video2 = self.screenVideo;
    return new Promise(function (resolve, reject) {
      var waited = 0;
      (function check() {
        if (video2.readyState >= 2 && video2.videoWidth) return resolve(video2);
        if ((waited += 100) > 3000) return reject(new Error("no screen frame"));
        setTimeout(check, 100);
      })();
    });
  };
  // ImageCapture reads the track itself: it works while this page is hidden, unlike a paused <video>.
  if (typeof window.ImageCapture === "function") {
    try {
      return new window.ImageCapture(track).grabFrame().catch(fromVideo);
    } catch (e) { /* fall through */ }
  }
  return fromVideo();
};

MediaCapture.prototype.grabScreen = function (seq) {
  var self = this;
  var screen = this.ctx.screen;
  var track = screen && screen.getVideoTracks()[0];
  if (this.stopped || !track || track.readyState !== "live") return;
  var capturedAt = this.isoNow();
  this.busy.screen = true;
  this.screenSource(track).then(function (source) {
    var width = source.videoWidth || source.width;
    var height = source.videoHeight || source.height;
    var scale = Math.min(CAP.screenMaxWidth / width, CAP.screenMaxHeight / height, 1);
    var canvas = self.screenCanvas || (self.screenCanvas = document.createElement("canvas"));
    canvas.width = Math.max(2, Math.round(width * scale));
    canvas.height = Math.max(2, Math.round(height * scale));
    var context = canvas.getContext("2d", { alpha: false });
    context.imageSmoothingEnabled = true;
    context.imageSmoothingQuality = "high";
    context.drawImage(source, 0, 0, canvas.width, canvas.height);
    if (source.close) source.close(); // an ImageBitmap
    canvas.toBlob(function (blob) {
      self.busy.screen = false;
      if (!blob || !blob.size) return;
      self.add("screen", blob, capturedAt, { seq: seq });
      self.nextUploadAt = 0; // evidence: send it now rather than at the next cadence
      self.tick();
    }, "image/jpeg", CAP.screenQuality);
  }).catch(function (error) {
    self.busy.screen = false;
    if (window.console) console.warn("[proctorme] no screen capture:", error);
    self.settleFlush();
  });
};

// ---- the session recording: standalone WebM segments of camera (+ sound) and screen ----------

function recordingMime(withAudio) {
  var wanted = withAudio ? ["video/webm;codecs=vp8,opus", "video/webm"] : ["video/webm;codecs=vp8", "video/webm"];
  for (var i = 0; i < wanted.length; i++) {
    if (!window.MediaRecorder.isTypeSupported || window.MediaRecorder.isTypeSupported(wanted[i])) return wanted[i];
  }
  return "";
}

/**
 * Records one stream with one MediaRecorder for the whole page, handing over a chunk every
 * recordingSegmentMs (timeslice). A run's chunks, joined in order, are one WebM file: the first
 * holds the header, the others continue it. (Restarting a recorder per segment would make
 * standalone files, but Chromium's restarted recorders often record nothing at all.)
 */
function SegmentRecorder(capture, source, stream, videoBps) {
  var self = this;
  this.capture = capture;
  this.source = source;
  this.stream = stream;
  this.run = randomRunId();
  this.chunk = 0;
  var withAudio = stream.getAudioTracks().length > 0;
  var options = { mimeType: recordingMime(withAudio), videoBitsPerSecond: videoBps };
  if (withAudio) options.audioBitsPerSecond = CAP.audioBps;
  this.done = false;
  try {
    this.recorder = new window.MediaRecorder(stream, options);
  } catch (e) {
    if (window.console) console.warn("[proctorme] no session recording:", e);
    this.done = true;
    return;
  }
  this.chunkStart = Date.now();
  this.chunkStartIso = capture.isoNow();
  this.recorder.ondataavailable = function (event) { self.onChunk(event.data); };
  this.recorder.onstop = function () {
    capture.recordersClosing = Math.max(0, (capture.recordersClosing || 0) - 1);
    capture.settleFlush();
    if (capture.nextUploadAt === 0) capture.tick();
  };
  this.recorder.start(capture.opts.recordingSegmentMs || 15000);
}

function randomRunId() {
  var bytes = new Uint8Array(9);
  window.crypto.getRandomValues(bytes);
  return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
}

SegmentRecorder.prototype.onChunk = function (blob) {
  var now = Date.now();
  var startedAt = this.chunkStartIso;
  var durationMs = Math.max(1, now - this.chunkStart);
  this.chunkStart = now;
  this.chunkStartIso = this.capture.isoNow();
  if (!blob || !blob.size || (this.chunk === 0 && blob.size < CAP.minSegmentBytes)) return;
  this.chunk += 1;
  this.capture.add("recording", blob, startedAt, { source: this.source, run: this.run, chunk: this.chunk, durationMs: durationMs });
};

/** keepLast: the chunk being recorded is handed over (the session is ending); else dropped. */
SegmentRecorder.prototype.finish = function (keepLast) {
  if (this.done) return;
  this.done = true;
  var recorder = this.recorder;
  if (recorder && recorder.state !== "inactive") {
    if (keepLast) {
      this.capture.recordersClosing = (this.capture.recordersClosing || 0) + 1;
    } else {
      recorder.ondataavailable = recorder.onstop = null;
    }
    recorder.stop();
  }
  this.stream.getTracks().forEach(function (track) { track.stop(); }); // our clones only
};

MediaCapture.prototype.startRecording = function () {
  var camera = this.ctx.stream;
  var tracks = [];
  camera.getVideoTracks().forEach(function (track) {
    var copy = track.clone(); // low frame rate and size for the recording only
    if (copy.applyConstraints) copy.applyConstraints({ frameRate: { max: CAP.recordFrameRate }, width: { max: CAP.recordWidth } }).catch(function () {});
    tracks.push(copy);
  });
  camera.getAudioTracks().forEach(function (track) { tracks.push(track.clone()); });
  if (tracks.length) this.recorders.push(new SegmentRecorder(this, "camera", new MediaStream(tracks), CAP.cameraVideoBps));
  var screen = this.ctx.screen;
  if (screen && screen.getVideoTracks().length) {
    this.recorders.push(new SegmentRecorder(this, "screen", new MediaStream([screen.getVideoTracks()[0].clone()]), CAP.screenVideoBps));
  }
};

/** keepLast: queue the segment being recorded (the session is ending); otherwise drop it. */
MediaCapture.prototype.stopRecording = function (keepLast) {
  var recorders = this.recorders || [];
  this.recorders = [];
  recorders.forEach(function (recorder) { recorder.finish(keepLast); });
};

window.Proctorme.registerCaptureHook(function (ctx) {
  if (!ctx.session || !ctx.session.uploadUrl || !window.fetch || !window.FormData) return undefined;
  var capture = new MediaCapture(ctx);
  captureInstance = capture;
  var stop = function () { capture.stop(); };
  stop.flush = function (timeoutMs) { return capture.flush(timeoutMs); };
  stop.pause = function () { capture.pause(); };
  stop.resume = function () { capture.resume(); };
  return stop;
});
// Internal, for tests and debugging: the running capture (stats, pending queue).
Object.defineProperty(window.Proctorme, "capture", { get: function () { return captureInstance; } });
