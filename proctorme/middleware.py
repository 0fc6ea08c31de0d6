"""Django's own middlewares, run on the event loop under ASGI instead of a thread per step.

Django's ``MiddlewareMixin`` is async-capable only in name: under ASGI its ``__acall__`` runs
``process_request`` and ``process_response`` each through ``sync_to_async``, a hop to the
request's thread and back, so the chain in ``settings.MIDDLEWARE`` cost about 17 hops a request
before the view's own (every widget upload, every 2 s per candidate). These subclasses run the
same methods, unchanged, on the loop when they do no I/O, and on a thread as before when they
may: a session to save, messages to load or store, a CSRF check that reads the request's form.
Under WSGI (and Django's test ``Client``) nothing changes: ``MiddlewareMixin.__call__`` calls
them as it always did.

Running a method inline is safe only for the work it does now: pure header, cookie and
attribute work on the request and response. An ORM call there would raise Django's
``SynchronousOnlyOperation`` rather than block the loop; a cache call would block it (none do).
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as session_middleware
from django.middleware import clickjacking, common, csrf, locale, security
from django.utils.module_loading import import_string

from proctorme.csp import DashboardCSPMiddleware

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class OnTheLoop:
    """For a ``MiddlewareMixin`` subclass: its ``process_request`` and ``process_response`` run
    on the event loop, except a response ``response_needs_thread`` says may do I/O."""

    def request_needs_thread(self, request) -> bool:
        return False

    def response_needs_thread(self, request, response) -> bool:
        return False

    async def __acall__(self, request):
        response = None
        if hasattr(self, "process_request"):
            if self.request_needs_thread(request):
                response = await sync_to_async(self.process_request, thread_sensitive=True)(request)
            else:
                response = self.process_request(request)
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            if self.response_needs_thread(request, response):
                response = await sync_to_async(self.process_response, thread_sensitive=True)(
                    request, response
                )
            else:
                response = self.process_response(request, response)
        return response


class SecurityMiddleware(OnTheLoop, security.SecurityMiddleware):
    pass


class SessionMiddleware(OnTheLoop, session_middleware.SessionMiddleware):
    """The store is made lazily (no read); only a save touches the session backend."""

    def response_needs_thread(self, request, response) -> bool:
        session = getattr(request, "session", None)
        return session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST)


class LocaleMiddleware(OnTheLoop, locale.LocaleMiddleware):
    pass


class CommonMiddleware(OnTheLoop, common.CommonMiddleware):
    pass


class CsrfViewMiddleware(OnTheLoop, csrf.CsrfViewMiddleware):
    """The token comes from a cookie (not the session: ``CSRF_USE_SESSIONS`` keeps Django's
    threads). The view check reads the form of an unsafe request that is not exempt, so that
    one runs on a thread; a widget request (exempt) or a GET is answered on the loop."""

    def __init__(self, get_response):
        super().__init__(get_response)
        if self.async_mode:
            self.process_view = self._process_view_async

    def request_needs_thread(self, request) -> bool:
        return settings.CSRF_USE_SESSIONS

    def response_needs_thread(self, request, response) -> bool:
        return settings.CSRF_USE_SESSIONS

    async def _process_view_async(self, request, callback, callback_args, callback_kwargs):
        check = super().process_view
        if not settings.CSRF_USE_SESSIONS and (
            getattr(callback, "csrf_exempt", False) or request.method in SAFE_METHODS
        ):
            return check(request, callback, callback_args, callback_kwargs)
        return await sync_to_async(check, thread_sensitive=True)(
            request, callback, callback_args, callback_kwargs
        )


class AuthenticationMiddleware(OnTheLoop, auth.AuthenticationMiddleware):
    """``request.user`` is lazy: the session and the user are read by whoever asks for them."""


class MessageMiddleware(OnTheLoop, messages.MessageMiddleware):
    """Messages untouched by the request are neither loaded nor stored."""

    def response_needs_thread(self, request, response) -> bool:
        storage = getattr(request, "_messages", None)
        return storage is not None and (storage.used or storage.added_new)


class XFrameOptionsMiddleware(OnTheLoop, clickjacking.XFrameOptionsMiddleware):
    pass


class CSPMiddleware(OnTheLoop, DashboardCSPMiddleware):
    pass


def teach_deploy_checks() -> None:
    """Django's deploy checks (``check --deploy``) look for their middlewares by name: they would
    report these three missing and then pass, unchecked, everything that depends on them (HSTS,
    the SSL redirect, nosniff, the referrer and opener policies, framing DENY, the CSRF cookie).
    They accept a subclass from here on (``ProctoringConfig.ready``). Should a Django release
    rename the helpers, the checks fall back to the names and the deploy test fails."""
    from django.core.checks.security import base as security_checks
    from django.core.checks.security import csrf as csrf_checks

    def present(django_class):
        def check() -> bool:
            return any(issubclass(import_string(name), django_class) for name in settings.MIDDLEWARE)

        return check

    security_checks._security_middleware = present(security.SecurityMiddleware)
    security_checks._xframe_middleware = present(clickjacking.XFrameOptionsMiddleware)
    csrf_checks._csrf_middleware = present(csrf.CsrfViewMiddleware)
