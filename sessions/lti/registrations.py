"""LMS registrations: services write, selectors read, always scoped to one institution."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import Http404
from django.urls import reverse

from proctorme.errors import ProctormeError
from sessions.lti.models import LtiRegistration
from tenants.models import Institution

FIELDS = (
    "name",
    "issuer",
    "client_id",
    "deployment_ids",
    "auth_login_url",
    "auth_token_url",
    "key_set_url",
    "staff_reviewers",
)


class RegistrationExists(ProctormeError):
    code = "ALREADY_EXISTS"

    def __init__(self):
        super().__init__("This institution already has a registration with this issuer and client id.")


def _clean_deployments(value) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ProctormeError(
            "deployment_ids must be a list of non-empty strings.",
            code="VALIDATION_ERROR",
            details={"fields": {"deploymentIds": ["A list of non-empty strings."]}},
        )
    return list(dict.fromkeys(item.strip() for item in value))


def lti_registration_create(*, institution: Institution, **fields) -> LtiRegistration:
    fields["deployment_ids"] = _clean_deployments(fields.get("deployment_ids", []))
    try:
        with transaction.atomic():
            return LtiRegistration.objects.create(
                institution=institution, **{k: v for k, v in fields.items() if k in FIELDS}
            )
    except IntegrityError:
        raise RegistrationExists() from None


def lti_registration_update(*, registration: LtiRegistration, **fields) -> LtiRegistration:
    if "deployment_ids" in fields:
        fields["deployment_ids"] = _clean_deployments(fields["deployment_ids"])
    for name, value in fields.items():
        if name in FIELDS or name == "is_active":
            setattr(registration, name, value)
    try:
        with transaction.atomic():
            registration.save()
    except IntegrityError:
        raise RegistrationExists() from None
    return registration


def lti_registration_list(*, institution: Institution) -> QuerySet[LtiRegistration]:
    return LtiRegistration.objects.filter(institution=institution)


def lti_registration_get(*, institution: Institution, public_id) -> LtiRegistration:
    registration = LtiRegistration.objects.filter(institution=institution, public_id=public_id).first()
    if registration is None:
        raise Http404("No such registration.")
    return registration


def lti_tool_urls(*, institution: Institution, base_url: str) -> dict[str, str]:
    """What an LMS administrator types into the LMS when registering the tool."""
    base = base_url.rstrip("/")

    def url(name: str) -> str:
        return base + reverse(name, args=[institution.public_id])

    return {
        "loginUrl": url("lti-login"),
        "launchUrl": url("lti-launch"),
        "redirectUrl": url("lti-launch"),
        "jwksUrl": url("lti-jwks"),
        "deepLinkingUrl": url("lti-launch"),
    }
