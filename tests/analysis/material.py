"""Builds the analysis test material at test time from images and tools that
ship in packages (scikit-image's bundled data, Debian's opencv-doc, espeak-ng
and sox). Nothing here is committed as binary; everything is deterministic
(seeded) so a failure reproduces.

Faces come from real photographs (the astronaut, the cameraman, two portrait
photos, Lena and a man with glasses from opencv-doc), cut out as head-and-
shoulders and pasted with a soft elliptical edge onto face-free photographs and
patterns. Cartoon, robot and drawn faces in opencv-doc are left out on purpose:
whether they "are faces" is a matter of opinion, not a label.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import wave
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

OPENCV_DOC = Path("/usr/share/doc/opencv-doc")
EXAMPLES = OPENCV_DOC / "examples" / "data"
HTML = OPENCV_DOC / "opencv4" / "html"
SIZES = ((320, 240), (640, 480))


class MissingTool(RuntimeError):
    """A Debian package the material needs is absent (the test skips or fails)."""


def _read(path: Path) -> np.ndarray:
    if not path.exists():
        raise MissingTool(f"{path} is missing (apt-get install opencv-doc)")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise MissingTool(f"{path} cannot be read")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _skimage(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    if img.ndim == 2:
        img = np.dstack([img] * 3)
    if img.shape[2] == 4:
        img = img[:, :, :3]
    if img.dtype != np.uint8:
        img = (np.clip(img, 0, 1) * 255).astype(np.uint8) if img.max() <= 1 else img.astype(np.uint8)
    return np.ascontiguousarray(img)


def doc_image(name: str) -> np.ndarray:
    return _read(EXAMPLES / name)


# --- people ----------------------------------------------------------------------

# name -> (loader, portrait crop x0, y0, x1, y1 in the source image)
_PORTRAITS = {
    "astronaut": (lambda: _skimage("astronaut"), (111, 5, 338, 260)),
    "cameraman": (lambda: _skimage("camera"), (150, 70, 325, 265)),
    "man_a": (lambda: _read(HTML / "227943776_1.jpg"), (12, 4, 410, 434)),
    "man_b": (lambda: _read(HTML / "230501201_1.jpg"), (0, 45, 584, 824)),
    "lena": (lambda: _read(HTML / "blurred.png"), (77, 87, 512, 512)),
    "glasses": (lambda: _read(HTML / "example.jpg"), (0, 60, 385, 580)),
}
PEOPLE = tuple(_PORTRAITS)


@cache
def source(name: str) -> np.ndarray:
    return _PORTRAITS[name][0]()


@cache
def portrait(name: str) -> np.ndarray:
    x0, y0, x1, y1 = _PORTRAITS[name][1]
    return np.ascontiguousarray(source(name)[y0:y1, x0:x1])


def second_person() -> np.ndarray:
    """A photo of someone who is not the astronaut (for identity tests)."""
    return source("man_a")


# --- backgrounds without anyone in them -----------------------------------------

_SKIMAGE_SCENES = (
    "chelsea",
    "coffee",
    "rocket",
    "coins",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "text",
    "brick",
    "grass",
    "gravel",
    "colorwheel",
    "clock",
    "checkerboard",
)
# Objects and patterns, including ones full-range detection fires on at full
# resolution (apple.jpg, sudoku.png).
_DOC_SCENES = (
    "apple.jpg",
    "chessboard.png",
    "building.jpg",
    "home.jpg",
    "fruits.jpg",
    "board.jpg",
    "baboon.jpg",
    "stuff.jpg",
    "leuvenA.jpg",
    "aero1.jpg",
    "starry_night.jpg",
    "orange.jpg",
    "smarties.png",
    "sudoku.png",
    "butterfly.jpg",
    "box_in_scene.png",
    "rubberwhale1.png",
    "notes.png",
    "aloeL.jpg",
    "pic1.png",
    "blox.jpg",
    "squirrel_cls.jpg",
    "LinuxLogo.jpg",
)


@cache
def scenes() -> tuple[tuple[str, np.ndarray], ...]:
    out = [(name, _skimage(name)) for name in _SKIMAGE_SCENES]
    out += [(name, _read(EXAMPLES / name)) for name in _DOC_SCENES]
    return tuple(out)


def _fit(img: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A random crop of ``img`` with the aspect of ``size``, resized to it."""
    w, h = size
    ih, iw = img.shape[:2]
    aspect = w / h
    scale = rng.uniform(0.6, 1.0)
    cw = min(iw, int(ih * aspect)) * scale
    ch = cw / aspect
    x0 = rng.uniform(0, iw - cw)
    y0 = rng.uniform(0, ih - ch)
    crop = img[int(y0) : int(y0 + ch), int(x0) : int(x0 + cw)]
    return cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)


