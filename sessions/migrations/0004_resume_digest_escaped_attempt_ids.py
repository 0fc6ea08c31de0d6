from django.db import migrations, models


def _part(value: str) -> str:
    # A frozen copy of sessions.config.eye_attempt_id's escaping (migrations must not import app code).
    return value.replace("%", "%25").replace(":", "%3A")


def escape_eye_attempt_ids(apps, schema_editor):
    """Rewrite every Eye attempt id from its own assessment and candidate, escaped.

    The old ids joined the two external ids with ``:`` unescaped, so they are not
    parsed back: each row is rebuilt from the pair it really belongs to.
    """
    Session = apps.get_model("proctoring", "ProctoringSession")
    rows = Session.objects.filter(dialect="eye").select_related("assessment", "candidate")
    for session in rows.iterator():
        attempt_id = f"eye:{_part(session.assessment.external_id)}:{_part(session.candidate.external_id)}"
        if attempt_id != session.attempt_id:
            Session.objects.filter(pk=session.pk).update(attempt_id=attempt_id)


class Migration(migrations.Migration):
    dependencies = [
        ("proctoring", "0003_audit_log"),
    ]

    operations = [
        migrations.AddField(
            model_name="proctoringsession",
            name="resume_digest",
            field=models.CharField(blank=True, editable=False, max_length=64),
        ),
        migrations.AlterField(
            model_name="proctoringsession",
            name="attempt_id",
            field=models.CharField(max_length=1250),
        ),
        migrations.RunPython(escape_eye_attempt_ids, migrations.RunPython.noop),
    ]
