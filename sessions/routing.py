from django.urls import path

from sessions.consumers import WidgetConsumer

websocket_urlpatterns = [
    path("ws/widget/", WidgetConsumer.as_asgi()),
]
