"""tenants.selectors: who sees which institution, with which role, and who may get a reset link.
Every case has a foreign institution or account that a missing filter would let through."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser

from tenants.models import Membership
from tenants.selectors import (
    institution_roles_for_user,
    institutions_for_user,
    membership_role,
    users_for_password_reset,
)
from tenants.services import membership_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def both(tenant_a, tenant_b):
    """tenant_a's admin is also a reviewer of tenant_b; a third institution has nobody of ours."""
    from tests.conftest import _make_tenant

    membership_add(
        institution=tenant_b.institution, email=tenant_a.admin.email, role=Membership.Role.REVIEWER
    )
    third = _make_tenant("Gamma College", ["exams.gamma.edu"])
    return tenant_a, tenant_b, third


def _superuser():
    return get_user_model().objects.create_superuser(
        username="root", email="root@x.test", password="pw-root-123"
    )


def test_institutions_for_user_by_membership_and_role(both):
    a, b, third = both
    user = a.admin
    assert set(institutions_for_user(user=user)) == {a.institution, b.institution}
    assert list(institutions_for_user(user=user, role=Membership.Role.ADMIN)) == [a.institution]
    assert list(institutions_for_user(user=user, role=Membership.Role.REVIEWER)) == [b.institution]
    assert list(institutions_for_user(user=b.reviewer)) == [b.institution]
    assert list(institutions_for_user(user=AnonymousUser())) == []
    assert list(institutions_for_user(user=None)) == []  # no user at all (e.g. a request without one)
    assert set(institutions_for_user(user=_superuser())) == {a.institution, b.institution, third.institution}


def test_institution_roles_for_user_names_each_role_in_name_order(both):
    a, b, third = both
    assert institution_roles_for_user(user=a.admin) == [(a.institution, "admin"), (b.institution, "reviewer")]
    assert institution_roles_for_user(user=b.reviewer) == [(b.institution, "reviewer")]
    assert institution_roles_for_user(user=AnonymousUser()) == []
    assert institution_roles_for_user(user=None) == []
    assert institution_roles_for_user(user=_superuser()) == [
        (a.institution, "admin"),
        (b.institution, "admin"),
        (third.institution, "admin"),
    ]


def test_membership_role_in_each_institution(both):
    a, b, third = both
    assert membership_role(user=a.admin, institution=a.institution) == "admin"
    assert membership_role(user=a.admin, institution=b.institution) == "reviewer"
    assert membership_role(user=a.admin, institution=third.institution) is None
    assert membership_role(user=a.reviewer, institution=b.institution) is None
    assert membership_role(user=_superuser(), institution=third.institution) == "admin"


def test_users_for_password_reset_are_active_with_a_password_or_an_invitation(tenant_a):
    users = get_user_model().objects
    active = tenant_a.reviewer  # has a password
    users.create_user(username="gone", email=active.email.upper(), password="pw-x-12345", is_active=False)
    invited = membership_add(institution=tenant_a.institution, email="new@alpha.test", role="reviewer").user
    assert not invited.has_usable_password()
    users.create_user(username="nobody", email="nobody@alpha.test")  # no password, no membership
    assert users_for_password_reset(email=active.email.upper()) == [
        active
    ]  # case-insensitive, inactive left out
    assert users_for_password_reset(email="new@alpha.test") == [invited]
    assert users_for_password_reset(email="nobody@alpha.test") == []
    assert users_for_password_reset(email="other@alpha.test") == []


def test_a_unicode_lookalike_of_a_stored_address_gets_no_reset_link(tenant_a):
    """The database's case-insensitive match picks the accounts; Django's Unicode comparison only
    narrows them. 'KELVIN SIGN' + 'im@…' folds to 'kim@…' in Unicode but is another address."""
    kim = get_user_model().objects.create_user(
        username="kim", email="kim@alpha.test", password="pw-kim-12345"
    )
    assert users_for_password_reset(email="KIM@alpha.test") == [kim]
    assert users_for_password_reset(email="\u212aim@alpha.test") == []
