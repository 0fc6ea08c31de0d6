"""Content-Security-Policy for the dashboard and the sign-in pages (django-csp).

Applied by path, fail-closed for every page under PROCTORME_CSP_PATHS, and
nowhere else: the widget's endpoints answer institutions' pages cross-origin
and the demo and LMS tool pages are exam pages with inline scripts of their own.
"""

from __future__ import annotations

from csp.middleware import CSPMiddleware
from django.conf import settings


class DashboardCSPMiddleware(CSPMiddleware):
    def process_response(self, request, response):
        if not request.path.startswith(tuple(settings.PROCTORME_CSP_PATHS)):
            return response
        return super().process_response(request, response)
