"""Sign-in: throttling and lockout (django-axes) and optional two-factor login (django-otp)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db


def _sign_in(client, username, password, *, ip="203.0.113.7", code="", next_url="/dashboard/"):
    return client.post(
        reverse("login"),
        {"username": username, "password": password, "otp_token": code, "next": next_url},
        REMOTE_ADDR=ip,
    )


def _code(device: TOTPDevice) -> str:
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def test_five_wrong_passwords_lock_that_account_from_that_address(client, tenant_a, settings):
    user = tenant_a.reviewer.email
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _sign_in(client, user, "wrong").status_code == 200
    locked = _sign_in(client, user, "wrong")
    assert locked.status_code == 429
    assert "Too many attempts" in locked.content.decode()
    # Even the right password is refused now, and the session stays anonymous.
    assert _sign_in(client, user, "pw-rev-123").status_code == 429
    assert client.get("/dashboard/").status_code == 302


def test_a_lockout_keeps_others_out_of_nothing(client, tenant_a, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, tenant_a.reviewer.email, "wrong")
    # The same person from another network, and a colleague on the same one, get in.
    assert _sign_in(client, tenant_a.reviewer.email, "pw-rev-123", ip="198.51.100.9").status_code == 302
    client.logout()
    assert _sign_in(client, tenant_a.admin.email, "pw-admin-123").status_code == 302


def test_a_lockout_ends_after_the_cool_off(client, tenant_a, settings):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        for _ in range(settings.AXES_FAILURE_LIMIT):
            _sign_in(client, tenant_a.reviewer.email, "wrong")
        assert _sign_in(client, tenant_a.reviewer.email, "pw-rev-123").status_code == 429
        traveller.shift(settings.AXES_COOLOFF_TIME + timedelta(seconds=1))
        assert _sign_in(client, tenant_a.reviewer.email, "pw-rev-123").status_code == 302


def test_the_admin_sign_in_is_the_same_throttled_page(client, tenant_a, settings):
    response = client.get("/admin/login/?next=/admin/tenants/domain/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, tenant_a.admin.email, "wrong", next_url="/admin/")
    assert _sign_in(client, tenant_a.admin.email, "pw-admin-123", next_url="/admin/").status_code == 429
    assert client.get("/admin/").status_code == 302


def test_setting_a_new_password_by_reset_lifts_the_lockout(client, tenant_a, settings, mailoutbox):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, tenant_a.reviewer.email, "wrong")
    client.post(reverse("password_reset"), {"email": tenant_a.reviewer.email})
    link = re.search(r"http://\S+/accounts/password/reset/\S+/", mailoutbox[0].body).group(0)
    form_url = client.get("/" + link.split("/", 3)[3])["Location"]
    client.post(form_url, {"new_password1": "fresh-passphrase-9", "new_password2": "fresh-passphrase-9"})
    assert _sign_in(client, tenant_a.reviewer.email, "fresh-passphrase-9").status_code == 302


def _turn_on_two_factor(client, user, traveller) -> TOTPDevice:
    client.force_login(user)
    page = client.get(reverse("two-factor"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "<svg" in body  # the QR code for the app
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert device.config_url.startswith("otpauth://totp/")
    assert re.search(r'class="totp-key">[A-Z2-7]{32}<', body)
    assert client.post(reverse("two-factor"), {"token": "000000"}).status_code == 400
    traveller.shift(timedelta(seconds=2))  # past django-otp's delay after a wrong code
    response = client.post(reverse("two-factor"), {"token": _code(device)})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    client.logout()
    return device


def test_with_two_factor_on_the_password_alone_is_not_enough(client, tenant_a):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        device = _turn_on_two_factor(client, tenant_a.admin, traveller)
        traveller.shift(timedelta(seconds=31))  # a fresh code: each code works once
        missing = _sign_in(client, tenant_a.admin.email, "pw-admin-123", next_url="/admin/")
        assert missing.status_code == 200
        assert "6-digit code" in missing.content.decode()
        wrong = _sign_in(client, tenant_a.admin.email, "pw-admin-123", code="123456", next_url="/admin/")
        assert wrong.status_code == 200 and "not right" in wrong.content.decode()
        assert client.get("/admin/").status_code == 302
        traveller.shift(timedelta(seconds=31))  # past django-otp's throttle delay
        ok = _sign_in(client, tenant_a.admin.email, "pw-admin-123", code=_code(device), next_url="/admin/")
        assert ok.status_code == 302 and ok["Location"] == "/admin/"
        assert client.get("/admin/").status_code == 200


def test_without_two_factor_the_code_field_is_ignored(client, tenant_a):
    assert _sign_in(client, tenant_a.reviewer.email, "pw-rev-123").status_code == 302


def test_turning_two_factor_off_needs_a_current_code(client, tenant_a):
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        device = _turn_on_two_factor(client, tenant_a.reviewer, traveller)
        client.force_login(tenant_a.reviewer)
        assert client.post(reverse("two-factor"), {"token": "000000"}).status_code == 400
        assert TOTPDevice.objects.filter(user=tenant_a.reviewer, confirmed=True).exists()
        assert "Two-factor login is on" in client.get(reverse("two-factor")).content.decode()
        traveller.shift(timedelta(seconds=61))
        assert client.post(reverse("two-factor"), {"token": _code(device)}).status_code == 302
        assert not TOTPDevice.objects.filter(user=tenant_a.reviewer).exists()


def test_admin_site_can_require_two_factor(client, tenant_a, settings):
    settings.PROCTORME_ADMIN_REQUIRE_2FA = True
    assert _sign_in(client, tenant_a.admin.email, "pw-admin-123", next_url="/admin/").status_code == 302
    to_login = client.get("/admin/")
    assert to_login.status_code == 302
    to_setup = client.get(to_login["Location"])
    assert to_setup.status_code == 302 and to_setup["Location"].startswith(reverse("two-factor"))
    # The dashboard itself stays open to password-only sessions.
    assert client.get("/dashboard/").status_code == 200
    setup = client.get(to_setup["Location"])
    pending = TOTPDevice.objects.get(user=tenant_a.admin, confirmed=False)
    assert setup.status_code == 200
    done = client.post(to_setup["Location"], {"token": _code(pending), "next": "/admin/"})
    assert done.status_code == 302 and done["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
