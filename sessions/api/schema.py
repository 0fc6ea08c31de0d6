"""OpenAPI generation details: every operation documents the shared error
responses, and the schema at /api/schema/ covers the integrator API only."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse

from sessions.api.serializers import ErrorSerializer

API_PREFIX = "/api/v1/"

_COMMON_ERRORS = {
    "400": "VALIDATION_ERROR (details.fields names each invalid field) or MALFORMED_REQUEST.",
    "401": "AUTHENTICATION_REQUIRED (no key) or INVALID_API_KEY (unknown, revoked, expired or publishable).",
    "404": "NOT_FOUND: no such object in your institution.",
    "429": "RATE_LIMITED: too many requests for this key; wait Retry-After seconds.",
}
_BODY_ERRORS = {"415": "UNSUPPORTED_MEDIA_TYPE: send application/json."}
_RETRY_AFTER = {
    "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying."}
}


class ApiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        errors = dict(_COMMON_ERRORS)
        if self.method in {"POST", "PUT", "PATCH"}:
            errors.update(_BODY_ERRORS)
        for code, description in errors.items():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ErrorSerializer, description=description), code, direction=direction
                )
        responses["429"]["headers"] = _RETRY_AFTER
        return responses


def only_integrator_api(endpoints, **kwargs):
    """SPECTACULAR_SETTINGS PREPROCESSING_HOOKS: leave the widget and dashboard endpoints out."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith(API_PREFIX)]
