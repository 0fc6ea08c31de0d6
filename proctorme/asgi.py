import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proctorme.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

from proctorme.tasks import start_embedded_scheduler  # noqa: E402

# Named in settings (like ROOT_URLCONF), so the kernel imports no app.
websocket_urlpatterns = import_string(settings.WEBSOCKET_URLPATTERNS)

# The widget's WebSocket is cross-origin by design (exam pages live on the
# institution's domains); the consumer checks the Origin against the session's
# institution itself, so no AllowedHostsOriginValidator here.
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

start_embedded_scheduler()
