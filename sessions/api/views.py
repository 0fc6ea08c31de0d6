"""Integrator REST API (/api/v1/): thin views that parse, call one selector or
service, and shape the answer. The institution comes from the secret key,
once, in authentication; every lookup below is scoped to it."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from proctorme.errors import error_body
from sessions import accommodations, intervention, webhooks
from sessions.api import selectors, services
from sessions.api import serializers as s
from sessions.api.authentication import HasSecretKey, SecretKeyAuthentication
from sessions.api.exceptions import SessionAlreadyEnded, api_exception_handler
from sessions.api.pagination import keyset_page
from sessions.api.schema import ApiAutoSchema
from sessions.api.throttling import ApiKeyRateThrottle
from sessions.lti.services import session_control
from sessions.models import PrivacyRequest, ProctoringSession
from tenants import services as tenant_services


class ApiView(APIView):
    authentication_classes = [SecretKeyAuthentication]
    permission_classes = [HasSecretKey]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    schema = ApiAutoSchema()

    def get_exception_handler(self):
        return api_exception_handler

    @property
    def institution(self):
        return self.request.auth.institution

    def query(self, serializer_class) -> dict:
        serializer = serializer_class(
            data=self.request.query_params, context={"institution": self.institution}
        )
        # A misspelt filter must not silently widen a list: unknown parameters are refused.
        unknown = sorted(set(self.request.query_params) - set(serializer.fields))
        if unknown:
            raise ValidationError({name: ["Unknown query parameter."] for name in unknown})
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def body(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data, context={"institution": self.institution})
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def page(
        self, request: Request, queryset, serializer_class, query: dict, *, field: str, descending: bool
    ):
        page = keyset_page(
            queryset, field=field, descending=descending, cursor=query.get("cursor"), limit=query["limit"]
        )
        next_url = None
        if page.next_cursor:
            params = request.query_params.copy()
            params["cursor"] = page.next_cursor
            next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
        return Response(
            {
                "results": serializer_class(page.items, many=True).data,
                "nextCursor": page.next_cursor,
                "next": next_url,
            }
        )


# --- assessments ----------------------------------------------------------------------------------


class AssessmentListView(ApiView):
    @extend_schema(
        operation_id="assessments_list",
        tags=["assessments"],
        summary="List assessments (newest first)",
        parameters=[s.AssessmentListQuerySerializer],
        responses=s.page_of(s.AssessmentSerializer),
    )
    def get(self, request):
        query = self.query(s.AssessmentListQuerySerializer)
        queryset = selectors.assessment_list(
            institution=self.institution, include_archived=query["includeArchived"]
        )
        return self.page(
            request, queryset, s.AssessmentSerializer, query, field="created_at", descending=True
        )

    @extend_schema(
        operation_id="assessments_create",
        tags=["assessments"],
        summary="Create an assessment",
        request=s.AssessmentCreateSerializer,
        responses={
            201: s.AssessmentSerializer,
            409: OpenApiResponse(
                s.ErrorSerializer, description="ALREADY_EXISTS (details.id: the existing one)."
            ),
        },
    )
    def post(self, request):
        data = self.body(s.AssessmentCreateSerializer)
        assessment = services.assessment_create(institution=self.institution, **data)
        return Response(s.AssessmentSerializer(assessment).data, status=status.HTTP_201_CREATED)


class AssessmentDetailView(ApiView):
    @extend_schema(
        operation_id="assessments_retrieve", tags=["assessments"], responses=s.AssessmentSerializer
    )
    def get(self, request, assessment_id):
        assessment = selectors.assessment_get(institution=self.institution, public_id=assessment_id)
        return Response(s.AssessmentSerializer(assessment).data)

    @extend_schema(
        operation_id="assessments_update",
        tags=["assessments"],
        summary="Change an assessment's title or duration",
        request=s.AssessmentUpdateSerializer,
        responses=s.AssessmentSerializer,
    )
    def patch(self, request, assessment_id):
        assessment = selectors.assessment_get(institution=self.institution, public_id=assessment_id)
        data = self.body(s.AssessmentUpdateSerializer)
        assessment = services.assessment_update(assessment=assessment, **data)
        return Response(s.AssessmentSerializer(assessment).data)


class AssessmentArchiveView(ApiView):
    @extend_schema(
        operation_id="assessments_archive",
        tags=["assessments"],
        summary="Archive an assessment (idempotent); it leaves the default list",
        request=None,
        responses=s.AssessmentSerializer,
    )
    def post(self, request, assessment_id):
        assessment = selectors.assessment_get(institution=self.institution, public_id=assessment_id)
        assessment = services.assessment_archive(assessment=assessment)
        return Response(s.AssessmentSerializer(assessment).data)


# --- candidates -----------------------------------------------------------------------------------


class CandidateListView(ApiView):
    @extend_schema(
        operation_id="candidates_list",
        tags=["candidates"],
        summary="List candidates (newest first)",
        parameters=[s.CandidateListQuerySerializer],
        responses=s.page_of(s.CandidateSerializer),
    )
    def get(self, request):
        query = self.query(s.CandidateListQuerySerializer)
        queryset = selectors.candidate_list(institution=self.institution, email=query.get("email"))
        return self.page(request, queryset, s.CandidateSerializer, query, field="created_at", descending=True)

    @extend_schema(
        operation_id="candidates_create",
        tags=["candidates"],
        summary="Create a candidate",
        request=s.CandidateCreateSerializer,
        responses={
            201: s.CandidateSerializer,
            409: OpenApiResponse(
                s.ErrorSerializer, description="ALREADY_EXISTS (details.id: the existing one)."
            ),
        },
    )
    def post(self, request):
        data = self.body(s.CandidateCreateSerializer)
        candidate = services.candidate_create(institution=self.institution, **data)
        return Response(s.CandidateSerializer(candidate).data, status=status.HTTP_201_CREATED)


class CandidateDetailView(ApiView):
    @extend_schema(operation_id="candidates_retrieve", tags=["candidates"], responses=s.CandidateSerializer)
    def get(self, request, candidate_id):
        candidate = selectors.candidate_get(institution=self.institution, public_id=candidate_id)
        return Response(s.CandidateSerializer(candidate).data)

    @extend_schema(
        operation_id="candidates_update",
        tags=["candidates"],
        request=s.CandidateUpdateSerializer,
        responses=s.CandidateSerializer,
    )
    def patch(self, request, candidate_id):
        candidate = selectors.candidate_get(institution=self.institution, public_id=candidate_id)
        data = self.body(s.CandidateUpdateSerializer)
        candidate = services.candidate_update(candidate=candidate, **data)
        return Response(s.CandidateSerializer(candidate).data)


class _BinaryRenderer(BaseRenderer):
    """Lets a client ask for the file's type; errors are still JSON (see ``FileApiView``)."""

    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class _PdfRenderer(_BinaryRenderer):
    media_type = "application/pdf"
    format = "pdf"


