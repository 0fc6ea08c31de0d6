"""Mounted at /api/: the integrator API (v1), its OpenAPI schema and interactive docs."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from sessions.api import views
from sessions.lti import api as lti_api

v1 = [
    path("assessments", views.AssessmentListView.as_view(), name="assessments"),
    path("assessments/<uuid:assessment_id>", views.AssessmentDetailView.as_view(), name="assessment"),
    path(
        "assessments/<uuid:assessment_id>/archive",
        views.AssessmentArchiveView.as_view(),
        name="assessment-archive",
    ),
    path("candidates", views.CandidateListView.as_view(), name="candidates"),
    path("candidates/<uuid:candidate_id>", views.CandidateDetailView.as_view(), name="candidate"),
    path(
        "candidates/<uuid:candidate_id>/export", views.CandidateExportView.as_view(), name="candidate-export"
    ),
    path("candidates/<uuid:candidate_id>/erase", views.CandidateEraseView.as_view(), name="candidate-erase"),
    path("accommodations", views.AccommodationListView.as_view(), name="accommodations"),
    path(
        "accommodations/<uuid:accommodation_id>",
        views.AccommodationDetailView.as_view(),
        name="accommodation",
    ),
    path("sessions", views.SessionListView.as_view(), name="sessions"),
    path("sessions/<uuid:session_id>", views.SessionDetailView.as_view(), name="session"),
    path("sessions/<uuid:session_id>/flags", views.SessionFlagsView.as_view(), name="session-flags"),
    path("sessions/<uuid:session_id>/events", views.SessionEventsView.as_view(), name="session-events"),
    path("sessions/<uuid:session_id>/report", views.SessionReportView.as_view(), name="session-report"),
    path(
        "sessions/<uuid:session_id>/report.pdf",
        views.SessionReportPdfView.as_view(),
        name="session-report-pdf",
    ),
    path("sessions/<uuid:session_id>/end", views.SessionEndView.as_view(), name="session-end"),
    path("sessions/<uuid:session_id>/messages", views.SessionMessageView.as_view(), name="session-messages"),
    path("sessions/<uuid:session_id>/pause", views.SessionPauseView.as_view(), name="session-pause"),
    path("sessions/<uuid:session_id>/resume", views.SessionResumeView.as_view(), name="session-resume"),
    path("sessions/<uuid:session_id>/extend", views.SessionExtendView.as_view(), name="session-extend"),
    path(
        "sessions/<uuid:session_id>/terminate", views.SessionTerminateView.as_view(), name="session-terminate"
    ),
    path(
        "sessions/<uuid:session_id>/report-credentials",
        views.SessionReportCredentialView.as_view(),
        name="session-report-credential",
    ),
    path("webhooks", views.WebhookEndpointListView.as_view(), name="webhooks"),
    path("webhooks/<uuid:endpoint_id>", views.WebhookEndpointDetailView.as_view(), name="webhook"),
    path("webhooks/<uuid:endpoint_id>/ping", views.WebhookPingView.as_view(), name="webhook-ping"),
    path(
        "webhooks/<uuid:endpoint_id>/deliveries",
        views.WebhookDeliveryListView.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhooks/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>",
        views.WebhookDeliveryDetailView.as_view(),
        name="webhook-delivery",
    ),
    path(
        "webhooks/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/redeliver",
        views.WebhookRedeliverView.as_view(),
        name="webhook-redeliver",
    ),
    path("usage", views.UsageView.as_view(), name="usage"),
    path("lti/registrations", lti_api.RegistrationListView.as_view(), name="lti-registrations"),
    path(
        "lti/registrations/<uuid:registration_id>",
        lti_api.RegistrationDetailView.as_view(),
        name="lti-registration",
    ),
    path("lti/tool", lti_api.ToolView.as_view(), name="lti-tool"),
    path(
        "sessions/<uuid:session_id>/lms-control",
        lti_api.SessionControlView.as_view(),
        name="session-lms-control",
    ),
    path("lti/tool/rotate-key", lti_api.ToolKeyRotateView.as_view(), name="lti-tool-rotate-key"),
]

app_name = "api"
urlpatterns = [
    path("v1/", include(v1)),
    re_path(r"^v1/", views.api_not_found),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
]
