"""Demo Academy: the institution, logins and keys that `make run` prints. Idempotent."""

import hashlib
import hmac

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from tenants.crypto import digest
from tenants.models import ApiKey, Institution, Membership
from tenants.services import api_key_create, domain_add, membership_add

DEMO_NAME = "Demo Academy"
DEMO_SLUG = "demo-academy"
DEMO_DOMAINS = ["localhost", "127.0.0.1"]
DEMO_USERS = {
    Membership.Role.ADMIN: ("admin@demo.proctorme.local", "demo-admin-pass"),
    Membership.Role.REVIEWER: ("reviewer@demo.proctorme.local", "demo-reviewer-pass"),
}
OPERATOR = ("operator", "demo-operator-pass")


def demo_key(kind: str) -> str:
    """Stable per installation (derived from SECRET_KEY), so re-seeding prints the same keys."""
    prefix = {ApiKey.Kind.PUBLISHABLE: "pk_demo_", ApiKey.Kind.SIGNING: "as_demo_"}.get(kind, "sk_demo_")
    mac = hmac.new(settings.SECRET_KEY.encode(), f"demo-{kind}".encode(), hashlib.sha256).hexdigest()
    return prefix + mac[:40]


@transaction.atomic
def demo_institution_seed() -> dict[str, str]:
    """Create (or refresh) Demo Academy; return what `make run` prints, in order (ids, keys, logins)."""
    institution, _ = Institution.objects.get_or_create(slug=DEMO_SLUG, defaults={"name": DEMO_NAME})
    existing = set(institution.domains.values_list("host", flat=True))
    for host in DEMO_DOMAINS:
        if host not in existing:
            domain_add(institution=institution, host=host)
    for role, (email, password) in DEMO_USERS.items():
        membership = membership_add(institution=institution, email=email, role=role, password=password)
        membership.user.set_password(password)
        membership.user.save(update_fields=["password"])
    User = get_user_model()
    operator = User.objects.filter(username=OPERATOR[0]).first() or User(username=OPERATOR[0])
    operator.is_staff = operator.is_superuser = True
    operator.set_password(OPERATOR[1])
    operator.save()
    keys = {}
    for kind in (ApiKey.Kind.PUBLISHABLE, ApiKey.Kind.SECRET, ApiKey.Kind.SIGNING):
        plaintext = demo_key(kind)
        if not ApiKey.objects.filter(key_digest=digest(plaintext)).exists():
            api_key_create(institution=institution, kind=kind, name="Demo key", plaintext=plaintext)
        keys[kind] = plaintext
    shown = {
        "institution_id": str(institution.public_id),
        "publishable_key": keys[ApiKey.Kind.PUBLISHABLE],
        "secret_key": keys[ApiKey.Kind.SECRET],
        "attempt_signing_key": keys[ApiKey.Kind.SIGNING],
    }
    shown |= {f"{role}_login": f"{email} / {password}" for role, (email, password) in DEMO_USERS.items()}
    shown["operator_login"] = f"{OPERATOR[0]} / {OPERATOR[1]}"
    return shown
