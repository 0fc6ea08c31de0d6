"""Every signature the server checks, attacked the way a partial comparison would let through:
a flip at every position (the last one included), truncations and extensions, other keys,
revoked and expired keys, timestamps in the future and in the past."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone

from proctorme.errors import InvalidSignature, InvalidToken
from sessions.webhooks import WebhookVerificationError, webhook_sign, webhook_signature_verify
from tenants.models import ApiKey
from tenants.services import api_key_create, api_key_revoke, attempt_sign, attempt_signature_verify

SECRET = "whsec_test-secret"
BODY = b'{"event":"flag.created","type":"TAB_NOT_FOCUS"}'
T0 = 1_700_000_000


def _flip_hex(text: str, index: int) -> str:
    """The same string with the hex digit at ``index`` changed (still valid hex)."""
    digit = text[index]
    return text[:index] + ("0" if digit != "0" else "1") + text[index + 1 :]


def _mac(secret: str = SECRET, body: bytes = BODY, timestamp: int = T0) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _verify(header: str, *, body: bytes = BODY, now: float = T0 + 5, secret: str = SECRET, **kw) -> int:
    return webhook_signature_verify(body=body, header=header, secret=secret, now=now, **kw)


# --- webhook deliveries (Proctorme-Signature) -------------------------------------------------------


def test_the_right_signature_verifies_and_returns_its_timestamp():
    assert _verify(webhook_sign(secret=SECRET, body=BODY, timestamp=T0)) == T0


@pytest.mark.parametrize("index", range(64))
def test_a_v1_with_any_one_hex_digit_changed_is_refused(index):
    forged = _flip_hex(_mac(), index)
    with pytest.raises(WebhookVerificationError, match=r"^signature does not match$"):
        _verify(f"t={T0},v1={forged}")


@pytest.mark.parametrize("length", [1, 8, 32, 63])
def test_a_truncated_v1_is_refused(length):
    with pytest.raises(WebhookVerificationError, match=r"^signature does not match$"):
        _verify(f"t={T0},v1={_mac()[:length]}")


def test_a_v1_with_extra_characters_is_refused():
    with pytest.raises(WebhookVerificationError, match=r"^signature does not match$"):
        _verify(f"t={T0},v1={_mac()}0")


@pytest.mark.parametrize("other", ["whsec_other", SECRET + "x", SECRET[:-1], ""])
def test_a_signature_made_with_another_secret_is_refused(other):
    with pytest.raises(WebhookVerificationError, match=r"^signature does not match$"):
        _verify(webhook_sign(secret=other, body=BODY, timestamp=T0))


@pytest.mark.parametrize("body", [BODY[:-1], BODY + b" ", BODY[:-1] + b"]", b""])
def test_a_body_changed_at_its_end_is_refused(body):
    with pytest.raises(WebhookVerificationError, match=r"^signature does not match$"):
        _verify(webhook_sign(secret=SECRET, body=BODY, timestamp=T0), body=body)


def test_the_timestamp_is_part_of_what_is_signed():
    with pytest.raises(WebhookVerificationError, match=r"^signature does not match$"):
        _verify(f"t={T0 + 1},v1={_mac()}")


@pytest.mark.parametrize("offset", [301, 3600, 10**6])
def test_a_timestamp_too_far_in_the_future_is_refused(offset):
    header = webhook_sign(secret=SECRET, body=BODY, timestamp=T0 + offset)
    with pytest.raises(WebhookVerificationError, match=r"^timestamp outside the tolerance window$"):
        _verify(header, now=T0)


@pytest.mark.parametrize("offset", [301, 3600, 10**6])
def test_a_timestamp_too_far_in_the_past_is_refused(offset):
    header = webhook_sign(secret=SECRET, body=BODY, timestamp=T0)
    with pytest.raises(WebhookVerificationError, match=r"^timestamp outside the tolerance window$"):
        _verify(header, now=T0 + offset)


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_timestamps_within_the_tolerance_either_side_are_accepted(offset):
    """The window is inclusive: 300 s of clock skew either way is tolerated."""
    assert _verify(webhook_sign(secret=SECRET, body=BODY, timestamp=T0), now=T0 + offset) == T0


def test_the_tolerance_is_a_parameter():
    header = webhook_sign(secret=SECRET, body=BODY, timestamp=T0)
    assert _verify(header, now=T0 + 30, tolerance=30) == T0
    with pytest.raises(WebhookVerificationError, match=r"^timestamp outside the tolerance window$"):
        _verify(header, now=T0 + 31, tolerance=30)


def test_without_now_the_clock_is_used():
    now = int(time.time())
    header = webhook_sign(secret=SECRET, body=BODY, timestamp=now)
    assert webhook_signature_verify(body=BODY, header=header, secret=SECRET) == now
    stale = webhook_sign(secret=SECRET, body=BODY, timestamp=now - 3600)
    with pytest.raises(WebhookVerificationError, match=r"^timestamp outside the tolerance window$"):
        webhook_signature_verify(body=BODY, header=stale, secret=SECRET)


def test_during_rotation_any_listed_v1_may_match_but_one_must():
    good, wrong = _mac(), _flip_hex(_mac(), 63)
    assert _verify(f"t={T0},v1={wrong},v1={good}") == T0
    assert _verify(f"t={T0}, v1={good}, v1={wrong}") == T0
    with pytest.raises(WebhookVerificationError, match=r"^signature does not match$"):
        _verify(f"t={T0},v1={wrong},v1={_flip_hex(good, 0)}")


@pytest.mark.parametrize(
    "header",
    [None, "", f"v1={'0' * 64}", f"t={T0}", f"t={T0},v1=", f"t=-{T0},v1={'0' * 64}", f"t=soon,v1={'0' * 64}"],
)
def test_a_malformed_header_is_refused(header):
    with pytest.raises(WebhookVerificationError, match=r"^malformed signature header$"):
        _verify(header)


def test_a_v1_is_everything_after_its_first_equals_sign():
    """A value holding '=' (base64 padding, a mangled header) is a wrong signature, not an
    unreadable header: the entry splits at its first '='."""
    for value in (f"{_mac()}=", f"={_mac()}", f"{_mac()[:32]}={_mac()[32:]}"):
        with pytest.raises(WebhookVerificationError, match=r"^signature does not match$"):
            _verify(f"t={T0},v1={value}")


def test_a_v0_entry_is_not_a_signature():
    with pytest.raises(WebhookVerificationError, match=r"^malformed signature header$"):
        _verify(f"t={T0},v0={_mac()}")


# --- AutoProctor's hashedTestAttemptId -------------------------------------------------------------

ATTEMPT = "attempt-42"


def _raw(secret: str, attempt: str = ATTEMPT) -> bytes:
    return hmac.new(secret.encode(), attempt.encode(), hashlib.sha256).digest()


def _refused(institution, signature: str, attempt: str = ATTEMPT) -> None:
    with pytest.raises(InvalidSignature):
        attempt_signature_verify(institution=institution, attempt_id=attempt, signature=signature)


def test_attempt_signature_encodings_that_are_accepted(tenant_a):
    raw = _raw(tenant_a.secret_key)
    for signature in (
        base64.b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode(),
        raw.hex(),
        raw.hex().upper(),
        f"  {raw.hex()}\n",
    ):
        attempt_signature_verify(institution=tenant_a.institution, attempt_id=ATTEMPT, signature=signature)


@pytest.mark.parametrize("holds", [{"-"}, {"_"}, {"-", "_"}])
def test_url_safe_base64_is_accepted_whichever_of_its_two_characters_it_holds(tenant_a, holds):
    """The attempt ids are picked so that the signature's url-safe form holds exactly ``holds``."""
    for n in range(10_000):
        attempt = f"attempt-{n}"
        urlsafe = base64.urlsafe_b64encode(_raw(tenant_a.secret_key, attempt)).decode()
        if {c for c in "-_" if c in urlsafe} == holds:
            break
    else:
        pytest.fail(f"no attempt id gives a signature holding {holds}")
    for signature in (urlsafe, urlsafe.rstrip("=")):
        attempt_signature_verify(institution=tenant_a.institution, attempt_id=attempt, signature=signature)
    _refused(tenant_a.institution, urlsafe, attempt=attempt + "x")


