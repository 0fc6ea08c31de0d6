from __future__ import annotations

from django.db.models import OuterRef, QuerySet, Subquery

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


def institution_roles_for_user(*, user) -> list[tuple[Institution, str]]:
    """Each institution the user may see (the rule of institutions_for_user) with their role, by name.

    A superuser sees every institution as an admin, as membership_role says."""
    if not getattr(user, "is_authenticated", False):
        return []
    roles = Membership.objects.filter(user=user, institution=OuterRef("pk")).values("role")[:1]
    rows = institutions_for_user(user=user).order_by("name").annotate(member_role=Subquery(roles))
    return [(i, Membership.Role.ADMIN if user.is_superuser else i.member_role) for i in rows]


def membership_role(*, user, institution: Institution) -> str | None:
    if user.is_superuser:
        return Membership.Role.ADMIN
    return (
        Membership.objects.filter(user=user, institution=institution).values_list("role", flat=True).first()
    )


def users_for_password_reset(*, email: str) -> list:
    """Active accounts with this address that may get a reset link.

    Like Django's PasswordResetForm.get_users, plus invited members whose
    account has no password yet (they lost or let expire their invitation).
    """
    from django.contrib.auth import get_user_model
    from django.contrib.auth.forms import _unicode_ci_compare

    users = get_user_model()._default_manager.filter(email__iexact=email, is_active=True)
    return [
        user
        for user in users
        if _unicode_ci_compare(email, user.email)
        and (user.has_usable_password() or user.memberships.exists())
    ]
