"""The widget's WebSocket: browser signals up, acknowledgements and flags down.

Authentication is the signed session token in the socket's first message,
``{"type": "auth", "token": ...}`` (browsers cannot set headers on a
WebSocket, and a token in the URL would land in every proxy's access log).
The server accepts, waits at most AUTH_TIMEOUT_SECONDS for that message and
closes with CLOSE_AUTH_TIMEOUT otherwise; a token in the query string is
refused (CLOSE_TOKEN_IN_URL) so no client comes to depend on it. The Origin
header must be the page the token was issued to and still a registered domain
of the institution.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import connection
from django.utils import timezone

from proctorme import logs
from proctorme.errors import ProctormeError, error_code
from proctorme.flag_types import BROWSER_SIGNALS
from proctorme.realtime import remember_server_loop, session_group
from proctorme.times import iso
from sessions import signal_writer
from sessions.intervention import session_intervention_state
from sessions.models import ProctoringSession
from sessions.services import (
    MAX_SEQ,
    BrowserSignal,
    payload_problem,
    session_end,
    session_end_notice,
    session_is_overdue,
    session_origin_allowed,
    signal_record,
)
from sessions.tokens import session_token_key_check, session_token_read

log = logging.getLogger(__name__)

CLOSE_TOKEN_IN_URL = 4400
CLOSE_BAD_TOKEN = 4401
CLOSE_BAD_ORIGIN = 4403
CLOSE_AUTH_TIMEOUT = 4408
CLOSE_ENDED = 4409
AUTH_TIMEOUT_SECONDS = 10.0
MAX_MESSAGE_BYTES = 16 * 1024
KEY_RECHECK_SECONDS = 30.0
RATE_PER_SECOND = 20.0
RATE_BURST = 60.0


# One encoder for every message: json.dumps with separators builds a new one per call.
_encode = json.JSONEncoder(separators=(",", ":")).encode


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.stamp = burst, time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _on_pool_keeping_connection(fn):
    """``fn`` on the event loop's thread pool, on a connection that thread keeps between calls.

    channels' database_sync_to_async closes the thread's connection before and after every
    call when connections are not kept (``DATABASE_CONN_MAX_AGE=0``, the ASGI servers'
    default), so each sign-in opened a connection of its own: about a third of a reconnect
    storm's CPU. The pool's threads live as long as the server (no thread per request, which is
    what that default is for), so each one keeps its connection and lets Django check it at
    most once a second, as the signal writer's thread does; one that fails is closed if it is
    no longer usable.
    """

    @functools.wraps(fn)
    def run(*args, **kwargs):
        signal_writer.connection_check()
        try:
            return fn(*args, **kwargs)
        except Exception:
            connection.close_if_unusable_or_obsolete()
            raise

    return sync_to_async(run, thread_sensitive=False)


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


# thread_sensitive=False: every socket's database work would otherwise share one
# thread per server process, capping it at 1 / (time of one signal_record).
def _authorise_sync(token: str | None, origin: str | None):
    try:
        claims = session_token_read(token)
        session_token_key_check(claims)
    except ProctormeError:
        return None, CLOSE_BAD_TOKEN
    session = (
        ProctoringSession.objects.select_related("institution", "assessment", "candidate")
        .filter(public_id=claims["session"])
        .first()
    )
    if session is None:
        return None, CLOSE_BAD_TOKEN
    if origin != claims["origin"] or not session_origin_allowed(session=session, origin=origin):
        return None, CLOSE_BAD_ORIGIN
    if session_is_overdue(session):
        session_end(session=session, reason="time_up")
        session.refresh_from_db()
    if session.status != ProctoringSession.Status.ACTIVE:
        # Ended while this page was away: it is told how before the close, as a connected page was.
        session.end_notice = session_end_notice(session.pk)
        return session, CLOSE_ENDED
    session.token_claims = claims
    # A page that (re)connects learns a pause in force and the messages it has not acknowledged.
    session.intervention = session_intervention_state(session)
    return session, None


def _key_still_active(claims: dict) -> bool:
    try:
        session_token_key_check(claims)
    except ProctormeError:
        return False
    return True


# Per server process: each publishable key's last check, (monotonic time, still active). Every
# socket of a key shares it, so a process asks the database about a key at most once every
# KEY_RECHECK_SECONDS however many sockets it holds (each socket asked on its own before, ~33
# queries/s at 1,000 sockets), and a revoked key ends each of its sockets at its first signal
# after the next check.
_key_verdicts: dict[str, tuple[float, bool]] = {}


async def _key_active(claims: dict) -> bool:
    key = claims.get("key")
    if not key:
        return True  # an LMS launch: no key issued it
    now = time.monotonic()
    seen = _key_verdicts.get(key)
    if seen is not None and now - seen[0] <= KEY_RECHECK_SECONDS:
        return seen[1]
    # The sockets that ask while this check runs go on with the last verdict.
    _key_verdicts[key] = (now, seen[1] if seen is not None else True)
    active = await _on_pool_keeping_connection(_key_still_active)(claims)
    _key_verdicts[key] = (time.monotonic(), active)
    return active


class WidgetConsumer(AsyncWebsocketConsumer):
    session: ProctoringSession | None = None

    async def connect(self):
        remember_server_loop()
        # Accept first so the browser sees our close code, not a bare 1006.
        await self.accept()
        if "token" in parse_qs(self.scope.get("query_string", b"").decode()):
            await self._error("INVALID_TOKEN", "Send the token in the first message, not in the URL.")
            await self.close(code=CLOSE_TOKEN_IN_URL)
            return
        # A callback, not a task: nothing is left pending on the loop when the socket goes away.
        self.auth_timer = asyncio.get_running_loop().call_later(AUTH_TIMEOUT_SECONDS, self._auth_expired)

    def _auth_expired(self) -> None:
        if self.session is None and not getattr(self, "closing", False):
            self.closing = True
            asyncio.ensure_future(self.close(code=CLOSE_AUTH_TIMEOUT))

    def _stop_auth_timer(self) -> None:
        timer = getattr(self, "auth_timer", None)
        if timer is not None:
            timer.cancel()
            self.auth_timer = None

    async def _authenticate(self, text_data: str | None) -> None:
        """The first message: ``{"type": "auth", "token": "…"}``, or the socket is closed with 4401."""
        self._stop_auth_timer()
        token = None
        if text_data is not None and len(text_data) <= MAX_MESSAGE_BYTES:
            try:
                message = json.loads(text_data)
            except (ValueError, RecursionError):
                message = None
            if (
                isinstance(message, dict)
                and message.get("type") == "auth"
                and isinstance(message.get("token"), str)
            ):
                token = message["token"]
        session, close_code = await _on_pool_keeping_connection(_authorise_sync)(
            token, _header(self.scope, b"origin")
        )
        if close_code is not None:
            self.closing = True
            if close_code == CLOSE_ENDED:
                await self._send(session.end_notice)
            await self.close(code=close_code)
            return
        self.session = session
        if session.token_claims.get("key"):  # just checked by _authorise_sync
            _key_verdicts[session.token_claims["key"]] = (time.monotonic(), True)
        logs.bind(session_id=session.public_id)  # this socket's task: every line it logs
        self.group = session_group(session.public_id)
        self.bucket = TokenBucket(RATE_PER_SECOND, RATE_BURST)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self._send(
            {
                "type": "hello",
                "sessionId": str(session.public_id),
                "lastClientSeq": session.last_client_seq,
                "deadlineAt": iso(session.deadline_at),
                "serverTime": iso(timezone.now()),
                **session.intervention,
            }
        )

    async def dispatch(self, message):
        # Channels' own dispatch first closes this thread's stale database connections, a hop to
        # the thread pool and back for every message; nothing here touches the database on the
        # loop's thread (database_sync_to_async and the signal writer look after their own).
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def disconnect(self, code):
        self._stop_auth_timer()
        if self.session is not None:
            try:
                await self.channel_layer.group_discard(self.group, self.channel_name)
            except Exception:  # the membership expires in the layer anyway (group_expiry)
                log.warning("group_discard failed for %s", self.group, exc_info=True)

    async def _send(self, message: dict) -> None:
        await self.send(text_data=_encode(message))

    async def _error(self, code: str, message: str, seq=None) -> None:
        body = {"type": "error", "code": error_code(code).code, "message": message}
        if seq is not None:
            body["seq"] = seq
        await self._send(body)

    async def receive(self, text_data=None, bytes_data=None):
        if self.session is None:
            if not getattr(self, "closing", False):
                await self._authenticate(text_data)
            return
        if text_data is None or len(text_data) > MAX_MESSAGE_BYTES:
            await self._error("INVALID_MESSAGE", "Send JSON text frames of at most 16 KiB.")
            return
        try:
            message = json.loads(text_data)
        except (ValueError, RecursionError):
            await self._error("INVALID_MESSAGE", "The message is not JSON.")
            return
        if not isinstance(message, dict):
            await self._error("INVALID_MESSAGE", "The message must be a JSON object.")
            return
        if not self.bucket.take():
            await self._error("RATE_LIMITED", "Too many messages; slow down and resend.", message.get("seq"))
            return
        kind = message.get("type")
        if kind == "ping":
            await self._send({"type": "pong"})
        elif kind == "signal":
            await self._signal(message)
        else:
            await self._error("INVALID_MESSAGE", f"Unknown message type {kind!r}.")

    async def _signal(self, message: dict) -> None:
        seq, event, payload = message.get("seq"), message.get("event"), message.get("payload", {})
        if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= MAX_SEQ:
            await self._error("BAD_SEQUENCE", f"seq must be an integer from 1 to {MAX_SEQ}.")
            return
        if event not in BROWSER_SIGNALS:
            await self._error("UNKNOWN_EVENT", f"Unknown event {event!r}.", seq)
            return
        if not isinstance(payload, dict):
            await self._error("INVALID_MESSAGE", "payload must be an object.", seq)
            return
        problem = payload_problem(payload)
        if problem:
            await self._error("INVALID_MESSAGE", problem, seq)
            return
        # A revoked key ends its open sockets too, within KEY_RECHECK_SECONDS of its revocation.
        if not await _key_active(self.session.token_claims):
            await self._error("INVALID_TOKEN", "The key this session was started with has been revoked.")
            await self.close(code=CLOSE_BAD_TOKEN)
            return
        if settings.SIGNAL_BATCHING:
            # Coalesced with the other sockets' signals of this process; resolved after the commit.
            result = await signal_writer.writer().record(
                BrowserSignal(
                    session_id=self.session.pk,
                    seq=seq,
                    event=event,
                    at=message.get("at"),
                    payload=payload,
                    signed_in=self.session,
                )
            )
        else:
            result = await database_sync_to_async(signal_record, thread_sensitive=False)(
                session_id=self.session.pk, seq=seq, event=event, at=message.get("at"), payload=payload
            )
        if result.ended:
            await self._send(await database_sync_to_async(session_end_notice)(self.session.pk))
            await self.close(code=CLOSE_ENDED)
            return
        await self._send({"type": "ack", "seq": seq, **({"duplicate": True} if result.duplicate else {})})
        for push in result.pushes:  # the flags this signal raised, straight to the widget that sent it
            await self._send(push)

    async def session_message(self, event):
        message = event["message"]
        await self._send(message)
        if message.get("type") == "ended":
            await self.close(code=CLOSE_ENDED)
