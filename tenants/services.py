from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify

from proctorme.errors import (
    DomainNotRegistered,
    InvalidApiKey,
    InvalidSignature,
    OriginRequired,
    ProctormeError,
)
from proctorme.outbound import OutboundError, url_addresses
from tenants.crypto import decrypt, digest, encrypt
from tenants.models import ApiKey, Domain, Institution, Membership, WebhookEndpoint

KEY_PREFIXES = {ApiKey.Kind.PUBLISHABLE: "pk_", ApiKey.Kind.SECRET: "sk_", ApiKey.Kind.SIGNING: "as_"}
# Kinds whose plaintext the server keeps (encrypted) to verify attempt signatures.
SIGNING_KINDS = (ApiKey.Kind.SECRET, ApiKey.Kind.SIGNING)
_DUMMY_DIGEST = digest("pk_not-a-key")
_LAST_USED_RESOLUTION = timedelta(minutes=1)


def _unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "institution"
    slug, n = base, 1
    while Institution.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def api_key_create(
    *,
    institution: Institution,
    kind: str,
    name: str = "",
    expires_at=None,
    created_by=None,
    plaintext: str | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its plaintext, which is never stored nor shown again.

    ``plaintext`` is only for seed_demo's stable demo keys; real keys are random.
    """
    plaintext = plaintext or KEY_PREFIXES[kind] + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        institution=institution,
        kind=kind,
        name=name,
        prefix=plaintext[:10],
        key_digest=digest(plaintext),
        key_encrypted=encrypt(plaintext) if kind in SIGNING_KINDS else "",
        expires_at=expires_at,
        created_by=created_by,
    )
    return key, plaintext


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


@transaction.atomic
def institution_create(
    *, name: str, domains: list[str], admin_email: str | None = None
) -> tuple[Institution, str, str]:
    """Create an institution with its domains, a publishable and a secret key."""
    institution = Institution.objects.create(name=name, slug=_unique_slug(name))
    for host in domains:
        domain_add(institution=institution, host=host)
    if admin_email:
        membership_add(institution=institution, email=admin_email, role=Membership.Role.ADMIN)
    _, publishable = api_key_create(
        institution=institution, kind=ApiKey.Kind.PUBLISHABLE, name="Default widget key"
    )
    _, secret = api_key_create(institution=institution, kind=ApiKey.Kind.SECRET, name="Default secret key")
    return institution, publishable, secret


def domain_add(*, institution: Institution, host: str) -> Domain:
    domain = Domain(institution=institution, host=host.strip().lower())
    domain.full_clean()
    domain.save()
    return domain


def membership_add(
    *,
    institution: Institution,
    email: str,
    role: str,
    password: str | None = None,
    invited_by=None,
) -> Membership:
    """Add a user (created from the e-mail address if new) to the institution.

    Someone who has no password yet (a new account, or an invitation not yet
    accepted) is sent an invitation to set one, once the transaction commits.
    """
    User = get_user_model()
    email = User.objects.normalize_email(email).lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User(username=email, email=email)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
    # Admins manage their institution in Django's admin site, which needs is_staff;
    # what they may see there is decided by their memberships (tenants.admin).
    user.is_staff = user.is_staff or role == Membership.Role.ADMIN
    user.save()
    membership, _ = Membership.objects.update_or_create(
        institution=institution, user=user, defaults={"role": role}
    )
    if not user.has_usable_password():
        membership_invite(membership=membership, invited_by=invited_by)
    return membership


def membership_invite(*, membership: Membership, invited_by=None) -> None:
    """E-mail the member a signed, expiring link to set their password (after commit)."""
    from tenants.invitations import invitation_url

    user = membership.user
    context = {
        "institution": membership.institution.name,
        "role": membership.get_role_display(),
        "invited_by": (invited_by.email or invited_by.get_username()) if invited_by else "",
        "url": invitation_url(user),
        "expires_at": timezone.now() + timedelta(seconds=settings.PROCTORME_INVITATION_TTL),
        "site_url": settings.SITE_URL,
    }
    subject = render_to_string("registration/invitation_subject.txt", context).strip()
    body = render_to_string("registration/invitation_email.txt", context)
    transaction.on_commit(
        lambda: send_mail(subject, body, None, [user.email], fail_silently=False), robust=True
    )


def _key_lookup(key: str) -> ApiKey | None:
    """Find an active key by its digest, spending the same work whether it exists or not."""
    candidate_digest = digest(key or "")
    found = ApiKey.objects.select_related("institution").filter(key_digest=candidate_digest).first()
    expected = found.key_digest if found else _DUMMY_DIGEST
    matches = hmac.compare_digest(expected, candidate_digest)
    if not (found and matches and found.is_active):
        return None
    if found.last_used_at is None or timezone.now() - found.last_used_at > _LAST_USED_RESOLUTION:
        found.last_used_at = timezone.now()
        ApiKey.objects.filter(pk=found.pk).update(last_used_at=found.last_used_at)
    return found


def parse_origin(origin: str | None) -> tuple[str, int] | None:
    """``https://Exams.Example.edu`` → ``("exams.example.edu", 443)``; None for no usable origin."""
    if not origin or origin == "null":
        return None
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    return parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


def host_matches(pattern: str, host: str, port: int) -> bool:
    pattern_host, _, pattern_port = pattern.partition(":")
    if pattern_port and int(pattern_port) != port:
        return False
    if pattern_host.startswith("*."):
        return host.endswith(pattern_host[1:])
    return host == pattern_host


# --- per-process caches of what every widget request re-reads --------------------------------
#
# Each token-checked widget request (an upload every 2 s per candidate, and every socket) read
# its institution's domains and its key's revocation afresh. Both are kept here per process for
# at most TENANT_CACHE_SECONDS: keyed by the institution's primary key / the key's public id, so
# one institution's entry is never read for another's request. A change saved through the ORM
# (admin, services, signals) drops the entry in the process that made it at once and when its
# transaction commits; other processes see it within TENANT_CACHE_SECONDS. A key's expiry is not
# cached: its expires_at is, and is compared with the clock on every use.

TENANT_CACHE_SECONDS = 10.0
_domain_hosts: dict[int, tuple[float, tuple[str, ...]]] = {}
_key_states: dict[str, tuple[float, tuple | None]] = {}
_clock = time.monotonic


def tenant_caches_clear() -> None:
    _domain_hosts.clear()
    _key_states.clear()


def _institution_hosts(institution_id: int) -> tuple[str, ...]:
    now = _clock()
    cached = _domain_hosts.get(institution_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    hosts = tuple(Domain.objects.filter(institution_id=institution_id).values_list("host", flat=True))
    _domain_hosts[institution_id] = (now + TENANT_CACHE_SECONDS, hosts)
    return hosts


def api_key_active(public_id: str) -> bool:
    """Is the key ``public_id`` neither revoked (as of at most TENANT_CACHE_SECONDS ago, or at
    once in the process that revoked it) nor expired (by the clock now)?"""
    now = _clock()
    cached = _key_states.get(public_id)
    if cached is None or cached[0] <= now:
        row = ApiKey.objects.filter(public_id=public_id).values_list("revoked_at", "expires_at").first()
        cached = _key_states[public_id] = (now + TENANT_CACHE_SECONDS, row)
    row = cached[1]
    if row is None:
        return False
    revoked_at, expires_at = row
    return revoked_at is None and (expires_at is None or expires_at > timezone.now())


def _domain_changed(sender, instance, **kwargs) -> None:
    institution_id = instance.institution_id
    _domain_hosts.pop(institution_id, None)
    transaction.on_commit(lambda: _domain_hosts.pop(institution_id, None))


def _institution_changed(sender, instance, **kwargs) -> None:
    # A primary key used again (SQLite after a rollback) must not find the entry of the old row.
    pk = instance.pk
    _domain_hosts.pop(pk, None)
    transaction.on_commit(lambda: _domain_hosts.pop(pk, None))


def _key_changed(sender, instance, **kwargs) -> None:
    public_id = str(instance.public_id)
    _key_states.pop(public_id, None)
    transaction.on_commit(lambda: _key_states.pop(public_id, None))


for _signal in (post_save, post_delete):
    _signal.connect(_domain_changed, sender=Domain, dispatch_uid=f"domain-cache-{_signal is post_save}")
    _signal.connect(
        _institution_changed, sender=Institution, dispatch_uid=f"institution-cache-{_signal is post_save}"
    )
    _signal.connect(_key_changed, sender=ApiKey, dispatch_uid=f"key-cache-{_signal is post_save}")


def origin_allowed(*, institution: Institution, origin: str | None) -> bool:
    parsed = parse_origin(origin)
    if parsed is None:
        return False
    if institution.require_https and not origin.lower().startswith("https://"):
        return False
    return any(host_matches(pattern, *parsed) for pattern in _institution_hosts(institution.pk))


def widget_key_check(*, key: str, origin: str | None) -> ApiKey:
    """Is this publishable key valid from this page origin?

    Raises InvalidApiKey (unknown, revoked, expired or a secret key sent from a
    browser), OriginRequired (no origin) or DomainNotRegistered (origin is not
    one of the key's institution's domains).
    """
    api_key = _key_lookup(key)
    if api_key is None or api_key.kind != ApiKey.Kind.PUBLISHABLE:
        raise InvalidApiKey()
    if parse_origin(origin) is None:
        raise OriginRequired()
    if not origin_allowed(institution=api_key.institution, origin=origin):
        raise DomainNotRegistered(details={"origin": origin})
    return api_key


def secret_key_authenticate(*, key: str) -> ApiKey:
    api_key = _key_lookup(key)
    if api_key is None or api_key.kind != ApiKey.Kind.SECRET:
        raise InvalidApiKey()
    return api_key


def attempt_sign(*, secret_key: str, attempt_id: str) -> str:
    """AutoProctor's hashedTestAttemptId: base64(HMAC-SHA256(secret, attempt id))."""
    mac = hmac.new(secret_key.encode(), attempt_id.encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def _decode_signature(signature: str) -> bytes | None:
    signature = (signature or "").strip()
    if len(signature) == 64:
        try:
            return bytes.fromhex(signature)
        except ValueError:
            pass
    try:
        raw = base64.b64decode(
            signature + "=" * (-len(signature) % 4),
            altchars=b"-_" if ("-" in signature or "_" in signature) else None,
            validate=True,
        )
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == 32 else None


def _attempt_digests(secret: str, attempt_id: str) -> tuple[bytes, bytes]:
    """What a signature of ``attempt_id`` may be: AutoProctor's HMAC, and its older plugins' hash.

    The HMAC-SHA256 is what AutoProctor documents and its Moodle plugin sends
    (base64). Its WordPress plugin sends hex SHA-256 of the attempt id followed
    by the secret; a forger still needs the secret for that one.
    """
    hmac_digest = hmac.new(secret.encode(), attempt_id.encode(), hashlib.sha256).digest()
    legacy_digest = hashlib.sha256((attempt_id + secret).encode()).digest()
    return hmac_digest, legacy_digest


def attempt_signature_verify(*, institution: Institution, attempt_id: str, signature: str) -> ApiKey:
    """Check hashedTestAttemptId (base64 or hex) against every active secret and signing key.

    Returns the key that signed it.
    """
    given = _decode_signature(signature)
    if given is None:
        raise InvalidSignature()
    signer = None
    keys = ApiKey.objects.filter(institution=institution, kind__in=SIGNING_KINDS, revoked_at=None)
    for api_key in keys.order_by("pk"):
        if not api_key.is_active:
            continue
        for expected in _attempt_digests(decrypt(api_key.key_encrypted), attempt_id):
            # Compare against every key and both forms, whatever matched first.
            if hmac.compare_digest(expected, given) and signer is None:
                signer = api_key
    if signer is None:
        raise InvalidSignature()
    return signer


# --- webhook endpoints: the one write path of the API and the admin ------------------------------


class WebhookUrlNotAllowed(ProctormeError):
    code = "WEBHOOK_URL_NOT_ALLOWED"


def webhook_url_check(*, url: str) -> list[str]:
    """Refuse URLs that could reach the server's own network; return the addresses to use.

    The check itself lives in proctorme.outbound (the one place for it).
    """
    try:
        return url_addresses(url)
    except OutboundError as exc:
        raise WebhookUrlNotAllowed(exc.message, details={"url": url}) from None


def _events_clean(events: list[str] | None) -> list[str]:
    return sorted(set(events or []))


@transaction.atomic
def webhook_endpoint_create(
    *,
    institution: Institution,
    url: str,
    description: str = "",
    events: list[str] | None = None,
    body_format: str = WebhookEndpoint.BodyFormat.PROCTORME,
) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint after checking its URL; returns it with its secret (shown once)."""
    webhook_url_check(url=url)
    secret = "whsec_" + secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint.objects.create(
        institution=institution,
        url=url,
        description=description,
        events=_events_clean(events),
        body_format=body_format,
        secret_encrypted=encrypt(secret),
        secret_prefix=secret[:12],
    )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    description: str | None = None,
    events: list[str] | None = None,
    is_active: bool | None = None,
    body_format: str | None = None,
) -> WebhookEndpoint:
    if url is not None and url != endpoint.url:
        webhook_url_check(url=url)
        endpoint.url = url
    if description is not None:
        endpoint.description = description
    if events is not None:
        endpoint.events = _events_clean(events)
    if body_format is not None:
        endpoint.body_format = body_format
    if is_active is not None and is_active != endpoint.is_active:
        endpoint.is_active = is_active
        if is_active:  # re-enabled by hand: start counting failures afresh
            endpoint.consecutive_failures = 0
            endpoint.disabled_at = None
            endpoint.disabled_reason = ""
    endpoint.save()
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    endpoint.delete()
