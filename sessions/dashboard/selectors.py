"""Reads for the reviewer and institution dashboards.

Every function takes the caller's current institution and filters by it in
the query, so "missing" and "not yours" are the same 404. The sessions list
is a fixed number of queries whatever the page size: one count, one page
(candidate and assessment joined, the flag count as a correlated subquery,
which the database evaluates for the page's rows only) and one prefetch of
the page's flag types.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.db.models.functions import TruncDate
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from analysis.trust import LOW_RISK, band_for
from proctorme.flag_types import NOT_VIOLATIONS, VIOLATION_TYPES
from sessions.models import AuditLogEntry, Event, Flag, MediaChunk, ProctoringSession
from sessions.scorecard import (
    BAND_LABELS,
    band_or_unscored,
    band_q,
    breakdown_rows,
    breakdown_types,
    counted_flags,
    risk_band,
    score_accommodation,
    with_flag_count,
)
from sessions.scoring import breakdown_json, session_score_compute
from tenants.models import Institution, Membership
from tenants.selectors import institution_roles_for_user

SESSION_KEY = "dashboard_institution"
FLAG_TYPES = VIOLATION_TYPES
BANDS = BAND_LABELS
# The replay never sends more frames than this to the browser; longer sessions are sampled evenly.
MAX_REPLAY_FRAMES = 1500


# --- who is looking, at which institution ---------------------------------------------------


# The role of someone who sees only the courses they launched the tool from as an instructor
# (sessions.lti.models.LtiCourseAccess), in an institution they are no member of.
COURSE_ROLE = "instructor"

# (registration pk, LMS context id) pairs: the courses a course instructor may see.
Courses = tuple[tuple[int, str], ...]


@dataclass(frozen=True)
class DashboardContext:
    institution: Institution
    role: str
    institutions: tuple[Institution, ...]
    # None: the whole institution (members). A tuple: only sessions of LMS attempts launched from
    # these courses (a course instructor); every selector below takes it as ``courses``.
    courses: Courses | None

    @property
    def is_admin(self) -> bool:
        return self.role == Membership.Role.ADMIN

    @property
    def is_course_instructor(self) -> bool:
        return self.courses is not None


def _course_access(user) -> dict[int, list]:
    from sessions.lti.models import LtiCourseAccess

    rows = LtiCourseAccess.objects.filter(user=user, registration__is_active=True).select_related(
        "institution"
    )
    found: dict[int, list] = {}
    for row in rows:
        found.setdefault(row.institution_id, []).append(row)
    return found


def dashboard_context(*, user, chosen: str | None) -> DashboardContext | None:
    """The user's institutions and roles (two queries) and the current one.

    Memberships first; an institution where the user is no member but launched
    the tool as an LMS instructor comes with the role ``instructor`` and its
    courses. ``chosen`` is the public id kept in the Django session by the
    switcher; it counts only while the user may still see it, otherwise the
    first institution is current. ``None`` when the user may see none.
    """
    if not getattr(user, "is_authenticated", False):
        return None
    pairs = institution_roles_for_user(user=user)
    member_of = {i.pk for i, _ in pairs}
    access = {pk: rows for pk, rows in _course_access(user).items() if pk not in member_of}
    pairs += sorted(((rows[0].institution, COURSE_ROLE) for rows in access.values()), key=lambda p: p[0].name)
    if not pairs:
        return None
    institution, role = next((p for p in pairs if str(p[0].public_id) == str(chosen)), pairs[0])
    courses = None
    if role == COURSE_ROLE:
        courses = tuple(sorted((r.registration_id, r.context_id) for r in access[institution.pk]))
    return DashboardContext(institution, role, tuple(p[0] for p in pairs), courses)


def in_courses(queryset: QuerySet, courses: Courses | None, *, via: str = "") -> QuerySet:
    """Sessions (or rows reached from a session ``via`` a relation) within the courses; all of
    them for ``None``. A session is in a course when its LMS attempt was launched from it."""
    if courses is None:
        return queryset
    if not courses:
        return queryset.none()
    query = Q()
    for registration_id, context_id in courses:
        query |= Q(
            **{
                f"{via}lti_attempt__registration_id": registration_id,
                f"{via}lti_attempt__context_id": context_id,
            }
        )
    return queryset.filter(query)


def payload_pairs(payload, *, limit: int = 12) -> list[tuple[str, str]]:
    """A browser signal's payload as (key, value) text pairs for a template.

    The payload is the candidate's browser's to write, so templates never walk
    it themselves: ``payload.items`` in a template reads a key named ``items``
    first, and a candidate could send one.
    """
    if not isinstance(payload, dict):
        return []
    return [(str(key)[:40], str(value)[:80]) for key, value in list(payload.items())[:limit]]


# --- sessions list ----------------------------------------------------------------------------


@dataclass
class SessionFilters:
    assessment: uuid.UUID | None = None
    status: str = ""
    band: str = ""
    verdict: str = ""
    flag_type: str = ""
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""
    sort: str = "-started_at"


SORTS = {
    "-started_at": (_("Newest first"), [F("started_at").desc(), F("pk").desc()]),
    "started_at": (_("Oldest first"), [F("started_at").asc(), F("pk").asc()]),
    "trust_score": (_("Lowest trust score first"), [F("trust_score").asc(nulls_last=True), F("pk").desc()]),
    "-trust_score": (
        _("Highest trust score first"),
        [F("trust_score").desc(nulls_last=True), F("pk").desc()],
    ),
}


def _search_q(text: str) -> Q:
    """Every word must match the candidate's name, e-mail or id; a UUID also matches the session."""
    query = Q()
    for word in text.split()[:6]:
        query &= (
            Q(candidate__first_name__icontains=word)
            | Q(candidate__last_name__icontains=word)
            | Q(candidate__email__icontains=word)
            | Q(candidate__external_id__icontains=word)
        )
    with contextlib.suppress(ValueError):
        query |= Q(public_id=uuid.UUID(text.strip()))
    return query


