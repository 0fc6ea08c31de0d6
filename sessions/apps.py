from django.apps import AppConfig


class ProctoringConfig(AppConfig):
    # Django's own django.contrib.sessions already uses the label "sessions".
    name = "sessions"
    label = "proctoring"
    verbose_name = "Proctoring"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from proctorme.middleware import teach_deploy_checks
        from sessions import signals, webhooks

        teach_deploy_checks()

        signals.flag_created.connect(webhooks.on_flag_created, dispatch_uid="sessions.webhooks.flag_created")
        signals.session_started.connect(
            webhooks.on_session_started, dispatch_uid="sessions.webhooks.session_started"
        )
        signals.session_completed.connect(
            webhooks.on_session_completed, dispatch_uid="sessions.webhooks.session_completed"
        )
