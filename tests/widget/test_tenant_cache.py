"""The per-process caches of an institution's domains and a key's revocation (tenants.services):
each upload reads neither afresh, a change saved here is seen at once, a change saved by another
process within TENANT_CACHE_SECONDS, and one institution's entry never answers another's."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tenants import services
from tenants.models import ApiKey, Domain
from tenants.services import api_key_revoke, domain_add, origin_allowed
from tests.widget.test_consumer import _start
from tests.widget.test_upload_refusals import ORIGIN, _batch, _frame

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cold():
    services.tenant_caches_clear()
    yield
    services.tenant_caches_clear()


def _code(response) -> str | None:
    return None if response.status_code == 202 else response.json()["error"]["code"]


def _publishable(tenant) -> ApiKey:
    return ApiKey.objects.get(institution=tenant.institution, kind=ApiKey.Kind.PUBLISHABLE)


def test_a_warm_upload_reads_neither_the_key_nor_the_domains(client, tenant_a, django_assert_num_queries):
    started = _start(tenant_a)
    assert _code(_batch(client, started, [_frame(1)])) is None
    # The session (with its institution, assessment and candidate) and media_store's six (the
    # transaction, the lock, the count, the INSERT, the sign of life): no ApiKey, no Domain.
    with django_assert_num_queries(7) as queries:
        assert _code(_batch(client, started, [_frame(2)])) is None
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "tenants_apikey" not in sql and "tenants_domain" not in sql
    services.tenant_caches_clear()
    with django_assert_num_queries(9):  # cold: the key's row and the domains read once more
        assert _code(_batch(client, started, [_frame(3)])) is None


def test_a_removed_domain_is_refused_at_once_and_an_added_one_allowed(client, tenant_a):
    started = _start(tenant_a)
    assert _code(_batch(client, started, [_frame(1)])) is None
    Domain.objects.get(institution=tenant_a.institution, host="exams.alpha.edu").delete()
    assert _code(_batch(client, started, [_frame(2)])) == "DOMAIN_NOT_REGISTERED"
    domain_add(institution=tenant_a.institution, host="exams.alpha.edu")
    assert _code(_batch(client, started, [_frame(3)])) is None


def test_a_revoked_key_is_refused_at_once_after_a_warm_upload(client, tenant_a):
    started = _start(tenant_a)
    assert _code(_batch(client, started, [_frame(1)])) is None
    api_key_revoke(api_key=_publishable(tenant_a))
    assert _code(_batch(client, started, [_frame(2)])) == "INVALID_TOKEN"


def test_a_change_no_signal_announces_is_seen_within_the_cache_time(client, tenant_a, monkeypatch):
    """As a revocation saved by another process: this one's entries expire."""
    now = [1000.0]
    monkeypatch.setattr(services, "_clock", lambda: now[0])
    started = _start(tenant_a)
    assert _code(_batch(client, started, [_frame(1)])) is None
    ApiKey.objects.filter(pk=_publishable(tenant_a).pk).update(revoked_at=timezone.now())
    Domain.objects.filter(institution=tenant_a.institution, host="exams.alpha.edu").update(
        host="elsewhere.alpha.edu"
    )
    now[0] += services.TENANT_CACHE_SECONDS - 0.5
    assert _code(_batch(client, started, [_frame(2)])) is None  # still within the cache time
    now[0] += 1.0
    assert _code(_batch(client, started, [_frame(3)])) == "INVALID_TOKEN"
    ApiKey.objects.filter(pk=_publishable(tenant_a).pk).update(revoked_at=None)
    services.tenant_caches_clear()
    assert _code(_batch(client, started, [_frame(4)])) == "DOMAIN_NOT_REGISTERED"


def test_an_expired_key_is_refused_by_the_clock_not_the_cache(client, tenant_a):
    key = _publishable(tenant_a)
    key.expires_at = timezone.now() + timedelta(seconds=1.5)
    key.save()
    started = _start(tenant_a)
    assert _code(_batch(client, started, [_frame(1)])) is None
    time.sleep(1.6)
    assert _code(_batch(client, started, [_frame(2)])) == "INVALID_TOKEN"


def test_one_institutions_cached_domains_never_answer_anothers(client, tenant_a, tenant_b):
    beta = "https://exams.beta.edu"
    started_a, started_b = _start(tenant_a), _start(tenant_b, origin=beta, candidate="c-2")
    assert _code(_batch(client, started_a, [_frame(1)])) is None  # Alpha's domains cached
    assert origin_allowed(institution=tenant_b.institution, origin=beta)  # and Beta's
    assert not origin_allowed(institution=tenant_b.institution, origin=ORIGIN)
    assert not origin_allowed(institution=tenant_a.institution, origin=beta)
    assert origin_allowed(institution=tenant_a.institution, origin=ORIGIN)
    # Beta's token from Alpha's page: refused whatever is cached.
    response = client.post(
        f"/widget/v1/sessions/{started_b.session.public_id}/media",
        {"meta": '{"items": []}'},
        HTTP_AUTHORIZATION=f"Bearer {started_b.token}",
        HTTP_ORIGIN=ORIGIN,
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "DOMAIN_NOT_REGISTERED"


def test_a_primary_key_used_again_does_not_find_the_old_rows_entry(tenant_a):
    """SQLite hands a rolled-back row's id out again: saving the new institution drops the entry."""
    institution = tenant_a.institution
    assert origin_allowed(institution=institution, origin=ORIGIN)
    assert services._domain_hosts
    institution.save()
    assert institution.pk not in services._domain_hosts