def test_an_attempt_signature_with_any_one_byte_changed_is_refused(tenant_a):
    for index in range(32):
        raw = bytearray(_raw(tenant_a.secret_key))
        raw[index] ^= 0x01
        _refused(tenant_a.institution, base64.b64encode(bytes(raw)).decode())
        _refused(tenant_a.institution, bytes(raw).hex())


def test_a_truncated_attempt_signature_is_refused(tenant_a):
    for length in (4, 16, 31):
        raw = _raw(tenant_a.secret_key)[:length]
        _refused(tenant_a.institution, base64.b64encode(raw).decode())
        _refused(tenant_a.institution, raw.hex())


def test_an_extended_attempt_signature_is_refused(tenant_a):
    raw = _raw(tenant_a.secret_key) + b"\x00"
    _refused(tenant_a.institution, base64.b64encode(raw).decode())
    _refused(tenant_a.institution, raw.hex())


def test_a_signature_of_another_attempt_is_refused(tenant_a):
    _refused(tenant_a.institution, attempt_sign(secret_key=tenant_a.secret_key, attempt_id="attempt-43"))
    _refused(tenant_a.institution, attempt_sign(secret_key=tenant_a.secret_key, attempt_id=ATTEMPT + " "))


def test_signatures_with_keys_that_are_not_the_institutions_secret_are_refused(tenant_a, tenant_b):
    for key in (tenant_b.secret_key, tenant_a.publishable_key, tenant_a.secret_key[:-1], ""):
        _refused(tenant_a.institution, attempt_sign(secret_key=key, attempt_id=ATTEMPT))


