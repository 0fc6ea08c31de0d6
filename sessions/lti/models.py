"""LMS integration: registrations of platforms, the tool's keys, launches and attempts.

Everything is owned by one institution (non-null ``institution``, UUID
``public_id``). A platform is identified by (issuer, client id) within the
institution whose launch URL it calls, so a registration of another
institution can never be used through this institution's URLs.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from sessions.models import ProctoringSession
from tenants.models import Institution


class LtiRegistration(models.Model):
    """One LMS (platform) that launches this tool for an institution."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="lti_registrations")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200, help_text="For you: e.g. “Moodle production”.")
    issuer = models.CharField(
        max_length=300, help_text="The platform's issuer (iss), e.g. https://moodle.alpha.edu"
    )
    client_id = models.CharField(max_length=200, help_text="The client id the platform gave this tool.")
    deployment_ids = models.JSONField(
        default=list, blank=True, help_text="Deployment ids accepted from this platform (a JSON list)."
    )
    auth_login_url = models.URLField(max_length=500, help_text="Platform OIDC authentication request URL.")
    auth_token_url = models.URLField(max_length=500, help_text="Platform OAuth2 access token URL.")
    key_set_url = models.URLField(max_length=500, help_text="Platform public keyset (JWKS) URL.")
    is_active = models.BooleanField(default=True)
    staff_reviewers = models.BooleanField(
        "LMS administrators are reviewers",
        default=False,
        help_text="LMS institution or system administrators launching the tool become reviewers of the "
        "whole institution without a Proctorme password. Instructors always see their own course only.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "LMS registration"
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "issuer", "client_id"], name="lti_registration_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name or self.issuer


class LtiToolKey(models.Model):
    """An RSA key pair the tool signs with for one institution; rotated, old ones published a while."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="lti_tool_keys")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kid = models.CharField(max_length=64, unique=True, editable=False)
    private_key_encrypted = models.TextField(editable=False)
    public_jwk = models.JSONField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set when a newer key replaced it: still published until the grace period ends.
    retired_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "LTI tool key"

    def __str__(self) -> str:
        return self.kid


class LtiLoginState(models.Model):
    """One OIDC login initiation: the state and nonce we sent, used at most once."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    registration = models.ForeignKey(LtiRegistration, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=64, unique=True)
    nonce = models.CharField(max_length=64, unique=True)
    target_link_uri = models.URLField(max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"login {self.state[:8]}…"


class LtiAttempt(models.Model):
    """One proctored attempt started by LtiStartProctoring, and what the platform offered for it."""

    class Status(models.TextChoices):
        PROCTORING = "proctoring", _("Consent and system check")
        ASSESSMENT = "assessment", _("Assessment started")
        ENDED = "ended", _("Ended")

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    registration = models.ForeignKey(LtiRegistration, on_delete=models.PROTECT, related_name="attempts")
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.OneToOneField(
        ProctoringSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="lti_attempt"
    )
    deployment_id = models.CharField(max_length=255)
    user_sub = models.CharField(max_length=255)
    context_id = models.CharField(max_length=255, blank=True)
    resource_link_id = models.CharField(max_length=255)
    attempt_number = models.PositiveIntegerField()
    session_data = models.TextField()
    start_assessment_url = models.URLField(max_length=1000)
    end_assessment_return = models.BooleanField(default=False)
    acs_url = models.URLField(max_length=1000, blank=True)
    acs_actions = models.JSONField(default=list, blank=True)
    ags_lineitems_url = models.URLField(max_length=1000, blank=True)
    ags_scopes = models.JSONField(default=list, blank=True)
    # Where our trust score goes: our own line item, never the quiz's.
    ags_lineitem_url = models.URLField(max_length=1000, blank=True)
    claims = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROCTORING)
    created_at = models.DateTimeField(auto_now_add=True)
    assessment_started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "resource_link_id", "user_sub", "attempt_number"],
                name="lti_attempt_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_sub} #{self.attempt_number} on {self.resource_link_id}"


class LtiCourseAccess(models.Model):
    """An LMS user who launched the tool as instructor of one course (context): the dashboard shows
    them the sessions of that course's attempts, and nothing else of the institution."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    registration = models.ForeignKey(LtiRegistration, on_delete=models.CASCADE, related_name="course_access")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="lti_courses")
    context_id = models.CharField(max_length=255)
    context_title = models.CharField(max_length=300, blank=True)
    roles = models.JSONField(default=list, blank=True)
    first_launch_at = models.DateTimeField(auto_now_add=True)
    last_launch_at = models.DateTimeField()

    class Meta:
        ordering = ["context_title", "context_id"]
        verbose_name = "LMS course access"
        verbose_name_plural = "LMS course access"
        constraints = [
            models.UniqueConstraint(
                fields=["registration", "user", "context_id"], name="lti_course_access_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.context_title or self.context_id}"


class LtiServiceCall(models.Model):
    """One call to a platform service (ACS, AGS), kept for the admin and for debugging."""

    institution = models.ForeignKey(Institution, on_delete=models.CASCADE, related_name="+")
    attempt = models.ForeignKey(LtiAttempt, on_delete=models.CASCADE, related_name="service_calls")
    service = models.CharField(max_length=8)  # "acs" | "ags"
    action = models.CharField(max_length=40)
    url = models.URLField(max_length=1000)
    request_body = models.JSONField(default=dict, blank=True)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    succeeded = models.BooleanField(default=False)
    response_body = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.service} {self.action} → {self.status_code}"
