"""1EdTech LTI Dynamic Registration 1.0: the LMS registers the tool by itself.

An institution admin hands the LMS a registration link (signed, for their
institution, valid ``LINK_MAX_AGE``); the LMS opens it with its
``openid_configuration`` URL and a ``registration_token``. We read the LMS's
configuration (its issuer must be the configuration URL's origin), post our
tool configuration to its registration endpoint, and store the client id and
deployment id it answers with as an ordinary LtiRegistration of that
institution. Without a valid link nothing is fetched or stored.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from django.core import signing
from django.urls import reverse

from proctorme.errors import InvalidToken
from sessions.lti.errors import LtiRegistrationRefused
from sessions.lti.http import lti_fetch
from sessions.lti.models import LtiRegistration
from sessions.lti.registrations import lti_registration_create, lti_tool_urls
from tenants.models import Institution

LINK_SALT = "proctorme.lti-dynamic-registration.v1"
LINK_MAX_AGE = 7 * 24 * 3600
PLATFORM_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-platform-configuration"
TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"
SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-ap/scope/control.all",
]


def dynamic_registration_url(*, institution: Institution, base_url: str) -> str:
    token = signing.dumps({"i": str(institution.public_id)}, salt=LINK_SALT)
    return base_url.rstrip("/") + reverse("lti-register", args=[institution.public_id]) + f"?token={token}"


def _json(url: str, *, method: str = "GET", body: dict | None = None, headers: dict | None = None) -> dict:
    result = lti_fetch(
        method,
        url,
        body=json.dumps(body).encode() if body is not None else None,
        headers={
            "Accept": "application/json",
            **({"Content-Type": "application/json"} if body else {}),
            **(headers or {}),
        },
    )
    try:
        data = json.loads(result.body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not 200 <= result.status < 300 or not isinstance(data, dict):
        raise LtiRegistrationRefused(f"The LMS answered {result.status} at {url}.", details={"url": url})
    return data


def lti_dynamic_register(
    *,
    institution: Institution,
    link_token: str,
    openid_configuration: str,
    registration_token: str,
    base_url: str,
) -> LtiRegistration:
    try:
        data = signing.loads(link_token or "", salt=LINK_SALT, max_age=LINK_MAX_AGE)
    except signing.BadSignature:
        raise InvalidToken(
            "The registration link is invalid or expired: make a new one in the admin."
        ) from None
    if data.get("i") != str(institution.public_id):
        raise InvalidToken("The registration link is for another institution.")
    if not openid_configuration:
        raise LtiRegistrationRefused("The LMS sent no openid_configuration.")
    config = _json(openid_configuration)
    issuer = config.get("issuer")
    required = ("authorization_endpoint", "token_endpoint", "jwks_uri", "registration_endpoint")
    missing = [name for name in required if not isinstance(config.get(name), str)]
    if not isinstance(issuer, str) or missing:
        raise LtiRegistrationRefused(details={"missing": missing or ["issuer"]})
    issued, fetched = urlsplit(issuer), urlsplit(openid_configuration)
    if (issued.scheme, issued.netloc) != (fetched.scheme, fetched.netloc):
        raise LtiRegistrationRefused("The configuration does not come from its issuer's own site.")
    urls = lti_tool_urls(institution=institution, base_url=base_url)
    platform = config.get(PLATFORM_CONFIGURATION) or {}
    supported = {m.get("type") for m in platform.get("messages_supported", []) if isinstance(m, dict)}
    messages = [{"type": "LtiResourceLinkRequest", "target_link_uri": urls["launchUrl"]}]
    for kind in ("LtiDeepLinkingRequest", "LtiStartProctoring", "LtiEndAssessment"):
        if not supported or kind in supported:
            messages.append({"type": kind, "target_link_uri": urls["launchUrl"]})
    answer = _json(
        config["registration_endpoint"],
        method="POST",
        headers={"Authorization": f"Bearer {registration_token}"} if registration_token else None,
        body={
            "application_type": "web",
            "response_types": ["id_token"],
            "grant_types": ["implicit", "client_credentials"],
            "initiate_login_uri": urls["loginUrl"],
            "redirect_uris": [urls["redirectUrl"]],
            "client_name": "Proctorme",
            "jwks_uri": urls["jwksUrl"],
            "token_endpoint_auth_method": "private_key_jwt",
            "scope": " ".join(SCOPES),
            TOOL_CONFIGURATION: {
                "domain": urlsplit(base_url).netloc,
                "target_link_uri": urls["launchUrl"],
                "claims": ["iss", "sub", "name", "given_name", "family_name", "email", "picture"],
                "messages": messages,
            },
        },
    )
    client_id = answer.get("client_id")
    deployment = (answer.get(TOOL_CONFIGURATION) or {}).get("deployment_id")
    if not isinstance(client_id, str) or not client_id:
        raise LtiRegistrationRefused("The LMS did not answer with a client id.")
    name = platform.get("product_family_code") or urlsplit(issuer).netloc
    return lti_registration_create(
        institution=institution,
        name=f"{name} (dynamic registration)"[:200],
        issuer=issuer,
        client_id=client_id,
        deployment_ids=[deployment] if isinstance(deployment, str) and deployment else [],
        auth_login_url=config["authorization_endpoint"],
        auth_token_url=config["token_endpoint"],
        key_set_url=config["jwks_uri"],
    )
