from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from proctorme.health import healthz, livez
from sessions.dashboard import views as dashboard_views
from sessions.metrics import metrics_view
from tenants import accounts

# A database away for a moment is a coded 503 (proctorme.unavailable), anything else a 500.
handler500 = "proctorme.unavailable.server_error_or_unavailable"

urlpatterns = [
    path("", dashboard_views.home, name="home"),
    path("dashboard/", include("sessions.dashboard.urls")),
    path("healthz", healthz, name="healthz"),
    path("livez", livez, name="livez"),
    path("metrics", metrics_view, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("sessions.urls")),
    # Django's admin shows "Forgotten your password?" on its login page when this name exists.
    path("admin/password_reset/", accounts.PasswordResetView.as_view(), name="admin_password_reset"),
    path("admin/", admin.site.urls),
    path("api/", include("sessions.api.urls")),
    path("accounts/login/", accounts.SignInView.as_view(), name="login"),
    path("accounts/two-factor/", accounts.two_factor_view, name="two-factor"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/reset/", accounts.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        accounts.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path(
        "accounts/invitation/<uidb64>/<token>/",
        accounts.InvitationAcceptView.as_view(),
        name="invitation-accept",
    ),
    path("accounts/invitation/done/", accounts.InvitationCompleteView.as_view(), name="invitation-complete"),
]
