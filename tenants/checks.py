from __future__ import annotations

from django.conf import settings
from django.core.checks import Warning, register


@register(deploy=True)
def email_configured(app_configs, **kwargs):
    """In production, invitations and reset links must reach people, not the log."""
    if settings.EMAIL_URL_SET:
        return []
    return [
        Warning(
            "EMAIL_URL is not set: invitation and password-reset e-mails are written to the log.",
            hint="Set EMAIL_URL, e.g. smtp+tls://user:password@mail.example.edu:587",
            id="proctorme.W001",
        )
    ]
