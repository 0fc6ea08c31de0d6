import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from proctorme import env

ROOT = Path(__file__).resolve().parent.parent


def test_env_bool_accepts_the_usual_spellings(monkeypatch):
    monkeypatch.setenv("X_FLAG", "yes")
    assert env.env_bool("X_FLAG") is True
    monkeypatch.setenv("X_FLAG", "0")
    assert env.env_bool("X_FLAG", True) is False


def test_env_bool_rejects_maybe_naming_the_variable(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG='maybe'"):
        env.env_bool("X_FLAG")


def test_env_int_rejects_words_and_small_values(monkeypatch):
    monkeypatch.setenv("X_NUM", "ten")
    with pytest.raises(ImproperlyConfigured, match="X_NUM"):
        env.env_int("X_NUM", 1)
    monkeypatch.setenv("X_NUM", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env.env_int("X_NUM", 1, minimum=1)


def test_database_connections_are_not_kept_unless_asked(monkeypatch):
    """Under ASGI a kept connection outlives its request's thread: none by default, the
    workers' 60 s when the topology asks for it."""
    monkeypatch.delenv("DATABASE_CONN_MAX_AGE", raising=False)
    monkeypatch.setenv("X_DB", "postgres://postgres@127.0.0.1:5432/x")
    assert env.env_database("X_DB", {})["CONN_MAX_AGE"] == 0
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", "60")
    assert env.env_database("X_DB", {})["CONN_MAX_AGE"] == 60
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", "-1")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_CONN_MAX_AGE"):
        env.env_database("X_DB", {})


def test_a_connection_pool_only_when_asked_and_never_beside_kept_connections(monkeypatch):
    monkeypatch.delenv("DATABASE_CONN_MAX_AGE", raising=False)
    monkeypatch.delenv("DATABASE_POOL", raising=False)
    monkeypatch.delenv("DATABASE_POOL_TIMEOUT", raising=False)
    monkeypatch.setenv("X_DB", "postgres://postgres@127.0.0.1:5432/x")
    assert "pool" not in env.env_database("X_DB", {}).get("OPTIONS", {})
    monkeypatch.setenv("DATABASE_POOL", "20")
    config = env.env_database("X_DB", {})
    assert config["OPTIONS"]["pool"] == {"min_size": 1, "max_size": 20, "timeout": 10}
    assert config["CONN_MAX_AGE"] == 0
    monkeypatch.setenv("DATABASE_POOL_TIMEOUT", "3")
    assert env.env_database("X_DB", {})["OPTIONS"]["pool"]["timeout"] == 3
    # SQLite has no pool: the variable changes nothing there.
    monkeypatch.setenv("X_DB", "sqlite:////tmp/x.sqlite3")
    assert "pool" not in env.env_database("X_DB", {}).get("OPTIONS", {})
    monkeypatch.setenv("X_DB", "postgres://postgres@127.0.0.1:5432/x")
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", "60")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_POOL and DATABASE_CONN_MAX_AGE"):
        env.env_database("X_DB", {})
    monkeypatch.delenv("DATABASE_CONN_MAX_AGE")
    monkeypatch.setenv("DATABASE_POOL", "-1")
    with pytest.raises(ImproperlyConfigured, match="DATABASE_POOL"):
        env.env_database("X_DB", {})


def test_file_variant_reads_container_secrets(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file\n")
    monkeypatch.setenv("X_SECRET_FILE", str(secret))
    assert env.env_str("X_SECRET") == "from-a-file"


def _start(**overrides) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    environment.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "not a url at all"),
        ("DATABASE_URL", "nosuchengine://user@host/db"),
        ("REDIS_URL", "localhost:6379"),
        ("PROCTORME_MAX_DOMAINS", "many"),
        ("TASKS_MODE", "sometimes"),
        ("EMAIL_URL", "gopher://mail.example.edu"),
    ],
)
def test_bad_value_stops_start_up_naming_the_variable(variable, value):
    result = _start(**{variable: value, "SECRET_KEY": "k" * 50})
    assert result.returncode != 0
    assert variable in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_bad_prepare_threshold_stops_start_up_naming_the_variable():
    result = _start(
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres",
        DATABASE_PREPARE_THRESHOLD="soon",
        SECRET_KEY="k" * 50,
    )
    assert result.returncode != 0
    assert "DATABASE_PREPARE_THRESHOLD='soon' is not an integer" in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_production_database_without_secret_key_refuses_to_start():
    environment = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    environment["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/postgres"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='proctorme.settings'; django.setup()",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_good_settings_pass_the_system_check():
    result = _start(SECRET_KEY="k" * 50, DEBUG="0")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp+tls://mailer%40alpha.edu:p%3Ass@mail.alpha.edu",
            {
                "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "EMAIL_HOST": "mail.alpha.edu",
                "EMAIL_PORT": 587,
                "EMAIL_HOST_USER": "mailer@alpha.edu",
                "EMAIL_HOST_PASSWORD": "p:ss",
                "EMAIL_USE_TLS": True,
                "EMAIL_USE_SSL": False,
                "EMAIL_TIMEOUT": 10,
            },
        ),
        (
            "smtps://u:p@mail.alpha.edu?timeout=3",
            {"EMAIL_PORT": 465, "EMAIL_USE_SSL": True, "EMAIL_USE_TLS": False, "EMAIL_TIMEOUT": 3},
        ),
        ("smtp://relay:2525", {"EMAIL_HOST": "relay", "EMAIL_PORT": 2525, "EMAIL_USE_TLS": False}),
        ("console://", {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}),
        ("file:///var/mail/pm", {"EMAIL_FILE_PATH": "/var/mail/pm"}),
    ],
)
def test_email_url_becomes_django_email_settings(monkeypatch, url, expected):
    monkeypatch.setenv("X_EMAIL_URL", url)
    config = env.env_email_url("X_EMAIL_URL", "console://")
    assert {key: config[key] for key in expected} == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("smtp+tls://", "names no host"),
        ("smtp://relay?tls=1", "unknown option"),
        ("smtp://relay?timeout=soon", "whole number"),
        ("smtp://relay:port", "malformed"),
        ("file://", "needs a folder"),
    ],
)
def test_bad_email_url_names_the_variable_and_the_problem(monkeypatch, url, message):
    monkeypatch.setenv("X_EMAIL_URL", url)
    with pytest.raises(ImproperlyConfigured, match=message):
        env.env_email_url("X_EMAIL_URL", "console://")


def test_email_defaults_to_the_console_so_make_run_prints_links():
    assert env.env_email_url("X_UNSET_EMAIL_URL", "console://")["EMAIL_BACKEND"].endswith(
        "console.EmailBackend"
    )
