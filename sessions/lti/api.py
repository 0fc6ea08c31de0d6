"""/api/v1/lti/…: an institution's LMS registrations and the tool's URLs and keys (secret key auth)."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from sessions.api import serializers as s
from sessions.api.views import ApiView
from sessions.lti import registrations
from sessions.lti.dynamic import dynamic_registration_url
from sessions.lti.keys import tool_jwks, tool_key_rotate

_EXISTS = OpenApiResponse(
    s.ErrorSerializer, description="ALREADY_EXISTS: a registration with this issuer and client id exists."
)


class RegistrationSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    name = serializers.CharField(max_length=200)
    issuer = serializers.CharField(max_length=300)
    clientId = serializers.CharField(source="client_id", max_length=200)
    deploymentIds = serializers.ListField(
        source="deployment_ids", child=serializers.CharField(max_length=255), max_length=100
    )
    authLoginUrl = serializers.URLField(source="auth_login_url", max_length=500)
    authTokenUrl = serializers.URLField(source="auth_token_url", max_length=500)
    keySetUrl = serializers.URLField(source="key_set_url", max_length=500)
    isActive = serializers.BooleanField(source="is_active", required=False, default=True)
    staffReviewers = serializers.BooleanField(
        source="staff_reviewers",
        required=False,
        default=False,
        help_text="LMS institution or system administrators who launch the tool become reviewers of the "
        "whole institution (instructors always see their own course only).",
    )
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)


class RegistrationUpdateSerializer(RegistrationSerializer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, partial=True, **kwargs)


class ToolSerializer(serializers.Serializer):
    loginUrl = serializers.URLField()
    launchUrl = serializers.URLField()
    redirectUrl = serializers.URLField()
    jwksUrl = serializers.URLField()
    deepLinkingUrl = serializers.URLField()
    dynamicRegistrationUrl = serializers.URLField(
        help_text="LTI Dynamic Registration link for LMSs that offer it: valid 7 days, registers an LMS."
    )
    keys = serializers.ListField(child=serializers.DictField(), help_text="The JWKS published now.")


def _tool_body(institution) -> dict:
    urls = registrations.lti_tool_urls(institution=institution, base_url=settings.SITE_URL)
    link = dynamic_registration_url(institution=institution, base_url=settings.SITE_URL)
    return {**urls, "dynamicRegistrationUrl": link, "keys": tool_jwks(institution=institution)["keys"]}


class RegistrationListView(ApiView):
    @extend_schema(
        operation_id="lti_registrations_list",
        tags=["lms"],
        parameters=[s.PageQuerySerializer],
        responses=s.page_of(RegistrationSerializer),
    )
    def get(self, request):
        query = self.query(s.PageQuerySerializer)
        queryset = registrations.lti_registration_list(institution=self.institution)
        return self.page(
            request, queryset, RegistrationSerializer, query, field="created_at", descending=True
        )

    @extend_schema(
        operation_id="lti_registrations_create",
        tags=["lms"],
        summary="Register an LMS (platform) that launches the tool",
        request=RegistrationSerializer,
        responses={201: RegistrationSerializer, 409: _EXISTS},
    )
    def post(self, request):
        data = self.body(RegistrationSerializer)
        registration = registrations.lti_registration_create(institution=self.institution, **data)
        return Response(RegistrationSerializer(registration).data, status=status.HTTP_201_CREATED)


class RegistrationDetailView(ApiView):
    def _registration(self, registration_id):
        return registrations.lti_registration_get(institution=self.institution, public_id=registration_id)

    @extend_schema(operation_id="lti_registrations_retrieve", tags=["lms"], responses=RegistrationSerializer)
    def get(self, request, registration_id):
        return Response(RegistrationSerializer(self._registration(registration_id)).data)

    @extend_schema(
        operation_id="lti_registrations_update",
        tags=["lms"],
        request=RegistrationUpdateSerializer,
        responses={200: RegistrationSerializer, 409: _EXISTS},
    )
    def patch(self, request, registration_id):
        registration = self._registration(registration_id)
        data = self.body(RegistrationUpdateSerializer)
        registration = registrations.lti_registration_update(registration=registration, **data)
        return Response(RegistrationSerializer(registration).data)


class ToolView(ApiView):
    @extend_schema(
        operation_id="lti_tool_retrieve",
        tags=["lms"],
        summary="The URLs to enter in the LMS and the public keys the tool signs with",
        responses=ToolSerializer,
    )
    def get(self, request):
        return Response(_tool_body(self.institution))


class ToolKeyRotateView(ApiView):
    @extend_schema(
        operation_id="lti_tool_key_rotate",
        tags=["lms"],
        summary="New signing key; the previous one stays in the JWKS for LTI_KEY_GRACE_SECONDS",
        request=None,
        responses=ToolSerializer,
    )
    def post(self, request):
        tool_key_rotate(institution=self.institution)
        return Response(_tool_body(self.institution))


class ControlSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["pause", "resume", "terminate", "update"])
    extraTime = serializers.IntegerField(
        required=False, min_value=1, max_value=24 * 3600, help_text="Seconds to add (action update)."
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class ControlResultSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="The attempt's status as the LMS reports it.")
    extra_time = serializers.IntegerField(required=False)


_UNREACHABLE = OpenApiResponse(
    s.ErrorSerializer,
    description="LTI_PLATFORM_UNREACHABLE: the LMS refused it (the proctoring session changed already).",
)
_INVALID = OpenApiResponse(
    s.ErrorSerializer, description="VALIDATION_ERROR: terminate without a reason, or a reason too long."
)


class SessionControlView(ApiView):
    @extend_schema(
        operation_id="sessions_lms_control",
        tags=["lms"],
        summary="Pause, resume, terminate or extend the attempt: the proctoring session and the LMS's "
        "attempt (Assessment Control Service)",
        request=ControlSerializer,
        responses={
            200: ControlResultSerializer,
            400: _INVALID,
            409: OpenApiResponse(
                s.ErrorSerializer,
                description="LTI_SERVICE_NOT_OFFERED (not an LMS session, or an action its LMS did not "
                "offer; nothing changed), or the session's state: SESSION_ALREADY_ENDED, SESSION_PAUSED, "
                "SESSION_NOT_PAUSED.",
            ),
            502: _UNREACHABLE,
        },
    )
    def post(self, request, session_id):
        from sessions.api import selectors
        from sessions.lti.services import lti_session_control

        session = selectors.session_get(institution=self.institution, public_id=session_id)
        data = self.body(ControlSerializer)
        answer = lti_session_control(
            session=session,
            action=data["action"],
            actor_label=f"API key {request.auth.prefix}…",
            extra_time=data.get("extraTime"),
            reason=data["reason"],
        )
        return Response(answer)
