"""AutoProctor's ``idCardVerification``: the photo-ID step before the test.

The widget sends the card photo (and a live photo taken just before it) to
``POST /widget/v1/sessions/<id>/idcard``. The face printed on the card is compared with the
live face (``analysis.idcard``: dlib descriptors, at most 0.6 apart is the same person). Each
try is stored as an ``idcard`` media item, the evidence, with its outcome in ``meta``; the
candidate may try ``MAX_ATTEMPTS`` times. A match ends the step; when every try failed, the
test goes on and one ``ID_CARD_MISMATCH`` flag records it, with the closest try as evidence.

``auto`` tries are the widget looking for a card by itself: they are stored (and counted) only
when a card with a face was seen; otherwise the answer is ``searching`` and nothing is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from analysis.frames import InvalidImage, decode_jpeg, detect_faces
from analysis.idcard import MATCH, NO_CARD, NO_FACE_ON_CARD, check_card, find_card
from analysis.identity import face_descriptor
from proctorme.errors import IdCardAttemptsUsed, InvalidMedia, OptionNotEnabled, SessionEnded
from sessions.models import MediaChunk, ProctoringSession
from sessions.services import flag_record

MAX_ATTEMPTS = 5
MAX_BYTES = 1024 * 1024
MAX_PIXELS = 1280 * 960


@dataclass
class IdCardResult:
    outcome: str
    attempt: int
    passed: bool
    done: bool
    distance: float | None = None

    def as_dict(self) -> dict:
        return {
            "outcome": self.outcome,
            "attempt": self.attempt,
            "attemptsLeft": 0 if self.done else MAX_ATTEMPTS - self.attempt,
            "passed": self.passed,
            "done": self.done,
            "distance": self.distance,
        }


def id_card_options(session: ProctoringSession) -> dict | None:
    value = (session.config.get("tracking") or {}).get("idCardVerification")
    return value if isinstance(value, dict) else None


def id_card_state(session: ProctoringSession) -> dict:
    """The step's tries so far: ``{attempts, passed, done, best}`` (best: the closest try)."""
    tries = list(MediaChunk.objects.filter(session=session, kind=MediaChunk.Kind.ID_CARD).order_by("seq"))
    passed = any(t.meta.get("outcome") == MATCH for t in tries)
    done = passed or len(tries) >= MAX_ATTEMPTS
    best = min(tries, key=_closeness, default=None)
    return {"attempts": len(tries), "passed": passed, "done": done, "tries": tries, "best": best}


def _closeness(chunk: MediaChunk) -> tuple[int, float]:
    distance = chunk.meta.get("distance")
    return (0, distance) if isinstance(distance, int | float) else (1, float(chunk.seq))


def _decode(data: bytes, part: str):
    try:
        return decode_jpeg(data, max_pixels=MAX_PIXELS)
    except InvalidImage as exc:
        raise InvalidMedia(f"The {part} photo is not a valid JPEG: {exc}.", details={"part": part}) from None


def _live_face(live_rgb, card_rgb, card_box):
    """The live face: the largest face of the live photo, else of the card photo outside the card."""
    if live_rgb is not None:
        descriptor = face_descriptor(live_rgb)
        if descriptor is not None:
            return descriptor
    for face in detect_faces(card_rgb):
        if card_box is not None:
            x, y, w, h = card_box
            cx, cy = face.x + face.w / 2, face.y + face.h / 2
            if x <= cx <= x + w and y <= cy <= y + h:
                continue
        return face_descriptor(card_rgb, face)
    return None


