"""The Django admin shows an institution admin their own rows only."""

import pytest
from django.urls import reverse

from tenants.models import ApiKey, Domain, Institution, Membership
from tenants.services import webhook_endpoint_create

MODELS = [Institution, Domain, ApiKey, Membership]


def _objects_of(tenant):
    institution = tenant.institution
    endpoint, _ = webhook_endpoint_create(institution=institution, url="https://93.184.216.34/in")
    return {
        "institution": institution,
        "domain": institution.domains.first(),
        "apikey": institution.api_keys.first(),
        "membership": institution.memberships.first(),
        "webhookendpoint": endpoint,
    }


@pytest.mark.parametrize("model", ["institution", "domain", "apikey", "membership", "webhookendpoint"])
def test_other_institutions_admin_gets_404_for_every_object(client, tenant_a, tenant_b, model):
    obj = _objects_of(tenant_a)[model]
    client.force_login(tenant_b.admin)
    for view in ("change", "delete", "history"):
        response = client.get(reverse(f"admin:tenants_{model}_{view}", args=[obj.pk]))
        assert response.status_code == 404, (view, response.status_code)
    # A forged POST changes nothing either.
    response = client.post(reverse(f"admin:tenants_{model}_change", args=[obj.pk]), {"name": "Hijacked"})
    assert response.status_code == 404


@pytest.mark.parametrize("model", ["institution", "domain", "apikey", "membership", "webhookendpoint"])
def test_changelists_show_only_own_rows(client, tenant_a, tenant_b, model):
    a_objects = _objects_of(tenant_a)
    b_objects = _objects_of(tenant_b)
    client.force_login(tenant_b.admin)
    response = client.get(reverse(f"admin:tenants_{model}_changelist"))
    assert response.status_code == 200
    shown = {obj.pk for obj in response.context["cl"].result_list}
    assert a_objects[model].pk not in shown
    assert b_objects[model].pk in shown


@pytest.mark.parametrize("model", ["domain", "apikey", "membership", "webhookendpoint"])
def test_form_choices_exclude_other_institutions(client, tenant_a, tenant_b, model):
    client.force_login(tenant_b.admin)
    response = client.get(reverse(f"admin:tenants_{model}_add"))
    assert response.status_code == 200
    choices = {
        value.value for value, _ in response.context["adminform"].form.fields["institution"].choices if value
    }
    assert choices == {tenant_b.institution.pk}


def test_forged_post_cannot_add_a_domain_to_another_institution(client, tenant_a, tenant_b):
    client.force_login(tenant_b.admin)
    response = client.post(
        reverse("admin:tenants_domain_add"), {"institution": tenant_a.institution.pk, "host": "evil.example"}
    )
    assert response.status_code == 200  # the form re-renders with an error
    assert "institution" in response.context["adminform"].form.errors
    assert not Domain.objects.filter(host="evil.example").exists()


def test_reviewer_cannot_reach_keys_or_the_admin(client, tenant_a):
    client.force_login(tenant_a.reviewer)
    assert client.get(reverse("admin:tenants_apikey_changelist")).status_code in (302, 403)
    key = tenant_a.institution.api_keys.first()
    assert client.get(reverse("admin:tenants_apikey_change", args=[key.pk])).status_code in (302, 403)


def test_admin_of_a_cannot_act_as_admin_where_they_are_only_a_reviewer(client, tenant_a, tenant_b):
    from tenants.services import membership_add

    membership_add(
        institution=tenant_b.institution, email=tenant_a.admin.email, role=Membership.Role.REVIEWER
    )
    client.force_login(tenant_a.admin)
    key = tenant_b.institution.api_keys.first()
    assert client.get(reverse("admin:tenants_apikey_change", args=[key.pk])).status_code == 404


def test_creating_a_key_shows_the_plaintext_once_and_stores_only_its_digest(client, tenant_a):
    client.force_login(tenant_a.admin)
    response = client.post(
        reverse("admin:tenants_apikey_add"),
        {
            "institution": tenant_a.institution.pk,
            "kind": "secret",
            "name": "CI",
            "expires_at_0": "",
            "expires_at_1": "",
        },
    )
    assert response.status_code == 200
    plaintext = response.context["value"]
    assert plaintext.startswith("sk_")
    key = ApiKey.objects.get(name="CI")
    assert key.institution == tenant_a.institution and key.created_by == tenant_a.admin
    assert plaintext not in (key.key_digest, key.key_encrypted, key.prefix)
    # Never again: the change page does not contain it.
    page = client.get(reverse("admin:tenants_apikey_change", args=[key.pk])).content.decode()
    assert plaintext not in page and key.prefix in page


def test_revoke_action_takes_effect_at_once(client, tenant_a):
    from proctorme.errors import InvalidApiKey
    from tenants.services import widget_key_check

    client.force_login(tenant_a.admin)
    key = ApiKey.objects.get(institution=tenant_a.institution, kind="publishable")
    response = client.post(
        reverse("admin:tenants_apikey_changelist"), {"action": "revoke", "_selected_action": [key.pk]}
    )
    assert response.status_code == 302
    with pytest.raises(InvalidApiKey):
        widget_key_check(key=tenant_a.publishable_key, origin="https://exams.alpha.edu")


