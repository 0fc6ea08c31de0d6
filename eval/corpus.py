"""The evaluation corpus: webcam-like frames composed at evaluation time from
photographs that ship in packages, split by source into a tune half and a
report half.

Where the material comes from (nothing is committed as binary, nothing is
downloaded):

* people: scikit-image's astronaut and cameraman and its ``lfw_subset`` (100
  face patches of 25x25 from Labeled Faces in the Wild, used for small faces);
  matplotlib's Grace Hopper; Debian's ``opencv-doc`` portraits, a football
  player, two basketball players (one turned away), a couple in an old photo,
  three women from a tutorial figure, a man with a plant;
* places without anyone: scikit-image and opencv-doc photographs and patterns
  (rooms, buildings, objects, fruit, animals, a hand, printed chessboard and
  ChArUco calibration targets, calibration photos whose chessboard hides the
  person's face entirely), plain walls and darkness.

Each frame is the camera's view at the widget's detection size (320x240), and
"as uploaded": the same view encoded as the widget encodes it (its JPEG
quality, read from the widget's capture source so the two cannot drift).

The split, decided before any result was looked at and kept by ``half()``:

1. a source the project's detectors were tuned on before this corpus existed
   (the people and scenes of ``tests/analysis/material.py``) is in the tune
   half;
2. any other source is in the half given by the first byte of
   SHA-256("proctorme-eval-1/" + group): even is tune, odd is report. Images
   of one scene (a stereo pair, a sequence, several people of one photo)
   share a group, so no scene is on both sides.

A frame of one half is composed only of that half's sources. Thresholds and
cascade choices may look at the tune half; the report half is only scored.

Labels: ``faces`` is the number of people pasted with their face in view
(a head turned to profile counts; a face wholly hidden behind a calibration
board does not). The 0 / 1 / 2+ floors are scored on the frames whose every
face is at least ``PROMISED_FACE_PX`` wide in the 320x240 view (the size
below which the product does not promise to see someone); smaller faces are
in the corpus and reported by size, outside the floors.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "tests" / "analysis") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests" / "analysis"))

import material  # noqa: E402  (the test material's loaders and scenes)

CORPUS_VERSION = 1
VIEW = (320, 240)  # width, height of the widget's detection frames
PROMISED_FACE_PX = 24
SPLIT_SALT = "proctorme-eval-1/"
HALVES = ("tune", "report")

EXAMPLES = material.EXAMPLES
HTML = material.HTML


def _widget_capture_sources() -> list[Path]:
    """Where the widget's capture settings live: its source modules (JPEG quality) and the
    server's widget contract (the defaults it embeds in /widget.js: frame size)."""
    widget = ROOT / "static" / "proctorme"
    return [*sorted((widget / "src").glob("*.js")), ROOT / "sessions" / "config.py"]


@cache
def widget_capture() -> tuple[int, int, int]:
    """(width, height, JPEG quality 0-100) of the widget's detection frames, read from its source."""
    text = "\n".join(p.read_text() for p in _widget_capture_sources() if p.exists())
    found = {}
    for key in ("frameWidth", "frameHeight", "frameQuality"):
        m = re.search(rf"\b{key}[\"']?\s*:\s*([0-9.]+)", text)
        if m is None:
            raise RuntimeError(f"widget capture setting {key} not found in {_widget_capture_sources()}")
        found[key] = float(m.group(1))
    return int(found["frameWidth"]), int(found["frameHeight"]), int(round(found["frameQuality"] * 100))


