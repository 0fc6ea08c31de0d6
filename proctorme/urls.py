from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from proctorme.health import healthz
from sessions.dashboard import views as dashboard_views

urlpatterns = [
    path("", dashboard_views.home, name="home"),
    path("dashboard/", include("sessions.dashboard.urls")),
    path("healthz", healthz, name="healthz"),
    path("", include("sessions.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("sessions.api.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