def test_admin_invites_a_reviewer_by_email(client, tenant_a, django_user_model):
    client.force_login(tenant_a.admin)
    response = client.post(
        reverse("admin:tenants_membership_add"),
        {"institution": tenant_a.institution.pk, "email": "new.reviewer@alpha.edu", "role": "reviewer"},
    )
    assert response.status_code == 302
    user = django_user_model.objects.get(email="new.reviewer@alpha.edu")
    assert Membership.objects.get(user=user).institution == tenant_a.institution
    assert not user.is_staff  # reviewers work in the dashboard, not the admin


def test_webhook_endpoint_on_a_private_address_is_refused(client, tenant_a, settings):
    settings.PROCTORME_ALLOW_PRIVATE_URLS = False
    client.force_login(tenant_a.admin)
    response = client.post(
        reverse("admin:tenants_webhookendpoint_add"),
        {
            "institution": tenant_a.institution.pk,
            "url": "http://127.0.0.1:9/hook",
            "description": "",
            "events": "[]",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "url" in response.context["adminform"].form.errors
    assert not tenant_a.institution.webhook_endpoints.exists()


def test_delivery_log_is_scoped_and_read_only(client, tenant_a, tenant_b):
    from tenants.models import WebhookDelivery

    endpoint, _ = webhook_endpoint_create(institution=tenant_a.institution, url="https://93.184.216.34/in")
    delivery = WebhookDelivery.objects.create(
        institution=tenant_a.institution, endpoint=endpoint, event="flag.created"
    )
    client.force_login(tenant_b.admin)
    assert client.get(reverse("admin:tenants_webhookdelivery_change", args=[delivery.pk])).status_code == 404
    assert (
        list(client.get(reverse("admin:tenants_webhookdelivery_changelist")).context["cl"].result_list) == []
    )
    client.force_login(tenant_a.admin)
    assert client.get(reverse("admin:tenants_webhookdelivery_change", args=[delivery.pk])).status_code == 200
    assert client.post(reverse("admin:tenants_webhookdelivery_delete", args=[delivery.pk])).status_code == 403


def test_webhook_endpoint_secret_shown_once(client, tenant_a):
    client.force_login(tenant_a.admin)
    response = client.post(
        reverse("admin:tenants_webhookendpoint_add"),
        {
            "institution": tenant_a.institution.pk,
            "url": "https://93.184.216.34/proctorme",  # a public address: the check needs no DNS
            "description": "",
            "events": "[]",
            "is_active": "on",
        },
    )
    assert response.status_code == 200, response.content
    assert response.context["value"].startswith("whsec_")


def test_operator_sees_every_institution(client, operator, tenant_a, tenant_b):
    client.force_login(operator)
    response = client.get(reverse("admin:tenants_institution_changelist"))
    assert {i.pk for i in response.context["cl"].result_list} == {
        tenant_a.institution.pk,
        tenant_b.institution.pk,
    }


def _endpoint_form(endpoint, **changes):
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "events": "[]",
        "body_format": endpoint.body_format,
        **({"is_active": "on"} if changes.pop("is_active", endpoint.is_active) else {}),
        **changes,
    }


def test_re_enabling_an_endpoint_in_the_admin_resets_its_failure_count(client, tenant_a, settings):
    settings.PROCTORME_WEBHOOK_DISABLE_AFTER = 3
    endpoint, _ = webhook_endpoint_create(institution=tenant_a.institution, url="https://93.184.216.34/in")
    endpoint.is_active, endpoint.consecutive_failures, endpoint.disabled_reason = False, 3, "3 failed"
    endpoint.save()
    client.force_login(tenant_a.admin)
    url = reverse("admin:tenants_webhookendpoint_change", args=[endpoint.pk])
    response = client.post(url, _endpoint_form(endpoint, is_active=True))
    assert response.status_code == 302, response.context["adminform"].form.errors
    endpoint.refresh_from_db()
    assert endpoint.is_active
    assert (endpoint.consecutive_failures, endpoint.disabled_at, endpoint.disabled_reason) == (0, None, "")


def test_changing_an_endpoint_url_in_the_admin_runs_the_api_url_check(client, tenant_a, settings):
    settings.PROCTORME_ALLOW_PRIVATE_URLS = False
    endpoint, _ = webhook_endpoint_create(institution=tenant_a.institution, url="https://93.184.216.34/in")
    client.force_login(tenant_a.admin)
    url = reverse("admin:tenants_webhookendpoint_change", args=[endpoint.pk])
    response = client.post(url, _endpoint_form(endpoint, url="http://10.0.0.7/hook"))
    assert response.status_code == 200
    assert "url" in response.context["adminform"].form.errors
    endpoint.refresh_from_db()
    assert endpoint.url == "https://93.184.216.34/in"


def test_an_endpoint_cannot_be_moved_to_another_institution_in_the_admin(
    client, operator, tenant_a, tenant_b
):
    endpoint, _ = webhook_endpoint_create(institution=tenant_a.institution, url="https://93.184.216.34/in")
    client.force_login(operator)
    url = reverse("admin:tenants_webhookendpoint_change", args=[endpoint.pk])
    client.post(url, _endpoint_form(endpoint, institution=tenant_b.institution.pk, description="moved?"))
    endpoint.refresh_from_db()
    assert endpoint.institution == tenant_a.institution and endpoint.description == "moved?"
