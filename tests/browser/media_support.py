"""Fake camera and microphone files for Chromium, built at test time from offline material.

Chromium's ``--use-file-for-fake-video-capture`` plays a YUV4MPEG2 file (looped) and
``--use-file-for-fake-audio-capture`` a WAV file (looped). Both are generated here from the
analysis test material (real photographs, espeak-ng speech); nothing is committed.
"""

from __future__ import annotations

import subprocess
import wave
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from tests.analysis import material

MissingTool = material.MissingTool
SIZE = (640, 480)
FPS = 5
BACKDROP = "bookshelf"  # see backdrop()
CANDIDATE = "astronaut"
VISITOR = "man_a"
VISITOR_HEIGHT = 0.27  # head and shoulders, of the frame's height: a face ~25 px wide at 320x240


# --- video -----------------------------------------------------------------------------------


def write_y4m(path: Path, frames: Sequence[np.ndarray], fps: int = FPS) -> Path:
    """RGB frames (all the same size) as a YUV4MPEG2 file, 4:2:0 (``C420``)."""
    height, width = frames[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420\n".encode())
        for rgb in frames:
            # cv2 gives planar I420: Y (h rows), then U and V (h/4 rows each), as one array.
            out.write(b"FRAME\n")
            out.write(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2YUV_I420).tobytes())
    return path


def backdrop(size: tuple[int, int] = SIZE) -> np.ndarray:
    """A room behind the candidate: a wall with a shelf of books and a picture frame.

    Drawn, not photographed, so that no detector finds a face in it (some photographs in the
    material make the full-range detector fire) and it is far from a featureless "blocked" view.
    """
    w, h = size
    rng = np.random.default_rng(42)
    img = np.empty((h, w, 3), np.float32)
    img[:] = (196, 188, 172)
    img += np.linspace(-18, 12, w)[None, :, None]
    shelf_top = int(h * 0.18)
    cv2.rectangle(img, (0, shelf_top - 8), (w, shelf_top), (120, 86, 52), -1)
    x = 8
    while x < w - 10:
        bw = int(rng.integers(10, 26))
        bh = int(rng.integers(int(h * 0.08), int(h * 0.15)))
        colour = tuple(float(c) for c in rng.integers(30, 220, 3))
        cv2.rectangle(img, (x, shelf_top - 8 - bh), (x + bw, shelf_top - 9), colour, -1)
        x += bw + int(rng.integers(1, 4))
    cv2.rectangle(img, (int(w * 0.06), int(h * 0.3)), (int(w * 0.22), int(h * 0.55)), (70, 60, 50), 6)
    cv2.rectangle(img, (int(w * 0.07), int(h * 0.31)), (int(w * 0.21), int(h * 0.54)), (90, 140, 170), -1)
    cv2.rectangle(img, (0, int(h * 0.82)), (w, h), (112, 92, 70), -1)  # the desk
    return np.clip(img, 0, 255).astype(np.uint8)


