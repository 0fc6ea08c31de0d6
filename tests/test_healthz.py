import pytest

OPS = "healthz-ops-token-0123456789"


@pytest.fixture(autouse=True)
def _ops_token(settings):
    settings.PROCTORME_OPS_TOKEN = OPS
    settings.PROCTORME_OPS_NETWORKS = []


def _as_operator(client):
    return client.get("/healthz", HTTP_AUTHORIZATION=f"Bearer {OPS}")


def test_healthz_reports_every_part(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "channel_layer", "broker"}
    assert all(check["ok"] for check in body["checks"].values())


def test_healthz_answers_503_when_the_channel_layer_is_down(client, db, settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
        }
    }
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    try:
        response = client.get("/healthz")
        detailed = _as_operator(client)
    finally:
        channel_layers.backends.clear()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["channel_layer"] == {"ok": False}
    assert body["checks"]["database"] == {"ok": True}
    # The public sees no internal error text (it names hosts and ports); the operator does.
    assert "127.0.0.1" not in response.content.decode()
    assert detailed.status_code == 503
    assert "Error" in detailed.json()["checks"]["channel_layer"]["error"]


def test_healthz_details_need_the_operator_token_or_network(client, db, settings):
    import ipaddress

    assert set(client.get("/healthz").json()["checks"]["database"]) == {"ok"}
    assert client.get("/healthz", HTTP_AUTHORIZATION="Bearer nope").json()["checks"]["database"] == {
        "ok": True
    }
    assert _as_operator(client).json()["checks"]["database"]["engine"]
    settings.PROCTORME_OPS_NETWORKS = [ipaddress.ip_network("192.0.2.0/24")]
    assert client.get("/healthz", REMOTE_ADDR="192.0.2.5").json()["checks"]["database"]["engine"]


def test_healthz_answers_503_when_the_broker_is_down(client, db, settings):
    from proctorme.celery import app

    settings.TASKS_MODE = "celery"
    old = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"
    try:
        response = client.get("/healthz")
        detailed = _as_operator(client)
    finally:
        app.conf.broker_url = old
    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {"ok": False}
    assert detailed.json()["checks"]["broker"]["error"]


@pytest.mark.integration
def test_healthz_with_postgres_redis_and_celery_broker(client, postgres, redis_url, settings):
    from channels.layers import channel_layers

    settings.TASKS_MODE = "celery"
    channel_layers.backends.clear()
    response = _as_operator(client)
    body = response.json()
    assert response.status_code == 200, body
    assert body["checks"]["database"]["engine"] == "postgresql"
    assert body["checks"]["channel_layer"]["backend"] == "RedisChannelLayer"
    assert body["checks"]["broker"]["mode"] == "celery"
