"""Webhook deliveries over the wire: HTTPS to a loopback TLS receiver with a certificate made
here (trusted, untrusted, for another host), a port where nothing listens, a receiver that never
answers, and the retry timer of the embedded (thread) mode."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import time
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from sessions.webhooks import webhook_event_emit, webhook_signature_verify
from tenants.models import WebhookDelivery
from tenants.services import webhook_endpoint_create
from tests.api.webhook_receiver import start_receiver

EVENT = "session.completed"


def _certificate(directory, *, ip: str | None = "127.0.0.1", dns: str | None = None):
    """A self-signed certificate (its own CA) for ``ip`` / ``dns``; returns (cert path, key path)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Proctorme test receiver")])
    now = datetime.now(UTC)
    names = [x509.IPAddress(ipaddress.ip_address(ip))] if ip else []
    names += [x509.DNSName(dns)] if dns else []
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def _tls_receiver(cert_path, key_path):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    receiver = start_receiver(ssl_context=context)
    # A client that refuses our certificate breaks the handshake: expected here, not worth a traceback.
    receiver.server.handle_error = lambda request, address: None
    return receiver


@pytest.fixture
def transport_settings(settings):
    settings.PROCTORME_ALLOW_PRIVATE_URLS = True  # receivers are on loopback
    settings.PROCTORME_WEBHOOK_MAX_ATTEMPTS = 2
    settings.PROCTORME_WEBHOOK_TIMEOUT = 1
    return settings


@pytest.fixture
def servers():
    started = []
    yield started
    for receiver in started:
        receiver.server.shutdown()
        receiver.server.server_close()


def _emit(tenant, url: str, run_on_commit=None) -> tuple[WebhookDelivery, str]:
    """Queue one delivery to ``url``; with ``run_on_commit`` (sync mode) it is attempted at once."""
    endpoint, secret = webhook_endpoint_create(institution=tenant.institution, url=url)
    with run_on_commit() if run_on_commit else contextlib.nullcontext():
        (delivery,) = webhook_event_emit(
            institution_id=tenant.institution.pk, event=EVENT, payload={"event": EVENT, "sessionId": "s-1"}
        )
    delivery.refresh_from_db()
    return delivery, secret


def _attempt_errors(delivery) -> list[str]:
    return list(delivery.attempts.order_by("number").values_list("error", flat=True))


def test_https_delivery_to_a_trusted_certificate_is_signed_and_succeeds(
    tenant_a, transport_settings, servers, sleeps, run_on_commit, tmp_path, monkeypatch
):
    cert, key = _certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the trust store the default TLS context loads
    receiver = _tls_receiver(cert, key)
    servers.append(receiver)
    assert receiver.url().startswith("https://127.0.0.1:")
    delivery, secret = _emit(tenant_a, receiver.url(), run_on_commit)
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED and delivery.attempt_count == 1
    (request,) = receiver.requests
    webhook_signature_verify(body=request.body, header=request.headers["Proctorme-Signature"], secret=secret)


@pytest.mark.parametrize("trusted", [False, True], ids=["untrusted", "other-host"])
def test_https_to_a_certificate_that_does_not_verify_is_never_delivered(
    tenant_a, transport_settings, servers, sleeps, run_on_commit, tmp_path, monkeypatch, trusted
):
    cert, key = _certificate(tmp_path, ip=None if trusted else "127.0.0.1", dns="hooks.other.test")
    if trusted:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trusted, but names another host
    else:
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-bundle.pem"))
    receiver = _tls_receiver(cert, key)
    servers.append(receiver)
    delivery, _ = _emit(tenant_a, receiver.url(), run_on_commit)
    assert delivery.status == WebhookDelivery.Status.FAILED and delivery.attempt_count == 2
    assert _attempt_errors(delivery) == ["The connection failed."] * 2
    assert receiver.requests == []  # nothing was sent over a connection that did not verify
    assert sleeps == [5.0]


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_connection_is_logged_retried_and_given_up(
    tenant_a, transport_settings, sleeps, run_on_commit
):
    delivery, _ = _emit(tenant_a, f"http://127.0.0.1:{_unused_port()}/hook", run_on_commit)
    assert delivery.status == WebhookDelivery.Status.FAILED and delivery.attempt_count == 2
    attempts = list(delivery.attempts.order_by("number"))
    assert [a.error for a in attempts] == ["The connection failed."] * 2
    assert [a.status_code for a in attempts] == [None, None]
    assert delivery.last_status_code is None and delivery.last_error == "The connection failed."
    assert sleeps == [5.0]
    delivery.endpoint.refresh_from_db()
    assert delivery.endpoint.consecutive_failures == 1


def test_a_receiver_that_never_answers_times_out_within_the_setting(
    tenant_a, transport_settings, sleeps, run_on_commit
):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections complete in the backlog; nothing ever reads or answers
    try:
        started = time.monotonic()
        delivery, _ = _emit(tenant_a, f"http://127.0.0.1:{silent.getsockname()[1]}/hook", run_on_commit)
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert _attempt_errors(delivery) == ["The request timed out."] * 2
    assert all(a.response_ms >= 1000 for a in delivery.attempts.all())
    assert elapsed < 30  # two attempts of a 1-s deadline; generous for a loaded machine


@pytest.mark.django_db(transaction=True)
def test_thread_mode_retries_on_a_timer_and_then_delivers(tenant_a, settings, servers):
    """The embedded default: a failed attempt schedules the next on a timer thread, not a sleep."""
    settings.TASKS_MODE = "thread"
    settings.PROCTORME_ALLOW_PRIVATE_URLS = True
    settings.PROCTORME_WEBHOOK_RETRY_BASE = 1
    receiver = start_receiver()
    servers.append(receiver)
    receiver.statuses = [503]
    started = time.monotonic()
    delivery, secret = _emit(tenant_a, receiver.url())
    # The request returned with the delivery queued; wait (bounded) for the two attempts.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        delivery.refresh_from_db()
        if delivery.status != WebhookDelivery.Status.PENDING:
            break
        time.sleep(0.05)
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED, _attempt_errors(delivery)
    first, second = delivery.attempts.order_by("number")
    assert (first.status_code, second.status_code) == (503, 200)
    # The retry waited for its backoff (1 s), measured on the server's own clock.
    assert (second.requested_at - first.requested_at).total_seconds() >= 1.0
    assert time.monotonic() - started >= 1.0
    assert len(receiver.requests) == 2
    for request in receiver.requests:
        webhook_signature_verify(
            body=request.body, header=request.headers["Proctorme-Signature"], secret=secret
        )
