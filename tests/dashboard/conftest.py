from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def login(client):
    """``login(user)`` signs the test client in and returns it."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in
