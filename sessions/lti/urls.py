from django.urls import path

from sessions.lti import views

urlpatterns = [
    path("<uuid:institution_id>/jwks.json", views.jwks_view, name="lti-jwks"),
    path("<uuid:institution_id>/login", views.login_view, name="lti-login"),
    path("<uuid:institution_id>/launch", views.launch_view, name="lti-launch"),
    path("<uuid:institution_id>/register", views.register_view, name="lti-register"),
    path("<uuid:institution_id>/two-factor", views.two_factor_view, name="lti-two-factor"),
    path("<uuid:institution_id>/deep-link", views.deep_link_view, name="lti-deep-link"),
    path(
        "attempts/<uuid:attempt_id>/start-assessment",
        views.start_assessment_view,
        name="lti-start-assessment",
    ),
    path("sessions/<uuid:session_id>/control", views.session_control_view, name="lti-session-control"),
]
