"""Celery tasks of the tenants app (autodiscovered): interfaces only, the work is in tenants.webhooks."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="tenants.webhook_deliver", acks_late=True, ignore_result=True)
def webhook_deliver_task(delivery_id: str, manual: bool = False) -> None:
    from tenants.webhooks import webhook_deliver

    webhook_deliver(delivery_id=delivery_id, manual=manual)
