import base64
import hashlib
import hmac
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from proctorme.errors import DomainNotRegistered, InvalidApiKey, InvalidSignature, OriginRequired
from tenants.models import ApiKey, Domain
from tenants.services import (
    api_key_create,
    api_key_revoke,
    attempt_sign,
    attempt_signature_verify,
    domain_add,
    secret_key_authenticate,
    widget_key_check,
)


def test_right_key_from_registered_origin_is_accepted(tenant_a):
    key = widget_key_check(key=tenant_a.publishable_key, origin="https://exams.alpha.edu")
    assert key.institution == tenant_a.institution
    assert key.last_used_at is not None


@pytest.mark.parametrize(
    "origin",
    [
        "https://exams.alpha.edu",
        "http://exams.alpha.edu:8443",
        "http://localhost:8123",
        "https://EXAMS.alpha.edu",
    ],
)
def test_registered_hosts_match_with_and_without_port(tenant_a, origin):
    assert widget_key_check(key=tenant_a.publishable_key, origin=origin)


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:9999",
        "https://exams.beta.edu",
        "https://evil-exams.alpha.edu",
        "https://alpha.edu",
        "https://exams.alpha.edu.evil.com",
    ],
)
def test_registered_key_from_a_foreign_origin_is_refused(tenant_a, tenant_b, origin):
    with pytest.raises(DomainNotRegistered) as caught:
        widget_key_check(key=tenant_a.publishable_key, origin=origin)
    assert caught.value.code == "DOMAIN_NOT_REGISTERED"
    assert caught.value.details == {"origin": origin}  # the page is told which origin to register


@pytest.mark.parametrize("origin", [None, "", "null", "file:///exam.html", "not a url"])
def test_missing_or_opaque_origin_is_refused(tenant_a, origin):
    with pytest.raises(OriginRequired) as caught:
        widget_key_check(key=tenant_a.publishable_key, origin=origin)
    assert caught.value.code == "ORIGIN_REQUIRED"


def test_wrong_key_is_invalid(tenant_a):
    with pytest.raises(InvalidApiKey) as caught:
        widget_key_check(key="pk_" + "x" * 43, origin="https://exams.alpha.edu")
    assert caught.value.code == "INVALID_API_KEY"


def test_revoked_key_is_refused_at_once(tenant_a):
    key = widget_key_check(key=tenant_a.publishable_key, origin="https://exams.alpha.edu")
    api_key_revoke(api_key=key)
    with pytest.raises(InvalidApiKey):
        widget_key_check(key=tenant_a.publishable_key, origin="https://exams.alpha.edu")