def session_list(
    *, institution: Institution, filters: SessionFilters, courses: Courses | None
) -> QuerySet[ProctoringSession]:
    qs = in_courses(ProctoringSession.objects.filter(institution=institution), courses)
    if filters.assessment:
        qs = qs.filter(assessment__public_id=filters.assessment)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.band:
        qs = qs.filter(band_q(filters.band))
    if filters.verdict == "pending":
        qs = qs.filter(status=ProctoringSession.Status.COMPLETED, verdict="", trust_score__lt=LOW_RISK)
    elif filters.verdict == "none":
        qs = qs.filter(verdict="")
    elif filters.verdict:
        qs = qs.filter(verdict=filters.verdict)
    if filters.flag_type:
        qs = qs.filter(
            pk__in=Flag.objects.filter(
                institution=institution, type=filters.flag_type, dismissed_at__isnull=True
            ).values("session_id")
        )
    if filters.date_from:
        qs = qs.filter(started_at__date__gte=filters.date_from)
    if filters.date_to:
        qs = qs.filter(started_at__date__lte=filters.date_to)
    if filters.q.strip():
        qs = qs.filter(_search_q(filters.q))
    return (
        with_flag_count(qs)
        .select_related("assessment", "candidate")
        .order_by(*SORTS.get(filters.sort, SORTS["-started_at"])[1])
    )


def session_list_page_prefetch(sessions: list[ProctoringSession]) -> list[ProctoringSession]:
    """One query for the flag types shown as chips on a page of sessions."""
    from django.db.models import prefetch_related_objects

    prefetch_related_objects(
        sessions,
        Prefetch(
            "flags",
            queryset=counted_flags(Flag.objects.all()).only("id", "session_id", "type"),
            to_attr="open_flags",
        ),
    )
    for session in sessions:
        counts: dict[str, int] = {}
        for flag in session.open_flags:
            counts[flag.type] = counts.get(flag.type, 0) + 1
        session.flag_types = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        session.band = band_or_unscored(session.trust_score)
    return sessions


