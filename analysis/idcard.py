"""Photo-ID check: find an ID card held up to the camera, and compare the face printed on it
with the candidate's live face.

A card is a convex four-cornered shape of a card's proportions held landscape (ID-1 is
85.6 × 54 mm, 1.59:1; a passport's photo page is 1.42:1; 1.25 to 2.1 is accepted, for a card
tilted a little) covering 3–80 % of the frame, with a face inside it that is smaller than the
card. The widget asks the candidate to hold it landscape, beside their face. The face on
the card is looked for in the card's own crop, enlarged, so that a printed photo of 40 px is
found; the live face is the largest face of the live photo. Both go through dlib's descriptor
(``analysis.identity``) and are the same person when at most ``CARD_THRESHOLD`` apart.

A printed photo is older, flatter and smaller than a live face: the same person measures
further apart than two live photos do (0.3–0.5 instead of 0.2–0.4). dlib's own 0.6 still
separates them from other people (0.7 and more), so it is the threshold here too.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from analysis.frames import FaceBox, contiguous, detect_faces
from analysis.identity import descriptor_distance, face_descriptor

CARD_THRESHOLD = 0.6
MIN_AREA, MAX_AREA = 0.03, 0.8
MIN_RATIO, MAX_RATIO = 1.25, 2.1
CROP_LONG_SIDE = 480  # the card's crop is enlarged to this before its face is looked for

MATCH, MISMATCH, NO_CARD, NO_FACE_ON_CARD, NO_LIVE_FACE = (
    "match",
    "mismatch",
    "no_card",
    "no_face_on_card",
    "no_live_face",
)


@dataclass(frozen=True)
class Card:
    x: int
    y: int
    w: int
    h: int
    face: FaceBox | None  # in the crop's (enlarged) pixels
    crop: np.ndarray | None = None


@dataclass(frozen=True)
class CardCheck:
    outcome: str
    distance: float | None = None
    card_box: tuple[int, int, int, int] | None = None

    @property
    def passed(self) -> bool:
        return self.outcome == MATCH


def card_candidates(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Card-shaped quadrilaterals in the frame, largest first: ``(x, y, w, h)`` boxes.

    Two looks: the outlines of edges, and the bright regions (most cards are light; against a
    light wall their edge can vanish into the candidate's clothes, their brightness does not).
    """
    rgb = contiguous(rgb)
    h, w = rgb.shape[:2]
    grey = cv2.GaussianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (5, 5), 0)
    edges = cv2.dilate(cv2.Canny(grey, 40, 120), np.ones((3, 3), np.uint8))
    bright = cv2.morphologyEx(
        (grey >= max(200, int(np.percentile(grey, 90)))).astype(np.uint8) * 255,
        cv2.MORPH_CLOSE,
        np.ones((7, 7), np.uint8),
    )
    contours = []
    for mask, mode in ((edges, cv2.RETR_LIST), (bright, cv2.RETR_EXTERNAL)):
        contours += list(cv2.findContours(mask, mode, cv2.CHAIN_APPROX_SIMPLE)[0])
    found: list[tuple[int, int, int, int]] = []
    for contour in contours:
        area = cv2.contourArea(contour)
        if not MIN_AREA * w * h <= area <= MAX_AREA * w * h:
            continue
        hull = cv2.convexHull(contour)
        quad = None
        for epsilon in (0.02, 0.04, 0.06):
            approx = cv2.approxPolyDP(hull, epsilon * cv2.arcLength(hull, True), True)
            if len(approx) == 4:
                quad = approx
                break
        if quad is None:
            continue
        (_, _), (rw, rh), _ = cv2.minAreaRect(quad)
        if min(rw, rh) <= 0:
            continue
        ratio = max(rw, rh) / min(rw, rh)
        # A rectangle seen about face-on that the outline fills (not a blob with four corners).
        if not MIN_RATIO <= ratio <= MAX_RATIO or area < 0.8 * rw * rh:
            continue
        box = cv2.boundingRect(quad)
        if box[2] <= box[3]:
            continue  # held upright: cards are shown landscape (a white shirt or a door is not)
        if any(_overlap(box, kept) > 0.6 for kept in found):
            continue
        found.append(box)
    return sorted(found, key=lambda b: -b[2] * b[3])


def _overlap(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0, min(ay + ah, by + bh) - max(ay, by))
    return ix * iy / max(min(aw * ah, bw * bh), 1)


def find_card(rgb: np.ndarray) -> Card | None:
    """The largest card-shaped region with a face printed inside it, or the largest without one."""
    rgb = contiguous(rgb)
    first: Card | None = None
    for x, y, w, h in card_candidates(rgb):
        crop = rgb[y : y + h, x : x + w]
        scale = CROP_LONG_SIDE / max(w, h)
        if scale > 1:
            crop = cv2.resize(crop, (int(w * scale), int(h * scale)), interpolation=cv2.INTER_CUBIC)
        crop = np.ascontiguousarray(crop)
        faces = [f for f in detect_faces(crop, min_relative_size=0.1) if f.h < 0.9 * crop.shape[0]]
        card = Card(x, y, w, h, faces[0] if faces else None, crop)
        if card.face is not None:
            return card
        first = first or card
    return first


def live_descriptor(rgb: np.ndarray) -> np.ndarray | None:
    return face_descriptor(contiguous(rgb))


def check_card(card_rgb: np.ndarray, live: np.ndarray | None, *, card: Card | None = None) -> CardCheck:
    """Compare the face on the card in ``card_rgb`` with the live face's descriptor ``live``
    (``card``: what ``find_card`` already found in it)."""
    card = card or find_card(card_rgb)
    if card is None:
        return CardCheck(NO_CARD)
    box = (card.x, card.y, card.w, card.h)
    if card.face is None or card.crop is None:
        return CardCheck(NO_FACE_ON_CARD, card_box=box)
    printed = face_descriptor(card.crop, card.face)
    if printed is None:
        return CardCheck(NO_FACE_ON_CARD, card_box=box)
    if live is None:
        return CardCheck(NO_LIVE_FACE, card_box=box)
    distance = descriptor_distance(live, printed)
    outcome = MATCH if distance <= CARD_THRESHOLD else MISMATCH
    return CardCheck(outcome, round(distance, 3), box)