def _paste(canvas: np.ndarray, portrait: np.ndarray, cx: float, top: float, height: float) -> None:
    """A head-and-shoulders cut-out with a soft elliptical edge, clipped to the canvas."""
    ph, pw = portrait.shape[:2]
    scale = height / ph
    nw, nh = max(int(pw * scale), 4), max(int(ph * scale), 4)
    img = cv2.resize(portrait, (nw, nh), interpolation=cv2.INTER_AREA)
    mask = np.zeros((nh, nw), np.float32)
    cv2.ellipse(mask, (nw // 2, nh // 2), (int(nw * 0.48), int(nh * 0.52)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(nw, nh) * 0.03)[:, :, None]
    x0, y0 = int(cx - nw / 2), int(top)
    H, W = canvas.shape[:2]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + nw, W), min(y0 + nh, H)
    region = canvas[sy0:sy1, sx0:sx1].astype(np.float32)
    src = img[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0].astype(np.float32)
    m = mask[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0]
    canvas[sy0:sy1, sx0:sx1] = (src * m + region * (1 - m)).astype(np.uint8)


def scene(people: int, size: tuple[int, int] = SIZE) -> np.ndarray:
    """0: the empty room; 1: the candidate at the desk; 2: someone standing at the back of the
    room, behind the candidate's shoulder, whose face is ~25 px wide in the widget's 320x240
    view (``VISITOR_HEIGHT``): the smallest face the product promises to see is 24 px."""
    w, h = size
    img = backdrop(size)
    if people >= 2:
        _paste(img, material.portrait(VISITOR), w * 0.82, h * 0.12, h * VISITOR_HEIGHT)
    if people >= 1:
        _paste(img, material.portrait(CANDIDATE), w * 0.45, h * 0.12, h * 0.85)
    return img


def scripted_frames(plan: Sequence[tuple[int, float]], fps: int = FPS, seed: int = 1) -> list[np.ndarray]:
    """``plan``: (people, seconds) scenes in order; every frame gets a little sensor noise and a
    slight sway, like a webcam, so that the JPEGs the widget makes are of a realistic size."""
    rng = np.random.default_rng(seed)
    out = []
    for people, seconds in plan:
        base = scene(people).astype(np.float32)
        for _ in range(round(seconds * fps)):
            dx, dy = rng.normal(0, 0.6, 2)
            shifted = cv2.warpAffine(
                base, np.float32([[1, 0, dx], [0, 1, dy]]), SIZE, borderMode=cv2.BORDER_REFLECT
            )
            frame = shifted * rng.normal(1.0, 0.01) + rng.normal(0, 2.5, shifted.shape)
            out.append(np.clip(frame, 0, 255).astype(np.uint8))
    return out


# --- audio -----------------------------------------------------------------------------------

WAV_RATE = 48000


def write_wav(path: Path, x: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(material.to_pcm(x))
    return path


def room(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A quiet room at 16 kHz: faint broadband noise, about -54 dBFS."""
    return 0.002 * material.white(int(seconds * material.SR), rng)


def speech_track(workdir: Path, seed: int = 2) -> np.ndarray:
    """~14 s at 16 kHz: quiet, a sentence, quiet, another sentence, quiet."""
    rng = np.random.default_rng(seed)
    parts = [room(3.0, rng)]
    for text in material.SENTENCES[:2]:
        voice = material.speech(text, "en", workdir) * 0.6
        parts += [voice + room(len(voice) / material.SR, rng), room(3.5, rng)]
    return np.concatenate(parts)


def quiet_track(seconds: float = 12.0, seed: int = 3) -> np.ndarray:
    return room(seconds, np.random.default_rng(seed))


def wav_for_chromium(path: Path, x16k: np.ndarray) -> Path:
    """16 kHz material resampled by sox to 48 kHz (what Chromium's fake input runs at)."""
    sox = material._tool("sox")
    raw = write_wav(path.with_suffix(".16k.wav"), x16k, material.SR)
    subprocess.run([sox, str(raw), "-r", str(WAV_RATE), str(path)], check=True, capture_output=True)
    return path


def card_scene(card_person: str | None, size: tuple[int, int] = SIZE) -> np.ndarray:
    """The candidate at the desk holding a photo ID up beside their face (``card_person`` is
    whose photo is printed on it; ``None``: a card without a photo)."""
    w, h = size
    img = scene(1, size)
    card = material.id_card(card_person, (int(w * 0.4), int(w * 0.4 / 1.586)))
    ch, cw = card.shape[:2]
    x0, y0 = int(w * 0.56), int(h * 0.5)
    img[y0 : y0 + ch, x0 : x0 + cw] = card
    return img


def card_frames(
    card_person: str | None, seconds: float = 2.0, fps: int = FPS, seed: int = 4
) -> list[np.ndarray]:
    """The candidate holding up a photo ID (``card_scene``), with a webcam's noise and sway."""
    rng = np.random.default_rng(seed)
    base = card_scene(card_person).astype(np.float32)
    out = []
    for _ in range(round(seconds * fps)):
        dx, dy = rng.normal(0, 0.5, 2)
        shifted = cv2.warpAffine(
            base, np.float32([[1, 0, dx], [0, 1, dy]]), SIZE, borderMode=cv2.BORDER_REFLECT
        )
        out.append(np.clip(shifted + rng.normal(0, 2.0, shifted.shape), 0, 255).astype(np.uint8))
    return out
