"""Typed readers for environment variables.

Every setting comes from the environment. A bad value stops start-up with a
message naming the variable, instead of surfacing later as a confusing error.
Each reader also honours ``<NAME>_FILE`` (a path whose content is the value),
for container secrets.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {file_name!r}: {exc}") from exc
    return os.environ.get(name)


def env_str(name: str, default: str | None = None) -> str | None:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool = False) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean: use one of 1/0, true/false, yes/no, on/off"
    )


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_database(name: str, default: dict) -> dict:
    value = _raw(name)
    if not value:
        return default
    import dj_database_url

    try:
        # Persistent connections only where they are safe: Django's ASGI handler runs each
        # request's view on a thread of its own, so a connection kept past the request stays
        # open until that thread is collected (connections leak under an ASGI server). The Celery
        # workers, long-lived threads, keep theirs (deploy/topology.py sets 60 for them).
        max_age = env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0)
        config = dj_database_url.parse(value, conn_max_age=max_age, conn_health_checks=True)
    except Exception as exc:  # dj_database_url raises several types
        raise ImproperlyConfigured(f"{name} is malformed: {exc}") from None
    if not config.get("ENGINE") or not config.get("NAME"):
        raise ImproperlyConfigured(f"{name}={value!r} names no database engine and database")
    if config["ENGINE"] == "django.db.backends.postgresql":
        config["ENGINE"] = "proctorme.postgresql"  # Django's, with short bulk INSERTs as VALUES
        # A pool of connections per process (psycopg_pool, Django's "pool" option): a request takes
        # one and gives it back when it ends, instead of opening a connection of its own (a
        # PostgreSQL backend forked and started for each upload). Safe under an ASGI server, where
        # CONN_MAX_AGE is not; Django requires CONN_MAX_AGE 0 beside it.
        pool = env_int("DATABASE_POOL", 0, minimum=0)
        if pool:
            if max_age:
                raise ImproperlyConfigured(
                    "DATABASE_POOL and DATABASE_CONN_MAX_AGE exclude each other: a pooled connection "
                    "goes back to the pool when its request ends (set DATABASE_CONN_MAX_AGE=0)"
                )
            timeout = env_int("DATABASE_POOL_TIMEOUT", 10, minimum=1)
            config.setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": pool, "timeout": timeout}
    return config


def env_redis_url(name: str) -> str | None:
    value = _raw(name)
    if not value:
        return None
    if not value.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a Redis URL (redis://host:port/db or rediss://...)"
        )
    return value


_EMAIL_BACKENDS = {
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "smtp+tls": "django.core.mail.backends.smtp.EmailBackend",
    "smtps": "django.core.mail.backends.smtp.EmailBackend",
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
}
_EMAIL_DEFAULT_PORTS = {"smtp": 25, "smtp+tls": 587, "smtps": 465}


def env_email_url(name: str, default: str) -> dict:
    """An e-mail URL → Django's ``EMAIL_*`` settings.

    ``smtp+tls://user:pass@host:587`` (STARTTLS), ``smtps://user:pass@host:465``
    (TLS from the first byte), ``smtp://host:25`` (plain, for a relay on the same
    network), ``console://`` (print to the log), ``file:///path/to/folder``,
    ``locmem://`` (tests) and ``dummy://`` (drop). The user name and password are
    percent-decoded (write ``@`` as ``%40``); ``?timeout=SECONDS`` (default 10).
    """
    from urllib.parse import parse_qs, unquote, urlsplit

    value = _raw(name) or default
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _EMAIL_BACKENDS:
        raise ImproperlyConfigured(
            f"{name}: unknown scheme {parts.scheme!r}; use one of {', '.join(sorted(_EMAIL_BACKENDS))}"
        )
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"timeout"}
    if unknown:
        raise ImproperlyConfigured(f"{name}: unknown option(s) {', '.join(sorted(unknown))}")
    try:
        timeout = int(query.get("timeout", ["10"])[-1])
    except ValueError:
        raise ImproperlyConfigured(f"{name}: timeout must be a whole number of seconds") from None
    config = {"EMAIL_BACKEND": _EMAIL_BACKENDS[scheme], "EMAIL_TIMEOUT": timeout}
    if scheme in _EMAIL_DEFAULT_PORTS:
        if not parts.hostname:
            raise ImproperlyConfigured(f"{name}={parts.scheme}://… names no host")
        config.update(
            EMAIL_HOST=parts.hostname,
            EMAIL_PORT=port or _EMAIL_DEFAULT_PORTS[scheme],
            EMAIL_HOST_USER=unquote(parts.username or ""),
            EMAIL_HOST_PASSWORD=unquote(parts.password or ""),
            EMAIL_USE_TLS=scheme == "smtp+tls",
            EMAIL_USE_SSL=scheme == "smtps",
        )
    elif scheme == "file":
        if not parts.path:
            raise ImproperlyConfigured(f"{name}=file:// needs a folder: file:///var/mail/proctorme")
        config["EMAIL_FILE_PATH"] = unquote(parts.path)
    return config


def env_media_storage() -> dict:
    """Where captured media lives: the ``STORAGES["default"]`` entry.

    The local folder ``MEDIA_ROOT`` unless ``MEDIA_S3_BUCKET`` is set; then an
    S3-compatible bucket through django-storages (``MEDIA_S3_ENDPOINT_URL`` for
    MinIO, Ceph, Garage...; ``MEDIA_S3_REGION``; credentials from
    ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` or the machine's role).
    Objects are private: media is only ever served through the signed,
    tenant-checked view, never from a bucket URL.
    """
    bucket = env_str("MEDIA_S3_BUCKET")
    if not bucket:
        # No explicit location: FileSystemStorage follows settings.MEDIA_ROOT (and its overrides).
        return {"BACKEND": "django.core.files.storage.FileSystemStorage"}
    options = {
        "bucket_name": bucket,
        "default_acl": None,
        "querystring_auth": True,
        "file_overwrite": False,
        "location": env_str("MEDIA_S3_PREFIX", ""),
    }
    endpoint = env_str("MEDIA_S3_ENDPOINT_URL")
    if endpoint:
        if not endpoint.startswith(("http://", "https://")):
            raise ImproperlyConfigured(f"MEDIA_S3_ENDPOINT_URL must be an http(s) URL, not {endpoint!r}")
        options["endpoint_url"] = endpoint
    region = env_str("MEDIA_S3_REGION")
    if region:
        options["region_name"] = region
    for setting, variable in (("access_key", "AWS_ACCESS_KEY_ID"), ("secret_key", "AWS_SECRET_ACCESS_KEY")):
        value = env_str(variable)
        if value:
            options[setting] = value
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


def env_networks(name: str, default: list[str]) -> list:
    """Comma-separated networks (``10.0.0.0/8,::1``) → ``ipaddress`` networks."""
    import ipaddress

    value = _raw(name)
    items = default if value is None else [item.strip() for item in value.split(",") if item.strip()]
    try:
        return [ipaddress.ip_network(item, strict=False) for item in items]
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}: {exc}") from None
