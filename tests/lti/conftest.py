from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from tests.lti.platform import start_platform


@pytest.fixture
def platform(settings):
    settings.PROCTORME_ALLOW_PRIVATE_URLS = True  # the test platform is on loopback
    from django.core.cache import cache

    cache.clear()
    platform = start_platform()
    yield platform
    platform.server.shutdown()
    platform.server.server_close()


@pytest.fixture
def registration(tenant_a, platform):
    from sessions.lti.registrations import lti_registration_create

    platform.tool_login_url = "http://testserver" + reverse(
        "lti-login", args=[tenant_a.institution.public_id]
    )
    return lti_registration_create(institution=tenant_a.institution, name="Test LMS", **platform.urls())


def login_and_state(client, platform, institution, claims: dict) -> tuple[str, str]:
    """OIDC login initiation at the tool, as the platform's browser redirect does it: (state, nonce)."""
    hint = platform.prepare(claims)
    response = client.get(
        reverse("lti-login", args=[institution.public_id]),
        {
            "iss": platform.issuer,
            "login_hint": claims["sub"],
            "target_link_uri": "http://testserver/lti/",
            "lti_message_hint": hint,
            "client_id": platform.client_id,
        },
    )
    assert response.status_code == 302, response.content
    query = parse_qs(urlsplit(response["Location"]).query)
    assert response["Location"].startswith(platform.base + "/auth?")
    return query["state"][0], query["nonce"][0]


def post_launch(client, institution, token: str, state: str):
    return client.post(
        reverse("lti-launch", args=[institution.public_id]), {"id_token": token, "state": state}
    )


def launch(client, platform, institution, claims: dict, *, sign=None):
    """A whole launch; ``sign(claims_with_nonce) -> token`` replaces the platform's own signing."""
    state, nonce = login_and_state(client, platform, institution, claims)
    with_nonce = {**claims, "nonce": nonce}
    token = sign(with_nonce) if sign else platform.sign(with_nonce)
    return post_launch(client, institution, token, state)


def refused(response, code: str) -> None:
    assert response["X-Proctorme-Error"] == code, response.content[:500]
    assert response.status_code in (400, 401, 403, 404, 409, 502)
    assert code.encode() in response.content
