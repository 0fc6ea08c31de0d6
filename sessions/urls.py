from django.urls import include, path, re_path

from sessions import aux_views, media, widget_views
from sessions.dashboard import views as dashboard_views
from sessions.demo import views as demo_views
from sessions.metrics import metrics_view
from sessions.widget_script import BUILD_RE

urlpatterns = [
    path("", dashboard_views.home, name="home"),
    path("dashboard/", include("sessions.dashboard.urls")),
    path("metrics", metrics_view, name="metrics"),
    path("widget.js", widget_views.widget_script_view, name="widget-script"),
    path("widget/manifest.json", widget_views.widget_manifest_view, name="widget-manifest"),
    re_path(
        rf"^widget/(?P<build>{BUILD_RE})/(?P<name>widget\.js|widget\.min\.js)$",
        widget_views.widget_build_view,
        name="widget-build",
    ),
    path("widget.d.ts", widget_views.widget_declarations_view, name="widget-declarations"),
    path("widget/v1/sessions", widget_views.session_start_view, name="widget-session-start"),
    path(
        "widget/v1/sessions/<uuid:session_id>/end", widget_views.session_end_view, name="widget-session-end"
    ),
    path(
        "widget/v1/sessions/<uuid:session_id>/media",
        widget_views.media_upload_view,
        name="widget-media-upload",
    ),
    path(
        "widget/v1/sessions/<uuid:session_id>/check",
        widget_views.frame_check_view,
        name="widget-frame-check",
    ),
    path("widget/v1/sessions/<uuid:session_id>/idcard", aux_views.id_card_view, name="widget-id-card"),
    path(
        "widget/v1/sessions/<uuid:session_id>/aux/pairing",
        aux_views.aux_pairing_view,
        name="widget-aux-pairing",
    ),
    path("widget/v1/sessions/<uuid:session_id>/aux", aux_views.aux_status_view, name="widget-aux-status"),
    path("aux/v1/claim", aux_views.aux_claim_view, name="aux-claim"),
    path("aux/v1/frames", aux_views.aux_frames_view, name="aux-frames"),
    path("aux/v1/heartbeat", aux_views.aux_heartbeat_view, name="aux-heartbeat"),
    path("aux/<str:secret>", aux_views.aux_phone_view, name="aux-phone"),
    path("widget/v1/ping", widget_views.ping_view, name="widget-ping"),
    path("widget/v1/report", widget_views.report_view, name="widget-report"),
    path("media/s/<str:token>", media.media_signed_view, name="media-signed"),
    path("lti/", include("sessions.lti.urls")),
    path("demo/", demo_views.demo_view, name="demo"),
    path("demo/autoproctor/", demo_views.demo_autoproctor_view, name="demo-autoproctor"),
]
