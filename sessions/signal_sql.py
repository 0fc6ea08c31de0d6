"""The signal batch's statements on PostgreSQL: one statement text whatever the batch's size.

A batch's rows go in as one JSON document (``jsonb_to_recordset``) and its keys as arrays
(``= ANY``, ``unnest``), so each statement's text is the same for 1 row or 200: psycopg binds
the parameters on the server and, after ``prepare_threshold`` executions of a text on a
connection (``DATABASES["default"]["OPTIONS"]``, proctorme/settings.py), runs it prepared,
planned once. Before, each statement was written out with one placeholder per value (its text
changed with the batch's size) and composed by psycopg on the client, value by value: about
half of the signal writer's CPU. Django's cursors bind on the client (its ORM's queries are not
all preparable); only these statements run on a cursor that binds on the server. The embedded
default (SQLite) keeps the statements of ``sessions.services`` (it has neither jsonb nor arrays).
"""

from __future__ import annotations

import datetime
import json
import uuid
from functools import cache

from django.db import models


def cursor(conn):
    """A cursor of ``conn`` (a PostgreSQL connection of Django's) that binds on the server, wrapped
    as Django wraps its own (queries logged under DEBUG and by CaptureQueriesContext)."""
    from django.db.backends.postgresql.base import ServerBindingCursor  # psycopg: PostgreSQL only

    conn.ensure_connection()
    raw = ServerBindingCursor(conn.connection)
    return conn.make_debug_cursor(raw) if conn.queries_logged else conn.make_cursor(raw)


# How rows_insert reads a field's value: the attribute as it is, or pre_save (a field that sets
# its value when the row is saved: auto_now_add); and a JSON field with an encoder of its own.
_ATTRIBUTE, _PRE_SAVE, _ENCODED = range(3)
_JSON_NATIVE = frozenset({str, int, float, bool, type(None), dict, list})


def _as_text(value):
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


@cache
def _insert_parts(model) -> tuple[list, str]:
    """How each field a new row of ``model`` sets (all but the auto primary key) is read, and the
    text of its multi-row INSERT, which takes the rows as one JSON array of objects keyed by column."""
    from django.db import connection

    meta = model._meta
    quote = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if f is not meta.auto_field]
    plan = []
    for f in fields:
        if isinstance(f, models.JSONField) and f.encoder is not None:
            how = _ENCODED
        elif type(f).pre_save is not models.Field.pre_save:  # Field's own is the attribute's value
            how = _PRE_SAVE
        else:
            how = _ATTRIBUTE
        plan.append((f.column, f.attname, f, how))
    columns = ", ".join(quote(f.column) for f in fields)
    record = ", ".join(f"{quote(f.column)} {f.db_type(connection)}" for f in fields)
    # Only the model's own table and column names and types are formatted in; the rows are a parameter.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) SELECT {columns} "  # noqa: S608
        f"FROM jsonb_to_recordset(%s::jsonb) AS r({record})"
    )
    return plan, sql


def rows_insert(model, objs: list) -> tuple[str, str]:
    """One INSERT of ``objs`` (new rows of ``model``) and its one parameter, the rows as JSON.
    Each field's value is what the ORM would store: ``pre_save`` (auto_now_add, defaults
    already set), a JSON field's value as JSON (with its encoder), datetimes and UUIDs as text."""
    plan, sql = _insert_parts(model)
    rows = []
    for obj in objs:
        row = {}
        for column, attname, f, how in plan:
            if how == _ATTRIBUTE:
                value = getattr(obj, attname)
            elif how == _PRE_SAVE:
                value = f.pre_save(obj, True)
            else:
                value = json.loads(json.dumps(getattr(obj, attname), cls=f.encoder))
            if value.__class__ not in _JSON_NATIVE:
                value = _as_text(value)
            row[column] = value
        rows.append(row)
    return sql, json.dumps(rows, separators=(",", ":"), allow_nan=False)


@cache
def events_store_sql() -> str:
    """The batch's events, its sessions' last_client_seq and last_seen_at, and the read of their
    flag types and their institutions' active webhook endpoints, in one statement (see
    ``sessions.services._events_store``). Parameters: the events (JSON), last_seen_at, the
    sessions' ids and their seqs (arrays of the same length), the flag types not counted towards
    the summary flag, the institutions' ids."""
    from django.db import connection

    from sessions.models import Event, Flag, ProctoringSession
    from tenants.models import WebhookEndpoint

    quote = connection.ops.quote_name
    _, insert = _insert_parts(Event)
    meta = ProctoringSession._meta
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    seq, seen = quote(meta.get_field("last_client_seq").column), quote(meta.get_field("last_seen_at").column)
    flags, hooks = Flag._meta, WebhookEndpoint._meta
    f_session, f_type = quote(flags.get_field("session").column), quote(flags.get_field("type").column)
    h_institution = quote(hooks.get_field("institution").column)
    h_active = quote(hooks.get_field("is_active").column)
    # Only the models' own table and column names are formatted in; the values are parameters.
    return (
        f"WITH stored AS ({insert}), "  # noqa: S608
        f"seen AS (UPDATE {table} SET {seen} = %s, {seq} = v.seq "
        f"FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, seq) WHERE {table}.{pk} = v.id) "
        f"SELECT DISTINCT 'flag', {f_session}, {f_type} FROM {quote(flags.db_table)} "
        f"WHERE {f_session} = ANY(%s::bigint[]) AND NOT ({f_type} = ANY(%s::varchar[])) "
        f"UNION ALL SELECT DISTINCT 'hook', {h_institution}, NULL FROM {quote(hooks.db_table)} "
        f"WHERE {h_institution} = ANY(%s::bigint[]) AND {h_active}"
    )