def test_expired_key_is_invalid(tenant_a):
    key, plaintext = api_key_create(
        institution=tenant_a.institution,
        kind=ApiKey.Kind.PUBLISHABLE,
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    with pytest.raises(InvalidApiKey):
        widget_key_check(key=plaintext, origin="https://exams.alpha.edu")


def test_secret_key_is_not_a_widget_key_and_publishable_is_not_an_api_key(tenant_a):
    with pytest.raises(InvalidApiKey):
        widget_key_check(key=tenant_a.secret_key, origin="https://exams.alpha.edu")
    with pytest.raises(InvalidApiKey):
        secret_key_authenticate(key=tenant_a.publishable_key)
    assert secret_key_authenticate(key=tenant_a.secret_key).institution == tenant_a.institution


def test_wildcard_domain_covers_subdomains_only(tenant_b):
    domain_add(institution=tenant_b.institution, host="*.beta.org")
    assert widget_key_check(key=tenant_b.publishable_key, origin="https://math.beta.org")
    with pytest.raises(DomainNotRegistered):
        widget_key_check(key=tenant_b.publishable_key, origin="https://beta.org")


def test_keys_are_never_stored_in_plaintext(tenant_a):
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM tenants_apikey")
        rows = [" ".join(str(v) for v in row) for row in cursor.fetchall()]
    assert len(rows) == 2
    for row in rows:
        assert tenant_a.publishable_key not in row
        assert tenant_a.secret_key not in row
    prefixes = set(ApiKey.objects.values_list("prefix", flat=True))
    assert prefixes == {tenant_a.publishable_key[:10], tenant_a.secret_key[:10]}


def test_keys_have_high_entropy_and_the_right_prefix(tenant_a, tenant_b):
    assert tenant_a.publishable_key.startswith("pk_") and tenant_a.secret_key.startswith("sk_")
    assert len(tenant_a.publishable_key) >= 40
    assert (
        len({tenant_a.publishable_key, tenant_b.publishable_key, tenant_a.secret_key, tenant_b.secret_key})
        == 4
    )


def test_attempt_signature_in_base64_and_hex_is_accepted(tenant_a):
    mac = hmac.new(tenant_a.secret_key.encode(), b"attempt-42", hashlib.sha256).digest()
    assert (
        attempt_sign(secret_key=tenant_a.secret_key, attempt_id="attempt-42")
        == base64.b64encode(mac).decode()
    )
    attempt_signature_verify(
        institution=tenant_a.institution, attempt_id="attempt-42", signature=base64.b64encode(mac).decode()
    )
    attempt_signature_verify(institution=tenant_a.institution, attempt_id="attempt-42", signature=mac.hex())


@pytest.mark.parametrize("signature", ["", "garbage", "A" * 44, "00" * 32])
def test_bad_attempt_signature_is_refused(tenant_a, signature):
    with pytest.raises(InvalidSignature):
        attempt_signature_verify(
            institution=tenant_a.institution, attempt_id="attempt-42", signature=signature
        )


def test_signature_made_with_another_institutions_secret_is_refused(tenant_a, tenant_b):
    signature = attempt_sign(secret_key=tenant_b.secret_key, attempt_id="attempt-42")
    with pytest.raises(InvalidSignature):
        attempt_signature_verify(
            institution=tenant_a.institution, attempt_id="attempt-42", signature=signature
        )


def test_signature_with_a_revoked_secret_is_refused(tenant_a):
    signature = attempt_sign(secret_key=tenant_a.secret_key, attempt_id="a1")
    api_key_revoke(api_key=ApiKey.objects.get(institution=tenant_a.institution, kind=ApiKey.Kind.SECRET))
    with pytest.raises(InvalidSignature):
        attempt_signature_verify(institution=tenant_a.institution, attempt_id="a1", signature=signature)


@pytest.mark.parametrize(
    "host", ["https://x.edu", "x.edu/path", "-bad.edu", "x..edu", "x.edu:70000", "*.10.0.0.1", "300.1.1.1"]
)
def test_invalid_domains_are_rejected(tenant_b, host):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        domain_add(institution=tenant_b.institution, host=host)


def test_domain_limit_per_institution(tenant_b, settings):
    settings.PROCTORME_MAX_DOMAINS = 3
    domain_add(institution=tenant_b.institution, host="two.beta.edu")
    domain_add(institution=tenant_b.institution, host="three.beta.edu")
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="at most 3"):
        domain_add(institution=tenant_b.institution, host="four.beta.edu")
    assert Domain.objects.filter(institution=tenant_b.institution).count() == 3


def test_duplicate_domain_is_rejected(tenant_b):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="already registered"):
        domain_add(institution=tenant_b.institution, host="EXAMS.beta.edu")


# --- origins: what counts as one, default ports, explicit ports ------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        "ftp://exams.alpha.edu",
        "ws://exams.alpha.edu",
        "https://",
        "https://exams.alpha.edu:99999",
        "https://exams.alpha.edu:port",
        "exams.alpha.edu",
    ],
)
def test_an_origin_without_a_web_scheme_a_host_or_a_valid_port_is_no_origin(tenant_a, origin):
    with pytest.raises(OriginRequired):
        widget_key_check(key=tenant_a.publishable_key, origin=origin)


