from django.apps import AppConfig


class ProctoringConfig(AppConfig):
    # Django's own django.contrib.sessions already uses the label "sessions".
    name = "sessions"
    label = "proctoring"
    verbose_name = "Proctoring"
    default_auto_field = "django.db.models.BigAutoField"
