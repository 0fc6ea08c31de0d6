"""Reads on the per-upload and per-run paths, as statements written once per database vendor.

Each upload and each analysis run (1,800 of each per candidate-hour at the widget's 2-s
cadence) read the session's row; the ORM built and compiled the same SELECT afresh every time,
which cost more CPU than the database's own work. Here the statement and the converters the
ORM would apply to each value read (JSON, dates on SQLite, UUIDs) are worked out once per
vendor and kept; the rows come back as model instances, as ``Model.from_db`` builds them.
Only the models' own table and column names are formatted into the SQL; values are parameters.
"""

from __future__ import annotations

from django.db import connection

from sessions.models import ProctoringSession

# The related rows the analysis run and the token-checked widget views read with the session:
# never null, so an inner join.
ANALYSIS_RELATED = ("institution", "assessment", "candidate")

_analysis_by_vendor: dict[str, tuple] = {}
_upload_lock_by_vendor: dict[str, tuple] = {}


def _reader(parts: list[tuple[str, type, list]]) -> tuple[list[str], list[tuple], list[tuple]]:
    """(select list, per part (model, attnames, start, end), converters (index, found, col)) for
    ``parts``: (table alias, model, concrete fields) in the order they are selected. A part's
    values go to ``from_db``, which takes them in the model's own field order: give them so."""
    quote = connection.ops.quote_name
    select, layout, converters = [], [], []
    for alias, model, fields in parts:
        start = len(select)
        for field in fields:
            col = field.get_col(alias)
            found = [*connection.ops.get_db_converters(col), *col.get_db_converters(connection)]
            if found:
                converters.append((len(select), found, col))
            select.append(f"{alias}.{quote(field.column)}")
        layout.append((model, [f.attname for f in fields], start, len(select)))
    return select, layout, converters


def _converted(row, converters) -> list:
    values = list(row)
    for i, found, col in converters:  # what the ORM does to a value read
        for convert in found:
            values[i] = convert(values[i], col, connection)
    return values


def session_with_related(public_id) -> ProctoringSession | None:
    """The session ``public_id`` with its institution, assessment and candidate, in one
    statement: what ``select_related(*ANALYSIS_RELATED).get(public_id=...)`` reads (None for
    no such session). The analysis task's load and the upload view's (and every view that
    checks a widget token, ``sessions.widget_views.session_from_token``)."""
    cached = _analysis_by_vendor.get(connection.vendor)
    meta = ProctoringSession._meta
    if cached is None:
        quote = connection.ops.quote_name
        parts = [("s", ProctoringSession, list(meta.concrete_fields))]
        joins = []
        for i, name in enumerate(ANALYSIS_RELATED):
            fk = meta.get_field(name)
            related = fk.related_model._meta
            alias = f"r{i}"
            parts.append((alias, fk.related_model, list(related.concrete_fields)))
            joins.append(
                f"INNER JOIN {quote(related.db_table)} {alias} "
                f"ON {alias}.{quote(related.pk.column)} = s.{quote(fk.column)}"
            )
        select, layout, converters = _reader(parts)
        sql = (
            f"SELECT {', '.join(select)} FROM {quote(meta.db_table)} s {' '.join(joins)} "  # noqa: S608
            f"WHERE s.{quote(meta.get_field('public_id').column)} = %s"
        )
        cached = _analysis_by_vendor[connection.vendor] = (sql, layout, converters)
    sql, layout, converters = cached
    key = meta.get_field("public_id").get_db_prep_value(public_id, connection, prepared=False)
    with connection.cursor() as cursor:
        cursor.execute(sql, [key])
        row = cursor.fetchone()
    if row is None:
        return None
    values = _converted(row, converters)
    (model, names, start, end), *related = layout
    session = model.from_db(connection.alias, names, values[start:end])
    for name, (rmodel, rnames, rstart, rend) in zip(ANALYSIS_RELATED, related, strict=True):
        meta.get_field(name).set_cached_value(
            session, rmodel.from_db(connection.alias, rnames, values[rstart:rend])
        )
    return session


