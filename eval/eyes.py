"""Eyes turned away, composed with a known geometry: the looking-away table's positives
for the gaze check (``analysis/gaze.py``), whose labels come from the composition, not
from any detector.

No photograph that ships in the packages used here shows a person facing the camera
with the eyes turned well away, and only one shows a real head turn with a face in view
(the cameraman, tune half). So the irises of people who look into the camera are moved
sideways within their eyes by a known share of the eye's width, at the source photo's
full resolution, before the person is pasted into a view as ``eval/corpus.py`` pastes
candidates (backdrops, sizes, light, blur, noise; then as uploaded):

* each eye's opening (the ellipse through its two corners and its eyelids) is warped
  along the line between the corners: the iris (and a little of the limbus) moves
  rigidly by the shift; the white on one side is stretched, on the other compressed,
  or the iris slides under the corner; the eyelids and skin are left as they are;
* the shift's label: an iris moved by at least ``AWAY_SHIFTS[0]`` of the eye's width is
  an eye turned ~37° or more (a standard eye: a ~30 mm opening, a ~12 mm eyeball
  radius), past the edge of any screen from a seated candidate's place (a laptop spans
  about ±20°): "eyes away"; one moved by at most ``AHEAD_SHIFTS[1]`` (~11°) is still on
  the screen: "eyes ahead". Shifts in between are not composed: no label is honest
  there.

The eye marks below (corners, iris centre and radius, eyelid middles, in the source
photo's pixels) were measured once with face mesh on the untouched photos and checked
by eye on an overlay; they place the edit, they label nothing. The people are the
corpus' own (``corpus.PEOPLE``), in their halves: a frame of one half is composed from
that half's people and scenes only.

Real and composed, apart: a 2-D warp of a photo is not an eye rotating in a head
(no change of the iris' foreshortening, the eyelid's shape or the corneal reflection),
so the card lists composed positives apart from real ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace
from functools import cache

import cv2
import numpy as np

from . import corpus

# Each eye: image-left corner (x, y), image-right corner (x, y), iris centre (x, y),
# iris radius, upper lid middle (x, y), lower lid middle (x, y).
Eye = tuple[float, float, float, float, float, float, float, float, float, float, float]
EYE_MARKS: dict[str, tuple[Eye, Eye]] = {
    "astronaut": (
        (195.3, 100.6, 213.3, 103.4, 203.7, 100.9, 3.9, 202.8, 97.7, 203.4, 104.6),
        (236.9, 105.2, 255.8, 104.2, 246.7, 103.5, 3.9, 248.3, 99.9, 246.6, 106.8),
    ),
    "man_a": (
        (161.2, 166.2, 187.6, 171.4, 172.1, 166.7, 5.8, 171.6, 162.4, 174.0, 171.9),
        (222.8, 172.7, 251.7, 170.9, 236.0, 170.2, 5.7, 239.5, 166.7, 237.5, 175.2),
    ),
    "man_b": (
        (217.8, 366.7, 270.8, 367.4, 245.3, 363.6, 12.4, 237.4, 357.0, 240.5, 371.9),
        (333.6, 365.6, 392.7, 357.0, 365.8, 357.1, 12.2, 367.0, 349.4, 364.2, 366.6),
    ),
    "lena": (
        (246.6, 270.8, 283.7, 277.2, 261.3, 272.1, 8.2, 265.0, 264.6, 266.6, 278.7),
        (321.4, 277.2, 350.1, 272.9, 333.4, 271.8, 7.8, 340.2, 266.1, 336.9, 281.4),
    ),
    "glasses": (
        (92.6, 290.9, 150.5, 294.2, 118.5, 288.1, 12.0, 117.4, 281.6, 118.9, 297.9),
        (231.4, 294.2, 290.7, 293.1, 265.7, 290.9, 11.4, 265.8, 284.9, 261.6, 299.3),
    ),
    "grace_hopper": (
        (204.1, 193.6, 240.8, 193.5, 222.2, 191.1, 7.6, 218.9, 187.2, 222.9, 196.7),
        (287.8, 192.5, 323.6, 188.0, 305.7, 187.9, 7.3, 308.9, 182.6, 306.3, 192.6),
    ),
    "sobel_12": (
        (193.2, 163.1, 244.7, 164.3, 215.6, 163.1, 11.6, 212.5, 157.3, 216.0, 172.4),
        (312.0, 161.5, 370.5, 156.3, 342.6, 158.7, 12.1, 344.3, 152.8, 343.5, 167.4),
    ),
    "face_swapped": (
        (119.6, 120.5, 141.9, 122.8, 131.4, 120.6, 4.8, 128.3, 117.9, 129.4, 123.1),
        (168.0, 125.1, 191.4, 124.5, 181.6, 123.4, 4.7, 181.6, 121.5, 180.0, 126.1),
    ),
    "sobel_05": (
        (176.1, 218.6, 242.3, 232.4, 205.6, 220.7, 13.0, 203.8, 213.4, 210.2, 232.1),
        (311.9, 235.8, 364.9, 227.5, 339.3, 227.8, 11.7, 346.1, 221.1, 335.9, 240.6),
    ),
}
AWAY_SHIFTS = (0.24, 0.30)  # share of the eye's width: ~37°-49° of eye rotation
AHEAD_SHIFTS = (0.0, 0.075)  # up to ~11°
LIMBUS = 1.15  # the iris moves with a little of the white around it


def _knots(c: float, rho: float, d: float) -> tuple[list[float], list[float]]:
    """Where each point along the eye (0: image-left corner, 1: image-right) takes its
    pixels from, for an iris at ``c`` of radius ``rho`` moved by ``d`` (shares of the width)."""
    lo, hi = c - rho, c + rho
    dst, src = [0.0], [0.0]
    if d >= 0:
        dst.append(lo + d)
        src.append(lo)
        if hi + d < 1:
            dst += [hi + d, 1.0]
            src += [hi, 1.0]
        else:  # the iris slides under the corner
            dst.append(1.0)
            src.append(1.0 - d)
    else:
        if lo + d > 0:
            dst += [lo + d]
            src += [lo]
        else:
            src[0] = -d
        dst += [hi + d, 1.0]
        src += [hi, 1.0]
    return dst, src


def avert(img: np.ndarray, marks: tuple[Eye, Eye], shift: float) -> np.ndarray:
    """``img`` with both irises moved by ``shift`` of each eye's width towards the image's
    right (negative: left), inside the eye openings only."""
    out = img.astype(np.float32)
    h, w = img.shape[:2]
    for ax, ay, bx, by, cx, cy, radius, ux, uy, lx, ly in marks:
        a, b = np.array([ax, ay]), np.array([bx, by])
        width = float(np.linalg.norm(b - a))
        e = (b - a) / width
        n = np.array([-e[1], e[0]])
        mid = (a + b) / 2
        half_open = max(abs(float((np.array([lx, ly]) - np.array([ux, uy])) @ n)) / 2, radius * 0.6)
        c = float((np.array([cx, cy]) - a) @ e) / width
        dst, src = _knots(c, radius * LIMBUS / width, shift)
        pad = int(half_open + 3)
        x0, x1 = int(max(min(ax, bx) - 3, 0)), int(min(max(ax, bx) + 4, w))
        y0, y1 = int(max(min(ay, by) - pad, 0)), int(min(max(ay, by) + pad + 1, h))
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        rel = np.stack([xs - a[0], ys - a[1]], axis=-1)
        u = rel @ e / width
        v = (np.stack([xs - mid[0], ys - mid[1]], axis=-1)) @ n
        inside = np.clip(u, 0, 1)
        u_src = np.interp(inside, dst, src) + (u - inside)
        map_x = (a[0] + e[0] * u_src * width + n[0] * (v + float((a - mid) @ n))).astype(np.float32)
        map_y = (a[1] + e[1] * u_src * width + n[1] * (v + float((a - mid) @ n))).astype(np.float32)
        warped = cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        # The opening: an ellipse through the corners and the lids, with a soft edge.
        r = ((u - 0.5) / 0.5) ** 2 + (v / half_open) ** 2
        mask = np.clip((1.0 - r) / 0.25, 0, 1)[:, :, None]
        region = out[y0:y1, x0:x1]
        out[y0:y1, x0:x1] = warped.astype(np.float32) * mask + region * (1 - mask)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


@cache
def _averted_cutout(person_id: str, shift: float) -> corpus.Cutout:
    person = next(p for p in corpus.PEOPLE if p.id == person_id)
    img = avert(person.load(), EYE_MARKS[person_id], shift)
    moved = replace(person, load=lambda: img)
    return replace(corpus.cutout.__wrapped__(moved), id=f"{person_id}@{shift:+.3f}")


def people(which: str) -> list[str]:
    return [p.id for p in corpus.PEOPLE if p.id in EYE_MARKS and p.half == which]


def _shift(rng: np.random.Generator, away: bool) -> float:
    lo, hi = AWAY_SHIFTS if away else AHEAD_SHIFTS
    return round(float(rng.uniform(lo, hi)) * (1 if rng.random() < 0.5 else -1), 3)


def compose(which: str, index: int, away: bool, *, rest: bool = False) -> tuple[str, str, float, np.ndarray]:
    """(id, condition, shift, view): one candidate of half ``which`` alone, eyes moved; with
    ``rest``, the same view (place, size, light, mirror, noise) with the eyes not moved."""
    seed = int.from_bytes(hashlib.sha256(f"eyes/{which}/{index}/{away}".encode()).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    names = people(which)
    if not names:
        raise RuntimeError(f"no eye-marked person in the {which} half")
    name = names[index % len(names)]
    shift = _shift(rng, away)
    cut = _averted_cutout(name, 0.0 if rest else shift)
    pools = corpus._pools(which)
    w, h = corpus.VIEW
    condition = corpus.CONDITIONS[int(rng.integers(len(corpus.CONDITIONS)))]
    backdrop = corpus.BACKDROPS[int(rng.integers(len(corpus.BACKDROPS)))]
    canvas = corpus._backdrop(backdrop, pools.scenes, rng).copy()
    px = float(np.exp(rng.uniform(np.log(48), np.log(min(200, cut.face_w * cut.max_scale)))))
    fx, fy = rng.uniform(w * 0.25, w * 0.75), rng.uniform(h * 0.3, h * 0.55)
    tilt = rng.uniform(-20, 20) if condition == "tilt" else 0.0
    corpus._paste(canvas, cut, px, fx, fy, tilt)
    if condition == "hand over mouth":
        corpus._hand_over_mouth(canvas, fx, fy, px, rng)
    if condition == "backlight":
        canvas = corpus._light(canvas, rng.uniform(0.35, 0.6), rng)
        glow = np.zeros((h, w, 1), np.float32)
        glow[: int(h * 0.6)] = rng.uniform(80, 150)
        canvas = np.clip(canvas.astype(np.float32) + cv2.GaussianBlur(glow, (0, 0), 30)[:, :, None], 0, 255)
        canvas = canvas.astype(np.uint8)
    img = corpus._sensor(corpus._condition(canvas, condition, rng), rng)
    if rng.random() < 0.5:  # a mirrored webcam: the eyes turn the other way, still away
        img = np.ascontiguousarray(img[:, ::-1])
    kind = "away" if away else "ahead"
    return f"{which}-eyes-{kind}-{index}", condition, shift, img


def views(which: str, count: int) -> Sequence[tuple[str, bool, str, float, np.ndarray]]:
    """``count`` eyes-away and ``count`` eyes-ahead views of a half:
    (id, away, condition, shift, raw view)."""
    out = []
    for away in (True, False):
        for i in range(count):
            vid, cond, shift, img = compose(which, i, away)
            out.append((vid, away, cond, shift, img))
    return out