def _plain_wall(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    w, h = size
    base = rng.uniform(90, 220, size=3)
    grad = np.linspace(-20, 20, w)[None, :, None] * rng.uniform(-1, 1)
    img = np.broadcast_to(base, (h, w, 3)) + grad
    return np.clip(img, 0, 255).astype(np.uint8)


def background(size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.15:
        return _plain_wall(size, rng)
    all_scenes = scenes()
    _, img = all_scenes[rng.integers(len(all_scenes))]
    return _fit(img, size, rng)


def _paste(canvas: np.ndarray, img: np.ndarray, cx: float, top: float, height: float) -> None:
    """Paste a portrait with a soft elliptical edge, clipped to the canvas."""
    ph, pw = img.shape[:2]
    scale = height / ph
    nw, nh = max(int(pw * scale), 4), max(int(ph * scale), 4)
    img = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    mask = np.zeros((nh, nw), np.float32)
    cv2.ellipse(mask, (nw // 2, nh // 2), (int(nw * 0.48), int(nh * 0.52)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(nw, nh) * 0.03)[:, :, None]
    x0, y0 = int(cx - nw / 2), int(top)
    H, W = canvas.shape[:2]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + nw, W), min(y0 + nh, H)
    if sx1 <= sx0 or sy1 <= sy0:
        return
    region = canvas[sy0:sy1, sx0:sx1].astype(np.float32)
    src = img[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0].astype(np.float32)
    m = mask[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0]
    canvas[sy0:sy1, sx0:sx1] = (src * m + region * (1 - m)).astype(np.uint8)


def jpeg_roundtrip(rgb: np.ndarray, quality: int = 80) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def jpeg_bytes(rgb: np.ndarray, quality: int = 80) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


@dataclass(frozen=True)
class Sample:
    name: str
    image: np.ndarray
    label: int | bool


def compose(people: list[str], size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """People side by side in front of a random background."""
    w, h = size
    canvas = background(size, rng).copy()
    n = len(people)
    slot = w / n
    for i, name in enumerate(people):
        # One person: head and shoulders fill 55-160% of the height, from
        # sitting back to leaning into the webcam. Several: a slot each.
        frac = rng.uniform(0.55, 1.6) if n == 1 else rng.uniform(0.5, 0.8) * (1.0 if n == 2 else 0.85)
        height = frac * h
        cx = slot * (i + 0.5) + rng.uniform(-0.15, 0.15) * slot
        top = rng.uniform(0, max(h - height * 0.8, 1))
        _paste(canvas, portrait(name), cx, top, height)
    return jpeg_roundtrip(canvas, quality=int(rng.integers(60, 90)))


def face_count_set(per_class: int = 48, seed: int = 7) -> list[Sample]:
    """Frames labelled with 0, 1 or 2+ people (label 2 means "two or more")."""
    rng = np.random.default_rng(seed)
    out: list[Sample] = []
    for i in range(per_class):
        size = SIZES[i % 2]
        out.append(Sample(f"empty-{i}", jpeg_roundtrip(background(size, rng)), 0))
    for i in range(per_class):
        size = SIZES[i % 2]
        who = PEOPLE[i % len(PEOPLE)]
        out.append(Sample(f"one-{who}-{i}", compose([who], size, rng), 1))
    for i in range(per_class):
        size = SIZES[i % 2]
        n = 2 if i % 3 else 3
        who = list(rng.choice(PEOPLE, size=n, replace=False))
        out.append(Sample(f"many{n}-{'+'.join(who)}-{i}", compose(who, size, rng), 2))
    return out


# --- blocked camera ----------------------------------------------------------------


def _noise(img: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(img.astype(np.float32) + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def _smooth_field(
    size: tuple[int, int], colour: np.ndarray, rng: np.random.Generator, spread: float
) -> np.ndarray:
    """A smooth, slowly varying surface: a palm or a sheet of paper on the lens."""
    w, h = size
    low = rng.normal(0, spread, (4, 5, 1)).astype(np.float32)
    field = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)[:, :, None]
    img = colour[None, None, :] + field
    return np.clip(img, 0, 255).astype(np.uint8)


def blocked_set(per_class: int = 48, seed: int = 11) -> list[Sample]:
    rng = np.random.default_rng(seed)
    out: list[Sample] = []
    kinds = ("dark-scene", "near-black", "hand", "paper", "uniform", "defocused")
    for i in range(per_class):
        size = SIZES[i % 2]
        kind = kinds[i % len(kinds)]
        if kind == "dark-scene":
            scene = compose([PEOPLE[i % len(PEOPLE)]], size, rng) if i % 2 else background(size, rng)
            img = _noise(scene.astype(np.float32) * rng.uniform(0.03, 0.12), 2.0, rng)
        elif kind == "near-black":
            img = _noise(np.full((size[1], size[0], 3), rng.uniform(0, 15), np.float32), 3.0, rng)
        elif kind == "hand":
            skin = np.array([rng.uniform(150, 220), rng.uniform(100, 160), rng.uniform(80, 130)])
            img = _noise(_smooth_field(size, skin * rng.uniform(0.4, 1.0), rng, 8), rng.uniform(1, 4), rng)
        elif kind == "paper":
            img = _noise(
                _smooth_field(size, np.full(3, rng.uniform(140, 245)), rng, 6), rng.uniform(1, 4), rng
            )
        elif kind == "uniform":
            img = _noise(
                np.broadcast_to(rng.uniform(30, 230, 3), (size[1], size[0], 3)), rng.uniform(1, 5), rng
            )
        else:  # a finger right on the lens: only a very blurred glow of the room
            scene = compose([PEOPLE[i % len(PEOPLE)]], size, rng)
            img = _noise(cv2.GaussianBlur(scene, (0, 0), size[0] / 8), 2.0, rng)
        out.append(Sample(f"blocked-{kind}-{i}", jpeg_roundtrip(img), True))
    for i in range(per_class):
        size = SIZES[i % 2]
        kind = i % 4
        if kind == 0:
            img = compose([PEOPLE[i % len(PEOPLE)]], size, rng)
        elif kind == 1:  # a dim room, still usable
            img = _noise(compose([PEOPLE[i % len(PEOPLE)]], size, rng) * rng.uniform(0.35, 0.6), 2.0, rng)
        elif kind == 2:  # someone in front of a plain wall
            canvas = _plain_wall(size, rng)
            _paste(canvas, portrait(PEOPLE[i % len(PEOPLE)]), size[0] / 2, size[1] * 0.1, size[1] * 0.9)
            img = canvas
        else:  # a room without anyone, but not a featureless wall
            img = _fit(scenes()[rng.integers(len(scenes()))][1], size, rng)
        out.append(Sample(f"clear-{kind}-{i}", jpeg_roundtrip(img), False))
    return out


# --- audio ---------------------------------------------------------------------------

SR = 16000
SENTENCES = (
    "Can you tell me the answer to question four",
    "I think the result is seventeen point five",
    "Open the book on page two hundred",
    "The capital of Australia is Canberra",
    "Please read the second paragraph again",
    "What did you write for the last one",
    "Hello, are you still there",
    "Integrate x squared from zero to one",
)
VOICES = ("en", "en-us", "en+f3", "en+m3", "en-gb-x-rp", "en+f4")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise MissingTool(f"{name} is not installed (apt-get install {name})")
    return path


def speech(text: str, voice: str, workdir: Path, *, speed: int = 160) -> np.ndarray:
    """espeak-ng speech resampled by sox to 16 kHz mono, as float32 in -1..1."""
    espeak, sox = _tool("espeak-ng"), _tool("sox")
    key = hashlib.sha1(f"{text}|{voice}|{speed}".encode()).hexdigest()[:16]
    raw = workdir / f"{key}-22k.wav"
    out = workdir / f"{key}-16k.wav"
    if not out.exists():
        subprocess.run(
            [espeak, "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True, capture_output=True
        )
        subprocess.run(
            [sox, str(raw), "-r", str(SR), "-c", "1", "-b", "16", "-e", "signed-integer", str(out)],
            check=True,
            capture_output=True,
        )
    with wave.open(str(out), "rb") as f:
        pcm = f.readframes(f.getnframes())
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def to_pcm(x: np.ndarray) -> bytes:
    return (np.clip(x, -1, 1) * 32767).astype("<i2").tobytes()


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2)) + 1e-12)


def white(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0, 1, n).astype(np.float32)


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.normal(0, 1, n))
    f = np.arange(len(spec))
    spec[1:] /= np.sqrt(f[1:])
    spec[0] = 0
    x = np.fft.irfft(spec, n)
    return (x / x.std()).astype(np.float32)


def brown(n: int, rng: np.random.Generator) -> np.ndarray:
    x = np.cumsum(rng.normal(0, 1, n))
    x = x - np.convolve(x, np.ones(801) / 801, mode="same")  # no DC drift
    return (x / x.std()).astype(np.float32)


def hum(n: int, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n) / SR
    f0 = rng.choice([50.0, 60.0])
    x = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.28)) / k for k in (1, 2, 3, 5))
    return (x / np.std(x)).astype(np.float32)


