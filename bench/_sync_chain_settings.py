"""bench/request_chain.py's sides other than ``proctorme.settings``: its middlewares as they were.

``BENCH_CHAIN=baseline``: Django's own middlewares, ``RequestIdMiddleware`` sync-only and
WhiteNoise's sync-only middleware (the chain before the change). ``BENCH_CHAIN=async-capable``:
those two async-capable, the others Django's own (each ``process_request`` and
``process_response`` through ``sync_to_async``).
"""

import os

from proctorme.logs import RequestIdMiddleware
from proctorme.settings import *  # noqa: F403
from proctorme.settings import MIDDLEWARE as _MIDDLEWARE


class SyncRequestIdMiddleware(RequestIdMiddleware):
    async_capable = False


_DJANGOS = {
    "proctorme.middleware.SecurityMiddleware": "django.middleware.security.SecurityMiddleware",
    "proctorme.middleware.SessionMiddleware": "django.contrib.sessions.middleware.SessionMiddleware",
    "proctorme.middleware.LocaleMiddleware": "django.middleware.locale.LocaleMiddleware",
    "proctorme.middleware.CommonMiddleware": "django.middleware.common.CommonMiddleware",
    "proctorme.middleware.CsrfViewMiddleware": "django.middleware.csrf.CsrfViewMiddleware",
    "proctorme.middleware.AuthenticationMiddleware": "django.contrib.auth.middleware.AuthenticationMiddleware",
    "proctorme.middleware.MessageMiddleware": "django.contrib.messages.middleware.MessageMiddleware",
    "proctorme.middleware.XFrameOptionsMiddleware": "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "proctorme.middleware.CSPMiddleware": "proctorme.csp.DashboardCSPMiddleware",
}
_SYNC_ONLY = {
    "proctorme.logs.RequestIdMiddleware": "bench._sync_chain_settings.SyncRequestIdMiddleware",
    "proctorme.staticfiles.StaticFilesMiddleware": "whitenoise.middleware.WhiteNoiseMiddleware",
}
_SWAP = {**_DJANGOS, **(_SYNC_ONLY if os.environ.get("BENCH_CHAIN", "baseline") == "baseline" else {})}
MIDDLEWARE = [_SWAP.get(name, name) for name in _MIDDLEWARE]
