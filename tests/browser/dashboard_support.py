"""Fixtures for the dashboard browser tests (the server, browser and page come from conftest)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.staticfiles.views import serve
from django.urls import include, path, re_path

from tests.dashboard.dashboard_factories import jpeg, make_flag, make_media, make_session, wav

PASSWORD = "pw-dashboard-123"

# The test server is the bare ASGI application, which (like production) leaves /static/ to a
# proxy; the dashboard tests serve it from the app's static folders through this URLconf.
urlpatterns = [
    re_path(r"^static/(?P<path>.*)$", serve, {"insecure": True}),
    path("", include("proctorme.urls")),
]


@dataclass
class Reviewers:
    institution: object
    reviewer: object
    admin: object
    outsider: object


@pytest.fixture
def reviewers(transactional_db, settings, tmp_path) -> Reviewers:
    from tenants.models import Membership
    from tenants.services import institution_create, membership_add

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.ROOT_URLCONF = __name__
    institution, _, _ = institution_create(name="Replay University", domains=["exams.replay.edu"])
    other, _, _ = institution_create(name="Other College", domains=["exams.other.edu"])
    reviewer = membership_add(
        institution=institution,
        email="reviewer@replay.test",
        role=Membership.Role.REVIEWER,
        password=PASSWORD,
    ).user
    admin = membership_add(
        institution=institution, email="admin@replay.test", role=Membership.Role.ADMIN, password=PASSWORD
    ).user
    outsider = membership_add(
        institution=other, email="reviewer@other.test", role=Membership.Role.REVIEWER, password=PASSWORD
    ).user
    return Reviewers(institution, reviewer, admin, outsider)


@dataclass
class FlaggedSession:
    session: object
    frames: list
    absence: object
    sound: object


def flagged_session(institution, **kwargs) -> FlaggedSession:
    """Frames every 10 s in distinct colours, a FACE_ABSENCE at 40 s on frame 5, a voice clip at 70 s."""
    session = make_session(institution, **kwargs)
    frames = [
        make_media(
            session,
            kind="frame",
            seq=i + 1,
            at_seconds=i * 10,
            data=jpeg((20 * i, 80, 200 - 15 * i), (320, 240)),
        )
        for i in range(12)
    ]
    make_media(session, kind="snapshot", seq=1, at_seconds=5, data=jpeg((200, 180, 160), (320, 240)))
    absence = make_flag(session, type="FACE_ABSENCE", at_seconds=40, seconds=15, evidence=frames[4])
    clip = make_media(session, kind="evidence", seq=7000, at_seconds=70, data=wav(seconds=1.5))
    sound = make_flag(session, type="SOUND_DETECTED", at_seconds=70, seconds=1.5, evidence=clip)
    make_flag(session, type="TAB_NOT_FOCUS", at_seconds=90, seconds=6)
    return FlaggedSession(session, frames, absence, sound)


def sign_in(page, base_url: str, user) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/dashboard/")
    assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).display") == "flex", (
        "no stylesheet"
    )
