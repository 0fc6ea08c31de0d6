"""Django's PostgreSQL backend with one change: a bulk INSERT of a few rows is written as VALUES.

Django 5.2 writes every multi-row INSERT on PostgreSQL as ``INSERT ... SELECT * FROM
UNNEST(%s::type[], ...)``, one array parameter per column, to save the server planning a
long VALUES list. psycopg builds each array on the client in Python, a fixed cost per column
that a few rows never earn back: 0.9 → 0.6 ms of CPU for the 2-row INSERT of a signal batch,
about even at 12 rows (measured on this project's Event model). ``DATABASE_URL``'s PostgreSQL
engine is this one (proctorme.env.env_database).
"""
