"""The PostgreSQL engine (proctorme.postgresql): Django's, with a bulk INSERT of fewer than
UNNEST_MIN_ROWS rows written as VALUES rather than UNNEST arrays; the rows and their returned
primary keys are the same either way."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from proctorme import env
from proctorme.postgresql.compiler import UNNEST_MIN_ROWS
from sessions.models import Event
from tests.factories import SessionFactory


def test_a_postgresql_url_gets_the_projects_engine_and_others_keep_theirs(monkeypatch):
    monkeypatch.setenv("X_DB", "postgres://postgres@127.0.0.1:5432/x")
    assert env.env_database("X_DB", {})["ENGINE"] == "proctorme.postgresql"
    monkeypatch.setenv("X_DB", "sqlite:////tmp/x.sqlite3")
    assert env.env_database("X_DB", {})["ENGINE"] == "django.db.backends.sqlite3"


@pytest.mark.parametrize(
    ("rows", "form"), [(2, "VALUES"), (UNNEST_MIN_ROWS - 1, "VALUES"), (UNNEST_MIN_ROWS, "UNNEST")]
)
def test_a_bulk_insert_stores_every_row_and_returns_its_key_in_either_form(postgres, tenant_a, rows, form):
    session = SessionFactory(institution=tenant_a.institution)
    now = timezone.now()
    events = [
        Event(
            institution_id=session.institution_id,
            session=session,
            type="COPY_PASTE",
            source=Event.Source.BROWSER,
            client_seq=seq,
            started_at=now,
            payload={"action": "copy", "n": seq},
        )
        for seq in range(1, rows + 1)
    ]
    with CaptureQueriesContext(connection) as queries:
        Event.objects.bulk_create(events)
    (insert,) = [q["sql"] for q in queries if q["sql"].startswith("INSERT")]
    assert ("UNNEST" in insert) == (form == "UNNEST")
    assert all(event.pk is not None for event in events)
    stored = {e.pk: (e.client_seq, e.payload) for e in Event.objects.filter(session=session)}
    assert stored == {
        event.pk: (event.client_seq, {"action": "copy", "n": event.client_seq}) for event in events
    }
