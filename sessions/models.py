from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from proctorme.detector_settings import validate_detector_settings
from tenants.models import MAX_RETENTION_DAYS, Institution


class Assessment(models.Model):
    """An exam as the integrator names it (``assessmentId`` on the page)."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="assessments")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=200)
    title = models.CharField(max_length=300, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Detector overrides for this assessment, merged over the institution's.
    detector_settings = models.JSONField(default=dict, blank=True, validators=[validate_detector_settings])
    # Tell the candidate at once when they are out of view, the camera is covered or the light is
    # too poor (sessions.warnings); None follows the institution's candidate_warnings.
    candidate_warnings = models.BooleanField(null=True, blank=True)
    # Personal data of this assessment's sessions is deleted this many days after each ends;
    # empty: the institution's retention_days.
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RETENTION_DAYS)],
        help_text=(
            f"Personal data of this assessment's sessions is deleted this many days after a session "
            f"ends (1 to {MAX_RETENTION_DAYS}). Empty: the institution's retention."
        ),
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "external_id"], name="assessment_external_id_unique"
            )
        ]

    def __str__(self) -> str:
        return self.title or self.external_id


class Candidate(models.Model):
    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="candidates")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    external_id = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    image_url = models.URLField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when the candidate's personal data was erased (on request or past retention): the row
    # stays as a tombstone so sessions, flags and usage still count.
    erased_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "external_id"], name="candidate_external_id_unique"
            )
        ]

    def __str__(self) -> str:
        name = f"{self.first_name} {self.last_name}".strip()
        return name or self.email or self.external_id


class ProctoringSession(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        FINALISING = "finalising", _("Finalising")
        COMPLETED = "completed", _("Completed")

    class Dialect(models.TextChoices):
        EYE = "eye", "Eye by Proctorme"
        AUTOPROCTOR = "autoproctor", "AutoProctor"

    class Verdict(models.TextChoices):
        NONE = "", _("Not reviewed")
        CLEARED = "cleared", _("Cleared")
        SUSPICIOUS = "suspicious", _("Suspicious")
        VIOLATION = "violation", _("Violation")

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="sessions")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="sessions")
    candidate = models.ForeignKey(Candidate, on_delete=models.PROTECT, related_name="sessions")
    # One session per attempt: Eye's escaped "eye:assessmentId:candidateId"
    # (sessions.config.eye_attempt_id), AutoProctor's "ap:testAttemptId".
    attempt_id = models.CharField(max_length=1250)
    # SHA-256 of the secret the widget chose when it created the session: a resume
    # must present it (or a server-signed attempt), so knowing the ids is not enough.
    resume_digest = models.CharField(max_length=64, blank=True, editable=False)
    dialect = models.CharField(max_length=12, choices=Dialect.choices, default=Dialect.EYE)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    origin = models.CharField(max_length=300, blank=True)
    # multiSessionAttempt only: the client address the attempt last ran on (its start, then each
    # resume by its own browser); personal data, erased with the session's (sessions.privacy).
    client_ip = models.GenericIPAddressField(null=True, blank=True, editable=False)
    config = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    deadline_at = models.DateTimeField(null=True, blank=True, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=40, blank=True)
    # A reviewer's pause (sessions.intervention): the clock stops, the deadline moves on resume.
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.FloatField(default=0)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    last_client_seq = models.BigIntegerField(default=0)
    # Cursors and detector states of the analysis (sessions.analysis_pipeline).
    analysis_state = models.JSONField(default=dict, blank=True)
    trust_score = models.FloatField(null=True, blank=True, db_index=True)
    trust_breakdown = models.JSONField(default=dict, blank=True)
    score_final = models.BooleanField(default=False)
    reviewed_score = models.FloatField(null=True, blank=True)
    verdict = models.CharField(max_length=12, choices=Verdict.choices, blank=True, default="")
    verdict_notes = models.TextField(blank=True)
    # Set once the session's personal data is gone (retention or erasure); its counts stay.
    personal_data_deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "attempt_id"], name="session_attempt_unique")
        ]
        indexes = [models.Index(fields=["institution", "status", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.candidate} – {self.assessment}"


class Event(models.Model):
    """Everything that happened in a session, in order: browser signals, lifecycle, flags."""

    class Source(models.TextChoices):
        BROWSER = "browser", "Browser"
        SERVER = "server", "Server"
        ANALYSIS = "analysis", "Analysis"

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(ProctoringSession, on_delete=models.CASCADE, related_name="events")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=40, db_index=True)
    source = models.CharField(max_length=10, choices=Source.choices)
    # The client's per-session sequence number (browser events only): duplicates are dropped on it.
    client_seq = models.BigIntegerField(null=True, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["started_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "client_seq"],
                condition=models.Q(client_seq__isnull=False),
                name="event_client_seq_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} @ {self.started_at:%H:%M:%S}"


class MediaChunk(models.Model):
    class Kind(models.TextChoices):
        FRAME = "frame", "Frame batch"
        SNAPSHOT = "snapshot", "Snapshot"
        AUDIO = "audio", "Audio batch"
        REFERENCE = "reference", "Identity reference"
        EVIDENCE = "evidence", "Evidence"
        # AutoProctor's idCardVerification: the photo ID the candidate held up, one per attempt.
        ID_CARD = "idcard", "Photo ID"
        # AutoProctor's auxiliaryDevice: the paired phone's side view.
        AUX = "aux", "Phone side view"
        # AutoProctor's captureSwitchedTab: a frame of the shared screen when focus leaves the exam.
        SCREEN = "screen", "Screen capture"
        # AutoProctor's recordSession: a chunk of a WebM recording of the camera (with sound) or the screen.
        RECORDING = "recording", "Session recording"

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(ProctoringSession, on_delete=models.CASCADE, related_name="media")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    seq = models.BigIntegerField()
    captured_at = models.DateTimeField()
    duration_seconds = models.FloatField(default=0)
    file = models.FileField(upload_to="sessions/%Y/%m/%d", max_length=300)
    content_type = models.CharField(max_length=60)
    size = models.PositiveIntegerField(default=0)
    meta = models.JSONField(default=dict, blank=True)
    analysed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["captured_at", "seq"]
        constraints = [models.UniqueConstraint(fields=["session", "kind", "seq"], name="media_chunk_unique")]
        indexes = [
            # /metrics: uploads over the last minute, and the oldest upload not analysed yet.
            models.Index(fields=["created_at"], name="media_created_idx"),
            models.Index(
                fields=["created_at"],
                name="media_unanalysed_idx",
                condition=models.Q(analysed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.seq}"


class AuxDevice(models.Model):
    """A phone paired to a session (AutoProctor's auxiliaryDevice) as its second, side view.

    The laptop's widget asks for a pairing; its QR code carries a pairing secret that works
    once, for a few minutes, for this session only. The phone that claims it gets a device
    secret that can upload side-view frames of this session and nothing else. Only digests
    are stored. ``last_seen_at`` is the phone's heartbeat; a phone silent for longer than
    ``PROCTORME_AUX_HEARTBEAT_TIMEOUT`` is disconnected (``AUX_DISCONNECTED``)."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(ProctoringSession, on_delete=models.CASCADE, related_name="aux_devices")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    label = models.CharField(max_length=12)
    pairing_digest = models.CharField(max_length=64, unique=True)
    pairing_expires_at = models.DateTimeField()
    device_digest = models.CharField(max_length=64, blank=True, db_index=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    paired_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    disconnected_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"phone {self.label}"


class Flag(models.Model):
    """A violation episode (one per episode, not one per frame) or a browser violation."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    session = models.ForeignKey(ProctoringSession, on_delete=models.CASCADE, related_name="flags")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=40, db_index=True)
    description = models.CharField(max_length=500, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(default=0)
    # Stable identity of the episode so re-analysis updates instead of duplicating.
    episode_key = models.CharField(max_length=120)
    evidence = models.ForeignKey(
        MediaChunk, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payload = models.JSONField(default=dict, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["started_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["session", "type", "episode_key"], name="flag_episode_unique")
        ]

    def __str__(self) -> str:
        return f"{self.type} @ {self.started_at:%H:%M:%S}"


class Accommodation(models.Model):
    """What one candidate is granted: for every assessment (``assessment`` empty) or for one.

    Applied when a session starts (sessions.accommodations): more time or a multiplier of the
    exam's length (the server's deadline follows), detectors switched off, and a note reviewers
    see. The one for the assessment, when there is one, replaces the candidate's general one.
    """

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="accommodations")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="accommodations")
    assessment = models.ForeignKey(
        Assessment, null=True, blank=True, on_delete=models.CASCADE, related_name="accommodations"
    )
    extra_seconds = models.PositiveIntegerField(default=0)
    time_multiplier = models.DecimalField(max_digits=4, decimal_places=2, default=1)
    disabled_detectors = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidate", "assessment"],
                name="accommodation_unique_per_assessment",
                condition=models.Q(assessment__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["candidate"],
                name="accommodation_unique_general",
                condition=models.Q(assessment__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.candidate} – {self.assessment or 'every assessment'}"


class AuditLogEntry(models.Model):
    """One person's action on a session or a candidate (verdict, flag dismissed or restored,
    live intervention, accommodation), never edited."""

    class Action(models.TextChoices):
        VERDICT = "verdict", "Verdict recorded"
        FLAG_DISMISSED = "flag_dismissed", "Flag dismissed"
        FLAG_RESTORED = "flag_restored", "Flag restored"
        MESSAGE_SENT = "message_sent", "Message sent to the candidate"
        PAUSED = "paused", "Session paused"
        RESUMED = "resumed", "Session resumed"
        TERMINATED = "terminated", "Session terminated"
        EXTENDED = "extended", "Time extended"
        ACCOMMODATION_SET = "accommodation_set", "Accommodation set"
        ACCOMMODATION_REMOVED = "accommodation_removed", "Accommodation removed"

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    # Empty for an entry about a candidate rather than one session (an accommodation).
    session = models.ForeignKey(
        ProctoringSession, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_entries"
    )
    candidate = models.ForeignKey(
        Candidate, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_entries"
    )
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    flag = models.ForeignKey(Flag, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept as written at the time, so the log still names someone whose account is gone.
    actor_label = models.CharField(max_length=254)
    action = models.CharField(max_length=24, choices=Action.choices)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "audit log entries"

    def __str__(self) -> str:
        return f"{self.get_action_display()} by {self.actor_label}"


class PrivacyRequest(models.Model):
    """One export or erasure of a candidate's data, never edited.

    It holds no personal data: the candidate is named by our own random id, and
    ``counts`` says how much of what was exported or erased.
    """

    class Kind(models.TextChoices):
        EXPORT = "export", "Data exported"
        ERASURE = "erasure", "Data erased on request"
        RETENTION = "retention", "Data erased past retention"

    class Via(models.TextChoices):
        ADMIN = "admin", "Admin"
        API = "api", "REST API"
        SYSTEM = "system", "Retention purge"

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    via = models.CharField(max_length=10, choices=Via.choices)
    candidate_public_id = models.UUIDField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Who asked, as written at the time: a staff account or "api key sk_ab12…".
    actor_label = models.CharField(max_length=254)
    counts = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.actor_label}"
