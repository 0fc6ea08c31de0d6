"""A session report as PDF, for a file or a committee: rendered on the server with WeasyPrint.

Sections: candidate, assessment, trust score (with its breakdown, as
sessions.scorecard presents it everywhere), verdict and reviewer notes, flags
with their evidence frames embedded, timeline, audit trail. Images are embedded
as ``data:`` URIs and the renderer fetches nothing else (no file, no network),
so a report never reaches outside the session's own data.
"""

from __future__ import annotations

import base64
from datetime import datetime

from django.template.loader import render_to_string
from django.utils import timezone, translation

from proctorme.flag_types import NOT_VIOLATIONS, flag_description
from sessions.dashboard.selectors import audit_log, score_view
from sessions.models import Accommodation, Event, Flag, MediaChunk, ProctoringSession
from sessions.scorecard import BAND_HELP, BAND_LABELS, flag_count

# A report stays printable: evidence images beyond these are listed, not embedded.
MAX_EMBEDDED_IMAGES = 40
MAX_IMAGE_BYTES = 2 * 1024 * 1024
MAX_TIMELINE_ROWS = 400
EMBEDDABLE = ("image/jpeg", "image/png")
# The report's template is written in English and not translated yet: it is rendered in English
# whatever language the reviewer's pages are in, so its dates, numbers ("72.5", not "72,5") and
# band labels agree with its headings.
REPORT_LANGUAGE = "en"


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def _offset(session: ProctoringSession, when: datetime | None) -> float:
    return max((when - session.started_at).total_seconds(), 0.0) if when else 0.0


def _data_uri(chunk: MediaChunk | None) -> str | None:
    if chunk is None or chunk.content_type not in EMBEDDABLE or chunk.size > MAX_IMAGE_BYTES:
        return None
    try:
        with chunk.file.open("rb") as handle:
            content = handle.read(MAX_IMAGE_BYTES + 1)
    except (FileNotFoundError, ValueError, OSError):
        return None
    if len(content) > MAX_IMAGE_BYTES:
        return None
    return f"data:{chunk.content_type};base64,{base64.b64encode(content).decode()}"


def _details(payload: dict | None) -> str:
    pairs = [f"{k}: {v}" for k, v in (payload or {}).items() if not isinstance(v, dict | list)]
    return ", ".join(pairs)[:200]


def session_report_context(*, session: ProctoringSession) -> dict:
    flags = list(
        Flag.objects.filter(institution_id=session.institution_id, session=session)
        .select_related("evidence")
        .order_by("started_at", "pk")
    )
    embedded = 0
    flag_rows = []
    for flag in flags:
        image = None
        if embedded < MAX_EMBEDDED_IMAGES:
            image = _data_uri(flag.evidence)
            embedded += image is not None
        flag_rows.append(
            {
                "flag": flag,
                "label": flag_description(flag.type),
                "clock": _clock(_offset(session, flag.started_at)),
                "violation": flag.type not in NOT_VIOLATIONS,
                "image": image,
                "evidence_kind": flag.evidence.kind if flag.evidence else None,
            }
        )
    events = Event.objects.filter(institution_id=session.institution_id, session=session).order_by(
        "started_at", "pk"
    )
    timeline = [
        {
            "clock": _clock(_offset(session, e.started_at)),
            "at": e.started_at,
            "what": e.type,
            "source": e.get_source_display(),
            "details": _details(e.payload),
        }
        for e in events[: MAX_TIMELINE_ROWS + 1]
    ]
    timeline += [
        {
            "clock": row["clock"],
            "at": row["flag"].started_at,
            "what": f"Flag: {row['flag'].type}",
            "source": "Flag",
            "details": row["flag"].description,
        }
        for row in flag_rows
    ]
    timeline.sort(key=lambda row: row["at"])
    photo = (
        MediaChunk.objects.filter(
            institution_id=session.institution_id,
            session=session,
            kind__in=[MediaChunk.Kind.REFERENCE, MediaChunk.Kind.SNAPSHOT],
        )
        .order_by("kind", "seq")
        .first()
    )
    score = score_view(session)
    # The candidate's accommodation for this assessment, or else their general one.
    accommodation = (
        Accommodation.objects.filter(
            institution_id=session.institution_id,
            candidate_id=session.candidate_id,
            assessment=session.assessment,
        ).first()
        or Accommodation.objects.filter(
            institution_id=session.institution_id, candidate_id=session.candidate_id, assessment__isnull=True
        ).first()
    )
    return {
        "accommodation": accommodation,
        "session": session,
        "candidate": session.candidate,
        "assessment": session.assessment,
        "institution": session.institution,
        "photo": _data_uri(photo),
        "score": score,
        "band_label": BAND_LABELS[score.band],
        "band_help": BAND_HELP,
        "flag_count": flag_count(session),
        "flags": flag_rows,
        "timeline": timeline[:MAX_TIMELINE_ROWS],
        "timeline_more": max(len(timeline) - MAX_TIMELINE_ROWS, 0),
        "audit": list(audit_log(session=session).order_by("created_at", "pk")),
        "generated_at": timezone.now(),
        "duration": _clock(_offset(session, session.ended_at or timezone.now())),
    }


def session_report_pdf(*, session: ProctoringSession) -> bytes:
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    with translation.override(REPORT_LANGUAGE):
        html = render_to_string("reports/session_report.html", session_report_context(session=session))
    # data: URIs only: the report never fetches a file or a URL.
    fetcher = URLFetcher(allowed_protocols={"data"})
    return HTML(string=html, url_fetcher=fetcher).write_pdf()


def report_filename(session: ProctoringSession) -> str:
    return f"session-report-{session.public_id}.pdf"
