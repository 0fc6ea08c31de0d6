import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proctorme.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

from proctorme.tasks import start_embedded_scheduler  # noqa: E402


def _cheaper_connections() -> None:
    """Two per-connection costs of the server's libraries that buy nothing here.

    * autobahn pretty-prints its whole configuration for a debug log line on
      every new WebSocket, logged or not (a few ms of CPU per connection, a
      reconnect storm's main cost): the text is now made only if logged.
    * redis-py reads its own package metadata from disk for every new
      connection (to name itself to the server): read once.
    """
    import functools
    import pprint

    import autobahn.websocket.protocol as autobahn_protocol
    import redis.utils

    class _LazyFormat:
        __slots__ = ("value",)

        def __init__(self, value) -> None:
            self.value = value

        def __str__(self) -> str:
            return pprint.pformat(self.value)

        __format__ = lambda self, spec: format(str(self), spec)  # noqa: E731

    if autobahn_protocol.pformat is pprint.pformat:
        autobahn_protocol.pformat = _LazyFormat
        # The module's one other use of the name must still return text.
        autobahn_protocol.Timings.__str__ = lambda self: pprint.pformat(self._timings)
    if not hasattr(redis.utils.get_lib_version, "cache_info"):
        redis.utils.get_lib_version = functools.cache(redis.utils.get_lib_version)


_cheaper_connections()

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
