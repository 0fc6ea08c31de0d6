"""The project's URL configuration: the composition root.

Each app's pages are included by module name (a string, resolved by Django at
start-up), so the kernel imports no app and the layers point only down:
sessions → tenants → proctorme.
"""

from django.contrib import admin
from django.urls import include, path

from proctorme.health import healthz, livez

# A database away for a moment is a coded 503 (proctorme.unavailable), anything else a 500.
handler500 = "proctorme.unavailable.server_error_or_unavailable"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("livez", livez, name="livez"),
    path("i18n/", include("django.conf.urls.i18n")),
    # The candidate's and the reviewer's pages: home, dashboard, widget, media, LTI, demo, metrics.
    path("", include("sessions.urls")),
    # Accounts (and the admin's password-reset link, which must come before the admin itself).
    path("", include("tenants.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("sessions.api.urls")),
]
