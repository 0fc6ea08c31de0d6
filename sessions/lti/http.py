"""Every outbound call of the LTI layer (platform JWKS, token, ACS, AGS) goes through ``lti_fetch``.

It is proctorme.outbound.outbound_request — public addresses only (unless
PROCTORME_ALLOW_PRIVATE_URLS, for development and tests on loopback), the
checked address connected to, no redirects, one deadline, a size cap — with
its failures reported as LTI_PLATFORM_UNREACHABLE.
"""

from __future__ import annotations

from django.conf import settings

from proctorme.outbound import OutboundError, OutboundResponse, outbound_request
from sessions.lti.errors import LtiPlatformUnreachable

MAX_RESPONSE_BYTES = 1_000_000


def lti_fetch(
    method: str, url: str, *, body: bytes | None = None, headers: dict | None = None
) -> OutboundResponse:
    try:
        return outbound_request(
            method=method,
            url=url,
            headers={"User-Agent": "Proctorme-LTI", **(headers or {})},
            body=body,
            timeout=settings.LTI_HTTP_TIMEOUT,
            max_bytes=MAX_RESPONSE_BYTES,
        )
    except OutboundError as error:
        raise LtiPlatformUnreachable(
            f"The LMS did not answer usably ({error.reason}).", details={"url": url}
        ) from None