def assessments_for(*, institution: Institution, courses: Courses | None) -> list[tuple[str, str]]:
    assessments = institution.assessments.all()
    if courses is not None:
        sessions = in_courses(ProctoringSession.objects.filter(institution=institution), courses)
        assessments = assessments.filter(pk__in=sessions.values("assessment_id"))
    return [
        (str(public_id), title or external_id)
        for public_id, title, external_id in assessments.order_by("title", "external_id").values_list(
            "public_id", "title", "external_id"
        )
    ]


# --- one session ----------------------------------------------------------------------------------


def session_get(*, institution: Institution, public_id, courses: Courses | None) -> ProctoringSession:
    session = (
        in_courses(ProctoringSession.objects.filter(institution=institution, public_id=public_id), courses)
        .select_related("assessment", "candidate", "institution")
        .first()
    )
    if session is None:
        raise Http404("No such session.")
    return session


def flag_get(*, session: ProctoringSession, public_id) -> Flag:
    flag = (
        Flag.objects.select_related("session")
        .filter(institution_id=session.institution_id, session=session, public_id=public_id)
        .first()
    )
    if flag is None:
        raise Http404("No such flag.")
    return flag


def media_get(*, institution: Institution, public_id, courses: Courses | None) -> MediaChunk:
    chunk = in_courses(
        MediaChunk.objects.filter(institution=institution, public_id=public_id), courses, via="session__"
    ).first()
    if chunk is None:
        raise Http404("No such file.")
    return chunk


@dataclass
class ScoreView:
    automatic: float | None
    band: str
    reviewed: float | None
    reviewed_band: str | None
    final: bool
    breakdown: list[dict] = field(default_factory=list)
    deducted: float = 0.0
    accommodation: dict | None = None


def score_view(session: ProctoringSession) -> ScoreView:
    """The automatic score with its breakdown (live while the session runs) and the reviewed one."""
    data = session.trust_breakdown or {}
    if not breakdown_types(data) and not session.score_final:
        data = breakdown_json(session_score_compute(session=session), session=session)
    score = session.trust_score if session.trust_score is not None else data.get("score")
    rows = breakdown_rows(data)
    reviewed = session.reviewed_score
    return ScoreView(
        automatic=score,
        band=band_or_unscored(score),
        reviewed=reviewed,
        reviewed_band=risk_band(reviewed),
        final=session.score_final,
        breakdown=rows,
        deducted=round(sum(r["deduction"] for r in rows), 1),
        accommodation=score_accommodation(session),
    )


def _offset(session: ProctoringSession, when: datetime | None) -> float:
    if when is None:
        return 0.0
    return max((when - session.started_at).total_seconds(), 0.0)


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def session_recording(*, session: ProctoringSession) -> dict:
    """AutoProctor's recordSession runs (camera, screen) and its captureSwitchedTab screens.

    One query. A run is one MediaRecorder's output: its chunks, joined in order, are one WebM
    file (the replay page joins them in the browser). A page reload starts a new run.
    """
    rows = list(
        MediaChunk.objects.filter(
            session=session, kind__in=[MediaChunk.Kind.RECORDING, MediaChunk.Kind.SCREEN]
        )
        .only("public_id", "kind", "seq", "captured_at", "duration_seconds", "meta")
        .order_by("captured_at", "seq")
    )
    runs: dict[tuple[str, str], dict] = {}
    screens = []
    for chunk in rows:
        t = round(_offset(session, chunk.captured_at), 3)
        if chunk.kind == MediaChunk.Kind.SCREEN:
            screens.append({"id": str(chunk.public_id), "seq": chunk.seq, "t": t, "clock": _clock(t)})
            continue
        meta = chunk.meta or {}
        if meta.get("source") not in ("camera", "screen"):
            continue
        run = runs.setdefault(
            (meta["source"], str(meta.get("run", ""))),
            {
                "source": meta["source"],
                "run": str(meta.get("run", "")),
                "t": t,
                "clock": _clock(t),
                "chunks": [],
            },
        )
        run["chunks"].append(
            {
                "index": meta.get("chunk", 0),
                "url": reverse("dashboard:media", args=[chunk.public_id]),
                "duration": round(chunk.duration_seconds, 1),
            }
        )
    tracks = []
    for run in sorted(runs.values(), key=lambda r: (r["source"] != "camera", r["t"])):
        run["chunks"].sort(key=lambda c: c["index"])
        # A run plays from its first chunk (the WebM header); one whose first chunk is gone cannot.
        if not run["chunks"] or run["chunks"][0]["index"] != 1:
            continue
        run["seconds"] = round(sum(c["duration"] for c in run["chunks"]), 1)
        tracks.append(run)
    return {"recording": tracks, "screens": screens}


