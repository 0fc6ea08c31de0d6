from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from proctorme.health import healthz

urlpatterns = [
    path("", RedirectView.as_view(url="/demo/", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("", include("sessions.urls")),
    path("admin/", admin.site.urls),
    path("api/", include("sessions.api.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