def clicks(n: int, rng: np.random.Generator) -> np.ndarray:
    """Keyboard-like: short decaying noise bursts at typing rhythm."""
    x = np.zeros(n, np.float32)
    t = int(rng.uniform(0.05, 0.2) * SR)
    while t < n - 800:
        burst = rng.normal(0, 1, 600) * np.exp(-np.arange(600) / rng.uniform(60, 150))
        x[t : t + 600] += burst.astype(np.float32) * rng.uniform(0.5, 1.0)
        t += int(rng.uniform(0.08, 0.3) * SR)
    return x / (x.std() + 1e-9)


def tones(n: int, rng: np.random.Generator) -> np.ndarray:
    """Music-like: a melody of held notes with harmonics and note envelopes."""
    x = np.zeros(n, np.float32)
    pos = 0
    while pos < n:
        dur = int(rng.uniform(0.25, 0.8) * SR)
        f0 = 220 * 2 ** (rng.integers(0, 24) / 12)
        t = np.arange(min(dur, n - pos)) / SR
        env = np.minimum(1, t / 0.02) * np.exp(-t * rng.uniform(0.5, 3))
        note = sum(np.sin(2 * np.pi * f0 * k * t) * 0.6**k for k in range(1, 5)) * env
        x[pos : pos + len(t)] += note.astype(np.float32)
        pos += dur
    return x / (x.std() + 1e-9)


