from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from sessions.consumers import WidgetConsumer
from sessions.dashboard.consumers import DashboardConsumer

websocket_urlpatterns = [
    path("ws/widget/", WidgetConsumer.as_asgi()),
    # Cookie-authenticated, so same-site only (the widget's socket above is cross-origin by design).
    path("ws/dashboard/", AllowedHostsOriginValidator(AuthMiddlewareStack(DashboardConsumer.as_asgi()))),
]