class _ZipRenderer(_BinaryRenderer):
    media_type = "application/zip"
    format = "zip"


class FileApiView(ApiView):
    """An endpoint that answers a file: success is the file, every error the API's JSON."""

    def finalize_response(self, request, response, *args, **kwargs):
        if isinstance(response, Response):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)


class CandidateExportView(FileApiView):
    renderer_classes = [JSONRenderer, _ZipRenderer]

    @extend_schema(
        operation_id="candidates_export",
        tags=["privacy"],
        summary="Everything held about one candidate, as a zip (manifest.json and the media files)",
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="The archive.")
        },
    )
    def get(self, request, candidate_id):
        from sessions.privacy import archive_response, candidate_export_write, export_filename

        candidate = selectors.candidate_get(institution=self.institution, public_id=candidate_id)
        handle = candidate_export_write(
            candidate=candidate, actor_label=str(request.user), via=PrivacyRequest.Via.API
        )
        return archive_response(
            handle,
            request=request._request,
            filename=export_filename(candidate),
            content_type="application/zip",
        )


class CandidateEraseView(ApiView):
    @extend_schema(
        operation_id="candidates_erase",
        tags=["privacy"],
        summary="Erase a candidate's personal data (irreversible; idempotent). Counts stay",
        request=None,
        responses={
            200: s.PrivacyRequestSerializer,
            409: OpenApiResponse(
                s.ErrorSerializer, description="CANDIDATE_SESSION_RUNNING (details.sessions: their ids)."
            ),
        },
    )
    def post(self, request, candidate_id):
        from sessions.privacy import candidate_erase

        candidate = selectors.candidate_get(institution=self.institution, public_id=candidate_id)
        done = candidate_erase(candidate=candidate, actor_label=str(request.user), via=PrivacyRequest.Via.API)
        return Response(s.PrivacyRequestSerializer(done).data)