def id_card_check(
    *, session: ProctoringSession, card: bytes, live: bytes | None = None, auto: bool = False
) -> IdCardResult:
    """One try of the photo-ID step (see the module's doc)."""
    if id_card_options(session) is None:
        raise OptionNotEnabled("This attempt was not started with idCardVerification.")
    if session.status != ProctoringSession.Status.ACTIVE:
        raise SessionEnded()
    if not card or len(card) > MAX_BYTES or (live is not None and len(live) > MAX_BYTES):
        raise InvalidMedia(
            f"The photos must be JPEGs of at most {MAX_BYTES} bytes.", details={"part": "card"}
        )
    if id_card_state(session)["done"]:
        raise IdCardAttemptsUsed()
    card_rgb = _decode(card, "card")
    live_rgb = _decode(live, "face") if live else None

    # The card first: the live face is then looked for outside it when no live photo came.
    found = find_card(card_rgb)
    box = (found.x, found.y, found.w, found.h) if found else None
    live_descriptor = _live_face(live_rgb, card_rgb, box)
    result = check_card(card_rgb, live_descriptor, card=found)
    if auto and result.outcome in (NO_CARD, NO_FACE_ON_CARD):
        return IdCardResult("searching", id_card_state(session)["attempts"], False, False)

    with transaction.atomic():
        locked = ProctoringSession.objects.select_for_update(of=("self",)).get(pk=session.pk)
        if locked.status != ProctoringSession.Status.ACTIVE:
            raise SessionEnded()
        state = id_card_state(locked)
        if state["done"]:
            raise IdCardAttemptsUsed()
        seq = state["attempts"] + 1
        now = timezone.now()
        chunk = MediaChunk(
            institution_id=session.institution_id,
            session=session,
            kind=MediaChunk.Kind.ID_CARD,
            seq=seq,
            captured_at=now,
            content_type="image/jpeg",
            size=len(card),
            meta={
                "outcome": result.outcome,
                "distance": result.distance,
                "cardBox": list(result.card_box) if result.card_box else None,
                "auto": auto,
            },
            analysed_at=now,
        )
        prefix = f"{session.institution.public_id}/{session.public_id}"
        chunk.file.save(f"{prefix}/idcard-{seq:02d}.jpg", ContentFile(card), save=False)
        try:
            with transaction.atomic():
                chunk.save()
        except IntegrityError:
            chunk.file.delete(save=False)
            raise IdCardAttemptsUsed(
                "Another try of the photo-ID step was stored at the same time."
            ) from None
        if live and not MediaChunk.objects.filter(session=session, kind=MediaChunk.Kind.REFERENCE).exists():
            # The live photo of the step is the candidate's photo of the report (testTakerPhoto).
            reference = MediaChunk(
                institution_id=session.institution_id,
                session=session,
                kind=MediaChunk.Kind.REFERENCE,
                seq=1,
                captured_at=now,
                content_type="image/jpeg",
                size=len(live),
                meta={"source": "idCardVerification"},
                analysed_at=now,
            )
            reference.file.save(f"{prefix}/reference-01.jpg", ContentFile(live), save=False)
            reference.save()
        passed = result.outcome == MATCH
        done = passed or seq >= MAX_ATTEMPTS
        if done and not passed:
            tries = [*state["tries"], chunk]
            best = min(tries, key=_closeness)
            flag_record(
                session=locked,
                type="ID_CARD_MISMATCH",
                episode_key="ID_CARD_MISMATCH",
                started_at=best.captured_at,
                ended_at=now,
                evidence=best,
                payload={
                    "outcome": best.meta.get("outcome"),
                    "distance": best.meta.get("distance"),
                    "attempts": seq,
                    "outcomes": [t.meta.get("outcome") for t in tries],
                },
            )
    return IdCardResult(result.outcome, seq, passed, done, result.distance)


def id_card_summary(session: ProctoringSession) -> dict | None:
    """The step's result for the report and the replay, or None when the option was off."""
    options = id_card_options(session)
    if options is None:
        return None
    state = id_card_state(session)
    best = state["best"]
    shown = next((t for t in state["tries"] if t.meta.get("outcome") == MATCH), best)
    status = "passed" if state["passed"] else ("failed" if state["done"] else "incomplete")
    return {
        "status": status,
        "attempts": state["attempts"],
        "outcome": shown.meta.get("outcome") if shown else None,
        "distance": shown.meta.get("distance") if shown else None,
        "chunk": shown,
        "checks": {"face": True, "name": "not checked", "expiryDate": "not checked"}
        if options.get("name") or options.get("expiryDate")
        else {"face": True},
    }