NOISES = {"white": white, "pink": pink, "brown": brown, "hum": hum, "clicks": clicks, "tones": tones}


def speech_clip(
    text: str, voice: str, workdir: Path, rng: np.random.Generator, *, snr_db: float | None, noise: str
) -> np.ndarray:
    """~4 s: silence/noise, an utterance placed at random, noise at the given SNR."""
    voice_sig = speech(text, voice, workdir) * rng.uniform(0.3, 0.9)
    n = max(4 * SR, len(voice_sig) + SR)
    x = np.zeros(n, np.float32)
    start = int(rng.integers(0, n - len(voice_sig)))
    x[start : start + len(voice_sig)] = voice_sig
    if snr_db is None:
        bg = 0.002 * white(n, rng)  # a quiet room
    else:
        speech_rms = _rms(voice_sig[np.abs(voice_sig) > 0.01])
        bg = NOISES[noise](n, rng) * speech_rms / 10 ** (snr_db / 20)
    return x + bg


def non_speech_clip(kind: str, rng: np.random.Generator, *, level: float) -> np.ndarray:
    n = 4 * SR
    if kind == "silence":
        return (white(n, rng) * 0.0005 * rng.uniform(0, 2)).astype(np.float32)
    x = NOISES[kind](n, rng) * level
    if rng.random() < 0.5:  # a noise that starts mid-clip (a fan switching on)
        x[: int(rng.uniform(0.5, 2) * SR)] *= 0.02
    return x + 0.001 * white(n, rng)


