"""AutoProctor's showReport(): one attempt's report, read from the integrator's page.

Who may read a report from a browser (the page's origin must be a registered
domain of the institution, and ``clientId`` its publishable key):

* a **report credential** (``rpt_…``) that the institution's server made with
  the REST API for one session. It expires, names that session only, and is
  refused by every other endpoint (it cannot start, resume or end anything:
  it is signed with its own salt and no other reader accepts it);
* the attempt's **own credentials** (``testAttemptId`` + ``hashedTestAttemptId``),
  only when the institution switched on ``attempt_credentials_open_report``
  and only once the attempt has ended. AutoProctor's Moodle and WordPress
  plugins load the report this way. Those credentials are in the candidate's
  page too, so with the switch on a candidate can read their own finished
  report — never a running one, never another attempt's.

Anything else answers REPORT_NOT_AVAILABLE or INVALID_REPORT_CREDENTIAL, with
no report data.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from django.conf import settings
from django.core import signing

from proctorme.errors import InvalidReportCredential, ReportNotAvailable
from proctorme.times import iso
from sessions.config import autoproctor_attempt_key
from sessions.media import media_signed_url
from sessions.models import Flag, MediaChunk, ProctoringSession
from sessions.scorecard import breakdown_rows, risk_band
from tenants.models import Institution
from tenants.services import attempt_signature_verify, widget_key_check

REPORT_TOKEN_PREFIX = "rpt_"
_SALT = "proctorme.report-credential.v1"
DEFAULT_REPORT_TTL = 3600
MAX_REPORT_TTL = 7 * 24 * 3600


def report_credential_make(
    *, session: ProctoringSession, ttl_seconds: int = DEFAULT_REPORT_TTL
) -> tuple[str, datetime]:
    """A credential that reads this session's report until it expires, and does nothing else."""
    expires = int(time.time()) + max(60, min(ttl_seconds, MAX_REPORT_TTL))
    body = {"s": str(session.public_id), "i": str(session.institution.public_id), "x": expires}
    return REPORT_TOKEN_PREFIX + signing.dumps(body, salt=_SALT), datetime.fromtimestamp(expires, UTC)


def _report_credential_read(token: str, institution: Institution) -> str:
    if not token.startswith(REPORT_TOKEN_PREFIX):
        raise InvalidReportCredential()
    try:
        data = signing.loads(token[len(REPORT_TOKEN_PREFIX) :], salt=_SALT)
    except signing.BadSignature:
        raise InvalidReportCredential() from None
    if not isinstance(data, dict) or data.get("i") != str(institution.public_id):
        raise InvalidReportCredential()
    if data.get("x", 0) < time.time():
        raise InvalidReportCredential("The report credential has expired.")
    return data["s"]


def report_session_for_page(
    *,
    client_id: str,
    origin: str | None,
    test_attempt_id: str = "",
    hashed_test_attempt_id: str = "",
    report_token: str = "",
) -> ProctoringSession:
    """The session whose report these page credentials may read, or an error (see module doc)."""
    api_key = widget_key_check(key=client_id, origin=origin)
    institution = api_key.institution
    sessions = ProctoringSession.objects.filter(institution=institution).select_related(
        "assessment", "candidate", "institution"
    )
    # A report credential may come in its own key or where AutoProctor's credentials put the hash.
    if not report_token and hashed_test_attempt_id.startswith(REPORT_TOKEN_PREFIX):
        report_token = hashed_test_attempt_id
    if report_token:
        session = sessions.filter(public_id=_report_credential_read(report_token, institution)).first()
        if session is None:
            raise InvalidReportCredential()
        if test_attempt_id and session.attempt_id != autoproctor_attempt_key(test_attempt_id):
            raise InvalidReportCredential("The report credential is for another attempt.")
        return session
    if not institution.attempt_credentials_open_report or not (test_attempt_id and hashed_test_attempt_id):
        raise ReportNotAvailable()
    attempt_signature_verify(
        institution=institution, attempt_id=test_attempt_id, signature=hashed_test_attempt_id
    )
    session = sessions.filter(
        dialect=ProctoringSession.Dialect.AUTOPROCTOR, attempt_id=autoproctor_attempt_key(test_attempt_id)
    ).first()
    if session is None or session.status == ProctoringSession.Status.ACTIVE:
        raise ReportNotAvailable(
            "The attempt's own credentials open its report only once the attempt has ended."
        )
    return session


