"""The export archive is sent in fixed blocks, from a temporary file: an async iterator under ASGI
(which would otherwise read a sync iterator whole into memory first), a sync one under WSGI."""

from __future__ import annotations

import asyncio
import io
import os
import tempfile

from django.core.handlers.asgi import ASGIRequest
from django.test import RequestFactory

from sessions.privacy import COPY_BLOCK, archive_response


def _file(data: bytes):
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (the response closes it, as the test checks)
    handle.write(data)
    return handle


async def _collect(iterator) -> list[bytes]:
    return [block async for block in iterator]


def test_under_asgi_the_archive_goes_out_in_blocks_from_an_async_iterator():
    data = os.urandom(COPY_BLOCK * 3 + 5)
    handle = _file(data)
    scope = {"type": "http", "method": "GET", "path": "/x", "query_string": b"", "headers": []}
    response = archive_response(
        handle, request=ASGIRequest(scope, io.BytesIO()), filename="a.zip", content_type="application/zip"
    )
    assert response.is_async and response["Content-Length"] == str(len(data))
    blocks = asyncio.run(_collect(response.streaming_content))
    assert [len(b) for b in blocks] == [COPY_BLOCK] * 3 + [5]
    assert b"".join(blocks) == data and handle.closed


def test_under_wsgi_the_archive_goes_out_in_blocks_from_a_sync_iterator():
    data = os.urandom(COPY_BLOCK + 7)
    handle = _file(data)
    response = archive_response(
        handle, request=RequestFactory().get("/x"), filename="a.zip", content_type="application/zip"
    )
    assert not response.is_async
    blocks = list(response.streaming_content)
    assert [len(b) for b in blocks] == [COPY_BLOCK, 7] and b"".join(blocks) == data and handle.closed
    assert response["Content-Disposition"] == 'attachment; filename="a.zip"'