# --- accommodations -------------------------------------------------------------------------------

_FIELDS = {
    "extraSeconds": "extra_seconds",
    "timeMultiplier": "time_multiplier",
    "disabledDetectors": "disabled_detectors",
    "note": "note",
}


class AccommodationListView(ApiView):
    @extend_schema(
        operation_id="accommodations_list",
        tags=["accommodations"],
        summary="Accommodations (newest change first); filter by candidate",
        parameters=[s.AccommodationListQuerySerializer],
        responses=s.page_of(s.AccommodationSerializer),
    )
    def get(self, request):
        query = self.query(s.AccommodationListQuerySerializer)
        queryset = selectors.accommodation_list(
            institution=self.institution, candidate=query.get("candidate")
        )
        return self.page(
            request, queryset, s.AccommodationSerializer, query, field="created_at", descending=True
        )

    @extend_schema(
        operation_id="accommodations_set",
        tags=["accommodations"],
        summary="Set a candidate's accommodation (for one assessment or every one); replaces the one there",
        request=s.AccommodationWriteSerializer,
        responses={201: s.AccommodationSerializer, 200: s.AccommodationSerializer},
    )
    def post(self, request):
        data = self.body(s.AccommodationWriteSerializer)
        existed = (
            selectors.accommodation_list(institution=self.institution, candidate=data["candidate"])
            .filter(assessment=data["assessment"])
            .exists()
        )
        accommodation = accommodations.accommodation_set(
            candidate=data["candidate"],
            assessment=data["assessment"],
            **{_FIELDS[name]: data[name] for name in _FIELDS},
            actor_label=f"API key {request.auth.prefix}…",
        )
        return Response(
            s.AccommodationSerializer(accommodation).data,
            status=status.HTTP_200_OK if existed else status.HTTP_201_CREATED,
        )


