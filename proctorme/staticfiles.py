"""WhiteNoise's middleware with an async path, so the ASGI chain needs no thread for it.

WhiteNoise's own middleware is sync-only: under ASGI Django then runs it and every middleware
above it on a thread, and hops back to the event loop for the async ones below, for every
request (the widget's uploads included, which never are static files). Here the async path
looks the path up in the same index; a hit is served as WhiteNoise serves it (the same
response and headers), anything else goes on down the chain without leaving the loop. In
autorefresh mode (``DEBUG``) the look-up searches the disk and the finders, so it runs on a
thread, as it did. The sync path (WSGI, the test client) is WhiteNoise's own.
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response=None, *args, **kwargs):
        super().__init__(get_response, *args, **kwargs)
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.async_mode:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request):
        if self.autorefresh:
            static_file = await sync_to_async(self.find_file, thread_sensitive=False)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is not None:
            # Opens the file (already stat-ed and indexed at start-up): no hop for that.
            return self.serve(static_file, request)
        return await self.get_response(request)
