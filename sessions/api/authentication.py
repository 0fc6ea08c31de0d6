"""Secret-key authentication for the integrator API.

``Authorization: Bearer sk_…`` → the key's institution, resolved once here and
handed to every view as ``request.auth.institution``. A publishable key is
refused (it lives in browsers and must never reach the integrator API), as
are unknown, revoked and expired keys: all with INVALID_API_KEY, without
saying which, so the answer tells nothing about the key.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from proctorme.errors import InvalidApiKey
from tenants.models import ApiKey
from tenants.services import secret_key_authenticate


class ApiKeyPrincipal:
    """``request.user`` of an API call: the key itself, never a person."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key

    def __str__(self) -> str:
        return f"api key {self.api_key.prefix}…"


class SecretKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not key.strip():
            raise exceptions.AuthenticationFailed('Use "Authorization: Bearer sk_…" with a secret key.')
        key = key.strip()
        if key.startswith("pk_"):
            raise exceptions.AuthenticationFailed(
                "A publishable key cannot be used here: the REST API needs a secret key (sk_…)."
            )
        if key.startswith("as_"):
            raise exceptions.AuthenticationFailed(
                "An attempt-signing key only signs attempt ids: the REST API needs a secret key (sk_…)."
            )
        try:
            api_key = secret_key_authenticate(key=key)
        except InvalidApiKey as exc:
            raise exceptions.AuthenticationFailed(exc.message) from None
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


class HasSecretKey(BasePermission):
    def has_permission(self, request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            raise exceptions.NotAuthenticated('Send your secret key as "Authorization: Bearer sk_…".')
        return True


class SecretKeyScheme(OpenApiAuthenticationExtension):
    target_class = SecretKeyAuthentication
    name = "secretKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The institution's secret key (`sk_…`). Publishable keys are refused.",
        }
