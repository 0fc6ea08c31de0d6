"""Writes of the integrator API on assessments and candidates (sessions are
written by sessions.services, webhook endpoints by sessions.webhooks)."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from sessions.api.exceptions import AlreadyExists
from sessions.models import Assessment, Candidate
from tenants.models import Institution


def _create_unique(model, *, institution: Institution, external_id: str, **fields):
    existing = model.objects.filter(institution=institution, external_id=external_id).first()
    if existing is None:
        try:
            with transaction.atomic():
                return model.objects.create(institution=institution, external_id=external_id, **fields)
        except IntegrityError:  # created concurrently
            existing = model.objects.filter(institution=institution, external_id=external_id).first()
            if existing is None:
                raise
    raise AlreadyExists(details={"field": "externalId", "id": str(existing.public_id)})


def assessment_create(
    *,
    institution: Institution,
    external_id: str,
    title: str = "",
    duration_seconds: int | None = None,
    retention_days: int | None = None,
    candidate_warnings: bool | None = None,
) -> Assessment:
    return _create_unique(
        Assessment,
        institution=institution,
        external_id=external_id,
        title=title,
        duration_seconds=duration_seconds,
        retention_days=retention_days,
        candidate_warnings=candidate_warnings,
    )


def _update(obj, fields: dict):
    """Set exactly the given fields (a PATCH passes only those present in the request)."""
    for name, value in fields.items():
        setattr(obj, name, value)
    if fields:
        obj.save(update_fields=list(fields))
    return obj


@transaction.atomic
def assessment_update(*, assessment: Assessment, **fields) -> Assessment:
    """Change ``title``, ``duration_seconds`` and / or ``retention_days`` (None clears them)."""
    names = ("title", "duration_seconds", "retention_days", "candidate_warnings")
    allowed = {name: fields[name] for name in names if name in fields}
    return _update(assessment, allowed)


def assessment_archive(*, assessment: Assessment) -> Assessment:
    if assessment.archived_at is None:
        assessment.archived_at = timezone.now()
        assessment.save(update_fields=["archived_at"])
    return assessment


def candidate_create(
    *,
    institution: Institution,
    external_id: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    image_url: str = "",
) -> Candidate:
    return _create_unique(
        Candidate,
        institution=institution,
        external_id=external_id,
        email=email,
        first_name=first_name,
        last_name=last_name,
        image_url=image_url,
    )


@transaction.atomic
def candidate_update(*, candidate: Candidate, **fields) -> Candidate:
    allowed = {
        name: fields[name] for name in ("email", "first_name", "last_name", "image_url") if name in fields
    }
    return _update(candidate, allowed)
