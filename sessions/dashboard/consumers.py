"""The live dashboard's WebSocket (``/ws/dashboard/``).

Authenticated by the Django session cookie (channels' AuthMiddlewareStack on
this route only) and checked against the Origin (AllowedHostsOriginValidator),
since a cookie alone would let another site open it in a signed-in browser.
The institution is resolved once at connect, like every other entry point:
the switcher's choice while the user is still a member there.

It joins the institution's group and turns each message into HTML fragments
that htmx's ws extension swaps into the page out of band: a flag is
prepended to its session's card and to the feed, a score or signal updates
the card, and a session that starts or ends makes the grid reload itself.
"""

from __future__ import annotations

import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from analysis.trust import band_for
from proctorme.flag_types import NOT_VIOLATIONS
from proctorme.realtime import institution_group, remember_server_loop, user_group
from sessions.dashboard.selectors import SESSION_KEY, dashboard_context, in_courses
from sessions.models import Flag, ProctoringSession

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NO_INSTITUTION = 4403
# Access is also re-read at most this often while pushes flow, should a revocation message be lost.
ACCESS_RECHECK_SECONDS = 30.0


@database_sync_to_async
def _dashboard_for(user, chosen):
    return dashboard_context(user=user, chosen=chosen)


@database_sync_to_async
def _still_allowed(user_pk: int, institution_pk: int, courses) -> bool:
    from django.contrib.auth import get_user_model

    from sessions.lti.models import LtiCourseAccess
    from tenants.models import Membership

    user = get_user_model().objects.filter(pk=user_pk, is_active=True).first()
    if user is None:
        return False
    if courses is not None:
        # A course instructor: still with access to a course there (an admin may delete it).
        return LtiCourseAccess.objects.filter(
            user=user, institution_id=institution_pk, registration__is_active=True
        ).exists()
    return user.is_superuser or Membership.objects.filter(user=user, institution_id=institution_pk).exists()


@database_sync_to_async
def _flag_context(institution_id: int, flag_id: str, courses) -> dict | None:
    flag = (
        in_courses(
            Flag.objects.filter(institution_id=institution_id, public_id=flag_id), courses, via="session__"
        )
        .select_related("session__candidate", "session__assessment", "evidence")
        .first()
    )
    if flag is None:
        return None
    count = (
        Flag.objects.filter(session=flag.session, dismissed_at__isnull=True)
        .exclude(type__in=NOT_VIOLATIONS)
        .count()
    )
    return {"flag": flag, "session": flag.session, "candidate": flag.session.candidate, "count": count}


@database_sync_to_async
def _session_belongs(institution_id: int, session_id: str, courses) -> bool:
    return in_courses(
        ProctoringSession.objects.filter(institution_id=institution_id, public_id=session_id), courses
    ).exists()


class DashboardConsumer(AsyncWebsocketConsumer):
    institution = None
    courses = None

    async def connect(self):
        remember_server_loop()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        session_store = self.scope.get("session")
        chosen = (
            await database_sync_to_async(lambda: session_store.get(SESSION_KEY))() if session_store else None
        )
        dash = await _dashboard_for(user, chosen)
        if dash is None:
            await self.accept()
            await self.close(code=CLOSE_NO_INSTITUTION)
            return
        self.institution, self.courses = dash.institution, dash.courses
        self.user_pk = user.pk
        self.checked_at = time.monotonic()
        self.group = institution_group(self.institution.public_id)
        self.user_group = user_group(user.pk)
        # In the groups before the page hears it is connected: a message sent right after the
        # handshake (a flag, a batch of signals) reaches it.
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.channel_layer.group_add(self.user_group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.institution is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.channel_layer.group_discard(self.user_group, self.channel_name)

    async def _allowed(self) -> bool:
        if await _still_allowed(self.user_pk, self.institution.pk, self.courses):
            self.checked_at = time.monotonic()
            return True
        institution, self.institution = self.institution, None
        await self.channel_layer.group_discard(institution_group(institution.public_id), self.channel_name)
        await self.channel_layer.group_discard(self.user_group, self.channel_name)
        await self.close(code=CLOSE_NO_INSTITUTION)
        return False

    async def access_changed(self, event):
        """A membership of this user was removed, or the account deactivated (tenants.signals)."""
        if self.institution is not None:
            await self._allowed()

    async def receive(self, text_data=None, bytes_data=None):
        # The page only listens; htmx may send a form's values if asked to, and they are ignored.
        return

    async def institution_message(self, event):
        await self._deliver([event.get("message") or {}])

    async def institution_messages(self, event):
        """A batch of signals' messages in one channel-layer message (sessions.services.signals_record)."""
        await self._deliver([m for m in event.get("messages") or [] if isinstance(m, dict)])

    async def _deliver(self, messages: list[dict]) -> None:
        if self.institution is None:
            return
        if time.monotonic() - self.checked_at > ACCESS_RECHECK_SECONDS and not await self._allowed():
            return
        for message in messages:
            html = await self._render(message)
            if html:
                await self.send(text_data=html)

    async def _render(self, message: dict) -> str:
        kind = message.get("type")
        session_id = str(message.get("sessionId", ""))
        if kind == "flag":
            data = message.get("flag") or {}
            if data.get("type") in NOT_VIOLATIONS:
                return ""
            context = await _flag_context(self.institution.pk, data.get("flagId", ""), self.courses)
            if context is None:
                return ""
            return render_to_string("dashboard/live/_flag_push.html", context)
        if kind in ("session", "completed"):
            if not await _session_belongs(self.institution.pk, session_id, self.courses):
                return ""
            return render_to_string("dashboard/live/_grid_refresh.html", {})
        if self.courses is not None and not await _session_belongs(
            self.institution.pk, session_id, self.courses
        ):
            # A course instructor hears nothing of other courses' sessions, not even their scores.
            return ""
        if kind == "score":
            score = message.get("trustScore")
            if score is None:
                return ""
            return render_to_string(
                "dashboard/live/_score_push.html",
                {"session_id": session_id, "score": score, "band": band_for(float(score))},
            )
        if kind == "message_ack":
            if not await _session_belongs(self.institution.pk, session_id, self.courses):
                return ""
            at = parse_datetime(message.get("at") or "") or timezone.now()
            return render_to_string(
                "dashboard/live/_ack_push.html", {"message_id": message.get("messageId", ""), "at": at}
            )
        if kind == "intervention":
            # Paused, resumed, more time or terminated: the cards reload (a pause stops the clock).
            if not await _session_belongs(self.institution.pk, session_id, self.courses):
                return ""
            return render_to_string("dashboard/live/_grid_refresh.html", {})
        if kind == "signal":
            at = parse_datetime(message.get("at") or "") or timezone.now()
            return render_to_string(
                "dashboard/live/_signal_push.html",
                {"session_id": session_id, "event": message.get("event", ""), "at": at},
            )
        return ""
