"""Accommodations: what one candidate is granted, for every assessment or for one.

* **time**: ``time_multiplier`` (1.00 – 4.00) scales the exam's length, then ``extra_seconds``
  (up to 24 h) is added; the server's deadline is computed from the result when the session
  starts, so the candidate's page cannot shorten or lengthen it;
* **detectors switched off**: the flag types in ``disabled_detectors`` are never raised nor
  deducted for this candidate. Switching off every camera detector means the widget does not ask
  for the camera at all (an exemption); switching off ``SOUND_DETECTED`` means it does not ask
  for the microphone (a candidate who reads aloud);
* a **note** reviewers see on the session page.

The accommodation for the assessment, when there is one, replaces the candidate's general one
(they do not add up). It applies to sessions that start after it is set; a session keeps the
one it started with (``config["accommodation"]``), which its trust score breakdown names.
Every change is in the audit log.
"""

from __future__ import annotations

import math
from decimal import Decimal

from django.db import transaction
from django.db.models import Q

from proctorme.errors import ProctormeError
from sessions.models import Accommodation, Assessment, AuditLogEntry, Candidate

CAMERA_DETECTORS = (
    "FACE_ABSENCE",
    "MULTIPLE_FACE",
    "LOOKING_AWAY",
    "FACE_MISMATCH",
    "CAMERA_BLOCKED",
    "PERIODIC_SNAPSHOT",
)
SOUND_DETECTORS = ("SOUND_DETECTED",)
BROWSER_DETECTORS = ("TAB_NOT_FOCUS", "EXIT_FULLSCREEN", "MULTIPLE_SCREENS", "COPY_PASTE")
DETECTORS = (*CAMERA_DETECTORS, *SOUND_DETECTORS, *BROWSER_DETECTORS)
MAX_EXTRA_SECONDS = 24 * 3600
MIN_MULTIPLIER, MAX_MULTIPLIER = Decimal("1.00"), Decimal("4.00")
NOTE_MAX = 2000


class InvalidAccommodation(ProctormeError):
    code = "VALIDATION_ERROR"


def _problems(*, extra_seconds, time_multiplier, disabled_detectors, note) -> dict[str, str]:
    problems = {}
    if (
        isinstance(extra_seconds, bool)
        or not isinstance(extra_seconds, int)
        or not 0 <= extra_seconds <= MAX_EXTRA_SECONDS
    ):
        problems["extraSeconds"] = f"A whole number of seconds from 0 to {MAX_EXTRA_SECONDS}."
    try:
        multiplier = Decimal(str(time_multiplier))
        if not MIN_MULTIPLIER <= multiplier <= MAX_MULTIPLIER or multiplier != multiplier.quantize(
            Decimal("0.01")
        ):
            raise ValueError
    except (ArithmeticError, ValueError):
        problems["timeMultiplier"] = "A number from 1.00 to 4.00, with at most two decimals."
    if not isinstance(disabled_detectors, list | tuple) or not all(
        d in DETECTORS for d in disabled_detectors
    ):
        problems["disabledDetectors"] = "A list of: " + ", ".join(DETECTORS) + "."
    if not isinstance(note, str) or len(note) > NOTE_MAX or "\x00" in note:
        problems["note"] = f"Text of at most {NOTE_MAX} characters."
    return problems


def _label(actor, actor_label: str) -> str:
    if actor_label:
        return actor_label[:254]
    return (getattr(actor, "email", "") or getattr(actor, "username", "") or "unknown")[:254]


def accommodation_data(accommodation: Accommodation | None) -> dict | None:
    """The accommodation as the API, the session's config and the score breakdown name it."""
    if accommodation is None:
        return None
    return {
        "id": str(accommodation.public_id),
        "scope": "assessment" if accommodation.assessment_id else "candidate",
        "extraSeconds": accommodation.extra_seconds,
        "timeMultiplier": float(accommodation.time_multiplier),
        "disabledDetectors": list(accommodation.disabled_detectors),
        "note": accommodation.note,
    }


def _audit(accommodation: Accommodation, *, action: str, actor, actor_label: str, **details) -> None:
    AuditLogEntry.objects.create(
        institution_id=accommodation.institution_id,
        candidate_id=accommodation.candidate_id,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_label=_label(actor, actor_label),
        action=action,
        details={
            "accommodation": str(accommodation.public_id),
            "assessment": accommodation.assessment.external_id if accommodation.assessment_id else None,
            **details,
        },
    )


