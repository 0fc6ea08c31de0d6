"""Shapes of the integrator API. Public names are camelCase (like the widget
protocol and the webhooks); ids are always the UUID ``public_id``."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sessions import scorecard
from sessions.accommodations import DETECTORS
from sessions.api import selectors
from sessions.models import PrivacyRequest, ProctoringSession
from sessions.webhooks import EVENTS
from tenants.models import MAX_RETENTION_DAYS, WebhookDelivery, WebhookEndpoint

MAX_DURATION_SECONDS = 7 * 24 * 3600
MAX_USAGE_DAYS = 366
USAGE_SINCE, USAGE_UNTIL = date(2000, 1, 1), date(2999, 12, 31)

# --- errors (documentation only: the handler in exceptions.py builds them) -------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. NOT_FOUND.")
    message = serializers.CharField(help_text="Human-readable explanation; do not parse it.")
    details = serializers.DictField(
        help_text="Context. VALIDATION_ERROR: `fields` maps each invalid field to its messages."
    )


class ErrorSerializer(serializers.Serializer):
    error = ErrorDetailSerializer()


# --- pagination ----------------------------------------------------------------------------------

_pages: dict[type, type] = {}


def page_of(item: type[serializers.Serializer]) -> type[serializers.Serializer]:
    """``{"results": [item…], "nextCursor": str|null, "next": url|null}`` as a named component."""
    if item not in _pages:
        name = item.__name__.removesuffix("Serializer") + "PageSerializer"
        _pages[item] = type(
            name,
            (serializers.Serializer,),
            {
                "results": item(many=True),
                "nextCursor": serializers.CharField(
                    allow_null=True, help_text="Pass as `cursor` to get the next page; null on the last."
                ),
                "next": serializers.URLField(allow_null=True, help_text="The next page's URL, or null."),
            },
        )
    return _pages[item]


class PageQuerySerializer(serializers.Serializer):
    cursor = serializers.CharField(
        required=False, allow_blank=True, max_length=500, help_text="From a previous page's nextCursor."
    )
    limit = serializers.IntegerField(required=False, min_value=1, max_value=200, default=50)


# --- assessments and candidates ---------------------------------------------------------------------


class AssessmentSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    externalId = serializers.CharField(source="external_id", help_text="Your id: the page's assessmentId.")
    title = serializers.CharField()
    durationSeconds = serializers.IntegerField(source="duration_seconds", allow_null=True)
    retentionDays = serializers.IntegerField(
        source="retention_days",
        allow_null=True,
        help_text="Days after a session ends until its personal data is deleted; null: the institution's.",
    )
    candidateWarnings = serializers.BooleanField(
        source="candidate_warnings",
        allow_null=True,
        help_text="Warn the candidate at once (out of view, camera covered, too dark); null: the institution's.",
    )
    archived = serializers.SerializerMethodField()
    archivedAt = serializers.DateTimeField(source="archived_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")

    def get_archived(self, obj) -> bool:
        return obj.archived_at is not None


def _duration_seconds_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        source="duration_seconds",
        min_value=1,
        max_value=MAX_DURATION_SECONDS,
        required=False,
        allow_null=True,
    )


def _retention_days_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        source="retention_days",
        min_value=1,
        max_value=MAX_RETENTION_DAYS,
        required=False,
        allow_null=True,
        help_text=f"1 to {MAX_RETENTION_DAYS} days; null: the institution's retention.",
    )


class AssessmentCreateSerializer(serializers.Serializer):
    externalId = serializers.CharField(source="external_id", max_length=200)
    title = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    durationSeconds = _duration_seconds_field()
    retentionDays = _retention_days_field()
    candidateWarnings = serializers.BooleanField(
        source="candidate_warnings", required=False, allow_null=True, default=None
    )


class AssessmentUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300, required=False, allow_blank=True)
    durationSeconds = _duration_seconds_field()
    retentionDays = _retention_days_field()
    candidateWarnings = serializers.BooleanField(source="candidate_warnings", required=False, allow_null=True)


class AssessmentListQuerySerializer(PageQuerySerializer):
    includeArchived = serializers.BooleanField(required=False, default=False)


class CandidateSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    externalId = serializers.CharField(source="external_id", help_text="Your id: the page's candidateId.")
    email = serializers.CharField(allow_blank=True)
    firstName = serializers.CharField(source="first_name", allow_blank=True)
    lastName = serializers.CharField(source="last_name", allow_blank=True)
    imageUrl = serializers.CharField(source="image_url", allow_blank=True)
    createdAt = serializers.DateTimeField(source="created_at")
    erasedAt = serializers.DateTimeField(
        source="erased_at", allow_null=True, help_text="Set once the candidate's personal data was erased."
    )


class CandidateUpdateSerializer(serializers.Serializer):
    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    firstName = serializers.CharField(source="first_name", required=False, allow_blank=True, max_length=150)
    lastName = serializers.CharField(source="last_name", required=False, allow_blank=True, max_length=150)
    imageUrl = serializers.URLField(source="image_url", required=False, allow_blank=True, max_length=1000)


class CandidateCreateSerializer(CandidateUpdateSerializer):
    externalId = serializers.CharField(source="external_id", max_length=200)


class CandidateListQuerySerializer(PageQuerySerializer):
    email = serializers.EmailField(required=False, max_length=254)


# --- sessions -------------------------------------------------------------------------------------


class AssessmentRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    externalId = serializers.CharField(source="external_id")
    title = serializers.CharField()


class CandidateRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    externalId = serializers.CharField(source="external_id")
    email = serializers.CharField(allow_blank=True)
    firstName = serializers.CharField(source="first_name", allow_blank=True)
    lastName = serializers.CharField(source="last_name", allow_blank=True)


class AppliedAccommodationSerializer(serializers.Serializer):
    """The accommodation a session ran with, as its score breakdown names it."""

    id = serializers.UUIDField()
    scope = serializers.ChoiceField(
        choices=["candidate", "assessment"], help_text="For every assessment, or for this one."
    )
    extraSeconds = serializers.IntegerField()
    timeMultiplier = serializers.FloatField()
    disabledDetectors = serializers.ListField(child=serializers.CharField())
    note = serializers.CharField(allow_blank=True)


class SessionSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    attemptId = serializers.CharField(source="attempt_id")
    dialect = serializers.CharField()
    status = serializers.ChoiceField(choices=ProctoringSession.Status.choices)
    assessment = AssessmentRefSerializer()
    candidate = CandidateRefSerializer()
    origin = serializers.CharField(allow_blank=True)
    startedAt = serializers.DateTimeField(source="started_at")
    deadlineAt = serializers.DateTimeField(source="deadline_at", allow_null=True)
    endedAt = serializers.DateTimeField(source="ended_at", allow_null=True)
    endReason = serializers.CharField(source="end_reason", allow_blank=True)
    trustScore = serializers.FloatField(source="trust_score", allow_null=True)
    riskBand = serializers.SerializerMethodField()
    scoreFinal = serializers.BooleanField(source="score_final")
    reviewedScore = serializers.FloatField(source="reviewed_score", allow_null=True)
    verdict = serializers.ChoiceField(choices=ProctoringSession.Verdict.choices, allow_blank=True)
    flagCount = serializers.IntegerField(source="flag_count", help_text="Flags not dismissed by a reviewer.")
    pausedAt = serializers.DateTimeField(
        source="paused_at", allow_null=True, help_text="Set while a proctor has paused the session."
    )
    pausedSeconds = serializers.FloatField(
        source="paused_seconds", help_text="Time spent paused so far; the deadline moved by it."
    )
    accommodation = serializers.SerializerMethodField(
        help_text="The candidate's accommodation this session runs with (and its score names), or null."
    )

    @extend_schema_field(AppliedAccommodationSerializer(allow_null=True))
    def get_accommodation(self, obj) -> dict | None:
        return scorecard.score_accommodation(obj)

    @extend_schema_field(
        serializers.ChoiceField(choices=scorecard.RISK_BANDS, allow_null=True, help_text="null until scored")
    )
    def get_riskBand(self, obj) -> str | None:
        return scorecard.risk_band(obj.trust_score)


class MessageRequestSerializer(serializers.Serializer):
    text = serializers.CharField(
        max_length=1000, help_text="Shown to the candidate until they acknowledge it."
    )


class MessageSerializer(serializers.Serializer):
    messageId = serializers.CharField()
    text = serializers.CharField()
    sentAt = serializers.DateTimeField()


class PauseRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Shown to the candidate while paused."
    )


class TerminateRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(
        max_length=500,
        help_text="Why; the candidate's page gets it with END_PROCTORING / apMonitoringStopped.",
    )


class ExtendRequestSerializer(serializers.Serializer):
    seconds = serializers.IntegerField(
        min_value=1, max_value=6 * 3600, help_text="Seconds added to the deadline."
    )


class SessionListQuerySerializer(PageQuerySerializer):
    assessment = serializers.UUIDField(required=False, help_text="An assessment's id.")
    candidate = serializers.UUIDField(required=False, help_text="A candidate's id.")
    status = serializers.ChoiceField(choices=ProctoringSession.Status.choices, required=False)
    riskBand = serializers.ChoiceField(
        choices=scorecard.RISK_BANDS, required=False, help_text="low ≥ 85, review 60–85, high < 60."
    )
    startedAfter = serializers.DateTimeField(required=False, help_text="Started at or after (ISO 8601).")
    startedBefore = serializers.DateTimeField(required=False, help_text="Started before (ISO 8601).")
    flagType = serializers.CharField(
        required=False, max_length=40, help_text="Only sessions with such a flag, e.g. FACE_ABSENCE."
    )
    testAttemptId = serializers.CharField(
        required=False, max_length=40, help_text="Your AutoProctor testAttemptId (AutoProctor dialect)."
    )
    assessmentId = serializers.CharField(
        required=False, max_length=200, help_text="Your own assessment id (Eye's assessmentId, examId)."
    )
    candidateId = serializers.CharField(
        required=False, max_length=200, help_text="Your own candidate id (Eye's candidateId)."
    )

    def validate(self, attrs):
        institution = self.context["institution"]
        for name, lookup in (
            ("assessment", selectors.assessment_list),
            ("candidate", selectors.candidate_list),
        ):
            if name in attrs:
                queryset = lookup(
                    institution=institution, **({"include_archived": True} if name == "assessment" else {})
                )
                found = queryset.filter(public_id=attrs[name]).first()
                if found is None:
                    raise serializers.ValidationError({name: [f"No such {name}."]})
                attrs[name] = found
        return attrs


class FlagSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    type = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    startedAt = serializers.DateTimeField(source="started_at")
    endedAt = serializers.DateTimeField(source="ended_at", allow_null=True)
    durationSeconds = serializers.FloatField(source="duration_seconds")
    createdAt = serializers.DateTimeField(source="created_at")
    dismissed = serializers.SerializerMethodField()
    dismissedReason = serializers.CharField(source="dismissed_reason", allow_blank=True)
    mediaUrl = serializers.SerializerMethodField(help_text="Short-lived signed URL of the evidence, if any.")

    def get_dismissed(self, obj) -> bool:
        return obj.dismissed_at is not None

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_mediaUrl(self, obj):
        return selectors.evidence_url(chunk=obj.evidence) if obj.evidence_id else None


class EventSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    type = serializers.CharField()
    seq = serializers.IntegerField(
        source="client_seq", allow_null=True, help_text="The widget's sequence number."
    )
    at = serializers.DateTimeField(source="started_at")
    endedAt = serializers.DateTimeField(source="ended_at", allow_null=True)
    payload = serializers.DictField()


class BreakdownRowSerializer(serializers.Serializer):
    type = serializers.CharField()
    count = serializers.IntegerField()
    seconds = serializers.FloatField()
    deduction = serializers.FloatField(help_text="Points taken off 100; the rows add up to 100 − trustScore.")


class EvidenceSerializer(serializers.Serializer):
    flagId = serializers.UUIDField()
    type = serializers.CharField()
    startedAt = serializers.DateTimeField()
    contentType = serializers.CharField()
    mediaUrl = serializers.URLField(allow_null=True)
    dismissed = serializers.BooleanField()


class ReportSerializer(serializers.Serializer):
    sessionId = serializers.UUIDField()
    status = serializers.ChoiceField(choices=ProctoringSession.Status.choices)
    scoreFinal = serializers.BooleanField(help_text="False while the session runs or is being finalised.")
    trustScore = serializers.FloatField(allow_null=True)
    riskBand = serializers.ChoiceField(choices=scorecard.RISK_BANDS, allow_null=True)
    breakdown = BreakdownRowSerializer(many=True)
    accommodation = AppliedAccommodationSerializer(
        allow_null=True, help_text="The candidate's accommodation the score was computed with, if any."
    )
    verdict = serializers.ChoiceField(choices=ProctoringSession.Verdict.choices, allow_blank=True)
    verdictNotes = serializers.CharField(allow_blank=True)
    reviewedScore = serializers.FloatField(allow_null=True)
    evidence = EvidenceSerializer(many=True)
    evidenceExpiresAt = serializers.DateTimeField(help_text="When the evidence URLs stop working.")


# --- webhooks -------------------------------------------------------------------------------------


class WebhookEndpointSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    url = serializers.URLField()
    description = serializers.CharField(allow_blank=True)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENTS), help_text="Empty: every event."
    )
    isActive = serializers.BooleanField(source="is_active")
    format = serializers.ChoiceField(
        source="body_format",
        choices=WebhookEndpoint.BodyFormat.choices,
        help_text='Body of flag deliveries: ours, or Eye by Proctorme\'s (event "Flag"). Signed either way.',
    )
    secretPrefix = serializers.CharField(source="secret_prefix")
    consecutiveFailures = serializers.IntegerField(source="consecutive_failures")
    disabledAt = serializers.DateTimeField(source="disabled_at", allow_null=True)
    disabledReason = serializers.CharField(source="disabled_reason", allow_blank=True)
    createdAt = serializers.DateTimeField(source="created_at")


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(help_text="Signing secret (whsec_…). Shown only in this response.")


class WebhookEndpointCreateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENTS), required=False, default=list, max_length=len(EVENTS)
    )
    format = serializers.ChoiceField(
        source="body_format",
        choices=WebhookEndpoint.BodyFormat.choices,
        required=False,
        default=WebhookEndpoint.BodyFormat.PROCTORME,
    )


class WebhookEndpointUpdateSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500, required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENTS), required=False, max_length=len(EVENTS)
    )
    isActive = serializers.BooleanField(source="is_active", required=False)
    format = serializers.ChoiceField(
        source="body_format", choices=WebhookEndpoint.BodyFormat.choices, required=False
    )


class WebhookAttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    requestedAt = serializers.DateTimeField(source="requested_at")
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)
    responseMs = serializers.IntegerField(source="response_ms")
    succeeded = serializers.BooleanField()
    error = serializers.CharField(allow_blank=True)


class WebhookDeliverySerializer(serializers.Serializer):
    id = serializers.UUIDField(
        source="public_id", help_text="Also the Proctorme-Delivery header (idempotency id)."
    )
    event = serializers.CharField()
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices)
    attemptCount = serializers.IntegerField(source="attempt_count")
    lastStatusCode = serializers.IntegerField(source="last_status_code", allow_null=True)
    lastError = serializers.CharField(source="last_error", allow_blank=True)
    nextAttemptAt = serializers.DateTimeField(source="next_attempt_at", allow_null=True)
    deliveredAt = serializers.DateTimeField(source="delivered_at", allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    payload = serializers.DictField()
    attempts = WebhookAttemptSerializer(many=True)


# --- usage ----------------------------------------------------------------------------------------


class UsageQuerySerializer(serializers.Serializer):
    # "from" is a Python keyword, so it goes into the class namespace by hand.
    vars()["from"] = serializers.DateField(
        required=False, help_text="First day (UTC), inclusive; default 29 days before `to`."
    )
    to = serializers.DateField(required=False, help_text="Last day (UTC), inclusive; default today.")

    def validate(self, attrs):
        last = attrs.get("to") or timezone.now().date()
        first = attrs.get("from")
        for name, day in (("to", last), ("from", first)):
            if day is not None and not USAGE_SINCE <= day <= USAGE_UNTIL:
                raise serializers.ValidationError(
                    {name: [f"Must lie between {USAGE_SINCE} and {USAGE_UNTIL}."]}
                )
        first = first or max(USAGE_SINCE, last - timedelta(days=29))
        if first > last:
            raise serializers.ValidationError({"from": ["Must not be after `to`."]})
        if (last - first).days + 1 > MAX_USAGE_DAYS:
            raise serializers.ValidationError({"from": [f"At most {MAX_USAGE_DAYS} days at once."]})
        return {"first": first, "last": last}


class UsageDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    candidateHours = serializers.FloatField()
    sessionsStarted = serializers.IntegerField()


class UsageSerializer(serializers.Serializer):
    vars()["from"] = serializers.DateField()
    to = serializers.DateField()
    totalCandidateHours = serializers.FloatField()
    days = UsageDaySerializer(many=True)


class ReportCredentialRequestSerializer(serializers.Serializer):
    ttlSeconds = serializers.IntegerField(
        min_value=60, max_value=7 * 24 * 3600, required=False, default=3600, help_text="Lifetime (seconds)."
    )


class ReportCredentialSerializer(serializers.Serializer):
    reportToken = serializers.CharField(
        help_text="Pass it to the widget as credentials.reportToken (or as hashedTestAttemptId)."
    )
    expiresAt = serializers.DateTimeField()
    sessionId = serializers.UUIDField()
    testAttemptId = serializers.CharField(allow_blank=True, help_text="Empty for Eye sessions.")


# --- privacy requests ------------------------------------------------------------------------------


class PrivacyRequestSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    kind = serializers.ChoiceField(choices=PrivacyRequest.Kind.choices)
    candidateId = serializers.UUIDField(source="candidate_public_id")
    createdAt = serializers.DateTimeField(source="created_at")
    counts = serializers.DictField(
        help_text="What was erased: sessions, events, flags, auditEntries, webhookDeliveries, "
        "ltiAttempts, descriptors, mediaBytes and media per kind (frame, snapshot, audio, reference, evidence)."
    )


# --- accommodations -------------------------------------------------------------------------------


class AccommodationSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    candidate = CandidateRefSerializer()
    assessment = AssessmentRefSerializer(
        allow_null=True, help_text="null: every assessment of the candidate."
    )
    extraSeconds = serializers.IntegerField(source="extra_seconds")
    timeMultiplier = serializers.FloatField(source="time_multiplier")
    disabledDetectors = serializers.ListField(source="disabled_detectors", child=serializers.CharField())
    note = serializers.CharField(allow_blank=True, help_text="Shown to reviewers on the session page.")
    updatedAt = serializers.DateTimeField(source="updated_at")


class AccommodationWriteSerializer(serializers.Serializer):
    candidate = serializers.UUIDField(help_text="A candidate's id.")
    assessment = serializers.UUIDField(
        required=False, allow_null=True, help_text="An assessment's id; leave out for every assessment."
    )
    extraSeconds = serializers.IntegerField(required=False, default=0, min_value=0, max_value=24 * 3600)
    timeMultiplier = serializers.DecimalField(
        required=False,
        default=Decimal("1.00"),
        max_digits=4,
        decimal_places=2,
        min_value=Decimal("1.00"),
        max_value=Decimal("4.00"),
        help_text="The exam's length is multiplied by it, then extraSeconds added.",
    )
    disabledDetectors = serializers.ListField(
        required=False,
        default=list,
        child=serializers.ChoiceField(choices=list(DETECTORS)),
        help_text="Flag types never raised for this candidate; every camera one exempts the camera.",
    )
    note = serializers.CharField(required=False, default="", allow_blank=True, max_length=2000)

    def validate(self, attrs):
        institution = self.context["institution"]
        candidate = (
            selectors.candidate_list(institution=institution).filter(public_id=attrs["candidate"]).first()
        )
        if candidate is None:
            raise serializers.ValidationError({"candidate": ["No such candidate."]})
        attrs["candidate"] = candidate
        if attrs.get("assessment"):
            assessment = (
                selectors.assessment_list(institution=institution, include_archived=True)
                .filter(public_id=attrs["assessment"])
                .first()
            )
            if assessment is None:
                raise serializers.ValidationError({"assessment": ["No such assessment."]})
            attrs["assessment"] = assessment
        else:
            attrs["assessment"] = None
        return attrs


class AccommodationUpdateSerializer(serializers.Serializer):
    extraSeconds = serializers.IntegerField(required=False, min_value=0, max_value=24 * 3600)
    timeMultiplier = serializers.DecimalField(
        required=False, max_digits=4, decimal_places=2, min_value=Decimal("1.00"), max_value=Decimal("4.00")
    )
    disabledDetectors = serializers.ListField(
        required=False, child=serializers.ChoiceField(choices=list(DETECTORS))
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class AccommodationListQuerySerializer(PageQuerySerializer):
    candidate = serializers.UUIDField(required=False, help_text="A candidate's id.")

    def validate(self, attrs):
        if "candidate" in attrs:
            found = (
                selectors.candidate_list(institution=self.context["institution"])
                .filter(public_id=attrs["candidate"])
                .first()
            )
            if found is None:
                raise serializers.ValidationError({"candidate": ["No such candidate."]})
            attrs["candidate"] = found
        return attrs
