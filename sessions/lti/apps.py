from django.apps import AppConfig


class LtiConfig(AppConfig):
    name = "sessions.lti"
    label = "lti"
    verbose_name = "LMS (LTI 1.3)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from sessions.lti import receivers

        receivers.connect()
