"""Finding 7: the admin's filter sidebar never names another institution."""

import pytest
from django.contrib import admin
from django.urls import reverse

from tenants.admin import TenantScopedAdmin
from tenants.models import Membership
from tenants.services import institution_create, membership_add

SCOPED = [
    model
    for model, model_admin in admin.site._registry.items()
    if isinstance(model_admin, TenantScopedAdmin) and model_admin.list_filter
]


@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m._meta.label)
def test_finding7_the_filter_sidebar_lists_only_the_admins_institutions(client, tenant_a, tenant_b, model):
    third, _, _ = institution_create(name="Gamma Institute", domains=["exams.gamma.edu"])
    membership_add(institution=third, email=tenant_a.admin.email, role=Membership.Role.ADMIN)
    client.force_login(tenant_a.admin)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Beta College" not in page
    if any(
        f == "institution" or (isinstance(f, tuple) and f[0] == "institution")
        for f in admin.site._registry[model].list_filter
    ):
        assert "Gamma Institute" in page  # the filter is still there, with the admin's own two


def test_finding7_the_operator_still_filters_by_every_institution(client, operator, tenant_a, tenant_b):
    client.force_login(operator)
    response = client.get(reverse("admin:tenants_apikey_changelist"))
    assert "Beta College" in response.content.decode() and "Alpha University" in response.content.decode()
