"""Proctorme settings: one module, driven by environment variables.

With nothing set you get the embedded default: SQLite, an in-memory channel
layer and tasks run in-process on a background thread. Set ``DATABASE_URL``
and ``REDIS_URL`` for PostgreSQL, channels-redis and Celery workers.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from proctorme.env import (
    env_bool,
    env_database,
    env_email_url,
    env_int,
    env_list,
    env_media_storage,
    env_networks,
    env_redis_url,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
TESTING = "pytest" in sys.modules or env_bool("PROCTORME_TESTING", False)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if env_str("DATABASE_URL") and not (DEBUG or TESTING):
        raise ImproperlyConfigured("SECRET_KEY is not set: give it a long random value in production")
    # Embedded default (a laptop): a random key kept in var/ so logins and the
    # demo keys survive restarts.
    _key_file = BASE_DIR / "var" / "secret_key"
    if not _key_file.exists():
        import secrets

        _key_file.parent.mkdir(parents=True, exist_ok=True)
        _key_file.write_text(secrets.token_urlsafe(50))
        _key_file.chmod(0o600)
    SECRET_KEY = _key_file.read_text().strip()
# Secret and publishable keys and webhook secrets must be usable by the server
# (HMAC of attempt ids, webhook signatures), so they are stored encrypted with
# this key. Keep it stable: changing it makes stored secrets unreadable.
KEY_ENCRYPTION_KEY = env_str("KEY_ENCRYPTION_KEY", SECRET_KEY)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    # Django's admin with one sign-in page and optional two-factor login (tenants.admin_site).
    "tenants.apps.ProctormeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "tenants",
    "sessions.apps.ProctoringConfig",
    "sessions.lti.apps.LtiConfig",
]

# Each runs on the event loop under ASGI, so a request takes one thread hop, for its (sync) view:
# one sync-only middleware makes Django run it and all above it on a thread, then hop back to the
# loop for the rest, and Django's own (MiddlewareMixin) hop to a thread for each process_request
# and process_response; proctorme.middleware runs those on the loop when they do no I/O.
# bench/request_chain.py measures it; tests/ops/test_middleware_chain.py holds the chain to it.
MIDDLEWARE = [
    # First: every log line of the request carries its id (proctorme.logs).
    "proctorme.logs.RequestIdMiddleware",
    "proctorme.middleware.SecurityMiddleware",
    # Static files from the app itself in production (after `collectstatic`): hashed names,
    # gzip copies, a year's immutable caching. No proxy rule or CDN needed. WhiteNoise's own
    # middleware with an async path (proctorme.staticfiles).
    "proctorme.staticfiles.StaticFilesMiddleware",
    "proctorme.middleware.SessionMiddleware",
    "proctorme.middleware.LocaleMiddleware",
    "proctorme.middleware.CommonMiddleware",
    "proctorme.middleware.CsrfViewMiddleware",
    "proctorme.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "proctorme.middleware.MessageMiddleware",
    "proctorme.middleware.XFrameOptionsMiddleware",
    # The dashboard's Content-Security-Policy (proctorme.csp), on the loop.
    "proctorme.middleware.CSPMiddleware",
    # Last, as django-axes asks: answers a locked-out sign-in with 429 and a page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "proctorme.urls"
WSGI_APPLICATION = "proctorme.wsgi.application"
ASGI_APPLICATION = "proctorme.asgi.application"
# The WebSocket routes, resolved by proctorme.asgi (as Django resolves ROOT_URLCONF).
WEBSOCKET_URLPATTERNS = "sessions.routing.websocket_urlpatterns"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

DATABASES = {
    "default": env_database(
        "DATABASE_URL",
        {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "var" / "proctorme.sqlite3")),
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                # WAL: readers never wait for the in-process task threads' writes.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        },
    )
}
# PostgreSQL: a statement that binds its parameters on the server (the signal batch's, one text
# for any batch size: sessions/signal_sql.py) runs prepared from its DATABASE_PREPARE_THRESHOLD-th
# execution on a connection, planned once. Django's own queries bind on the client and are never
# prepared. "off" prepares nothing (a pooler that cannot keep prepared statements: PgBouncer
# before 1.21 in transaction pooling, or without max_prepared_statements).
if DATABASES["default"]["ENGINE"] == "proctorme.postgresql":
    _prepare = (env_str("DATABASE_PREPARE_THRESHOLD", "2") or "").strip().lower()
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "prepare_threshold",
        None if _prepare in {"", "off", "none"} else env_int("DATABASE_PREPARE_THRESHOLD", 2, minimum=0),
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_redis_url("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # socket_timeout above channels-redis's 5-s blocking read: with redis-py's
            # default of 5 s an idle server's receive times out and drops its sockets.
            # max_connections: redis-py 8 caps a pool at 100, which thousands of
            # sockets' group_add/discard and fan-out exhaust (consumers then die).
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": 10,
                        "max_connections": env_int("REDIS_MAX_CONNECTIONS", 1000, minimum=10),
                    }
                ],
                "capacity": 1500,
                "expiry": 30,
            },
        }
    }
    CACHES = {"default": {"BACKEND": "proctorme.cache.ReusingRedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Tasks: Celery on Redis when REDIS_URL is set, otherwise in-process on a
# background thread pool (proctorme.tasks.enqueue) so a request never waits.
TASKS_MODE = env_str("TASKS_MODE", "sync" if TESTING else ("celery" if REDIS_URL else "thread"))
if TASKS_MODE not in {"celery", "thread", "sync"}:
    raise ImproperlyConfigured(f"TASKS_MODE={TASKS_MODE!r} must be celery, thread or sync")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 180, minimum=1)
# A task whose worker died unacknowledged goes back to the queue once it is older than the
# visibility timeout, at the next scan a running worker makes of the broker's unacked index.
# kombu's Redis transport scans every unacked_restore_interval seconds but, by default, only
# every 10th time (unacked_restore_throttle): about 100 s between real scans, on top of the
# timeout. Throttle 1 makes the interval the only control: the task is back within
# visibility_timeout + CELERY_RESTORE_INTERVAL seconds of its worker's death. A worker killed
# during a scan (milliseconds) leaves the scan's mutex behind for unacked_mutex_expire (kombu's
# default: 300 s); 60 s bounds that.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 600, minimum=1),
    "unacked_restore_interval": env_int("CELERY_RESTORE_INTERVAL", 10, minimum=1),
    "unacked_restore_throttle": 1,
    "unacked_mutex_expire": 60,
}
CELERY_TIMEZONE = "UTC"
# A request that queues a task must not hang on a broker that is away: try briefly,
# then give up (proctorme.tasks.enqueue logs it; the scheduled sweeps catch up).
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# `celery -A proctorme beat` (or `worker -B`): the safety nets behind the per-session timers.
# The minute-ly sweeps' period (seconds); shorter in tests of faults.
PROCTORME_SWEEP_SECONDS = float(env_int("PROCTORME_SWEEP_SECONDS", 60, minimum=1))
# AutoProctor's recordSession: the most bytes of recording one session may store (MB).
PROCTORME_RECORDING_MAX_MB = env_int("PROCTORME_RECORDING_MAX_MB", 200, minimum=1)
# How long an upload may wait for its analysis before the sweep queues it again.
PROCTORME_ANALYSIS_PENDING_GRACE = env_int("PROCTORME_ANALYSIS_PENDING_GRACE", 30, minimum=1)

# Widget signals: each server process stores the signals of all its sockets that
# arrive within SIGNAL_BATCH_WINDOW_MS of each other in one transaction (at most
# SIGNAL_BATCH_MAX at once) and acknowledges them after its commit
# (sessions/signal_writer.py). SIGNAL_BATCHING=0 writes each signal in its own
# transaction on the thread pool, as before batching (kept to measure against).
SIGNAL_BATCHING = env_bool("SIGNAL_BATCHING", True)
# 20 ms: at 100 signals/s per process a batch holds a few signals, not one (bench/ws_load.py).
SIGNAL_BATCH_WINDOW_MS = env_int("SIGNAL_BATCH_WINDOW_MS", 20, minimum=0)
# Under load the window adapts (sessions.signal_writer.BatchWindow): while batches keep holding
# more than one signal, or signals arrive while one is being written, each next window doubles,
# up to SIGNAL_BATCH_WINDOW_MAX_MS; a batch of one signal with none waiting (a quiet server)
# goes back to SIGNAL_BATCH_WINDOW_MS. Equal to it: a fixed window, as before.
SIGNAL_BATCH_WINDOW_MAX_MS = env_int("SIGNAL_BATCH_WINDOW_MAX_MS", 80, minimum=0)
SIGNAL_BATCH_MAX = env_int("SIGNAL_BATCH_MAX", 200, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "expire-overdue-sessions": {"task": "sessions.expire_overdue", "schedule": PROCTORME_SWEEP_SECONDS},
    # Finalises that failed (or were lost) are tried again, with backoff (sessions.finalise).
    "finalise-stuck-sessions": {"task": "sessions.finalise_stuck", "schedule": PROCTORME_SWEEP_SECONDS},
    "purge-expired-media": {"task": "sessions.media_purge_expired", "schedule": 3600.0},
    # Webhook retries whose timer or countdown a restart lost.
    "deliver-due-webhooks": {"task": "sessions.webhooks_deliver_due", "schedule": PROCTORME_SWEEP_SECONDS},
    # Uploads whose analysis task was never queued (the broker was away).
    "analyse-pending-uploads": {
        "task": "sessions.analysis_pending_enqueue",
        "schedule": PROCTORME_SWEEP_SECONDS,
    },
}

# Sign-in throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one
# account from one address, that pair is locked out for AXES_COOLOFF_MINUTES (dashboard
# and admin share the one sign-in page). Keyed on the pair so that a campus behind
# one NAT address is not locked out by one person, nor an account by strangers.
AUTHENTICATION_BACKENDS = [
    "tenants.auth_backends.ThrottledBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "tenants.accounts.locked_out"
AXES_VERBOSE = False
# Two-factor login (django-otp, TOTP): optional per account; required for the admin
# site when PROCTORME_ADMIN_REQUIRE_2FA=1.
PROCTORME_ADMIN_REQUIRE_2FA = env_bool("PROCTORME_ADMIN_REQUIRE_2FA", False)
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Proctorme")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en"
# The dashboard's languages, the same as the widget's (static/proctorme/src/i18n.js); chosen
# from the browser's Accept-Language (LocaleMiddleware) or the language menu.
LANGUAGES = [("en", "English"), ("fr", "Français"), ("ar", "العربية")]
# Compiled catalogues (.mo) are committed beside their .po, so a runtime install needs no
# gettext; a test compiles each .po and fails when its .mo is stale.
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "static")))
if DEBUG or TESTING:
    # WhiteNoise indexes STATIC_ROOT at start and warns when it is missing; here it stays
    # empty (development reads the source folders).
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
# Captured media: the local folder, or an S3-compatible bucket when MEDIA_S3_BUCKET is set.
STORAGES = {
    "default": env_media_storage(),
    # Production: content-hashed, compressed copies made by `collectstatic`. Development
    # and tests read the source folders as they are.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "proctorme.staticstorage.StaticStorage"
    },
}
# A file missing from the manifest (collectstatic not re-run after an upgrade) is served
# under its plain name instead of failing the page.
WHITENOISE_MANIFEST_STRICT = False
# Media is never served from a public URL: only through signed, tenant-checked views.
MEDIA_URL = "/media-not-public/"

# E-mail (invitations, password reset, webhook alerts): EMAIL_URL, e.g.
# smtp+tls://user:password@mail.example.edu:587. Without it mail is printed to the
# log, which is what embedded mode (`make run`) wants; `check --deploy` warns in production.
EMAIL_URL_SET = bool(env_str("EMAIL_URL"))
_email = env_email_url("EMAIL_URL", "console://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_TIMEOUT = _email["EMAIL_TIMEOUT"]
EMAIL_HOST = _email.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_FILE_PATH = _email.get("EMAIL_FILE_PATH")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Proctorme <proctorme@localhost>")
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
# Invitation links (tenants.invitations) and password-reset links stay valid this long.
PROCTORME_INVITATION_TTL = env_int("PROCTORME_INVITATION_TTL", 7 * 24 * 3600, minimum=300)
PASSWORD_RESET_TIMEOUT = env_int("PASSWORD_RESET_TIMEOUT", 3 * 3600, minimum=300)

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/dashboard/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# HTTPS. Behind a TLS proxy (the documented deployment) set BEHIND_TLS_PROXY=1: the proxy's
# X-Forwarded-Proto then decides request.is_secure(), so the widget is handed wss:// and
# https:// URLs (browsers block ws:// and http:// from an https exam page). Only set it when
# the proxy overwrites that header on every request. docs/operations.md lists the production
# values with which `manage.py check --deploy` is clean (a test holds the two together).
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# A load balancer's health checks reach the servers over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
# The dashboard's and sign-in pages' Content-Security-Policy (django-csp; applied by
# proctorme.csp to those pages only: the widget's endpoints are called from institutions'
# pages, and the demo, LTI tool and API docs pages carry their own inline scripts).
# Style attributes position the replay's timeline markers, hence 'unsafe-inline' for styles
# only; scripts are the app's own files plus one nonced inline line.
from csp.constants import NONCE as CSP_NONCE  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", CSP_NONCE],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "media-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
PROCTORME_CSP_PATHS = ("/dashboard/", "/accounts/")

# Product settings.
PROCTORME_MAX_DOMAINS = env_int("PROCTORME_MAX_DOMAINS", 10, minimum=1)
PROCTORME_TOKEN_TTL = env_int("PROCTORME_TOKEN_TTL", 6 * 3600, minimum=60)
# AutoProctor's auxiliaryDevice: how long a phone pairing QR code works, and how long a paired
# phone may stay silent before it counts as disconnected (AUX_DISCONNECTED).
PROCTORME_AUX_PAIRING_TTL = env_int("PROCTORME_AUX_PAIRING_TTL", 600, minimum=30)
PROCTORME_AUX_HEARTBEAT_TIMEOUT = env_int("PROCTORME_AUX_HEARTBEAT_TIMEOUT", 15, minimum=3)
# New widget sessions per institution and minute (the publishable key is public; resumes are free).
PROCTORME_NEW_SESSIONS_PER_MINUTE = env_int("PROCTORME_NEW_SESSIONS_PER_MINUTE", 600, minimum=1)
PROCTORME_ALLOW_PRIVATE_URLS = env_bool("PROCTORME_ALLOW_PRIVATE_URLS", DEBUG)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Proctorme API",
    "DESCRIPTION": "Integrator REST API of Proctorme, the self-hosted proctoring platform.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "PREPROCESSING_HOOKS": ["sessions.api.schema.only_integrator_api"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "SessionStatusEnum": "sessions.models.ProctoringSession.Status",
        "VerdictEnum": "sessions.models.ProctoringSession.Verdict",
        "DeliveryStatusEnum": "tenants.models.WebhookDelivery.Status",
    },
}

# Operators: /metrics (Prometheus) and the detailed /healthz answer to a bearer token
# or to requests from these networks (proctorme.ops). Embedded mode opens them to loopback.
PROCTORME_OPS_TOKEN = env_str("PROCTORME_OPS_TOKEN", "")
PROCTORME_OPS_NETWORKS = env_networks("PROCTORME_OPS_NETWORKS", ["127.0.0.0/8", "::1/128"] if DEBUG else [])

# Integrator API and webhooks (sessions/api, sessions/webhooks.py).
PROCTORME_API_RATE_LIMIT = env_int("PROCTORME_API_RATE_LIMIT", 600, minimum=1)  # requests / minute / key
PROCTORME_EVIDENCE_URL_TTL = env_int("PROCTORME_EVIDENCE_URL_TTL", 900, minimum=30)  # seconds
PROCTORME_WEBHOOK_MAX_ATTEMPTS = env_int("PROCTORME_WEBHOOK_MAX_ATTEMPTS", 6, minimum=1)
PROCTORME_WEBHOOK_RETRY_BASE = env_int("PROCTORME_WEBHOOK_RETRY_BASE", 5, minimum=0)  # seconds, doubled
PROCTORME_WEBHOOK_RETRY_MAX = env_int("PROCTORME_WEBHOOK_RETRY_MAX", 3600, minimum=0)  # cap, seconds
PROCTORME_WEBHOOK_TIMEOUT = env_int("PROCTORME_WEBHOOK_TIMEOUT", 10, minimum=1)  # seconds per request
# An endpoint is disabled after this many deliveries in a row failed (each after all its attempts).
PROCTORME_WEBHOOK_DISABLE_AFTER = env_int("PROCTORME_WEBHOOK_DISABLE_AFTER", 5, minimum=1)

# LMS integration (sessions/lti, docs/lms.md).
LTI_KEY_GRACE_SECONDS = env_int("LTI_KEY_GRACE_SECONDS", 7 * 24 * 3600, minimum=0)  # old keys stay published
LTI_JWKS_CACHE_SECONDS = env_int("LTI_JWKS_CACHE_SECONDS", 3600, minimum=0)  # platform keysets
# An unknown kid fetches the platform's JWKS again, at most this often (seconds).
LTI_JWKS_MIN_REFRESH_SECONDS = env_int("LTI_JWKS_MIN_REFRESH_SECONDS", 10, minimum=0)
LTI_STATE_TTL = env_int("LTI_STATE_TTL", 600, minimum=30)  # seconds between login initiation and launch
LTI_HTTP_TIMEOUT = env_int("LTI_HTTP_TIMEOUT", 10, minimum=1)  # seconds per call to a platform

# Logs: every line carries request_id and session_id (proctorme.logs). LOG_FORMAT=json
# writes one JSON object a line for a log collector; plain is for people.
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "proctorme.logs.ContextFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s session=%(session_id)s] %(message)s"
        },
        "json": {"()": "proctorme.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["context"]}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# Error reporting (optional): a Sentry-compatible DSN. Events are rebuilt from an
# allow-list (proctorme.errorreport.scrub): no personal data, no media, no tokens.
SENTRY_DSN = env_str("SENTRY_DSN", "")
if SENTRY_DSN and not TESTING:
    from proctorme.errorreport import init_error_reporting

    init_error_reporting(dsn=SENTRY_DSN, environment=env_str("SENTRY_ENVIRONMENT", "production"))
