from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Institutions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from sessions import signals
        from tenants import checks, webhooks  # noqa: F401  (checks registers itself)

        signals.flag_created.connect(webhooks.on_flag_created, dispatch_uid="tenants.webhooks.flag_created")
        signals.session_started.connect(
            webhooks.on_session_started, dispatch_uid="tenants.webhooks.session_started"
        )
        signals.session_completed.connect(
            webhooks.on_session_completed, dispatch_uid="tenants.webhooks.session_completed"
        )
