"""Under ASGI the middleware chain runs on the event loop: no middleware is adapted, the only
thread a request takes is its (sync) view's, and the request id still reaches every log line."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import SyncToAsync, async_to_sync
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.core.handlers.wsgi import WSGIHandler
from django.test import AsyncClient, Client

from tests.ops.test_logs_and_errors import ORIGIN, _start, records  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db


def _adaptations(monkeypatch, make_handler) -> list[tuple[str, bool]]:
    """(what, adapted) for every handler Django fits into the chain as it builds it."""
    seen: list[tuple[str, bool]] = []
    original = BaseHandler.adapt_method_mode

    def recording(self, is_async, method, method_is_async=None, debug=False, name=None):
        adapted = original(self, is_async, method, method_is_async, debug=debug, name=name)
        seen.append((name or getattr(method, "__qualname__", repr(method)), adapted is not method))
        return adapted

    monkeypatch.setattr(BaseHandler, "adapt_method_mode", recording)
    make_handler()
    return seen


def test_no_middleware_is_adapted_under_asgi(monkeypatch, settings):
    seen = _adaptations(monkeypatch, ASGIHandler)
    chain = [(name, adapted) for name, adapted in seen if name.startswith("middleware ")]
    assert len(chain) == len(settings.MIDDLEWARE)
    assert [name for name, adapted in chain if adapted] == []
    # The top of the chain (no name): handed to the ASGI handler as it is, a coroutine function.
    assert [adapted for name, adapted in seen if not name.startswith("middleware ")][-1] is False


def test_no_middleware_is_adapted_under_wsgi(monkeypatch, settings):
    seen = _adaptations(monkeypatch, WSGIHandler)
    assert [name for name, adapted in seen if name.startswith("middleware ") and adapted] == []


# The hops Django's ASGI handler makes around the chain, whatever the middlewares: the
# request_started receivers, a 4xx/5xx's log line, the response's close (request_finished).
HANDLER_HOPS = {
    "django.dispatch.dispatcher.Signal.asend.<locals>.sync_send",
    "django.utils.log.log_response",
    "django.http.response.HttpResponseBase.close",
}


@pytest.fixture
def hops(monkeypatch) -> list[str]:
    """What each ``sync_to_async`` call of the test runs on a thread."""
    seen: list[str] = []
    original = SyncToAsync.__call__

    async def recording(self, *args, **kwargs):
        func = self.func
        seen.append(f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}")
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", recording)
    return seen


def test_an_asgi_upload_takes_one_thread_hop_for_its_view_and_none_in_the_chain(
    tenant_a, hops, settings, tmp_path
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.widget.test_upload_refusals import _jpeg

    settings.MEDIA_ROOT = tmp_path / "media"
    started = _start(tenant_a)
    meta = {"items": [{"part": "f1", "kind": "frame", "seq": 1, "capturedAt": "2026-01-05T10:00:00Z"}]}
    response = async_to_sync(AsyncClient().post)(
        f"/widget/v1/sessions/{started.session.public_id}/media",
        {"meta": json.dumps(meta), "f1": SimpleUploadedFile("f1", _jpeg(), content_type="image/jpeg")},
        headers={"Authorization": f"Bearer {started.token}", "Origin": ORIGIN},
    )
    assert response.status_code == 202, response.content
    assert response.json()["accepted"] == [{"kind": "frame", "seq": 1}]
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert [hop for hop in hops if hop not in HANDLER_HOPS] == ["sessions.widget_views.media_upload_view"]


def test_a_dashboard_page_answers_the_same_under_asgi_as_under_wsgi(tenant_a, hops):
    """Session, language, CSRF cookie, CSP and framing headers: the same, on the loop."""
    sync_client, async_client = Client(), AsyncClient()
    sync_client.force_login(tenant_a.admin)
    async_client.force_login(tenant_a.admin)
    wsgi = sync_client.get("/dashboard/", HTTP_ACCEPT_LANGUAGE="fr")
    hops.clear()
    asgi = async_to_sync(async_client.get)("/dashboard/", headers={"Accept-Language": "fr"})
    assert asgi.status_code == wsgi.status_code
    for name in (
        "Content-Language",
        "Vary",
        "X-Frame-Options",
        "X-Content-Type-Options",
        "Referrer-Policy",
        "Cross-Origin-Opener-Policy",
        "Location",
    ):
        assert asgi.get(name) == wsgi.get(name), name
    assert ("Content-Security-Policy" in asgi) == ("Content-Security-Policy" in wsgi)
    assert asgi.cookies.keys() == wsgi.cookies.keys()
    # The session was read (on the view's thread), not modified: nothing to save, no hop for it.
    assert [hop for hop in hops if hop not in HANDLER_HOPS and "Middleware" in hop] == []


def test_a_form_post_checks_csrf_on_a_thread(hops, db):
    response = async_to_sync(AsyncClient(enforce_csrf_checks=True).post)(
        "/accounts/login/", {"username": "x"}
    )
    assert response.status_code == 403  # no token: refused, as under WSGI
    assert "django.middleware.csrf.CsrfViewMiddleware.process_view" in hops


def test_an_asgi_request_logs_with_its_request_and_session_ids(tenant_a, records):  # noqa: F811
    started = _start(tenant_a)
    response = async_to_sync(AsyncClient().post)(
        f"/widget/v1/sessions/{started.session.public_id}/media",
        {"meta": "not json"},
        headers={
            "Authorization": f"Bearer {started.token}",
            "Origin": ORIGIN,
            "X-Request-ID": "req-from-the-proxy-43",
        },
    )
    assert response.status_code == 400
    assert response["X-Request-ID"] == "req-from-the-proxy-43"
    (record,) = [r for r in records if r.name == "django.request"]
    assert record.request_id == "req-from-the-proxy-43"
    assert record.session_id == str(started.session.public_id)


def test_asgi_request_ids_are_made_up_when_insane_and_do_not_leak(records):  # noqa: F811
    client = AsyncClient()

    async def two():
        first = await client.get("/no-such-page", headers={"X-Request-ID": "<script>"})
        second = await client.get("/no-such-page")
        return first, second

    first, second = async_to_sync(two)()
    assert first["X-Request-ID"] != "<script>" and len(first["X-Request-ID"]) == 32
    assert first["X-Request-ID"] != second["X-Request-ID"]
    ids = [r.request_id for r in records if r.name == "django.request"]
    assert ids == [first["X-Request-ID"], second["X-Request-ID"]]
    assert all(r.session_id == "-" for r in records if r.name == "django.request")


def test_signing_in_under_asgi_saves_the_session_on_a_thread_and_it_holds(tenant_a, hops):
    """The sign-in form: CSRF checked (the form read on a thread), the new session saved."""
    client = AsyncClient(enforce_csrf_checks=True)

    async def sign_in():
        page = await client.get("/accounts/login/")
        token = page.cookies["csrftoken"].value
        signed_in = await client.post(
            "/accounts/login/",
            {
                "username": tenant_a.admin.username,
                "password": "pw-admin-123",
                "otp_token": "",
                "next": "/dashboard/",
                "csrfmiddlewaretoken": token,
            },
        )
        return signed_in, await client.get("/dashboard/")

    signed_in, dashboard = async_to_sync(sign_in)()
    assert signed_in.status_code == 302 and signed_in["Location"] == "/dashboard/"
    assert "sessionid" in signed_in.cookies
    assert dashboard.status_code == 200
    assert "django.middleware.csrf.CsrfViewMiddleware.process_view" in hops
    assert "django.contrib.sessions.middleware.SessionMiddleware.process_response" in hops