def as_uploaded(view: np.ndarray) -> np.ndarray:
    """The view as the server receives it: the widget's size and JPEG quality."""
    w, h, quality = widget_capture()
    if view.shape[1] != w or view.shape[0] != h:
        view = cv2.resize(view, (w, h), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(view, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


# --- the split ---------------------------------------------------------------------

# Sources the detectors' defaults were tuned on before this corpus existed.
TUNED_BEFORE = frozenset(
    {f"person:{name}" for name in material.PEOPLE}
    | {f"scene:{name}" for name in (*material._SKIMAGE_SCENES, *material._DOC_SCENES)}
)


def half(source: str, group: str | None = None) -> str:
    """ "tune" or "report" for a source id (``person:...`` / ``scene:...``)."""
    if source in TUNED_BEFORE:
        return "tune"
    digest = hashlib.sha256((SPLIT_SALT + (group or source)).encode()).digest()
    return "tune" if digest[0] % 2 == 0 else "report"


# --- people ------------------------------------------------------------------------


def _doc(name: str) -> np.ndarray:
    return material._read(EXAMPLES / name)


def _html(name: str) -> np.ndarray:
    return material._read(HTML / name)


def _grace_hopper() -> np.ndarray:
    import matplotlib.cbook

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
        data = np.frombuffer(f.read(), np.uint8)
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@dataclass(frozen=True)
class Person:
    """Someone in a source photo: where their face is (x, y, w in the source,
    measured once with the short-range detector on the untouched photo and
    checked by eye) and how much of the photo around it is head and body."""

    id: str
    group: str
    load: Callable[[], np.ndarray] = field(compare=False, repr=False)
    face: tuple[int, int, int]  # x, y, width of the face box in the source
    turned: bool = False  # head in profile or turned well away
    # False for someone whose face is turned away from the camera (their back
    # and an ear in view): a person in the room, not a face in view.
    face_visible: bool = True
    # The part of the photo that is this person's (x0, y0, x1, y1), for photos
    # of several panels or several people; None: the whole photo.
    bounds: tuple[int, int, int, int] | None = None

    @property
    def source(self) -> str:
        return f"person:{self.id}"

    @property
    def half(self) -> str:
        return half(self.source, self.group)


def _skimage(name: str) -> Callable[[], np.ndarray]:
    return lambda: material._skimage(name)


PEOPLE: tuple[Person, ...] = (
    # The six people of tests/analysis/material.py (tune half by rule 1).
    Person("astronaut", "astronaut", _skimage("astronaut"), (177, 82, 95)),
    Person("cameraman", "cameraman", _skimage("camera"), (180, 122, 84), turned=True),
    Person("man_a", "man_a", lambda: _html("227943776_1.jpg"), (139, 118, 168)),
    Person("man_b", "man_b", lambda: _html("230501201_1.jpg"), (173, 268, 334)),
    Person("lena", "lena", lambda: _html("blurred.png"), (174, 219, 194)),
    Person("glasses", "glasses", lambda: _html("example.jpg"), (26, 220, 334), bounds=(0, 0, 385, 580)),
    # Not used before this corpus: split by group hash.
    Person("grace_hopper", "grace_hopper", _grace_hopper, (171, 146, 194)),
    Person("face_swapped", "face_swapped", lambda: _html("face_swapped.jpg"), (106, 89, 118)),
    Person("messi", "messi", lambda: _doc("messi5.jpg"), (227, 99, 30)),
    Person(
        "basketball_left",
        "basketball",
        lambda: _doc("basketball1.png"),
        (67, 98, 37),
        bounds=(0, 0, 300, 480),
    ),
    Person(
        "basketball_right",
        "basketball",
        lambda: _doc("basketball1.png"),
        (524, 49, 78),
        turned=True,
        face_visible=False,
        bounds=(400, 0, 640, 480),
    ),
    Person("sobel_05", "sobel_05", lambda: _html("05.jpg"), (59, 116, 341), bounds=(0, 0, 538, 465)),
    Person("sobel_12", "sobel_12", lambda: _html("12.jpg"), (151, 71, 334), bounds=(0, 0, 538, 465)),
    Person(
        "couple_man",
        "inpaint_couple",
        lambda: _html("inpaint_basics.jpg"),
        (356, 23, 46),
        bounds=(225, 0, 450, 168),
    ),
    Person(
        "couple_woman",
        "inpaint_couple",
        lambda: _html("inpaint_basics.jpg"),
        (276, 91, 52),
        bounds=(225, 0, 450, 168),
    ),
)
LFW_FACES = 100  # lfw_subset: the first 100 patches are faces, the rest are not


@cache
def _lfw() -> np.ndarray:
    from skimage import data

    patches = data.lfw_subset()
    return (np.clip(patches, 0, 1) * 255).astype(np.uint8)


@dataclass(frozen=True)
class Cutout:
    """A person cut out of their photo, head and shoulders, with the face box in it."""

    id: str
    image: np.ndarray
    face_x: float  # face centre and width, in the cutout's pixels
    face_y: float
    face_w: float
    max_scale: float  # how far it may be enlarged before it is only blur
    turned: bool
    tight: bool = False  # the cutout is the face alone (lfw patches)
    face_visible: bool = True


@cache
def cutout(person: Person) -> Cutout:
    img = person.load()
    ih, iw = img.shape[:2]
    bx0, by0, bx1, by1 = person.bounds or (0, 0, iw, ih)
    x, y, w = person.face
    cx, cy = x + w / 2, y + w / 2
    # Head and shoulders: 1.5 face widths either side, 1.1 above, 2.4 below.
    x0, x1 = int(max(bx0, cx - 1.5 * w)), int(min(bx1, cx + 1.5 * w))
    y0, y1 = int(max(by0, cy - 1.1 * w)), int(min(by1, cy + 2.4 * w))
    crop = np.ascontiguousarray(img[y0:y1, x0:x1])
    return Cutout(person.id, crop, cx - x0, cy - y0, float(w), 2.5, person.turned, False, person.face_visible)


def lfw_cutout(i: int) -> Cutout:
    patch = _lfw()[i]
    rgb = np.ascontiguousarray(np.dstack([patch] * 3))
    return Cutout(f"lfw{i}", rgb, 12.5, 12.0, 22.0, 1.6, False, tight=True)


def lfw_half(i: int) -> str:
    return half(f"person:lfw{i}", f"lfw{i}")


# --- places without anyone ---------------------------------------------------------


@dataclass(frozen=True)
class Scene:
    id: str
    group: str
    load: Callable[[], np.ndarray] = field(compare=False, repr=False)
    kind: str  # "room", "object", "animal", "pattern", "calibration", "texture"

    @property
    def source(self) -> str:
        return f"scene:{self.id}"

    @property
    def half(self) -> str:
        return half(self.source, self.group)


def _rgb(img: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(img[:, :, :3] if img.ndim == 3 else np.dstack([img] * 3)).astype(np.uint8)


def _sk(name: str, kind: str, group: str | None = None) -> Scene:
    return Scene(name, group or name, _skimage(name), kind)


def _ex(name: str, kind: str, group: str | None = None) -> Scene:
    return Scene(name, group or name, lambda: _doc(name), kind)


def _ht(name: str, kind: str, group: str | None = None) -> Scene:
    return Scene(name, group or name, lambda: _html(name), kind)


SCENES: tuple[Scene, ...] = (
    # material.py's scenes (tune half by rule 1)
    _sk("chelsea", "animal"),
    _sk("coffee", "object"),
    _sk("rocket", "room"),
    _sk("coins", "object"),
    _sk("horse", "animal"),
    _sk("hubble_deep_field", "texture"),
    _sk("immunohistochemistry", "texture"),
    _sk("moon", "texture"),
    _sk("page", "pattern"),
    _sk("text", "pattern"),
    _sk("brick", "texture"),
    _sk("grass", "texture"),
    _sk("gravel", "texture"),
    _sk("colorwheel", "pattern"),
    _sk("clock", "object", "clock"),
    _sk("checkerboard", "pattern", "checkerboard"),
    _ex("apple.jpg", "object"),
    _ex("chessboard.png", "calibration"),
    _ex("building.jpg", "room"),
    _ex("home.jpg", "room"),
    _ex("fruits.jpg", "object"),
    _ex("board.jpg", "object"),
    _ex("baboon.jpg", "animal"),
    _ex("stuff.jpg", "object"),
    _ex("leuvenA.jpg", "room", "leuven"),
    _ex("aero1.jpg", "room", "aero"),
    _ex("starry_night.jpg", "pattern"),
    _ex("orange.jpg", "object"),
    _ex("smarties.png", "object"),
    _ex("sudoku.png", "pattern"),
    _ex("butterfly.jpg", "animal"),
    _ex("box_in_scene.png", "object", "box"),
    _ex("rubberwhale1.png", "object", "rubberwhale"),
    _ex("notes.png", "pattern"),
    _ex("aloeL.jpg", "object", "aloe"),
    _ex("pic1.png", "pattern", "pic"),
    _ex("blox.jpg", "object"),
    _ex("squirrel_cls.jpg", "animal"),
    _ex("LinuxLogo.jpg", "pattern"),
    # Not used before this corpus: split by group hash.
    *(
        _ex(f"{side}{i:02d}.jpg", "calibration", "opencv_calibration_room")
        for side in ("left", "right")
        for i in (1, 2, 3, 4, 5, 9, 11, 12, 14)
    ),
    _ex("graf1.png", "texture", "graf"),
    _ex("graf3.png", "texture", "graf"),
    _ex("HappyFish.jpg", "animal"),
    _ex("Blender_Suzanne1.jpg", "object", "suzanne"),
    _ex("Blender_Suzanne2.jpg", "object", "suzanne"),
    _ex("chicky_512.png", "animal"),
    _ex("cards.png", "object"),
    _ex("licenseplate_motion.jpg", "object"),
    _ex("text_defocus.jpg", "pattern", "text_photo"),
    _ex("text_motion.jpg", "pattern", "text_photo"),
    _ex("ela_original.jpg", "object", "ela"),
    _ex("digits.png", "pattern"),
    _ex("ellipses.jpg", "pattern"),
    Scene(
        "motorcycle_left",
        "motorcycle",
        lambda: _rgb(__import__("skimage.data").data.stereo_motorcycle()[0]),
        "object",
    ),
    _sk("retina", "texture"),
    _sk("cell", "texture"),
    _sk("logo", "pattern"),
    _ht("Remap_Tutorial_Original_Image.jpg", "animal", "dog"),
    _ht("Laplace_Operator_Tutorial_Original_Image.jpg", "animal", "cows"),
    _ht("HDRtoneMapping_candleSample.jpg", "room", "candle"),
    _ht("plant.jpg", "room"),
    _ht("handSrc.jpg", "object", "hand"),
    _ht("charucoboard.jpg", "calibration", "charuco_board"),
    _ht("sample.jpg", "calibration", "charuco_photo"),
    _ht("realsense.jpg", "object", "cameras"),
    _ht("singlemarkersoriginal.jpg", "calibration", "aruco_desk"),
    _ht("choriginal.jpg", "pattern", "chessboard_text"),
)


@cache
def _scene_image(scene: Scene) -> np.ndarray:
    return scene.load()


# --- composition -------------------------------------------------------------------

CONDITIONS = (
    "plain",
    "dim",
    "very dim",
    "bright",
    "backlight",
    "colour cast",
    "blur",
    "motion blur",
    "noise",
    "tilt",
    "hand over mouth",
)
BACKDROPS = ("wall", "room", "window", "screen", "texture")


@dataclass(frozen=True)
class Frame:
    id: str
    half: str
    faces: int  # people with a face in view
    people: int  # people in view, faces turned away included
    min_face_px: int  # narrowest face in the view (0 with no face)
    condition: str
    backdrop: str
    sources: tuple[str, ...]
    turned: bool  # someone with their head turned to profile
    hidden: bool  # someone partly hidden behind another
    view: np.ndarray = field(compare=False, repr=False)

    @property
    def in_floor(self) -> bool:
        return self.faces == 0 or self.min_face_px >= PROMISED_FACE_PX

    @property
    def size_bucket(self) -> str:
        return size_bucket(self.min_face_px) if self.faces else "no face"


SIZE_BUCKETS = ((8, 16), (16, 24), (24, 40), (40, 80), (80, 140), (140, 1000))


def size_bucket(px: int) -> str:
    for lo, hi in SIZE_BUCKETS:
        if lo <= px < hi:
            return f"{lo}-{hi - 1} px" if hi < 1000 else f"{lo}+ px"
    return f"<{SIZE_BUCKETS[0][0]} px"


def _fit(img: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    return material._fit(img, size, rng)


def _wall(rng: np.random.Generator) -> np.ndarray:
    w, h = VIEW
    base = rng.uniform(60, 225, size=3)
    gx = np.linspace(-1, 1, w)[None, :, None] * rng.uniform(-25, 25)
    gy = np.linspace(-1, 1, h)[:, None, None] * rng.uniform(-25, 25)
    img = np.broadcast_to(base, (h, w, 3)) + gx + gy
    if rng.random() < 0.5:  # a door frame, a shelf, a picture edge
        x = int(rng.uniform(0, w))
        img[:, x : x + int(rng.uniform(3, 20))] *= rng.uniform(0.6, 0.9)
    return np.clip(img, 0, 255).astype(np.uint8)


def _backdrop(kind: str, scenes: list[Scene], rng: np.random.Generator) -> np.ndarray:
    w, h = VIEW
    if kind == "wall":
        return _wall(rng)
    pool = [s for s in scenes if (s.kind == "texture") == (kind == "texture")]
    scene = pool[rng.integers(len(pool))]
    img = _fit(_scene_image(scene), VIEW, rng)
    if kind == "window":  # a bright window behind: a slice of the view blown out
        out = _wall(rng).astype(np.float32)
        x0 = int(rng.uniform(0, w * 0.5))
        x1 = int(min(w, x0 + rng.uniform(w * 0.3, w * 0.6)))
        y1 = int(h * rng.uniform(0.5, 0.9))
        out[:y1, x0:x1] = img[:y1, x0:x1] * 0.5 + 150
        return np.clip(out, 0, 255).astype(np.uint8)
    if kind == "screen":  # a monitor behind the candidate, showing something
        out = _wall(rng)
        sw, sh = int(rng.uniform(w * 0.3, w * 0.55)), int(rng.uniform(h * 0.3, h * 0.5))
        sx, sy = int(rng.uniform(0, w - sw)), int(rng.uniform(0, h * 0.4))
        out[sy - 4 if sy >= 4 else 0 : sy + sh + 4, max(sx - 4, 0) : sx + sw + 4] = 20
        out[sy : sy + sh, sx : sx + sw] = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)
        return out
    return img


def _paste(canvas: np.ndarray, cut: Cutout, face_px: float, fx: float, fy: float, tilt: float) -> None:
    """Paste ``cut`` so that its face is ``face_px`` wide with its centre at (fx, fy)."""
    scale = face_px / cut.face_w
    img = cut.image
    nh, nw = max(int(img.shape[0] * scale), 2), max(int(img.shape[1] * scale), 2)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    img = cv2.resize(img, (nw, nh), interpolation=interp)
    mask = np.zeros((nh, nw), np.float32)
    if cut.tight:
        cv2.ellipse(mask, (nw // 2, nh // 2), (int(nw * 0.46), int(nh * 0.5)), 0, 0, 360, 1.0, -1)
    else:
        # Head and shoulders: an ellipse round the head over a wider one for the body.
        hx, hy = int(cut.face_x * scale), int(cut.face_y * scale)
        cv2.ellipse(mask, (hx, hy), (int(face_px * 0.55), int(face_px * 0.75)), 0, 0, 360, 1.0, -1)
        body = (int(min(nw * 0.49, face_px * 1.4)), int(max(nh - hy - face_px * 0.45, 1)))
        cv2.ellipse(mask, (hx, nh), body, 0, 180, 360, 1.0, -1)
    if not cut.tight:  # no straight edge where the photo was cut: fade out towards it
        ramp = max(int(min(nw, nh) * 0.08), 1)
        fade_x = np.clip(np.minimum(np.arange(nw), np.arange(nw)[::-1]) / ramp, 0, 1)
        fade_y = np.clip(np.minimum(np.arange(nh), np.arange(nh)[::-1]) / ramp, 0, 1)
        mask *= fade_y[:, None] * fade_x[None, :]
    mask = cv2.GaussianBlur(mask, (0, 0), max(face_px * 0.04, 0.6))
    fcx, fcy = cut.face_x * scale, cut.face_y * scale
    if tilt:
        m = cv2.getRotationMatrix2D((fcx, fcy), tilt, 1.0)
        img = cv2.warpAffine(img, m, (nw, nh), borderMode=cv2.BORDER_REPLICATE)
        mask = cv2.warpAffine(mask, m, (nw, nh))
    x0, y0 = int(round(fx - fcx)), int(round(fy - fcy))
    H, W = canvas.shape[:2]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + nw, W), min(y0 + nh, H)
    if sx1 <= sx0 or sy1 <= sy0:
        return
    region = canvas[sy0:sy1, sx0:sx1].astype(np.float32)
    src = img[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0].astype(np.float32)
    m3 = mask[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0, None]
    canvas[sy0:sy1, sx0:sx1] = (src * m3 + region * (1 - m3)).astype(np.uint8)


def _hand_over_mouth(canvas: np.ndarray, fx: float, fy: float, face_px: float, rng) -> None:
    """A hand or a cup over the lower half of the face."""
    skin = np.array([rng.uniform(150, 220), rng.uniform(100, 160), rng.uniform(80, 130)])
    colour = skin if rng.random() < 0.6 else rng.uniform(30, 230, 3)
    layer = canvas.astype(np.float32)
    mask = np.zeros(canvas.shape[:2], np.float32)
    cy = fy + face_px * rng.uniform(0.25, 0.4)
    cv2.ellipse(
        mask,
        (int(fx + face_px * rng.uniform(-0.15, 0.15)), int(cy)),
        (int(face_px * rng.uniform(0.3, 0.45)), int(face_px * rng.uniform(0.2, 0.3))),
        float(rng.uniform(-30, 30)),
        0,
        360,
        1.0,
        -1,
    )
    mask = cv2.GaussianBlur(mask, (0, 0), max(face_px * 0.03, 0.6))[:, :, None]
    shade = np.linspace(0.85, 1.1, canvas.shape[1])[None, :, None]
    canvas[:] = np.clip(layer * (1 - mask) + colour * shade * mask, 0, 255).astype(np.uint8)


def _gauss(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma)


def _light(img: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    return np.clip(img.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def _low_light(img: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """``factor`` of the light, as a webcam delivers it: the sensor's own noise
    and 8-bit steps at that level, then the camera's automatic gain (at most
    4x) lifting the picture part of the way back, noise and steps with it."""
    dark = np.round(np.clip(img.astype(np.float32) * factor + _gauss(rng, img.shape, 1.2), 0, 255))
    gain = min(1.0 / factor, 4.0) * rng.uniform(0.5, 0.9)
    return np.clip(dark * max(gain, 1.0), 0, 255).astype(np.uint8)


def _motion_blur(img: np.ndarray, length: int, angle: float) -> np.ndarray:
    k = np.zeros((length, length), np.float32)
    k[length // 2, :] = 1.0
    k = cv2.warpAffine(k, cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle, 1.0), k.shape)
    return cv2.filter2D(img, -1, k / max(k.sum(), 1e-6))


def _condition(img: np.ndarray, condition: str, rng: np.random.Generator) -> np.ndarray:
    if condition == "dim":
        return _low_light(img, rng.uniform(0.25, 0.5), rng)
    if condition == "very dim":
        return _low_light(img, rng.uniform(0.1, 0.25), rng)
    if condition == "bright":
        return _light(img, rng.uniform(1.4, 2.0), rng)
    if condition == "colour cast":
        cast = rng.permutation([rng.uniform(1.1, 1.35), 1.0, rng.uniform(0.6, 0.85)])
        return np.clip(img.astype(np.float32) * cast, 0, 255).astype(np.uint8)
    if condition == "blur":
        return cv2.GaussianBlur(img, (0, 0), rng.uniform(1.0, 2.5))
    if condition == "motion blur":
        return _motion_blur(img, int(rng.integers(5, 12)), float(rng.uniform(0, 180)))
    if condition == "noise":
        return np.clip(img + _gauss(rng, img.shape, rng.uniform(8, 20)), 0, 255).astype(np.uint8)
    return img


def _sensor(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What every webcam frame has: a little noise and exposure flicker."""
    out = img.astype(np.float32) * rng.normal(1.0, 0.02) + _gauss(rng, img.shape, 2.0)
    return np.clip(out, 0, 255).astype(np.uint8)


@dataclass
class _Pools:
    people: list[Cutout]
    small: list[Cutout]
    scenes: list[Scene]
    sources: dict[str, str]  # cutout id -> source id


@cache
def _pools(which: str) -> _Pools:
    people = [p for p in PEOPLE if p.half == which]
    scenes = [s for s in SCENES if s.half == which]
    small = [lfw_cutout(i) for i in range(LFW_FACES) if lfw_half(i) == which]
    if not people or not scenes or not small:
        raise RuntimeError(f"the {which} half has no people, scenes or small faces: the split is broken")
    sources = {p.id: p.source for p in people} | {c.id: f"person:{c.id}" for c in small}
    return _Pools([cutout(p) for p in people], small, scenes, sources)


def _face_size(rng: np.random.Generator, cut: Cutout, lo: float, hi: float) -> float:
    hi = min(hi, cut.face_w * cut.max_scale)
    lo = min(lo, hi)
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _pick(pool: list[Cutout], rng: np.random.Generator, exclude: set[str]) -> Cutout:
    choices = [c for c in pool if c.id not in exclude] or pool
    return choices[rng.integers(len(choices))]


def _compose(which: str, index: int) -> Frame:
    """Frame ``index`` of half ``which``: deterministic (its own seeded generator)."""
    seed = int.from_bytes(hashlib.sha256(f"{CORPUS_VERSION}/{which}/{index}".encode()).digest()[:8], "big")
    rng = np.random.default_rng(seed)
    pools = _pools(which)
    w, h = VIEW
    n = int(rng.choice([0, 1, 2, 3, 4], p=[0.3, 0.36, 0.22, 0.08, 0.04]))
    condition = CONDITIONS[int(rng.integers(len(CONDITIONS)))]
    sources: list[str] = []
    if n == 0:
        # Nobody: an object, an animal, a pattern or a calibration target filling the
        # view, an empty room, a wall, or darkness.
        backdrop = str(rng.choice(["scene", "scene", "scene", "wall", "window", "screen"]))
        if backdrop == "scene":
            scene = pools.scenes[rng.integers(len(pools.scenes))]
            canvas = _fit(_scene_image(scene), VIEW, rng).copy()
            sources.append(scene.source)
            backdrop = scene.kind
        else:
            canvas = _backdrop(backdrop, pools.scenes, rng).copy()
        if rng.random() < 0.3:  # small clutter: lfw's non-face patches
            for _ in range(int(rng.integers(1, 4))):
                j = int(rng.integers(LFW_FACES, 2 * LFW_FACES))
                patch = lfw_cutout(j)
                _paste(canvas, patch, rng.uniform(14, 40), rng.uniform(0, w), rng.uniform(0, h), 0)
        if condition == "hand over mouth":
            condition = "darkness"
            canvas = _light(canvas, rng.uniform(0.03, 0.1), rng)
        img = _condition(canvas, condition, rng)
        return Frame(
            f"{which}-{index}",
            which,
            0,
            0,
            0,
            condition,
            backdrop,
            tuple(sources),
            False,
            False,
            _sensor(img, rng),
        )

    backdrop = BACKDROPS[int(rng.integers(len(BACKDROPS)))]
    canvas = _backdrop(backdrop, pools.scenes, rng).copy()
    used: set[str] = set()
    sizes: list[float] = []
    turned = hidden = False
    candidate = _pick([c for c in pools.people if c.face_visible], rng, used)
    used.add(candidate.id)
    small_alone = n == 1 and rng.random() < 0.15  # a lone person far from the camera
    if small_alone:
        candidate = _pick(pools.small, rng, used) if rng.random() < 0.5 else candidate
        cand_px = _face_size(rng, candidate, 8, 60)
    else:
        cand_px = _face_size(rng, candidate, 45 if n > 1 else 30, 200 if n == 1 else 130)
    cand_x = rng.uniform(w * 0.3, w * 0.7) if n > 1 else rng.uniform(w * 0.2, w * 0.8)
    cand_y = rng.uniform(h * 0.25, h * 0.55) if cand_px < 150 else rng.uniform(h * 0.35, h * 0.6)
    # Everyone else first (behind the candidate), at the sides or over a shoulder.
    placed: list[tuple[float, float, float]] = []
    people = 1
    for _ in range(n - 1):
        small = rng.random() < 0.35
        other = _pick(pools.small if small else pools.people, rng, used)
        used.add(other.id)
        px = _face_size(rng, other, 8 if small else 24, 40 if small else 110)
        # Behind the candidate: at or above their head's height, far enough to
        # the side that at least ~40 % of the face shows past the candidate's head.
        near = cand_px * 0.55 + px * 0.1
        spots = [
            (ox, oy)
            for ox, oy in (
                (rng.uniform(px * 0.6, w - px * 0.6), rng.uniform(px * 0.6, max(cand_y, px * 0.6 + 1)))
                for _ in range(12)
            )
            if abs(ox - cand_x) >= near and all(abs(ox - x) >= (p + px) * 0.6 for x, _, p in placed)
        ]
        if not spots:
            continue
        ox, oy = spots[0]
        placed.append((ox, oy, px))
        if abs(ox - cand_x) < cand_px * 0.55 + px * 0.5:
            hidden = True
        tilt = rng.uniform(-25, 25) if condition == "tilt" else 0.0
        _paste(canvas, other, px, ox, oy, tilt)
        people += 1
        if other.face_visible:
            sizes.append(px)
        turned |= other.turned
        sources.append(pools.sources[other.id])
    tilt = rng.uniform(-25, 25) if condition == "tilt" else 0.0
    _paste(canvas, candidate, cand_px, cand_x, cand_y, tilt)
    sizes.append(cand_px)
    turned |= candidate.turned
    sources.append(pools.sources[candidate.id])
    if condition == "hand over mouth":
        _hand_over_mouth(canvas, cand_x, cand_y, cand_px, rng)
    if condition == "backlight":
        # The room behind is bright; the person, lit from behind, dark.
        canvas = _light(canvas, rng.uniform(0.35, 0.6), rng)
        glow = np.zeros((h, w, 1), np.float32)
        glow[: int(h * 0.6)] = rng.uniform(80, 150)
        canvas = np.clip(canvas.astype(np.float32) + cv2.GaussianBlur(glow, (0, 0), 30)[:, :, None], 0, 255)
        canvas = canvas.astype(np.uint8)
    img = _condition(canvas, condition, rng)
    return Frame(
        f"{which}-{index}",
        which,
        len(sizes),
        people,
        int(round(min(sizes))),
        condition,
        backdrop,
        tuple(sources),
        turned,
        hidden,
        _sensor(img, rng),
    )


def frames(which: str, count: int, *, start: int = 0) -> Iterator[Frame]:
    """Frames ``start`` .. ``start + count - 1`` of a half, each with its view (raw)."""
    if which not in HALVES:
        raise ValueError(f"half must be one of {HALVES}")
    for i in range(start, start + count):
        yield _compose(which, i)


def split_summary() -> dict[str, dict[str, list[str]]]:
    """Which source is in which half (for the accuracy card)."""
    out: dict[str, dict[str, list[str]]] = {h: {"people": [], "scenes": []} for h in HALVES}
    for p in PEOPLE:
        out[p.half]["people"].append(p.id)
    for s in SCENES:
        out[s.half]["scenes"].append(s.id)
    for i in range(LFW_FACES):
        out[lfw_half(i)].setdefault("lfw faces", []).append(str(i))
    return out


# --- cache -------------------------------------------------------------------------

CACHE_DIR = ROOT / "var" / "eval"


def _cache_key(which: str, count: int) -> str:
    h = hashlib.sha256()
    for path in (Path(__file__), Path(material.__file__)):
        h.update(path.read_bytes())
    h.update(repr((CORPUS_VERSION, widget_capture(), which, count)).encode())
    return h.hexdigest()[:16]


def load(which: str, count: int, *, cache_dir: Path | None = CACHE_DIR) -> list[Frame]:
    """The first ``count`` frames of a half, from the cache under ``cache_dir``
    when it holds them (composed afresh and stored otherwise; None: no cache).
    The key covers this module, the test material and the widget's capture
    settings, so a change to any of them composes the corpus again."""
    if cache_dir is None:
        return list(frames(which, count))
    folder = cache_dir / f"{which}-{count}-{_cache_key(which, count)}"
    meta_path, views_path = folder / "frames.json", folder / "views.npy"
    if not (meta_path.exists() and views_path.exists()):
        made = list(frames(which, count))
        for stale in cache_dir.glob(f"{which}-{count}-*"):  # an older corpus of the same size
            shutil.rmtree(stale, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / "views.tmp.npy"
        np.save(tmp, np.stack([f.view for f in made]))
        tmp.rename(views_path)
        meta = [
            {
                "id": f.id,
                "half": f.half,
                "faces": f.faces,
                "people": f.people,
                "min_face_px": f.min_face_px,
                "condition": f.condition,
                "backdrop": f.backdrop,
                "sources": list(f.sources),
                "turned": f.turned,
                "hidden": f.hidden,
            }
            for f in made
        ]
        meta_path.write_text(json.dumps(meta))
        return made
    views = np.load(views_path, mmap_mode="r")
    meta = json.loads(meta_path.read_text())
    return [
        Frame(**{**m, "sources": tuple(m["sources"])}, view=np.ascontiguousarray(views[i]))
        for i, m in enumerate(meta)
    ]