def session_upload_locked(pk: int) -> ProctoringSession | None:
    """The session's row locked (``FOR UPDATE`` where the database has it; SQLite lets one
    writer in at a time, so the transaction holds the lock) and its status and config read:
    what ``select_for_update().only("status", "config").get(pk=pk)`` reads. Call it inside a
    transaction."""
    cached = _upload_lock_by_vendor.get(connection.vendor)
    meta = ProctoringSession._meta
    if cached is None:
        quote = connection.ops.quote_name
        fields = [meta.pk, meta.get_field("status"), meta.get_field("config")]
        select, layout, converters = _reader([("s", ProctoringSession, fields)])
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        sql = (
            f"SELECT {', '.join(select)} FROM {quote(meta.db_table)} s "  # noqa: S608
            f"WHERE s.{quote(meta.pk.column)} = %s{lock}"
        )
        cached = _upload_lock_by_vendor[connection.vendor] = (sql, layout, converters)
    sql, layout, converters = cached
    with connection.cursor() as cursor:
        cursor.execute(sql, [pk])
        row = cursor.fetchone()
    if row is None:
        return None
    ((model, names, start, end),) = layout
    return model.from_db(connection.alias, names, _converted(row, converters)[start:end])


_converters_by_key: dict[tuple, list[tuple]] = {}


def model_rows(sql: str, params: list, model, names: tuple[str, ...]) -> list:
    """Instances of ``model`` from ``sql``, whose columns are the fields ``names`` in that
    order (any other field is deferred, read when first used): ``Model.objects.raw`` without
    its per-call work of matching columns to fields and finding their converters."""
    key = (connection.vendor, model, names)
    cached = _converters_by_key.get(key)
    if cached is None:
        meta = model._meta
        fields = [meta.get_field(name) for name in names]
        # from_db takes a subset of the fields in the model's own order: the columns' order.
        order = sorted(range(len(fields)), key=lambda i: meta.concrete_fields.index(fields[i]))
        converters = _reader([(meta.db_table, model, fields)])[2]
        cached = _converters_by_key[key] = (converters, order, [fields[i].attname for i in order])
    converters, order, attnames = cached
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    out = []
    for row in rows:
        values = _converted(row, converters)
        out.append(model.from_db(connection.alias, attnames, [values[i] for i in order]))
    return out


def rows_insert_sql(model, objs: list) -> tuple[str, list]:
    """One multi-row ``INSERT`` of ``objs`` (new rows of ``model``), written out here: bulk_create
    compiles every value of every row through the ORM's expressions, which cost more CPU than
    the database's own work for a small batch. Each field prepares its values as the ORM does
    (``pre_save``: auto_now_add, defaults; ``get_db_prep_save``: JSON, foreign keys)."""
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [f for f in meta.concrete_fields if f is not meta.auto_field]
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    params: list = []
    for obj in objs:
        params += [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    columns = ", ".join(quote(f.column) for f in fields)
    # Only the model's own table and column names are formatted in; the values are parameters.
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([row] * len(objs))}"  # noqa: S608
    return sql, params


def rows_insert_new(model, objs: list, unique: tuple[str, ...]) -> list:
    """Insert ``objs`` (new rows of ``model``) in one statement, skipping any whose ``unique``
    fields (a unique constraint's, in its order) match a stored row: ``INSERT … ON CONFLICT
    (…) DO NOTHING RETURNING`` (PostgreSQL, SQLite ≥ 3.35) of ``rows_insert_sql``. Returns the
    objects stored, their primary keys set; a skipped one is left unsaved. No savepoint is needed
    around it: no IntegrityError is raised for a clash, and a row another transaction is
    inserting is waited for (PostgreSQL) and skipped."""
    if not objs:
        return []
    meta = model._meta
    quote = connection.ops.quote_name
    insert, params = rows_insert_sql(model, objs)
    fields = [meta.get_field(name) for name in unique]
    sql = (
        f"{insert} ON CONFLICT ({', '.join(quote(f.column) for f in fields)}) DO NOTHING "
        f"RETURNING {quote(meta.pk.column)}, {', '.join(quote(f.column) for f in fields)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        keys = {tuple(rest): key for key, *rest in cursor.fetchall()}
    stored = []
    for obj in objs:
        # The unique values as the database holds them (a foreign key by its id).
        found = tuple(f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields)
        key = keys.pop(found, None)  # popped: a second object with the same values is skipped
        if key is None:
            continue
        obj.pk = key
        obj._state.adding = False
        obj._state.db = connection.alias
        stored.append(obj)
    return stored
