from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ProctormeAdminConfig(admin_apps.AdminConfig):
    """Django's admin, on the site of tenants.admin_site (one sign-in page, optional 2FA)."""

    default = False
    default_site = "tenants.admin_site.ProctormeAdminSite"


class TenantsConfig(AppConfig):
    default = True
    name = "tenants"
    verbose_name = "Institutions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_delete, post_save

        from tenants import (
            checks,  # noqa: F401  (registers itself)
            signals,
        )
        from tenants.models import Membership

        post_delete.connect(
            signals.on_membership_deleted, sender=Membership, dispatch_uid="membership-revoked"
        )
        post_save.connect(
            signals.on_user_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="user-deactivated"
        )
