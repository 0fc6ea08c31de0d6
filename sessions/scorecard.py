"""How a session's score and flags are shown, the same way everywhere: the REST
API, the dashboard (pages, live pushes, CSV export), webhooks, the widget's
report and the LMS.

* bands: ≥ 85 low risk, 60–85 needs review, < 60 high risk (analysis.trust);
  ``None`` (the API) or ``"unscored"`` (the dashboard) while there is no score;
* breakdown rows: one per deducted flag type, largest deduction first, read
  from what sessions.scoring stored (``{"score", "band", "types": {…}}``);
* accommodation: the one the session ran with (``score_accommodation``), stored with the
  breakdown, so every surface says which applied (extra time, detectors switched off, note);
* flag count: flags a reviewer has not dismissed that are violations
  (proctorme.flag_types: random photos are evidence, not flags against the
  candidate).

sessions.scoring computes the score; this module only presents it.
"""

from __future__ import annotations

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from analysis.trust import LOW_RISK, REVIEW, band_for
from proctorme.flag_types import NOT_VIOLATIONS
from sessions.models import Flag, ProctoringSession

RISK_BANDS = ("low", "review", "high")
UNSCORED = "unscored"
BAND_LABELS = {
    "high": "High risk",
    "review": "Needs review",
    "low": "Low risk",
    UNSCORED: "Not scored yet",
}
BAND_HELP = "low ≥ 85, review 60–85, high < 60."


def risk_band(score: float | None) -> str | None:
    return None if score is None else band_for(score)


def band_or_unscored(score: float | None) -> str:
    return UNSCORED if score is None else band_for(score)


def band_q(band: str, *, field: str = "trust_score") -> Q:
    """The sessions of one band (or ``unscored``), as a filter on the score field."""
    return {
        "high": Q(**{f"{field}__lt": REVIEW}),
        "review": Q(**{f"{field}__gte": REVIEW, f"{field}__lt": LOW_RISK}),
        "low": Q(**{f"{field}__gte": LOW_RISK}),
        UNSCORED: Q(**{f"{field}__isnull": True}),
    }[band]


def breakdown_types(stored: dict | None) -> dict[str, dict]:
    """``{type: {count, seconds, deduction}}`` from a stored breakdown (sessions.scoring.breakdown_json)."""
    types = (stored or {}).get("types")
    return types if isinstance(types, dict) else {}


def breakdown_rows(stored: dict | None) -> list[dict]:
    """The breakdown as rows, largest deduction first; the deductions add up to 100 − score."""
    rows = [
        {
            "type": kind,
            "count": int(values.get("count", 0)),
            "seconds": float(values.get("seconds", 0)),
            "deduction": float(values.get("deduction", 0)),
        }
        for kind, values in breakdown_types(stored).items()
        if isinstance(values, dict)
    ]
    return sorted(rows, key=lambda row: (-row["deduction"], row["type"]))


def score_accommodation(session: ProctoringSession) -> dict | None:
    """The accommodation the score was computed with: named in the stored breakdown once the
    score is final, and on the session (``config["accommodation"]``) from its start."""
    stored = (session.trust_breakdown or {}).get("accommodation")
    if isinstance(stored, dict):
        return stored
    configured = (session.config or {}).get("accommodation")
    return configured if isinstance(configured, dict) else None


# --- flag counts ----------------------------------------------------------------------------------

COUNTED = Q(dismissed_at__isnull=True) & ~Q(type__in=NOT_VIOLATIONS)


def counted_flags(flags: QuerySet[Flag]) -> QuerySet[Flag]:
    """The flags that count against the candidate: not dismissed, and violations."""
    return flags.filter(COUNTED)


def with_flag_count(sessions: QuerySet[ProctoringSession]) -> QuerySet[ProctoringSession]:
    """Annotate ``flag_count`` (one subquery, no join that would multiply rows)."""
    per_session = (
        counted_flags(Flag.objects.filter(session=OuterRef("pk")))
        .order_by()
        .values("session")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return sessions.annotate(flag_count=Coalesce(Subquery(per_session, output_field=IntegerField()), 0))


def flag_count(session: ProctoringSession) -> int:
    return counted_flags(Flag.objects.filter(session=session)).count()
