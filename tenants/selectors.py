from __future__ import annotations

from django.db.models import QuerySet

from tenants.models import Institution, Membership


def institutions_for_user(*, user, role: str | None = None) -> QuerySet[Institution]:
    """Institutions the user belongs to (with the given role); every one for a superuser."""
    if not getattr(user, "is_authenticated", False):
        return Institution.objects.none()
    if user.is_superuser:
        return Institution.objects.all()
    memberships = Membership.objects.filter(user=user)
    if role:
        memberships = memberships.filter(role=role)
    return Institution.objects.filter(pk__in=memberships.values("institution_id"))


def membership_role(*, user, institution: Institution) -> str | None:
    if user.is_superuser:
        return Membership.Role.ADMIN
    return (
        Membership.objects.filter(user=user, institution=institution).values_list("role", flat=True).first()
    )
