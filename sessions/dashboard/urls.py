from django.urls import path

from sessions.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.sessions_view, name="sessions"),
    path("sessions.csv", views.sessions_csv_view, name="sessions-csv"),
    path("sessions/<uuid:session_id>/", views.session_view, name="session"),
    path("sessions/<uuid:session_id>/report.pdf", views.session_report_pdf_view, name="session-report-pdf"),
    path("sessions/<uuid:session_id>/progress", views.session_progress_view, name="session-progress"),
    path("sessions/<uuid:session_id>/verdict", views.verdict_view, name="verdict"),
    path(
        "sessions/<uuid:session_id>/flags/<uuid:flag_id>/dismiss",
        views.flag_dismiss_view,
        name="flag-dismiss",
    ),
    path(
        "sessions/<uuid:session_id>/flags/<uuid:flag_id>/restore",
        views.flag_restore_view,
        name="flag-restore",
    ),
    path("media/<uuid:media_id>", views.media_view, name="media"),
    path("live/", views.live_view, name="live"),
    *[
        path(
            f"sessions/<uuid:session_id>/{action}",
            views.intervene_view,
            {"action": action},
            name=f"intervene-{action}",
        )
        for action in views.INTERVENTIONS
    ],
    path("overview/", views.overview_view, name="overview"),
    path("accommodations/", views.accommodations_view, name="accommodations"),
    path(
        "accommodations/<uuid:accommodation_id>/delete",
        views.accommodation_delete_view,
        name="accommodation-delete",
    ),
    path("switch", views.switch_view, name="switch"),
]
