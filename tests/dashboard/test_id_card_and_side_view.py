"""The replay page shows AutoProctor's photo ID and the paired phone's side view to the
institution's admin and reviewers; another institution gets 404 for the page and every image."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from sessions.models import AuxDevice
from tests.dashboard.dashboard_factories import make_media, session_with_evidence


@pytest.fixture
def paired_session(tenant_a):
    session, *_ = session_with_evidence(tenant_a.institution)
    session.config = {
        **session.config,
        "tracking": {
            **session.config.get("tracking", {}),
            "idCardVerification": {"face": True, "name": False, "expiryDate": False},
            "auxiliaryDevice": True,
        },
    }
    session.save(update_fields=["config"])
    card = make_media(session, kind="idcard", seq=1, at_seconds=2)
    card.meta = {"outcome": "mismatch", "distance": 0.74}
    card.save(update_fields=["meta"])
    side = [make_media(session, kind="aux", seq=i + 1, at_seconds=10 + 2 * i) for i in range(3)]
    AuxDevice.objects.create(
        institution=session.institution,
        session=session,
        label="K7Q-4MZ",
        pairing_digest="d" * 64,
        pairing_expires_at=session.started_at + timedelta(minutes=10),
        device_digest="e" * 64,
        paired_at=session.started_at,
        started_at=session.started_at,
        last_seen_at=session.started_at + timedelta(seconds=14),
    )
    return session, card, side


@pytest.mark.parametrize("who", ["admin", "reviewer"])
def test_the_institution_sees_the_photo_id_and_the_side_view(login, tenant_a, paired_session, who):
    session, card, side = paired_session
    client = login(getattr(tenant_a, who))
    page = client.get(reverse("dashboard:session", args=[session.public_id])).content.decode()
    assert 'id="id-card-card"' in page and reverse("dashboard:media", args=[card.public_id]) in page
    assert "Not finished" in page and "distance 0.74" in page  # one try of five, not matched
    assert 'id="side-view-card"' in page and "3 frames from the paired phone (K7Q-4MZ)" in page
    for frame in side:
        assert reverse("dashboard:media", args=[frame.public_id]) in page
        assert client.get(reverse("dashboard:media", args=[frame.public_id])).status_code == 200
    assert client.get(reverse("dashboard:media", args=[card.public_id])).status_code == 200


def test_a_session_without_the_options_shows_neither(login, tenant_a):
    session, *_ = session_with_evidence(tenant_a.institution)
    page = (
        login(tenant_a.reviewer).get(reverse("dashboard:session", args=[session.public_id])).content.decode()
    )
    assert 'id="id-card-card"' not in page and 'id="side-view-card"' not in page


@pytest.mark.parametrize("who", ["admin", "reviewer"])
def test_another_institution_gets_404_for_the_page_and_every_image(login, tenant_b, paired_session, who):
    session, card, side = paired_session
    client = login(getattr(tenant_b, who))
    assert client.get(reverse("dashboard:session", args=[session.public_id])).status_code == 404
    for chunk in [card, *side]:
        assert client.get(reverse("dashboard:media", args=[chunk.public_id])).status_code == 404
