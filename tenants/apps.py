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
        from tenants import checks  # noqa: F401  (registers itself)
