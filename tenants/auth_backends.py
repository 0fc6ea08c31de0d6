from __future__ import annotations

from axes.backends import AxesStandaloneBackend


class ThrottledBackend(AxesStandaloneBackend):
    """django-axes' lockout check for every sign-in that comes with a request.

    Every sign-in form here (dashboard, admin, password pages) passes the
    request. ``authenticate()`` without one only comes from code running on the
    server itself (a shell, a management command, the test client's
    ``login()``), which has no client address to throttle; axes would refuse it
    outright, so it is passed on to the next backend instead.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
