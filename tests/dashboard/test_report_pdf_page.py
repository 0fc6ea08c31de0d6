"""The replay page links its PDF report; the report opens for the institution's admin and reviewer,
and is a 404 (like a missing session) for another institution's admin."""

from __future__ import annotations

import uuid

from django.urls import reverse

from tests.privacy.seed import seed_candidate


def test_the_replay_page_links_the_pdf_and_members_download_it(login, tenant_a):
    session = seed_candidate(tenant_a, "QZDASHX", seed=21).sessions[0]
    url = reverse("dashboard:session-report-pdf", args=[session.public_id])
    for user in (tenant_a.admin, tenant_a.reviewer):
        client = login(user)
        page = client.get(reverse("dashboard:session", args=[session.public_id])).content.decode()
        assert f'id="report-pdf" href="{url}"' in page
        response = client.get(url)
        assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
        assert response.content[:5] == b"%PDF-"
        assert "attachment;" in response["Content-Disposition"]


def test_an_outsider_gets_404_for_the_pdf(login, tenant_a, tenant_b):
    session = seed_candidate(tenant_a, "QZDASHY", seed=22).sessions[0]
    client = login(tenant_b.admin)
    outsider = client.get(reverse("dashboard:session-report-pdf", args=[session.public_id]))
    missing = client.get(reverse("dashboard:session-report-pdf", args=[uuid.uuid4()]))
    assert outsider.status_code == missing.status_code == 404
    assert b"QZDASHY" not in outsider.content


def test_signed_out_visitors_are_sent_to_sign_in(client, tenant_a):
    session = seed_candidate(tenant_a, "QZDASHZ", seed=23).sessions[0]
    response = client.get(reverse("dashboard:session-report-pdf", args=[session.public_id]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