def session_replay(*, session: ProctoringSession) -> dict:
    """Everything the replay page shows: frames, timeline lanes, flags, identity photos.

    Four queries whatever the session's length: flags (with their evidence),
    browser signals, captured images, and the reference photo.
    """
    now = timezone.now()
    flags = list(Flag.objects.filter(session=session).select_related("evidence").order_by("started_at", "pk"))
    signals = list(
        Event.objects.filter(session=session, source=Event.Source.BROWSER)
        .only("public_id", "type", "started_at", "ended_at", "payload")
        .order_by("started_at", "pk")
    )
    images = list(
        MediaChunk.objects.filter(session=session, kind__in=[MediaChunk.Kind.FRAME, MediaChunk.Kind.SNAPSHOT])
        .only("public_id", "kind", "seq", "captured_at", "meta")
        .order_by("captured_at", "seq")
    )
    ends = [session.ended_at or now]
    ends += [i.captured_at for i in images[-1:]] + [f.ended_at or f.started_at for f in flags]
    duration = max(_offset(session, max(ends)), 1.0)

    def pct(seconds: float) -> float:
        return round(min(max(seconds / duration * 100, 0.0), 100.0), 3)

    frames = [
        {
            "t": round(_offset(session, chunk.captured_at), 3),
            "id": str(chunk.public_id),
            "kind": chunk.kind,
            "faces": (chunk.meta or {}).get("obs", {}).get("faces"),
        }
        for chunk in images
    ]
    evidence_ids = {str(f.evidence.public_id) for f in flags if f.evidence_id}
    if len(frames) > MAX_REPLAY_FRAMES:
        step = len(frames) / MAX_REPLAY_FRAMES
        keep = {int(i * step) for i in range(MAX_REPLAY_FRAMES)}
        frames = [f for i, f in enumerate(frames) if i in keep or f["id"] in evidence_ids]
    film_step = max(len(frames) // 60, 1)
    filmstrip = [f for i, f in enumerate(frames) if i % film_step == 0]

    flag_rows = []
    lanes: dict[str, list[dict]] = {}
    for flag in flags:
        start = _offset(session, flag.started_at)
        end = _offset(session, flag.ended_at) if flag.ended_at else _offset(session, now)
        evidence = flag.evidence
        row = {
            "flag": flag,
            "id": str(flag.public_id),
            "type": flag.type,
            "t": round(start, 3),
            "clock": _clock(start),
            "duration": round(max(end - start, 0.0), 1),
            "open": flag.ended_at is None,
            "dismissed": flag.dismissed_at is not None,
            "violation": flag.type not in NOT_VIOLATIONS,
            "evidence_id": str(evidence.public_id) if evidence else None,
            "evidence_kind": "audio"
            if evidence and evidence.content_type.startswith("audio/")
            else ("image" if evidence else None),
            "evidence_screen": bool(evidence and evidence.kind == MediaChunk.Kind.SCREEN),
            "left": pct(start),
            "width": max(pct(end) - pct(start), 0.0),
        }
        flag_rows.append(row)
        lanes.setdefault(flag.type, []).append(row)
    signal_rows = [
        {
            "type": event.type,
            "t": round(_offset(session, event.started_at), 3),
            "clock": _clock(_offset(session, event.started_at)),
            "left": pct(_offset(session, event.started_at)),
            "details": payload_pairs(event.payload),
        }
        for event in signals
    ]
    lane_list = [
        {"type": type_, "markers": markers}
        for type_, markers in sorted(lanes.items(), key=lambda kv: (kv[0] in NOT_VIOLATIONS, kv[0]))
    ]
    ticks = []
    if duration > 0:
        step = next((s for s in (10, 30, 60, 120, 300, 600, 900, 1800, 3600) if duration / s <= 8), 7200)
        ticks = [{"left": pct(s), "label": _clock(s)} for s in range(0, int(duration) + 1, step)]

    identity = (session.analysis_state or {}).get("identity", {})
    reference = (
        MediaChunk.objects.filter(session=session, kind=MediaChunk.Kind.REFERENCE).only("public_id").first()
    )
    reference_id, reference_source = None, identity.get("source")
    if reference is not None:
        reference_id, reference_source = str(reference.public_id), "reference"
    elif identity.get("source") == "enrolled":
        enrolled = next(
            (i for i in images if i.kind == MediaChunk.Kind.SNAPSHOT and i.seq == identity.get("seq")), None
        )
        reference_id = str(enrolled.public_id) if enrolled else None
    captured_faces = [
        {
            "id": str(i.public_id),
            "t": round(_offset(session, i.captured_at), 3),
            "clock": _clock(_offset(session, i.captured_at)),
        }
        for i in images
        if i.kind == MediaChunk.Kind.SNAPSHOT and str(i.public_id) != reference_id
    ][:12]
    mismatches = [r for r in flag_rows if r["type"] == "FACE_MISMATCH" and r["evidence_id"]]
    return {
        **session_recording(session=session),
        "duration": duration,
        "duration_clock": _clock(duration),
        "frames": frames,
        "filmstrip": filmstrip,
        "flags": flag_rows,
        "violations": [r for r in flag_rows if r["violation"]],
        "snapshots_count": sum(1 for r in flag_rows if not r["violation"]),
        "lanes": lane_list,
        "signals": signal_rows,
        "ticks": ticks,
        "identity": {
            "reference_id": reference_id,
            "source": reference_source,
            "image_url": session.candidate.image_url,
            "error": identity.get("url_error"),
            "faces": captured_faces,
            "mismatches": mismatches,
        },
        "player": {
            "duration": duration,
            "frames": frames,
        },
        "id_card": _replay_id_card(session),
        "side_view": _replay_side_view(session, duration),
    }


def _replay_id_card(session: ProctoringSession) -> dict | None:
    """AutoProctor's photo-ID step: the card photo shown (the match, else the closest try)."""
    from sessions.idcard import id_card_summary

    summary = id_card_summary(session)
    if summary is None:
        return None
    chunk = summary.pop("chunk")
    return {**summary, "image_id": str(chunk.public_id) if chunk else None}


SIDE_VIEW_FRAMES = 12


def _replay_side_view(session: ProctoringSession, duration: float) -> dict | None:
    """AutoProctor's paired phone: up to 12 side-view frames spread over the session, and its state."""
    from sessions.aux import aux_enabled, aux_status

    if not aux_enabled(session):
        return None
    frames = list(
        MediaChunk.objects.filter(session=session, kind=MediaChunk.Kind.AUX)
        .only("public_id", "seq", "captured_at")
        .order_by("seq")
    )
    step = max(len(frames) // SIDE_VIEW_FRAMES, 1)
    return {
        **aux_status(session=session),
        "count": len(frames),
        "frames": [
            {
                "id": str(f.public_id),
                "t": round(_offset(session, f.captured_at), 3),
                "clock": _clock(_offset(session, f.captured_at)),
            }
            for f in frames[::step][:SIDE_VIEW_FRAMES]
        ],
    }


def analysis_progress(*, session: ProctoringSession) -> dict:
    """How far the final analysis is: analysed images and audio over all uploaded (one query)."""
    counts = MediaChunk.objects.filter(
        session=session,
        kind__in=[MediaChunk.Kind.FRAME, MediaChunk.Kind.SNAPSHOT, MediaChunk.Kind.AUDIO],
    ).aggregate(total=Count("pk"), done=Count("pk", filter=Q(analysed_at__isnull=False)))
    total, done = counts["total"] or 0, counts["done"] or 0
    percent = int(done * 100 / total) if total else 100
    # Observed is not folded: hold at 99 % until the score is final.
    if session.status != ProctoringSession.Status.COMPLETED:
        percent = min(percent, 99)
    return {"total": total, "done": done, "percent": percent}


def audit_log(*, session: ProctoringSession) -> QuerySet[AuditLogEntry]:
    return AuditLogEntry.objects.filter(
        institution_id=session.institution_id, session=session
    ).select_related("flag")


# --- live ---------------------------------------------------------------------------------------


# A widget uploads every 5 s and signals as they happen; quieter than this means trouble.
STALLED_AFTER = timedelta(seconds=20)
OFFLINE_AFTER = timedelta(seconds=60)


def connection_state(last_activity: datetime | None, now: datetime) -> str:
    if last_activity is None or now - last_activity > OFFLINE_AFTER:
        return "offline"
    if now - last_activity > STALLED_AFTER:
        return "stalled"
    return "online"


def live_sessions(*, institution: Institution, courses: Courses | None) -> list[ProctoringSession]:
    """Running sessions with their latest frame, last activity and latest flags (three queries)."""
    now = timezone.now()
    latest = MediaChunk.objects.filter(
        session=OuterRef("pk"), kind__in=[MediaChunk.Kind.FRAME, MediaChunk.Kind.SNAPSHOT]
    ).order_by("-captured_at", "-seq")
    sessions = list(
        with_flag_count(
            in_courses(
                ProctoringSession.objects.filter(
                    institution=institution, status=ProctoringSession.Status.ACTIVE
                ),
                courses,
            )
        )
        .select_related("assessment", "candidate")
        .annotate(
            latest_frame_id=Subquery(latest.values("public_id")[:1]),
            latest_frame_at=Subquery(latest.values("captured_at")[:1]),
        )
        .prefetch_related(
            Prefetch(
                "flags",
                queryset=Flag.objects.exclude(type__in=NOT_VIOLATIONS).order_by("-started_at", "-pk")[:5],
                to_attr="recent_flags",
            )
        )
        .order_by("deadline_at", "started_at")
    )
    for session in sessions:
        activity = [t for t in (session.last_seen_at, session.latest_frame_at) if t]
        session.last_activity = max(activity) if activity else None
        session.connection = connection_state(session.last_activity, now)
        session.seconds_left = (
            max(int((session.deadline_at - now).total_seconds()), 0) if session.deadline_at else None
        )
        session.band = band_or_unscored(session.trust_score)
    return sessions


def accommodations_page(*, institution: Institution) -> dict:
    """The admins' accommodations page: what is set, and whom and what it can be set for."""
    from sessions.models import Accommodation, Assessment, Candidate

    return {
        "accommodations": list(
            Accommodation.objects.filter(institution=institution).select_related("candidate", "assessment")
        ),
        "candidates": list(
            Candidate.objects.filter(institution=institution).order_by("last_name", "first_name")[:2000]
        ),
        "assessments": list(Assessment.objects.filter(institution=institution, archived_at=None)[:500]),
        "history": list(
            AuditLogEntry.objects.filter(
                institution=institution,
                action__in=[
                    AuditLogEntry.Action.ACCOMMODATION_SET,
                    AuditLogEntry.Action.ACCOMMODATION_REMOVED,
                ],
            ).select_related("candidate")[:50]
        ),
    }


def accommodation_get(*, institution: Institution, public_id):
    from sessions.models import Accommodation

    found = Accommodation.objects.filter(institution=institution, public_id=public_id).first()
    if found is None:
        raise Http404("No such accommodation.")
    return found


def live_intervention(*, session: ProctoringSession) -> dict:
    """The live page's intervention panel: the pause, and each message with its acknowledgement."""
    events = Event.objects.filter(
        institution_id=session.institution_id,
        session=session,
        type__in=["PROCTOR_MESSAGE", "MESSAGE_ACKNOWLEDGED"],
    ).order_by("started_at", "pk")
    acknowledged: dict[str, datetime] = {}
    sent = []
    for event in events:
        message_id = str(event.payload.get("messageId", ""))
        if event.type == "MESSAGE_ACKNOWLEDGED":
            acknowledged.setdefault(message_id, event.started_at)
        else:
            sent.append(
                {"id": message_id, "text": event.payload.get("text", ""), "sent_at": event.started_at}
            )
    for message in sent:
        message["acknowledged_at"] = acknowledged.get(message["id"])
    return {"session": session, "paused": session.paused_at is not None, "messages": sent[::-1]}


# --- institution overview -------------------------------------------------------------------------


def institution_overview(*, institution: Institution, days: int = 30, courses: Courses | None) -> dict:
    """Usage and risk over the last ``days`` days (five queries), of the courses if given."""
    today = timezone.localdate()
    since = today - timedelta(days=days - 1)
    sessions = in_courses(ProctoringSession.objects.filter(institution=institution), courses)
    window = sessions.filter(started_at__date__gte=since)
    length = ExpressionWrapper(F("ended_at") - F("started_at"), output_field=DurationField())
    daily = {
        row["day"]: row
        for row in window.annotate(day=TruncDate("started_at"))
        .values("day")
        .annotate(n=Count("pk"), spent=Sum(length, filter=Q(ended_at__isnull=False)))
        .order_by("day")
    }
    per_day, hours_per_day = [], []
    for offset in range(days):
        day = since + timedelta(days=offset)
        row = daily.get(day) or {}
        per_day.append({"day": day.isoformat(), "sessions": row.get("n", 0)})
        spent = row.get("spent")
        hours_per_day.append(round(spent.total_seconds() / 3600, 2) if spent else 0.0)
    buckets = [(lo, lo + 10) for lo in range(0, 100, 10)]
    dist = window.filter(trust_score__isnull=False).aggregate(
        **{
            f"b{lo}": Count("pk", filter=Q(trust_score__gte=lo, trust_score__lt=hi if hi < 100 else 101))
            for lo, hi in buckets
        }
    )
    by_type = list(
        in_courses(
            Flag.objects.filter(
                institution=institution, dismissed_at__isnull=True, session__started_at__date__gte=since
            ),
            courses,
            via="session__",
        )
        .exclude(type__in=NOT_VIOLATIONS)
        .values("type")
        .annotate(n=Count("pk"))
        .order_by("-n", "type")
    )
    pending_qs = sessions.filter(
        status=ProctoringSession.Status.COMPLETED,
        verdict="",
        trust_score__lt=LOW_RISK,
    )
    totals = window.aggregate(
        sessions=Count("pk"),
        active=Count("pk", filter=Q(status=ProctoringSession.Status.ACTIVE)),
        reviewed=Count("pk", filter=~Q(verdict="")),
        high=Count("pk", filter=band_q("high")),
    )
    pending = list(
        pending_qs.select_related("candidate", "assessment").order_by("trust_score", "started_at")[:6]
    )
    return {
        "days": days,
        "since": since,
        "totals": totals,
        "candidate_hours": round(sum(hours_per_day), 1),
        "pending_count": pending_qs.count(),
        "pending": pending,
        "chart": {
            "days": [d["day"] for d in per_day],
            "sessions": [d["sessions"] for d in per_day],
            "hours": hours_per_day,
            "distribution": {
                "labels": [f"{lo}–{hi}" for lo, hi in buckets],
                "counts": [dist[f"b{lo}"] for lo, _ in buckets],
                "bands": [band_for(lo) for lo, _ in buckets],
            },
            "flags": {"labels": [r["type"] for r in by_type], "counts": [r["n"] for r in by_type]},
        },
        "flags_total": sum(r["n"] for r in by_type),
    }
