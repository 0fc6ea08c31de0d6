"""An evidence link through the real view: it serves its one chunk privately, answers CORS only
for the chunk's own institution's pages, and is a 404 once the chunk or its file is gone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from sessions.media import media_response, media_signed_url, media_token_read
from sessions.models import MediaChunk
from tests.factories import MediaFactory, SessionFactory, jpeg, wav

ALPHA_PAGE = "https://exams.alpha.edu"
BETA_PAGE = "https://exams.beta.edu"


@pytest.fixture
def chunk(tenant_a):
    session = SessionFactory(institution=tenant_a.institution)
    return MediaFactory(session=session, kind=MediaChunk.Kind.SNAPSHOT, seq=3, data=jpeg())


def _get(client, chunk, **headers):
    return client.get(media_signed_url(chunk, absolute=False), **headers)


def test_a_link_serves_its_chunk_inline_private_and_unsniffed(client, chunk):
    response = _get(client, chunk)
    assert response.status_code == 200
    assert response.content == jpeg()
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, max-age=300"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == 'inline; filename="snapshot-3.jpg"'


@pytest.mark.parametrize(
    "content_type, suffix", [("audio/wav", ".wav"), ("audio/x-wav", ".wav"), ("video/webm", "")]
)
def test_the_file_name_has_the_suffix_of_its_type(client, tenant_a, content_type, suffix):
    session = SessionFactory(institution=tenant_a.institution)
    audio = MediaFactory(session=session, kind=MediaChunk.Kind.AUDIO, seq=12, data=wav(0.1))
    MediaChunk.objects.filter(pk=audio.pk).update(content_type=content_type)
    audio.refresh_from_db()
    response = _get(client, audio)
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"] == f'inline; filename="audio-12{suffix}"'


def test_the_chunks_own_institutions_page_may_read_it_cross_origin(client, chunk):
    response = _get(client, chunk, HTTP_ORIGIN=ALPHA_PAGE)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ALPHA_PAGE
    assert "Origin" in [part.strip() for part in response["Vary"].split(",")]


@pytest.mark.parametrize("origin", [BETA_PAGE, "https://evil.example", "null"])
def test_another_institutions_page_or_any_other_gets_no_cors_grant(client, chunk, tenant_b, origin):
    response = _get(client, chunk, HTTP_ORIGIN=origin)
    assert response.status_code == 200  # the link itself is the credential; the browser hides it
    assert "Access-Control-Allow-Origin" not in response


def test_without_an_origin_there_is_no_cors_grant(client, chunk):
    response = _get(client, chunk)
    assert "Access-Control-Allow-Origin" not in response


def test_a_link_to_a_deleted_chunk_is_a_404(client, chunk):
    url = media_signed_url(chunk, absolute=False)
    chunk.delete()
    assert client.get(url).status_code == 404


def test_a_link_whose_file_is_gone_is_a_404(client, chunk):
    url = media_signed_url(chunk, absolute=False)
    chunk.file.storage.delete(chunk.file.name)
    assert client.get(url).status_code == 404


def test_a_chunk_without_a_file_is_a_404(client, chunk):
    MediaChunk.objects.filter(pk=chunk.pk).update(file="")
    assert _get(client, chunk).status_code == 404


def test_an_altered_link_is_a_404(client, chunk):
    url = media_signed_url(chunk, absolute=False)
    assert client.get(url[:-1] + ("A" if url[-1] != "A" else "B")).status_code == 404
    assert client.get(url[:-1]).status_code == 404


def test_a_link_only_answers_get(client, chunk):
    url = media_signed_url(chunk, absolute=False)
    assert client.post(url).status_code == 405
    assert client.get(url).status_code == 200


def test_media_response_sets_its_own_privacy_headers_without_the_middleware(chunk, settings):
    """It serves the signed links and the dashboard's replay; nosniff and private caching are its
    own, not left to SecurityMiddleware (SECURE_CONTENT_TYPE_NOSNIFF) or a deployment's proxy."""
    settings.SECURE_CONTENT_TYPE_NOSNIFF = False
    response = media_response(chunk, max_age=60)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, max-age=60"
    assert response["Content-Disposition"] == 'inline; filename="snapshot-3.jpg"'


def test_the_404_says_whether_the_link_is_bad_or_its_file_gone(chunk, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    token = media_signed_url(chunk, ttl_seconds=30, absolute=False).removeprefix("/media/s/")
    assert media_token_read(token) == str(chunk.public_id)
    with pytest.raises(Http404, match=r"^Invalid or expired link\.$"):
        media_token_read(token[:-1])
    time_machine.shift(timedelta(seconds=31))
    with pytest.raises(Http404, match=r"^Invalid or expired link\.$"):
        media_token_read(token)
    chunk.file.storage.delete(chunk.file.name)
    with pytest.raises(Http404, match=r"^The file is gone\.$"):
        media_response(chunk)