@pytest.mark.parametrize("junk", ["!", "*", "\u00e9", ".", "\x00"])
def test_a_right_signature_with_a_character_outside_base64_inside_it_is_refused(tenant_a, junk):
    good = attempt_sign(secret_key=tenant_a.secret_key, attempt_id=ATTEMPT)
    _refused(tenant_a.institution, good[:20] + junk + good[20:])
    _refused(tenant_a.institution, good.rstrip("=") + junk)


def _second_secret(institution, **kwargs) -> str:
    _, plaintext = api_key_create(institution=institution, kind=ApiKey.Kind.SECRET, **kwargs)
    return plaintext


def _default_secret_row(tenant) -> ApiKey:
    return ApiKey.objects.get(
        institution=tenant.institution, kind=ApiKey.Kind.SECRET, name="Default secret key"
    )


def test_a_revoked_secret_no_longer_signs_while_another_active_one_does(tenant_a):
    other = _second_secret(tenant_a.institution, name="rotation")
    api_key_revoke(api_key=_default_secret_row(tenant_a))
    _refused(tenant_a.institution, attempt_sign(secret_key=tenant_a.secret_key, attempt_id=ATTEMPT))
    attempt_signature_verify(
        institution=tenant_a.institution,
        attempt_id=ATTEMPT,
        signature=attempt_sign(secret_key=other, attempt_id=ATTEMPT),
    )


def test_an_expired_secret_no_longer_signs_while_another_active_one_does(tenant_a):
    expired = _second_secret(tenant_a.institution, expires_at=timezone.now() - timedelta(seconds=1))
    _refused(tenant_a.institution, attempt_sign(secret_key=expired, attempt_id=ATTEMPT))
    attempt_signature_verify(
        institution=tenant_a.institution,
        attempt_id=ATTEMPT,
        signature=attempt_sign(secret_key=tenant_a.secret_key, attempt_id=ATTEMPT),
    )