@pytest.mark.parametrize(
    "host, allowed, refused",
    [
        ("exams.gamma.edu:443", "https://exams.gamma.edu", "http://exams.gamma.edu"),
        ("exams.gamma.edu:80", "http://exams.gamma.edu", "https://exams.gamma.edu"),
        ("exams.gamma.edu:8443", "https://exams.gamma.edu:8443", "https://exams.gamma.edu:8444"),
        ("*.gamma.edu:8443", "https://a.gamma.edu:8443", "https://a.gamma.edu"),
    ],
)
def test_a_registered_port_is_matched_against_the_origins_port_or_its_schemes_default(
    tenant_b, host, allowed, refused
):
    domain_add(institution=tenant_b.institution, host=host)
    assert widget_key_check(key=tenant_b.publishable_key, origin=allowed)
    with pytest.raises(DomainNotRegistered):
        widget_key_check(key=tenant_b.publishable_key, origin=refused)


def test_a_wildcard_does_not_cover_a_host_that_merely_ends_like_it(tenant_b):
    domain_add(institution=tenant_b.institution, host="*.beta.org")
    for origin in ("https://evilbeta.org", "https://beta.org.evil.com", "https://a.beta.org.evil.com"):
        with pytest.raises(DomainNotRegistered):
            widget_key_check(key=tenant_b.publishable_key, origin=origin)
    assert widget_key_check(key=tenant_b.publishable_key, origin="https://A.B.Beta.org")


def test_an_institution_that_requires_https_refuses_its_own_http_pages(tenant_a):
    from tenants.services import origin_allowed

    institution = tenant_a.institution
    assert origin_allowed(institution=institution, origin="http://exams.alpha.edu")
    institution.require_https = True
    institution.save(update_fields=["require_https"])
    assert not origin_allowed(institution=institution, origin="http://exams.alpha.edu")
    assert origin_allowed(institution=institution, origin="HTTPS://exams.alpha.edu")
    assert not origin_allowed(institution=institution, origin=None)


# --- revocation is kept, and when a key was last used ---------------------------------------------


def test_revoking_a_key_is_stored_and_a_second_revocation_keeps_the_first_time(tenant_a, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    key = ApiKey.objects.get(institution=tenant_a.institution, kind=ApiKey.Kind.PUBLISHABLE)
    first = timezone.now()
    assert api_key_revoke(api_key=key) is key
    key.refresh_from_db()
    assert key.revoked_at == first
    time_machine.shift(timedelta(hours=1))
    api_key_revoke(api_key=key)
    key.refresh_from_db()
    assert key.revoked_at == first
    with pytest.raises(InvalidApiKey):
        widget_key_check(key=tenant_a.publishable_key, origin="https://exams.alpha.edu")


def test_last_used_is_stored_at_first_use_then_at_most_once_a_minute(tenant_a, time_machine):
    time_machine.move_to(timezone.now(), tick=False)
    start = timezone.now()

    def stored():
        return ApiKey.objects.get(institution=tenant_a.institution, kind=ApiKey.Kind.SECRET).last_used_at

    assert stored() is None
    assert secret_key_authenticate(key=tenant_a.secret_key).last_used_at == start
    assert stored() == start
    time_machine.shift(timedelta(seconds=60))  # a minute, not more than a minute
    secret_key_authenticate(key=tenant_a.secret_key)
    assert stored() == start
    time_machine.shift(timedelta(seconds=1))
    assert secret_key_authenticate(key=tenant_a.secret_key).last_used_at == start + timedelta(seconds=61)
    assert stored() == start + timedelta(seconds=61)


def test_revoking_a_key_loaded_earlier_writes_only_its_revocation(tenant_a):
    """An admin's revoke of a key loaded before a request used it (or someone renamed it) keeps
    what was written since."""
    key = ApiKey.objects.get(institution=tenant_a.institution, kind=ApiKey.Kind.SECRET)
    used = timezone.now()
    ApiKey.objects.filter(pk=key.pk).update(name="Rotated secret", last_used_at=used)
    api_key_revoke(api_key=key)
    key.refresh_from_db()
    assert (key.name, key.last_used_at, key.revoked_at is not None) == ("Rotated secret", used, True)