def _media(chunk: MediaChunk | None) -> dict | None:
    if chunk is None:
        return None
    ttl = settings.PROCTORME_EVIDENCE_URL_TTL
    return {
        "url": media_signed_url(chunk, ttl_seconds=ttl, absolute=False),
        "contentType": chunk.content_type,
    }


def report_for_page(*, session: ProctoringSession) -> dict:
    """What showReport() renders: who, when, the trust score and every flag with its evidence."""
    flags = (
        Flag.objects.filter(institution_id=session.institution_id, session=session, dismissed_at=None)
        .select_related("evidence")
        .order_by("started_at", "pk")
    )
    photo = (
        MediaChunk.objects.filter(
            session=session, kind__in=[MediaChunk.Kind.REFERENCE, MediaChunk.Kind.SNAPSHOT]
        )
        .order_by("kind", "seq")  # an identity reference before the first snapshot
        .first()
    )
    candidate = session.candidate
    return {
        "sessionId": str(session.public_id),
        "testAttemptId": session.config.get("testAttemptId", ""),
        "status": session.status,
        "assessment": {"id": session.assessment.external_id, "title": session.assessment.title},
        "candidate": {
            "name": " ".join(part for part in (candidate.first_name, candidate.last_name) if part),
            "email": candidate.email,
            "photo": _media(photo),
        },
        "startedAt": iso(session.started_at),
        "submittedAt": iso(session.ended_at),
        "trustScore": session.trust_score if session.score_final else None,
        "riskBand": risk_band(session.trust_score) if session.score_final else None,
        "breakdown": breakdown_rows(session.trust_breakdown) if session.score_final else [],
        "flags": [
            {
                "type": flag.type,
                "evidenceKind": flag.evidence.kind if flag.evidence else None,
                "description": flag.description,
                "startedAt": iso(flag.started_at),
                "endedAt": iso(flag.ended_at),
                "durationSeconds": round(flag.duration_seconds, 3),
                "evidence": _media(flag.evidence),
            }
            for flag in flags
        ],
        "recording": _recording(session),
        "idCard": _id_card(session),
        "auxiliaryDevice": _auxiliary(session),
    }


def _id_card(session: ProctoringSession) -> dict | None:
    """The photo-ID step (idCardVerification): its result and the card photo shown."""
    from sessions.idcard import id_card_summary

    summary = id_card_summary(session)
    if summary is None:
        return None
    chunk = summary.pop("chunk")
    return {**summary, "image": _media(chunk)}


AUX_FRAMES_IN_REPORT = 6


def _auxiliary(session: ProctoringSession) -> dict | None:
    """The paired phone (auxiliaryDevice): its state, drops and a few side-view frames."""
    from sessions.aux import aux_enabled, aux_status

    if not aux_enabled(session):
        return None
    frames = list(MediaChunk.objects.filter(session=session, kind=MediaChunk.Kind.AUX).order_by("seq"))
    step = max(len(frames) // AUX_FRAMES_IN_REPORT, 1)
    shown = frames[::step][:AUX_FRAMES_IN_REPORT]
    return {
        **aux_status(session=session),
        "frames": len(frames),
        "sideView": [{"capturedAt": iso(chunk.captured_at), **_media(chunk)} for chunk in shown],
    }


def _recording(session: ProctoringSession) -> dict | None:
    """recordSession's runs per source, in order, or None without any.

    A run's parts, joined in order, are one WebM file (the first part holds its header);
    showReport() fetches and joins them. Runs whose first part is gone are left out.
    """
    chunks = MediaChunk.objects.filter(session=session, kind=MediaChunk.Kind.RECORDING).order_by(
        "captured_at", "seq"
    )
    runs: dict[tuple[str, str], dict] = {}
    for chunk in chunks:
        meta = chunk.meta or {}
        source = meta.get("source")
        if source not in ("camera", "screen"):
            continue
        run = runs.setdefault(
            (source, str(meta.get("run", ""))),
            {"source": source, "startedAt": iso(chunk.captured_at), "durationSeconds": 0.0, "parts": []},
        )
        run["parts"].append((meta.get("chunk", 0), _media(chunk)))
        run["durationSeconds"] = round(run["durationSeconds"] + chunk.duration_seconds, 1)
    tracks: dict[str, list[dict]] = {}
    for run in runs.values():
        run["parts"].sort(key=lambda part: part[0])
        if run["parts"][0][0] != 1:
            continue
        run["parts"] = [media for _, media in run["parts"]]
        tracks.setdefault(run.pop("source"), []).append(run)
    return tracks or None
