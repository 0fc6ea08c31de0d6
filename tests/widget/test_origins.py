"""Finding 14: loose origins — public-suffix wildcards, uploads without Origin, http where an
institution wants https."""

import json

import pytest
from django.core.exceptions import ValidationError

from tenants.services import domain_add
from tests.widget.test_consumer import _start
from tests.widget.test_session_start import eye_config, start


@pytest.mark.parametrize("host", ["*.edu", "*.ac.uk", "*.github.io", "*.co.uk:8443"])
def test_finding14_a_wildcard_over_a_public_suffix_is_refused(tenant_a, host):
    with pytest.raises(ValidationError, match="public suffix"):
        domain_add(institution=tenant_a.institution, host=host)


def test_finding14_a_wildcard_over_an_institutions_own_domain_is_fine(tenant_a):
    assert domain_add(institution=tenant_a.institution, host="*.alpha.edu").host == "*.alpha.edu"


def test_finding14_an_upload_or_end_without_origin_is_refused(client, tenant_a):
    started = _start(tenant_a)
    sid = started.session.public_id
    auth = {"HTTP_AUTHORIZATION": f"Bearer {started.token}"}
    upload = client.post(f"/widget/v1/sessions/{sid}/media", {"meta": json.dumps({"items": []})}, **auth)
    assert upload.status_code == 403 and upload.json()["error"]["code"] == "ORIGIN_REQUIRED"
    end = client.post(f"/widget/v1/sessions/{sid}/end", "{}", content_type="application/json", **auth)
    assert end.status_code == 403 and end.json()["error"]["code"] == "ORIGIN_REQUIRED"
    started.session.refresh_from_db()
    assert started.session.status == "active"


def test_finding14_an_institution_can_require_https_pages(client, tenant_a):
    # localhost:8123 is registered; without the switch plain http works (local development).
    assert (
        start(
            client, {"dialect": "eye", "config": eye_config(tenant_a)}, origin="http://localhost:8123"
        ).status_code
        == 201
    )
    tenant_a.institution.require_https = True
    tenant_a.institution.save()
    refused = start(
        client,
        {"dialect": "eye", "config": eye_config(tenant_a, candidateId="c-2")},
        origin="http://exams.alpha.edu",
    )
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "DOMAIN_NOT_REGISTERED"
    ok = start(
        client,
        {"dialect": "eye", "config": eye_config(tenant_a, candidateId="c-3")},
        origin="https://exams.alpha.edu",
    )
    assert ok.status_code == 201