def accommodation_set(
    *,
    candidate: Candidate,
    assessment: Assessment | None = None,
    extra_seconds: int = 0,
    time_multiplier=Decimal("1.00"),
    disabled_detectors: list[str] | tuple[str, ...] = (),
    note: str = "",
    actor=None,
    actor_label: str = "",
) -> Accommodation:
    """Create or replace the candidate's accommodation (for ``assessment``, or every one)."""
    if assessment is not None and assessment.institution_id != candidate.institution_id:
        raise InvalidAccommodation(details={"fields": {"assessment": "No such assessment."}})
    note = note.strip() if isinstance(note, str) else note
    problems = _problems(
        extra_seconds=extra_seconds,
        time_multiplier=time_multiplier,
        disabled_detectors=list(disabled_detectors) if isinstance(disabled_detectors, list | tuple) else None,
        note=note,
    )
    if problems:
        raise InvalidAccommodation(
            "Some fields are invalid: " + ", ".join(sorted(problems)) + ".", details={"fields": problems}
        )
    detectors = sorted(set(disabled_detectors), key=DETECTORS.index)
    with transaction.atomic():
        existing = (
            Accommodation.objects.select_for_update()
            .filter(candidate=candidate, assessment=assessment)
            .first()
        )
        before = accommodation_data(existing)
        accommodation = existing or Accommodation(
            institution_id=candidate.institution_id, candidate=candidate, assessment=assessment
        )
        accommodation.extra_seconds = extra_seconds
        accommodation.time_multiplier = Decimal(str(time_multiplier))
        accommodation.disabled_detectors = detectors
        accommodation.note = note
        accommodation.save()
        accommodation.refresh_from_db()
        after = accommodation_data(accommodation)
        _audit(
            accommodation,
            action=AuditLogEntry.Action.ACCOMMODATION_SET,
            actor=actor,
            actor_label=actor_label,
            before=before,
            after=after,
        )
    return accommodation


def accommodation_remove(*, accommodation: Accommodation, actor=None, actor_label: str = "") -> None:
    with transaction.atomic():
        _audit(
            accommodation,
            action=AuditLogEntry.Action.ACCOMMODATION_REMOVED,
            actor=actor,
            actor_label=actor_label,
            before=accommodation_data(accommodation),
        )
        accommodation.delete()


def accommodation_for(*, candidate: Candidate, assessment: Assessment) -> Accommodation | None:
    """The one for this assessment, else the candidate's general one, else None."""
    found = {
        a.assessment_id: a
        for a in Accommodation.objects.filter(
            Q(assessment__isnull=True) | Q(assessment=assessment), candidate=candidate
        ).select_related("assessment")
    }
    return found.get(assessment.pk) or found.get(None)


def accommodated_seconds(seconds: int, data: dict | None) -> int:
    """The exam's length for this candidate: × the multiplier, then + the extra seconds."""
    if not data:
        return seconds
    return int(math.ceil(seconds * float(data["timeMultiplier"]))) + int(data["extraSeconds"])


def accommodation_disabled(data: dict | None) -> set[str]:
    return set((data or {}).get("disabledDetectors") or [])


def accommodation_media(data: dict | None) -> dict:
    """Which devices the widget asks for: none it has no use for."""
    disabled = accommodation_disabled(data)
    return {
        "camera": not set(CAMERA_DETECTORS) <= disabled,
        "microphone": not set(SOUND_DETECTORS) <= disabled,
    }


def accommodation_summary(data: dict | None) -> str:
    """One line for the CSV export and the dashboard: "×1.50 +600 s; off: SOUND_DETECTED"."""
    if not data:
        return ""
    parts = []
    if float(data["timeMultiplier"]) != 1.0:
        parts.append(f"×{float(data['timeMultiplier']):.2f}")
    if data["extraSeconds"]:
        parts.append(f"+{data['extraSeconds']} s")
    text = " ".join(parts) or "no extra time"
    if data["disabledDetectors"]:
        text += "; off: " + ", ".join(data["disabledDetectors"])
    return text
