"""/livez: what the load balancer routes on. It must not depend on PostgreSQL or
Redis, or one slow shared part takes every server out of the pool at once."""

from __future__ import annotations


def test_livez_answers_without_touching_the_database_or_redis(
    db, client, django_assert_num_queries, monkeypatch
):
    def unreachable(*args, **kwargs):
        raise AssertionError("/livez touched the channel layer")

    monkeypatch.setattr("proctorme.health.get_channel_layer", unreachable)
    with django_assert_num_queries(0):
        response = client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]