def test_an_older_expired_secret_does_not_stop_a_newer_one_from_signing(tenant_a):
    ApiKey.objects.filter(pk=_default_secret_row(tenant_a).pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    newer = _second_secret(tenant_a.institution, name="rotation")
    signer = attempt_signature_verify(
        institution=tenant_a.institution,
        attempt_id=ATTEMPT,
        signature=attempt_sign(secret_key=newer, attempt_id=ATTEMPT),
    )
    assert signer.name == "rotation"
    _refused(tenant_a.institution, attempt_sign(secret_key=tenant_a.secret_key, attempt_id=ATTEMPT))


def test_a_secret_that_expires_later_still_signs_until_it_does(tenant_a, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    soon = _second_secret(tenant_a.institution, expires_at=timezone.now() + timedelta(hours=1))
    signature = attempt_sign(secret_key=soon, attempt_id=ATTEMPT)
    attempt_signature_verify(institution=tenant_a.institution, attempt_id=ATTEMPT, signature=signature)
    time_machine.shift(timedelta(hours=1, seconds=1))
    _refused(tenant_a.institution, signature)


# --- the widget's session token and evidence links ---------------------------------------------------


def _flip_last(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def test_a_session_token_altered_truncated_or_expired_is_refused(tenant_a, time_machine):
    from sessions.models import Assessment, Candidate, ProctoringSession
    from sessions.tokens import session_token_make, session_token_read

    time_machine.move_to(timezone.now(), tick=False)
    session = ProctoringSession.objects.create(
        institution=tenant_a.institution,
        assessment=Assessment.objects.create(institution=tenant_a.institution, external_id="x"),
        candidate=Candidate.objects.create(institution=tenant_a.institution, external_id="c"),
        attempt_id="eye:x:c",
    )
    token = session_token_make(session=session, origin="https://exams.alpha.edu", ttl_seconds=60)
    assert session_token_read(token) == {
        "session": str(session.public_id),
        "origin": "https://exams.alpha.edu",
        "key": "",
    }
    for bad in (_flip_last(token), token[:-1], token + "A", "", None):
        with pytest.raises(InvalidToken):
            session_token_read(bad)
    time_machine.shift(timedelta(seconds=61))
    with pytest.raises(InvalidToken, match="expired"):
        session_token_read(token)


def test_an_evidence_link_token_altered_or_expired_is_refused(time_machine):
    from django.core import signing

    from sessions.media import _SALT, media_token_read

    time_machine.move_to(timezone.now(), tick=False)
    token = signing.dumps({"m": "m-1", "x": int(time.time()) + 60}, salt=_SALT)
    assert media_token_read(token) == "m-1"
    for bad in (_flip_last(token), token[:-1], signing.dumps({"m": "m-1", "x": int(time.time()) + 60})):
        with pytest.raises(Http404):
            media_token_read(bad)
    time_machine.shift(timedelta(seconds=61))
    with pytest.raises(Http404):
        media_token_read(token)


def test_a_session_token_is_not_an_evidence_link_and_back(tenant_a):
    from django.core import signing

    from sessions.media import _SALT, media_token_read
    from sessions.tokens import session_token_read

    media_token = signing.dumps({"m": "m-1", "x": int(time.time()) + 60}, salt=_SALT)
    with pytest.raises(InvalidToken):
        session_token_read(media_token)
    session_like = signing.dumps(
        {"s": "s", "o": "o", "x": int(time.time()) + 60}, salt="proctorme.widget-session.v1"
    )
    with pytest.raises(Http404):
        media_token_read(session_like)


# --- session tokens: lifetime, the key they name, what a signed-but-wrong payload gets ---------


def _bare_session(tenant, **fields):
    import uuid

    from sessions.models import Assessment, Candidate, ProctoringSession

    name = uuid.uuid4().hex
    return ProctoringSession.objects.create(
        institution=tenant.institution,
        assessment=Assessment.objects.create(institution=tenant.institution, external_id=name),
        candidate=Candidate.objects.create(institution=tenant.institution, external_id=name),
        attempt_id=f"eye:{name}:{name}",
        **fields,
    )


def _claims(token: str) -> dict:
    from django.core import signing

    from sessions.tokens import _SALT

    return signing.loads(token, salt=_SALT)


def test_a_session_token_lives_the_setting_or_until_an_hour_past_a_later_deadline(
    tenant_a, time_machine, settings
):
    from sessions.tokens import session_token_make

    time_machine.move_to(timezone.now(), tick=False)
    now = int(time.time())
    settings.PROCTORME_TOKEN_TTL = 600
    no_deadline = _bare_session(tenant_a)
    assert _claims(session_token_make(session=no_deadline, origin="https://a"))["x"] == now + 600
    assert (
        _claims(session_token_make(session=no_deadline, origin="https://a", ttl_seconds=90))["x"] == now + 90
    )
    soon = _bare_session(tenant_a, deadline_at=timezone.now() + timedelta(seconds=60))
    # 60 s to the deadline + 3600 s beats 600 s.
    assert _claims(session_token_make(session=soon, origin="https://a"))["x"] == now + 3660
    settings.PROCTORME_TOKEN_TTL = 7200
    assert _claims(session_token_make(session=soon, origin="https://a"))["x"] == now + 7200


def test_a_session_token_names_the_key_that_issued_it_and_dies_with_it(tenant_a):
    from sessions.tokens import session_token_key_check, session_token_make, session_token_read

    session = _bare_session(tenant_a)
    key, _ = api_key_create(institution=tenant_a.institution, kind=ApiKey.Kind.PUBLISHABLE)
    claims = session_token_read(session_token_make(session=session, origin="https://a", api_key=key))
    assert claims["key"] == str(key.public_id)
    session_token_key_check(claims)  # active: no error
    session_token_key_check({**claims, "key": ""})  # an LMS launch: no key to check
    api_key_revoke(api_key=key)
    with pytest.raises(InvalidToken, match=r"^The key this session was started with has been revoked\.$"):
        session_token_key_check(claims)
    with pytest.raises(InvalidToken, match=r"^The key this session was started with has been revoked\.$"):
        session_token_key_check({**claims, "key": "00000000-0000-0000-0000-000000000000"})


def test_a_widget_requests_key_check_is_one_query_whether_the_key_is_active_or_not(
    tenant_a, django_assert_num_queries
):
    """It runs on every widget request: when the process has not seen the key in the last
    TENANT_CACHE_SECONDS, the row is read once with both fields is_active needs (a deferred
    revoked_at or expires_at would cost a second query per request); then none."""
    from sessions.tokens import session_token_key_check, session_token_make, session_token_read
    from tenants.services import tenant_caches_clear

    key, _ = api_key_create(institution=tenant_a.institution, kind=ApiKey.Kind.PUBLISHABLE)
    claims = session_token_read(
        session_token_make(session=_bare_session(tenant_a), origin="https://a", api_key=key)
    )
    tenant_caches_clear()
    with django_assert_num_queries(1):
        session_token_key_check(claims)
    with django_assert_num_queries(0):
        session_token_key_check(claims)
    api_key_revoke(api_key=key)  # drops this process's entry: read again, refused
    with django_assert_num_queries(1), pytest.raises(InvalidToken):
        session_token_key_check(claims)
    ApiKey.objects.filter(pk=key.pk).update(revoked_at=None, expires_at=timezone.now() - timedelta(seconds=1))
    tenant_caches_clear()  # as another process would find it, its entry gone
    with django_assert_num_queries(1), pytest.raises(InvalidToken):
        session_token_key_check(claims)


def test_an_expired_key_ends_its_tokens_too(tenant_a, time_machine):
    from sessions.tokens import session_token_key_check, session_token_make, session_token_read

    time_machine.move_to(timezone.now(), tick=False)
    key, _ = api_key_create(
        institution=tenant_a.institution,
        kind=ApiKey.Kind.PUBLISHABLE,
        expires_at=timezone.now() + timedelta(seconds=30),
    )
    claims = session_token_read(
        session_token_make(session=_bare_session(tenant_a), origin="https://a", api_key=key)
    )
    session_token_key_check(claims)
    time_machine.shift(timedelta(seconds=31))
    with pytest.raises(InvalidToken, match=r"^The key this session was started with has been revoked\.$"):
        session_token_key_check(claims)


def test_a_missing_token_says_so():
    from sessions.tokens import session_token_read

    for missing in ("", None):
        with pytest.raises(InvalidToken, match=r"^No session token was given\.$"):
            session_token_read(missing)


def test_a_signed_payload_that_is_not_a_whole_token_is_refused_not_a_crash():
    from django.core import signing

    from sessions.tokens import _SALT, session_token_read

    whole = {"s": "s-1", "o": "https://a", "k": "", "x": int(time.time()) + 60}
    for payload in ([1, 2], "text", {k: v for k, v in whole.items() if k != "o"}, {**whole, "x": 0}):
        with pytest.raises(InvalidToken):
            session_token_read(signing.dumps(payload, salt=_SALT))
    assert session_token_read(signing.dumps(whole, salt=_SALT))["session"] == "s-1"


def test_a_session_token_is_valid_through_its_last_second_then_expired(time_machine):
    from django.core import signing

    from sessions.tokens import _SALT, session_token_read

    time_machine.move_to(timezone.now().replace(microsecond=0), tick=False)
    token = signing.dumps({"s": "s-1", "o": "https://a", "k": "", "x": int(time.time()) + 10}, salt=_SALT)
    time_machine.shift(timedelta(seconds=10))  # x == now: its last valid second
    assert session_token_read(token)["session"] == "s-1"
    time_machine.shift(timedelta(seconds=1))
    with pytest.raises(InvalidToken, match=r"^The session token has expired\.$"):
        session_token_read(token)


def test_an_evidence_link_names_its_chunk_for_its_lifetime(time_machine, settings):
    from django.core import signing

    from sessions.media import _SALT, media_signed_url, media_token_read
    from sessions.models import MediaChunk

    time_machine.move_to(timezone.now().replace(microsecond=0), tick=False)
    settings.SITE_URL = "https://proctor.example"
    chunk = MediaChunk()  # only its public id goes into the link
    absolute = media_signed_url(chunk, ttl_seconds=30)
    path = media_signed_url(chunk, ttl_seconds=30, absolute=False)
    assert path.startswith("/media/s/") and absolute == "https://proctor.example" + path
    token = path.removeprefix("/media/s/")
    assert signing.loads(token, salt=_SALT) == {"m": str(chunk.public_id), "x": int(time.time()) + 30}
    default = media_signed_url(chunk, absolute=False).removeprefix("/media/s/")
    assert signing.loads(default, salt=_SALT)["x"] == int(time.time()) + 900  # 15 minutes
    time_machine.shift(timedelta(seconds=30))  # x == now: its last valid second
    assert media_token_read(token) == str(chunk.public_id)
    time_machine.shift(timedelta(seconds=1))
    with pytest.raises(Http404):
        media_token_read(token)


def test_a_signed_evidence_payload_without_its_expiry_is_a_404_not_a_crash():
    from django.core import signing

    from sessions.media import _SALT, media_token_read

    for payload in ({"m": "m-1"}, [1], "m-1"):
        with pytest.raises(Http404):
            media_token_read(signing.dumps(payload, salt=_SALT))