def speech_set(workdir: Path, per_class: int = 48, seed: int = 3) -> list[tuple[str, bytes, bool]]:
    rng = np.random.default_rng(seed)
    snrs = (None, 20.0, 15.0, 10.0)
    noises = ("white", "pink", "brown", "hum", "clicks")
    out: list[tuple[str, bytes, bool]] = []
    for i in range(per_class):
        text = SENTENCES[i % len(SENTENCES)]
        voice = VOICES[(i // len(SENTENCES)) % len(VOICES)]
        snr = snrs[i % len(snrs)]
        noise = noises[(i // 2) % len(noises)]
        x = speech_clip(text, voice, workdir, rng, snr_db=snr, noise=noise)
        out.append((f"speech-{voice}-{noise if snr else 'quiet'}-{snr}-{i}", to_pcm(x), True))
    kinds = ("silence", "white", "pink", "brown", "hum", "clicks", "tones")
    for i in range(per_class):
        kind = kinds[i % len(kinds)]
        level = float(rng.choice([0.02, 0.08, 0.25]))
        out.append((f"noise-{kind}-{level}-{i}", to_pcm(non_speech_clip(kind, rng, level=level)), False))
    return out


def looking_away_set(per_class: int = 40, seed: int = 5) -> list[Sample]:
    """Real head turns only: the cameraman looks ~50° sideways through his
    camera; the others face the lens (Lena at ~25°, inside the default 35°).
    Frames are mirrored at random, which turns the head the other way."""
    rng = np.random.default_rng(seed)
    facing = ("astronaut", "man_a", "man_b", "lena", "glasses")
    out: list[Sample] = []
    for label, people in ((True, ("cameraman",)), (False, facing)):
        for i in range(per_class):
            img = compose([people[i % len(people)]], SIZES[i % 2], rng)
            if rng.random() < 0.5:
                img = np.ascontiguousarray(img[:, ::-1])
            out.append(Sample(f"{'away' if label else 'facing'}-{people[i % len(people)]}-{i}", img, label))
    return out


# --- a webcam stream ---------------------------------------------------------------
# One candidate at the desk, filmed at 1 frame/s: every frame has sensor noise,
# a slight exposure flicker, JPEG compression and a sub-pixel to one-pixel
# sway of the head; segments where the candidate moves about, looks away,
# leaves, is joined by a second person or covers the camera.

# (segment, frames): a ten-minute stretch of an exam, 600 frames at 1 frame/s:
# still 425 (71 %), moving 70 (12 %), looking away 30 (5 %), absent 30 (5 %),
# two people 25 (4 %), camera covered 20 (3 %).
STREAM_PLAN = (
    ("still", 90),
    ("moving", 15),
    ("still", 60),
    ("away", 12),
    ("still", 45),
    ("absent", 15),
    ("moving", 10),
    ("still", 70),
    ("two", 12),
    ("still", 40),
    ("moving", 20),
    ("still", 35),
    ("blocked", 20),
    ("still", 45),
    ("away", 18),
    ("moving", 15),
    ("absent", 15),
    ("two", 13),
    ("moving", 10),
    ("still", 40),
)
STREAM_SEGMENTS = ("still", "moving", "away", "absent", "two", "blocked")


@dataclass(frozen=True)
class StreamFrame:
    image: np.ndarray
    segment: str
    face_count: int  # 0, 1 or 2
    looking_away: bool


def webcam_stream(
    plan: tuple[tuple[str, int], ...] = STREAM_PLAN,
    *,
    size: tuple[int, int] = (320, 240),
    seed: int = 0,
    candidate: str = "astronaut",
    second: str = "man_a",
    away: str = "cameraman",
    second_height: float = 0.6,
) -> list[StreamFrame]:
    """Frames following ``plan``. No honest material shows the candidate's own
    head turned, so "away" frames show ``away`` (the cameraman, ~50° of yaw)
    at the candidate's place; "two" adds ``second`` at the candidate's side,
    head and shoulders ``second_height`` of the frame's height."""
    w, h = size
    rng = np.random.default_rng(seed)
    backdrop = background(size, rng)
    # Where the candidate sits: head and shoulders fill ~85 % of the height.
    home = np.array([w * 0.5, h * 0.1, h * 0.85])
    pos = home.copy()
    out: list[StreamFrame] = []
    for segment, n in plan:
        # A palm held over the lens for the whole segment.
        palm = _smooth_field(size, np.array([190.0, 130.0, 105.0]) * rng.uniform(0.7, 0.9), rng, 6)
        for _ in range(n):
            if segment == "moving":  # leaning, shifting on the chair
                pos = pos + rng.normal(0, [w * 0.03, h * 0.02, h * 0.03])
                pos = np.clip(pos, home - [w * 0.15, h * 0.1, h * 0.2], home + [w * 0.15, h * 0.1, h * 0.2])
            elif segment == "still":  # settle back towards the usual place
                pos = pos + (home - pos) * 0.02
            cx, top, height = pos + rng.normal(0, [0.6, 0.4, 0.6])
            img = backdrop.copy()
            if segment in ("still", "moving", "two"):
                if segment == "two":  # someone behind, at the candidate's shoulder
                    _paste(img, portrait(second), w * 0.84, h * (0.8 - second_height), h * second_height)
                _paste(img, portrait(candidate), cx, top, height)
            elif segment == "away":
                _paste(img, portrait(away), cx, top, height)
            elif segment == "blocked":
                img = palm.copy()
            frame = img.astype(np.float32) * rng.normal(1.0, 0.01) + rng.normal(0, 2.5, img.shape)
            image = jpeg_roundtrip(np.clip(frame, 0, 255).astype(np.uint8), quality=75)
            count = {"absent": 0, "blocked": 0, "two": 2}.get(segment, 1)
            out.append(StreamFrame(image, segment, count, segment == "away"))
    return out


def id_card(name: str | None, size: tuple[int, int] = (342, 216)) -> np.ndarray:
    """A photo ID (ID-1 proportions): a white card with a coloured band, the photo of ``name``
    on the left (``None``: a card without a photo) and lines of printed text on the right."""
    w, h = size
    card = np.full((h, w, 3), 246, np.uint8)
    cv2.rectangle(card, (0, 0), (w, int(h * 0.16)), (40, 90, 160), -1)
    photo_w, photo_h = int(w * 0.3), int(h * 0.64)
    x0, y0 = int(w * 0.05), int(h * 0.24)
    if name is not None:
        face = portrait(name)
        ph, pw = face.shape[:2]
        scale = max(photo_w / pw, photo_h / ph)
        face = cv2.resize(face, (int(pw * scale) + 1, int(ph * scale) + 1), interpolation=cv2.INTER_AREA)
        fy, fx = (face.shape[0] - photo_h) // 2, (face.shape[1] - photo_w) // 2
        card[y0 : y0 + photo_h, x0 : x0 + photo_w] = face[fy : fy + photo_h, fx : fx + photo_w]
    else:
        cv2.rectangle(card, (x0, y0), (x0 + photo_w, y0 + photo_h), (210, 210, 210), -1)
    for i in range(5):
        y = int(h * (0.3 + 0.12 * i))
        cv2.line(card, (int(w * 0.42), y), (int(w * (0.9 - 0.06 * (i % 3))), y), (60, 60, 60), 3)
    return card
