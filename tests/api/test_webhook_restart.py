"""Fault, on purpose: webhook retries survive a restart in every task mode.

A retry waits on an in-memory timer (embedded mode) or a Celery countdown; a
restart loses the timer. What the database holds (``next_attempt_at``) does not:
the scheduled sweep sends what is overdue, exactly once, with the same
idempotency id."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from proctorme.tasks import run_beat_schedule_once
from sessions import signals, webhooks
from sessions.models import ProctoringSession
from tenants.models import WebhookDelivery
from tests.api.api_factories import make_flag, make_session

pytestmark = pytest.mark.django_db(transaction=True)


def _lost_timers(monkeypatch) -> list[float]:
    """The process "dies" after each failed attempt: its retry timer never fires."""
    lost: list[float] = []
    monkeypatch.setattr(webhooks, "_schedule_retry", lambda delivery_id, delay: lost.append(delay))
    return lost


def _wait_until(condition, timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


@pytest.mark.parametrize("mode", ["thread", "celery"])
def test_a_retry_lost_with_its_timer_is_sent_by_the_sweep_after_a_restart(
    settings, tenant_a, endpoint, receiver, monkeypatch, mode
):
    receiver.statuses = [503]
    lost = _lost_timers(monkeypatch)
    settings.TASKS_MODE = "thread"  # the first attempt runs in the background, as in embedded mode
    session = make_session(tenant_a.institution)
    signals.flag_created.send(sender=ProctoringSession, flag=make_flag(session, "MULTIPLE_FACE"))
    _wait_until(lambda: lost)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == WebhookDelivery.Status.PENDING and delivery.attempt_count == 1
    due = delivery.next_attempt_at
    assert due > timezone.now()

    # Before it is overdue, the sweep leaves it to its (lost) timer.
    assert webhooks.webhooks_deliver_due() == 0
    # "After the restart", past the retry time and the sweep's grace: the scheduler's tick sends it.
    settings.TASKS_MODE = mode
    sent_to_celery: list[str] = []
    if mode == "celery":
        from sessions.tasks import webhook_deliver_task

        # A worker takes the task from the broker: run it here when it is sent.
        monkeypatch.setattr(
            webhook_deliver_task,
            "apply_async",
            lambda args, kwargs=None, countdown=None: (
                sent_to_celery.append(args[0]),
                webhook_deliver_task.run(*args, **(kwargs or {})),
            ),
        )
    with time_machine.travel(due + timedelta(seconds=webhooks.SWEEP_GRACE_SECONDS + 1), tick=True):
        run_beat_schedule_once()
        _wait_until(lambda: WebhookDelivery.objects.get().status == WebhookDelivery.Status.SUCCEEDED)
        # A second tick finds nothing more to do: sent exactly once more.
        assert webhooks.webhooks_deliver_due() == 0
    assert len(receiver.requests) == 2
    assert len({r.headers["Proctorme-Delivery"] for r in receiver.requests}) == 1
    delivery.refresh_from_db()
    assert delivery.attempt_count == 2
    assert list(delivery.attempts.order_by("number").values_list("status_code", flat=True)) == [503, 200]
    if mode == "celery":
        assert sent_to_celery == [str(delivery.public_id)]


def test_two_runs_of_the_same_due_delivery_send_it_once(settings, tenant_a, endpoint, receiver):
    settings.TASKS_MODE = "sync"
    session = make_session(tenant_a.institution)
    flag = make_flag(session, "MULTIPLE_FACE")
    delivery = WebhookDelivery.objects.create(
        institution=tenant_a.institution,
        endpoint=endpoint,
        event="flag.created",
        payload={"flagId": str(flag.public_id)},
    )
    # The first run claims it (as a timer would); a second run at the same moment (the sweep) finds it taken.
    assert webhooks._claim(delivery, due_check=True)
    assert (
        webhooks.webhook_deliver(delivery_id=str(delivery.public_id)).status == WebhookDelivery.Status.PENDING
    )
    assert receiver.requests == []
