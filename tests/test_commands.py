import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tenants.models import ApiKey, Institution, Membership
from tenants.services import (
    attempt_sign,
    attempt_signature_verify,
    secret_key_authenticate,
    widget_key_check,
)


def test_create_institution_prints_the_four_keys_and_the_invitation_and_warns_apart(
    transactional_db, mailoutbox
):
    out, err = StringIO(), StringIO()
    call_command(
        "create_institution",
        "Gamma School",
        "--domain",
        "exams.gamma.edu",
        "--domain",
        "localhost:3000",
        "--admin-email",
        "boss@gamma.edu",
        stdout=out,
        stderr=err,
    )
    lines = out.getvalue().splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        "institution_id",
        "publishable_key",
        "secret_key",
        "attempt_signing_key",
        "admin_invitation",
    ]
    assert "never in a page" in err.getvalue()
    values = dict(line.split(": ", 1) for line in lines)
    institution = Institution.objects.get(public_id=values["institution_id"])
    assert re.fullmatch(r"pk_[\w-]{40,}", values["publishable_key"])
    assert (
        widget_key_check(key=values["publishable_key"], origin="http://localhost:3000").institution
        == institution
    )
    assert secret_key_authenticate(key=values["secret_key"]).institution == institution
    signed = attempt_sign(secret_key=values["attempt_signing_key"], attempt_id="a-1")
    assert (
        attempt_signature_verify(institution=institution, attempt_id="a-1", signature=signed).kind
        == "signing"
    )
    assert Membership.objects.get(user__email="boss@gamma.edu").role == "admin"
    assert values["admin_invitation"] == "e-mailed to boss@gamma.edu"
    assert [m.to for m in mailoutbox] == [["boss@gamma.edu"]]


def test_create_institution_with_a_bad_domain_fails_and_creates_nothing(db):
    with pytest.raises(CommandError, match="not a valid host"):
        call_command("create_institution", "Delta", "--domain", "not a host", stdout=StringIO())
    assert not Institution.objects.exists()
    assert not ApiKey.objects.exists()


def test_seed_demo_is_idempotent_and_prints_stable_keys(db):
    first, second = StringIO(), StringIO()
    call_command("seed_demo", stdout=first)
    call_command("seed_demo", stdout=second)
    assert first.getvalue() == second.getvalue()
    assert Institution.objects.filter(name="Demo Academy").count() == 1
    institution = Institution.objects.get(name="Demo Academy")
    assert set(institution.domains.values_list("host", flat=True)) == {"localhost", "127.0.0.1"}
    assert institution.api_keys.count() == 3  # publishable, secret, attempt signing
    values = dict(line.split(": ", 1) for line in first.getvalue().splitlines())
    assert (
        widget_key_check(key=values["publishable_key"], origin="http://127.0.0.1:8000").institution
        == institution
    )
    assert set(institution.memberships.values_list("role", flat=True)) == {"admin", "reviewer"}


def test_seed_demo_logins_work(client, db):
    call_command("seed_demo", stdout=StringIO())
    assert client.login(username="admin@demo.proctorme.local", password="demo-admin-pass")
    assert client.get("/admin/tenants/apikey/").status_code == 200
    client.logout()
    assert client.login(username="reviewer@demo.proctorme.local", password="demo-reviewer-pass")
