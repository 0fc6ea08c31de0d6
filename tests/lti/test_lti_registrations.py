"""LMS registrations in the scoped admin and the API, and the tool's keys (JWKS, rotation)."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from sessions.lti.keys import tool_jwks, tool_key_rotate, tool_sign
from sessions.lti.models import LtiRegistration
from sessions.lti.registrations import lti_registration_create

pytestmark = pytest.mark.django_db

FIELDS = {
    "issuer": "https://moodle.alpha.edu",
    "client_id": "abc123",
    "deployment_ids": ["1"],
    "auth_login_url": "https://moodle.alpha.edu/mod/lti/auth.php",
    "auth_token_url": "https://moodle.alpha.edu/mod/lti/token.php",
    "key_set_url": "https://moodle.alpha.edu/mod/lti/certs.php",
}
BODY = {
    "name": "Moodle",
    "issuer": "https://moodle.alpha.edu",
    "clientId": "abc123",
    "deploymentIds": ["1", "2"],
    "authLoginUrl": "https://moodle.alpha.edu/mod/lti/auth.php",
    "authTokenUrl": "https://moodle.alpha.edu/mod/lti/token.php",
    "keySetUrl": "https://moodle.alpha.edu/mod/lti/certs.php",
}


def api(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_an_institution_has_several_registrations_through_the_api(tenant_a):
    client = api(tenant_a.secret_key)
    first = client.post("/api/v1/lti/registrations", BODY, format="json")
    assert first.status_code == 201, first.content
    second = client.post(
        "/api/v1/lti/registrations",
        {**BODY, "name": "Canvas", "issuer": "https://canvas.instructure.com"},
        format="json",
    )
    assert second.status_code == 201
    assert (
        client.post("/api/v1/lti/registrations", BODY, format="json").json()["error"]["code"]
        == "ALREADY_EXISTS"
    )
    listed = client.get("/api/v1/lti/registrations").json()["results"]
    assert {r["name"] for r in listed} == {"Moodle", "Canvas"}
    changed = client.patch(
        f"/api/v1/lti/registrations/{first.json()['id']}", {"deploymentIds": ["9"]}, format="json"
    )
    assert changed.status_code == 200 and changed.json()["deploymentIds"] == ["9"]
    assert LtiRegistration.objects.filter(institution=tenant_a.institution).count() == 2


def test_outsider_gets_404_and_an_empty_list(tenant_a, tenant_b):
    registration = lti_registration_create(institution=tenant_a.institution, name="Moodle", **FIELDS)
    outsider = api(tenant_b.secret_key)
    url = f"/api/v1/lti/registrations/{registration.public_id}"
    assert outsider.get(url).status_code == 404
    assert outsider.patch(url, {"name": "hijacked"}, format="json").status_code == 404
    assert outsider.get("/api/v1/lti/registrations").json()["results"] == []
    registration.refresh_from_db()
    assert registration.name == "Moodle"


def test_tool_endpoint_shows_the_urls_to_enter_in_the_lms(tenant_a):
    body = api(tenant_a.secret_key).get("/api/v1/lti/tool").json()
    institution = tenant_a.institution.public_id
    assert body["loginUrl"].endswith(f"/lti/{institution}/login")
    assert body["launchUrl"].endswith(f"/lti/{institution}/launch")
    assert body["jwksUrl"].endswith(f"/lti/{institution}/jwks.json")
    assert [key["kid"] for key in body["keys"]] == [
        key["kid"] for key in tool_jwks(institution=tenant_a.institution)["keys"]
    ]


def test_each_institution_has_its_own_key_and_jwks(client, tenant_a, tenant_b):
    a = client.get(reverse("lti-jwks", args=[tenant_a.institution.public_id])).json()["keys"]
    b = client.get(reverse("lti-jwks", args=[tenant_b.institution.public_id])).json()["keys"]
    assert len(a) == len(b) == 1
    assert a[0]["kid"] != b[0]["kid"] and a[0]["n"] != b[0]["n"]
    token = tool_sign(institution=tenant_a.institution, claims={"x": 1})
    assert jwt.decode(token, jwt.PyJWK.from_dict(a[0]).key, algorithms=["RS256"]) == {"x": 1}
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, jwt.PyJWK.from_dict(b[0]).key, algorithms=["RS256"])


def test_rotation_keeps_the_old_key_published_for_the_grace_period(client, tenant_a, settings, time_machine):
    settings.LTI_KEY_GRACE_SECONDS = 3600
    time_machine.move_to(timezone.now(), tick=False)
    url = reverse("lti-jwks", args=[tenant_a.institution.public_id])
    old = client.get(url).json()["keys"][0]["kid"]
    old_token = tool_sign(institution=tenant_a.institution, claims={"n": 1})
    body = api(tenant_a.secret_key).post("/api/v1/lti/tool/rotate-key").json()
    new = jwt.get_unverified_header(tool_sign(institution=tenant_a.institution, claims={"n": 2}))["kid"]
    assert new != old
    assert {key["kid"] for key in body["keys"]} == {old, new}
    published = {key["kid"]: key for key in client.get(url).json()["keys"]}
    assert jwt.decode(old_token, jwt.PyJWK.from_dict(published[old]).key, algorithms=["RS256"]) == {"n": 1}
    time_machine.shift(timedelta(seconds=3601))
    assert [key["kid"] for key in client.get(url).json()["keys"]] == [new]


def test_jwks_of_an_unknown_institution_is_404(client):
    assert client.get("/lti/00000000-0000-0000-0000-000000000000/jwks.json").status_code == 404


def test_admin_shows_own_registrations_only_and_404_for_others(client, tenant_a, tenant_b):
    mine = lti_registration_create(institution=tenant_b.institution, name="Beta LMS", **FIELDS)
    theirs = lti_registration_create(institution=tenant_a.institution, name="Alpha LMS", **FIELDS)
    client.force_login(tenant_b.admin)
    listing = client.get(reverse("admin:lti_ltiregistration_changelist"))
    assert {obj.pk for obj in listing.context["cl"].result_list} == {mine.pk}
    for view in ("change", "delete"):
        assert client.get(reverse(f"admin:lti_ltiregistration_{view}", args=[theirs.pk])).status_code == 404
    page = client.get(reverse("admin:lti_ltiregistration_change", args=[mine.pk]))
    assert f"/lti/{tenant_b.institution.public_id}/login".encode() in page.content
    add = client.get(reverse("admin:lti_ltiregistration_add"))
    assert {v.value for v, _ in add.context["adminform"].form.fields["institution"].choices if v} == {
        tenant_b.institution.pk
    }
    assert f"/lti/{tenant_b.institution.public_id}/jwks.json".encode() in add.content


def test_admin_rotate_action_makes_a_new_key(client, tenant_a):
    from sessions.lti.keys import tool_key_active

    first = tool_key_active(institution=tenant_a.institution)
    client.force_login(tenant_a.admin)
    response = client.post(
        reverse("admin:lti_ltitoolkey_changelist"), {"action": "rotate", "_selected_action": [first.pk]}
    )
    assert response.status_code == 302
    assert tool_key_active(institution=tenant_a.institution).kid != first.kid


def test_reviewer_has_no_admin_module(client, tenant_a):
    client.force_login(tenant_a.reviewer)
    assert client.get(reverse("admin:lti_ltiregistration_changelist")).status_code in (302, 403)


def test_tool_key_rotation_of_one_institution_leaves_another_alone(tenant_a, tenant_b):
    b_before = tool_jwks(institution=tenant_b.institution)
    tool_key_rotate(institution=tenant_a.institution)
    assert tool_jwks(institution=tenant_b.institution) == b_before


# --- LTI Dynamic Registration -------------------------------------------------------------------


def _register(client, institution, link: str, platform, **params):
    query = {
        "openid_configuration": platform.base + "/.well-known/openid-configuration",
        "registration_token": platform.registration_token,
        **params,
    }
    path = link.split("testserver", 1)[-1] if "testserver" in link else link[link.index("/lti/") :]
    return client.get(path + "&" + "&".join(f"{k}={v}" for k, v in query.items()))


def test_dynamic_registration_registers_the_lms_for_the_links_institution(client, platform, tenant_a):
    link = api(tenant_a.secret_key).get("/api/v1/lti/tool").json()["dynamicRegistrationUrl"]
    assert f"/lti/{tenant_a.institution.public_id}/register?token=" in link
    response = _register(client, tenant_a.institution, link, platform)
    assert response.status_code == 200, response.content
    assert b"org.imsglobal.lti.close" in response.content
    registration = LtiRegistration.objects.get(institution=tenant_a.institution)
    assert (registration.issuer, registration.client_id) == (platform.issuer, platform.client_id)
    assert registration.deployment_ids == [platform.deployment_id]
    assert registration.key_set_url == platform.base + "/jwks"
    [sent] = platform.registrations
    institution = tenant_a.institution.public_id
    assert sent["initiate_login_uri"].endswith(f"/lti/{institution}/login")
    assert sent["jwks_uri"].endswith(f"/lti/{institution}/jwks.json")
    assert sent["token_endpoint_auth_method"] == "private_key_jwt"
    types = [m["type"] for m in sent["https://purl.imsglobal.org/spec/lti-tool-configuration"]["messages"]]
    assert types == ["LtiResourceLinkRequest", "LtiStartProctoring"]  # only what the LMS supports


def test_dynamic_registration_needs_a_valid_link_of_this_institution(client, platform, tenant_a, tenant_b):
    from sessions.lti.dynamic import dynamic_registration_url

    b_link = dynamic_registration_url(institution=tenant_b.institution, base_url="http://testserver")
    forged = b_link.replace(str(tenant_b.institution.public_id), str(tenant_a.institution.public_id))
    response = _register(client, tenant_a.institution, forged, platform)
    assert response["X-Proctorme-Error"] == "INVALID_TOKEN"
    response = _register(
        client, tenant_a.institution, f"/lti/{tenant_a.institution.public_id}/register?token=nope", platform
    )
    assert response["X-Proctorme-Error"] == "INVALID_TOKEN"
    assert not LtiRegistration.objects.exists() and platform.registrations == []


def test_dynamic_registration_refuses_a_configuration_from_another_site(client, platform, tenant_a, settings):
    from sessions.lti.dynamic import dynamic_registration_url

    link = dynamic_registration_url(institution=tenant_a.institution, base_url="http://testserver")
    other = platform.base.replace("127.0.0.1", "localhost") + "/.well-known/openid-configuration"
    response = _register(client, tenant_a.institution, link, platform, openid_configuration=other)
    assert response["X-Proctorme-Error"] == "LTI_REGISTRATION_REFUSED"
    assert not LtiRegistration.objects.exists() and platform.registrations == []