class AccommodationDetailView(ApiView):
    @extend_schema(
        operation_id="accommodations_retrieve", tags=["accommodations"], responses=s.AccommodationSerializer
    )
    def get(self, request, accommodation_id):
        found = selectors.accommodation_get(institution=self.institution, public_id=accommodation_id)
        return Response(s.AccommodationSerializer(found).data)

    @extend_schema(
        operation_id="accommodations_update",
        tags=["accommodations"],
        summary="Change an accommodation's time, detectors or note",
        request=s.AccommodationUpdateSerializer,
        responses=s.AccommodationSerializer,
    )
    def patch(self, request, accommodation_id):
        found = selectors.accommodation_get(institution=self.institution, public_id=accommodation_id)
        data = self.body(s.AccommodationUpdateSerializer)
        current = {
            "extra_seconds": found.extra_seconds,
            "time_multiplier": found.time_multiplier,
            "disabled_detectors": list(found.disabled_detectors),
            "note": found.note,
        }
        current.update({_FIELDS[name]: value for name, value in data.items()})
        accommodation = accommodations.accommodation_set(
            candidate=found.candidate,
            assessment=found.assessment,
            **current,
            actor_label=f"API key {request.auth.prefix}…",
        )
        return Response(s.AccommodationSerializer(accommodation).data)

    @extend_schema(operation_id="accommodations_delete", tags=["accommodations"], responses={204: None})
    def delete(self, request, accommodation_id):
        found = selectors.accommodation_get(institution=self.institution, public_id=accommodation_id)
        accommodations.accommodation_remove(
            accommodation=found, actor_label=f"API key {request.auth.prefix}…"
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- sessions -------------------------------------------------------------------------------------


class SessionListView(ApiView):
    @extend_schema(
        operation_id="sessions_list",
        tags=["sessions"],
        summary="List sessions (newest first) with filters",
        parameters=[s.SessionListQuerySerializer],
        responses=s.page_of(s.SessionSerializer),
    )
    def get(self, request):
        query = self.query(s.SessionListQuerySerializer)
        queryset = selectors.session_list(
            institution=self.institution,
            assessment=query.get("assessment"),
            candidate=query.get("candidate"),
            status=query.get("status"),
            risk=query.get("riskBand"),
            started_after=query.get("startedAfter"),
            started_before=query.get("startedBefore"),
            flag_type=query.get("flagType"),
            test_attempt_id=query.get("testAttemptId"),
            assessment_external_id=query.get("assessmentId"),
            candidate_external_id=query.get("candidateId"),
        )
        return self.page(request, queryset, s.SessionSerializer, query, field="started_at", descending=True)


class SessionDetailView(ApiView):
    @extend_schema(operation_id="sessions_retrieve", tags=["sessions"], responses=s.SessionSerializer)
    def get(self, request, session_id):
        session = selectors.session_get(institution=self.institution, public_id=session_id)
        return Response(s.SessionSerializer(session).data)


class SessionFlagsView(ApiView):
    @extend_schema(
        operation_id="sessions_flags_list",
        tags=["sessions"],
        summary="A session's flags, in the order they happened",
        parameters=[s.PageQuerySerializer],
        responses=s.page_of(s.FlagSerializer),
    )
    def get(self, request, session_id):
        session = selectors.session_get(institution=self.institution, public_id=session_id)
        query = self.query(s.PageQuerySerializer)
        queryset = selectors.session_flags(session=session)
        return self.page(request, queryset, s.FlagSerializer, query, field="started_at", descending=False)


class SessionEventsView(ApiView):
    @extend_schema(
        operation_id="sessions_events_list",
        tags=["sessions"],
        summary="A session's browser events (focus, fullscreen, screens, copy/paste, offline), in order",
        parameters=[s.PageQuerySerializer],
        responses=s.page_of(s.EventSerializer),
    )
    def get(self, request, session_id):
        session = selectors.session_get(institution=self.institution, public_id=session_id)
        query = self.query(s.PageQuerySerializer)
        queryset = selectors.session_browser_events(session=session)
        return self.page(request, queryset, s.EventSerializer, query, field="started_at", descending=False)


class SessionReportView(ApiView):
    @extend_schema(
        operation_id="sessions_report",
        tags=["sessions"],
        summary="Trust score, its breakdown, the reviewer's verdict and evidence links",
        responses=s.ReportSerializer,
    )
    def get(self, request, session_id):
        session = selectors.session_get(institution=self.institution, public_id=session_id)
        return Response(s.ReportSerializer(selectors.session_report(session=session)).data)


class SessionReportPdfView(FileApiView):
    renderer_classes = [JSONRenderer, _PdfRenderer]

    @extend_schema(
        operation_id="sessions_report_pdf",
        tags=["sessions"],
        summary="The session report as PDF: candidate, assessment, trust score and breakdown, verdict "
        "and notes, flags with their evidence frames, timeline, audit trail",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF report.")
        },
    )
    def get(self, request, session_id):
        from sessions.report_pdf import report_filename, session_report_pdf

        session = selectors.session_get(institution=self.institution, public_id=session_id)
        response = HttpResponse(session_report_pdf(session=session), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{report_filename(session)}"'
        return response


class SessionReportCredentialView(ApiView):
    @extend_schema(
        operation_id="sessions_report_credential",
        tags=["sessions"],
        summary="A credential for showReport() in your page: reads this session's report, expires, "
        "and can never start, resume or end it",
        request=s.ReportCredentialRequestSerializer,
        responses={201: s.ReportCredentialSerializer},
    )
    def post(self, request, session_id):
        from sessions.reports import report_credential_make

        session = selectors.session_get(institution=self.institution, public_id=session_id)
        data = self.body(s.ReportCredentialRequestSerializer)
        token, expires_at = report_credential_make(session=session, ttl_seconds=data["ttlSeconds"])
        body = {
            "reportToken": token,
            "expiresAt": expires_at,
            "sessionId": session.public_id,
            "testAttemptId": session.config.get("testAttemptId", ""),
        }
        return Response(s.ReportCredentialSerializer(body).data, status=status.HTTP_201_CREATED)


class SessionEndView(ApiView):
    @extend_schema(
        operation_id="sessions_end",
        tags=["sessions"],
        summary="End a running session from your server (irreversible)",
        request=None,
        responses={
            200: s.SessionSerializer,
            409: OpenApiResponse(s.ErrorSerializer, description="SESSION_ALREADY_ENDED."),
        },
    )
    def post(self, request, session_id):
        from sessions.services import session_end

        session = selectors.session_get(institution=self.institution, public_id=session_id)
        if session.status != ProctoringSession.Status.ACTIVE:
            raise SessionAlreadyEnded(details={"status": session.status})
        session_end(session=session, reason="server")
        session = selectors.session_get(institution=self.institution, public_id=session_id)
        return Response(s.SessionSerializer(session).data)


# --- live intervention ----------------------------------------------------------------------------

_NOT_RUNNING = OpenApiResponse(
    s.ErrorSerializer,
    description="SESSION_ALREADY_ENDED (the session is not running), SESSION_PAUSED or SESSION_NOT_PAUSED.",
)


class _InterventionView(ApiView):
    """The session of this institution (another's is a 404), and who acts: the API key.

    Pause, resume, extend and terminate go through sessions.lti.services.session_control, so an
    LMS attempt's LMS is told as well (its answer is in the session's LMS_CONTROL event)."""

    def running(self, session_id) -> ProctoringSession:
        return selectors.session_get(institution=self.institution, public_id=session_id)

    @property
    def actor_label(self) -> str:
        return f"API key {self.request.auth.prefix}…"

    def answer(self, session_id):
        session = selectors.session_get(institution=self.institution, public_id=session_id)
        return Response(s.SessionSerializer(session).data)


class SessionMessageView(_InterventionView):
    @extend_schema(
        operation_id="sessions_message",
        tags=["sessions"],
        summary="Show the candidate a message now (they acknowledge it in the widget)",
        request=s.MessageRequestSerializer,
        responses={201: s.MessageSerializer, 409: _NOT_RUNNING},
    )
    def post(self, request, session_id):
        session = self.running(session_id)
        data = self.body(s.MessageRequestSerializer)
        message = intervention.message_send(session=session, text=data["text"], actor_label=self.actor_label)
        return Response(s.MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class SessionPauseView(_InterventionView):
    @extend_schema(
        operation_id="sessions_pause",
        tags=["sessions"],
        summary="Pause a running session: capture and the clock stop until it is resumed",
        request=s.PauseRequestSerializer,
        responses={200: s.SessionSerializer, 409: _NOT_RUNNING},
    )
    def post(self, request, session_id):
        session = self.running(session_id)
        data = self.body(s.PauseRequestSerializer)
        session_control(
            session=session, action="pause", reason=data.get("reason", ""), actor_label=self.actor_label
        )
        return self.answer(session_id)


class SessionResumeView(_InterventionView):
    @extend_schema(
        operation_id="sessions_resume",
        tags=["sessions"],
        summary="Resume a paused session; the deadline moves by the time it was paused",
        request=None,
        responses={200: s.SessionSerializer, 409: _NOT_RUNNING},
    )
    def post(self, request, session_id):
        session_control(session=self.running(session_id), action="resume", actor_label=self.actor_label)
        return self.answer(session_id)


class SessionExtendView(_InterventionView):
    @extend_schema(
        operation_id="sessions_extend",
        tags=["sessions"],
        summary="Give the candidate more time: the server's deadline moves",
        request=s.ExtendRequestSerializer,
        responses={200: s.SessionSerializer, 409: _NOT_RUNNING},
    )
    def post(self, request, session_id):
        session = self.running(session_id)
        data = self.body(s.ExtendRequestSerializer)
        session_control(
            session=session, action="extend", seconds=data["seconds"], actor_label=self.actor_label
        )
        return self.answer(session_id)


class SessionTerminateView(_InterventionView):
    @extend_schema(
        operation_id="sessions_terminate",
        tags=["sessions"],
        summary="Terminate a running session with a reason (irreversible; endReason terminated)",
        request=s.TerminateRequestSerializer,
        responses={200: s.SessionSerializer, 409: _NOT_RUNNING},
    )
    def post(self, request, session_id):
        session = self.running(session_id)
        data = self.body(s.TerminateRequestSerializer)
        session_control(
            session=session, action="terminate", reason=data["reason"], actor_label=self.actor_label
        )
        return self.answer(session_id)


# --- webhooks -------------------------------------------------------------------------------------

_URL_REFUSED = OpenApiResponse(
    s.ErrorSerializer,
    description="WEBHOOK_URL_NOT_ALLOWED (private/loopback address, bad scheme) or VALIDATION_ERROR.",
)


class WebhookEndpointListView(ApiView):
    @extend_schema(
        operation_id="webhooks_list",
        tags=["webhooks"],
        parameters=[s.PageQuerySerializer],
        responses=s.page_of(s.WebhookEndpointSerializer),
    )
    def get(self, request):
        query = self.query(s.PageQuerySerializer)
        queryset = selectors.webhook_endpoint_list(institution=self.institution)
        return self.page(
            request, queryset, s.WebhookEndpointSerializer, query, field="created_at", descending=True
        )

    @extend_schema(
        operation_id="webhooks_create",
        tags=["webhooks"],
        summary="Add an endpoint; the response carries its signing secret, once",
        request=s.WebhookEndpointCreateSerializer,
        responses={201: s.WebhookEndpointCreatedSerializer, 400: _URL_REFUSED},
    )
    def post(self, request):
        data = self.body(s.WebhookEndpointCreateSerializer)
        endpoint, secret = tenant_services.webhook_endpoint_create(institution=self.institution, **data)
        body = s.WebhookEndpointSerializer(endpoint).data | {"secret": secret}
        return Response(body, status=status.HTTP_201_CREATED)


class WebhookEndpointDetailView(ApiView):
    def _endpoint(self, endpoint_id):
        return selectors.webhook_endpoint_get(institution=self.institution, public_id=endpoint_id)

    @extend_schema(operation_id="webhooks_retrieve", tags=["webhooks"], responses=s.WebhookEndpointSerializer)
    def get(self, request, endpoint_id):
        return Response(s.WebhookEndpointSerializer(self._endpoint(endpoint_id)).data)

    @extend_schema(
        operation_id="webhooks_update",
        tags=["webhooks"],
        summary="Change an endpoint; isActive=true re-enables a disabled one",
        request=s.WebhookEndpointUpdateSerializer,
        responses={200: s.WebhookEndpointSerializer, 400: _URL_REFUSED},
    )
    def patch(self, request, endpoint_id):
        endpoint = self._endpoint(endpoint_id)
        data = self.body(s.WebhookEndpointUpdateSerializer)
        endpoint = tenant_services.webhook_endpoint_update(endpoint=endpoint, **data)
        return Response(s.WebhookEndpointSerializer(endpoint).data)

    @extend_schema(operation_id="webhooks_destroy", tags=["webhooks"], responses={204: None})
    def delete(self, request, endpoint_id):
        tenant_services.webhook_endpoint_delete(endpoint=self._endpoint(endpoint_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookPingView(ApiView):
    @extend_schema(
        operation_id="webhooks_ping",
        tags=["webhooks"],
        summary="Send a signed test delivery (event: ping), once",
        request=None,
        responses={202: s.WebhookDeliverySerializer},
    )
    def post(self, request, endpoint_id):
        endpoint = selectors.webhook_endpoint_get(institution=self.institution, public_id=endpoint_id)
        delivery = webhooks.webhook_ping(endpoint=endpoint)
        delivery = selectors.webhook_delivery_get(endpoint=endpoint, public_id=delivery.public_id)
        return Response(s.WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryListView(ApiView):
    @extend_schema(
        operation_id="webhooks_deliveries_list",
        tags=["webhooks"],
        summary="An endpoint's deliveries (newest first), each with its attempts",
        parameters=[s.PageQuerySerializer],
        responses=s.page_of(s.WebhookDeliverySerializer),
    )
    def get(self, request, endpoint_id):
        endpoint = selectors.webhook_endpoint_get(institution=self.institution, public_id=endpoint_id)
        query = self.query(s.PageQuerySerializer)
        queryset = selectors.webhook_delivery_list(endpoint=endpoint)
        return self.page(
            request, queryset, s.WebhookDeliverySerializer, query, field="created_at", descending=True
        )


class WebhookDeliveryDetailView(ApiView):
    @extend_schema(
        operation_id="webhooks_deliveries_retrieve", tags=["webhooks"], responses=s.WebhookDeliverySerializer
    )
    def get(self, request, endpoint_id, delivery_id):
        endpoint = selectors.webhook_endpoint_get(institution=self.institution, public_id=endpoint_id)
        delivery = selectors.webhook_delivery_get(endpoint=endpoint, public_id=delivery_id)
        return Response(s.WebhookDeliverySerializer(delivery).data)


class WebhookRedeliverView(ApiView):
    @extend_schema(
        operation_id="webhooks_deliveries_redeliver",
        tags=["webhooks"],
        summary="Send a delivery again, once, with the same Proctorme-Delivery id",
        request=None,
        responses={202: s.WebhookDeliverySerializer},
    )
    def post(self, request, endpoint_id, delivery_id):
        endpoint = selectors.webhook_endpoint_get(institution=self.institution, public_id=endpoint_id)
        delivery = selectors.webhook_delivery_get(endpoint=endpoint, public_id=delivery_id)
        webhooks.webhook_redeliver(delivery=delivery)
        delivery = selectors.webhook_delivery_get(endpoint=endpoint, public_id=delivery_id)
        return Response(s.WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


# --- usage ----------------------------------------------------------------------------------------


class UsageView(ApiView):
    @extend_schema(
        operation_id="usage_retrieve",
        tags=["usage"],
        summary="Candidate-hours per UTC day (sessions count from start to end, or now while running)",
        parameters=[s.UsageQuerySerializer],
        responses=s.UsageSerializer,
    )
    def get(self, request):
        query = self.query(s.UsageQuerySerializer)
        days = selectors.usage_by_day(institution=self.institution, first=query["first"], last=query["last"])
        total = round(sum(day["candidateHours"] for day in days), 4)
        body = {"from": query["first"], "to": query["last"], "totalCandidateHours": total, "days": days}
        return Response(s.UsageSerializer(body).data)


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Unknown paths under /api/v1/ answer in the API's error format, not Django's HTML page."""
    return JsonResponse(error_body("NOT_FOUND", "No such API endpoint."), status=404)
