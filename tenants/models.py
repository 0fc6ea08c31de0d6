from __future__ import annotations

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from proctorme.detector_settings import validate_detector_settings
from tenants.validators import validate_domain_host

# Ten years: beyond it a date far in the past overflows, and no exam needs it.
MAX_RETENTION_DAYS = 3650


def default_detector_settings() -> dict:
    return {}


class Institution(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    # Detector sensitivity and switches, merged over the product defaults
    # (analysis config); an assessment may override them again.
    detector_settings = models.JSONField(
        default=default_detector_settings, blank=True, validators=[validate_detector_settings]
    )
    retention_days = models.PositiveIntegerField(
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RETENTION_DAYS)],
        help_text=(
            f"Personal data (media, identity descriptors, details; names once all of a candidate's "
            f"sessions are past it) is deleted this many days after a session ends (1 to "
            f"{MAX_RETENTION_DAYS}). An assessment may set its own."
        ),
    )
    attempt_credentials_open_report = models.BooleanField(
        default=False,
        help_text=(
            "AutoProctor's showReport() with the attempt's own credentials (clientId, testAttemptId, "
            "hashedTestAttemptId) shows that attempt's report once it has ended, as AutoProctor's "
            "Moodle and WordPress plugins expect. Those credentials are also in the candidate's page, "
            "so the candidate can then read their own finished report. Off: only report credentials "
            "made by your server (REST API) open reports."
        ),
    )
    require_https = models.BooleanField(
        default=False,
        help_text=(
            "The widget works only from https pages of your domains. Off, a domain registered "
            "without a port also accepts plain http and any port (handy for local development)."
        ),
    )
    require_signed_attempts = models.BooleanField(
        default=False,
        help_text=(
            "Eye sessions must carry an attemptSignature made by your server with the secret key "
            "(AutoProctor's hashedTestAttemptId is always required)."
        ),
    )
    candidate_warnings = models.BooleanField(
        default=True,
        help_text=(
            "The widget tells the candidate at once when they are out of view, the camera is covered "
            "or the light is too poor, so they can fix it before it becomes a flag. Switch it off for "
            "silent proctoring; an assessment may override it."
        ),
    )
    max_domains = models.PositiveIntegerField(
        null=True, blank=True, help_text="Leave empty for the platform default."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def domain_limit(self) -> int:
        return self.max_domains or settings.PROCTORME_MAX_DOMAINS


class Domain(models.Model):
    """A host (``exams.example.edu``, ``localhost:8080`` or ``*.example.edu``)."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="domains")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    host = models.CharField(
        max_length=253,
        validators=[validate_domain_host],
        help_text="Host name, optionally with :port; *.example.edu covers its subdomains.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["host"]
        constraints = [
            models.UniqueConstraint(fields=["institution", "host"], name="domain_unique_per_institution")
        ]

    def __str__(self) -> str:
        return self.host

    def clean(self) -> None:
        self.host = (self.host or "").strip().lower()
        if self.institution_id is None:
            return
        others = Domain.objects.filter(institution_id=self.institution_id).exclude(pk=self.pk)
        if others.filter(host=self.host).exists():
            raise ValidationError({"host": "This domain is already registered."})
        limit = Institution.objects.get(pk=self.institution_id).domain_limit
        if others.count() >= limit:
            raise ValidationError(f"An institution may register at most {limit} domains.")


class ApiKey(models.Model):
    class Kind(models.TextChoices):
        PUBLISHABLE = "publishable", "Publishable (widget)"
        SECRET = "secret", "Secret (REST API, signing; never in a page)"
        # Signs attempt ids (hashedTestAttemptId) and nothing else: safe to hand to
        # an LMS plugin that puts its "client secret" into the candidate's page.
        SIGNING = "signing", "Attempt signing (hashedTestAttemptId only)"

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="api_keys")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(
        max_length=16, editable=False, help_text="First characters, for recognising a key."
    )
    key_digest = models.CharField(max_length=64, unique=True, editable=False)
    # Secret and signing keys: encrypted, because the server verifies HMACs with them.
    key_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.get_kind_display()})"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class Membership(models.Model):
    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        REVIEWER = "reviewer", "Reviewer"

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.REVIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["institution", "user"]
        constraints = [models.UniqueConstraint(fields=["institution", "user"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} of {self.institution}"


class WebhookEndpoint(models.Model):
    class BodyFormat(models.TextChoices):
        PROCTORME = "proctorme", "Proctorme (flag.created, session.started, session.completed)"
        EYE = "eye", 'Eye by Proctorme (flags as event "Flag", domain = page origin)'

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="webhook_endpoints")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    # Empty list = every event.
    events = models.JSONField(default=list, blank=True)
    body_format = models.CharField(
        max_length=12,
        choices=BodyFormat.choices,
        default=BodyFormat.PROCTORME,
        help_text="The body of flag deliveries; both are signed the same way.",
    )
    secret_encrypted = models.TextField(editable=False)
    secret_prefix = models.CharField(max_length=16, editable=False)
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=200, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.url

    @property
    def secret(self) -> str:
        from tenants.crypto import decrypt

        return decrypt(self.secret_encrypted)


class WebhookDelivery(models.Model):
    """One event sent to one endpoint; ``public_id`` is the idempotency id of every attempt."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-public_id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint}"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery, kept for the delivery log."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    requested_at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_ms = models.PositiveIntegerField(default=0)
    succeeded = models.BooleanField(default=False)
    error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["requested_at", "number"]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"
