"""One way to enqueue background work, whatever runs it.

``TASKS_MODE=celery`` sends the Celery task to the broker; ``thread`` (the
embedded default) runs it on a small in-process pool so the request that
enqueued it returns at once; ``sync`` runs it inline (tests). In every mode
the work starts only after the current transaction commits, so a worker never
looks for a row that is not there yet.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, transaction

log = logging.getLogger(__name__)
_pool: ThreadPoolExecutor | None = None
_waiting = 0  # thread mode: tasks handed to the pool and not finished yet (queue depth)
_waiting_lock = threading.Lock()


def _count_waiting(delta: int) -> None:
    global _waiting
    with _waiting_lock:
        _waiting += delta


def _submit(task, args, kwargs) -> None:
    _count_waiting(+1)
    _executor().submit(_run_in_thread, task, args, kwargs)


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="proctorme-task")
    return _pool


def _run_in_thread(task, args, kwargs) -> None:
    close_old_connections()
    try:
        task.run(*args, **kwargs)
    except Exception:
        log.exception("in-process task %s failed", task.name)
    finally:
        _count_waiting(-1)
        close_old_connections()


def enqueue(task, *args, countdown: float | None = None, **kwargs) -> None:
    """Run ``task(*args, **kwargs)`` in the background once the transaction commits.

    ``countdown`` delays it (seconds). In ``sync`` mode delayed tasks are not
    run at all: tests call the service they wrap at the moment they choose.
    """

    def send() -> None:
        mode = settings.TASKS_MODE
        if mode == "celery":
            try:
                task.apply_async(args=args, kwargs=kwargs, countdown=countdown)
            except Exception:
                # The broker is unreachable (Redis restarting, say). What was committed stands
                # and is the source of truth: the scheduled sweeps (overdue sessions, pending
                # analysis, due webhooks, stuck finalising) queue this work again once it is back.
                # Raising here would turn an acknowledged write into a 500 after its commit.
                log.warning("could not queue %s; a scheduled sweep will pick it up", task.name, exc_info=True)
        elif mode == "thread":
            if countdown:
                timer = threading.Timer(countdown, _submit, (task, args, kwargs))
                timer.daemon = True
                timer.start()
            else:
                _submit(task, args, kwargs)
        elif not countdown:
            task.run(*args, **kwargs)

    transaction.on_commit(send)


def queue_depth() -> int:
    """Tasks waiting to run: in the broker's queues (celery) or in the in-process pool (thread).

    Celery tasks with a countdown (webhook retries) are held by workers until due
    and are not counted.
    """
    mode = settings.TASKS_MODE
    if mode == "thread":
        return _waiting
    if mode != "celery":
        return 0
    from proctorme.celery import app

    queues = {app.conf.task_default_queue} | {
        route["queue"] for route in (app.conf.task_routes or {}).values() if "queue" in route
    }
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        channel = conn.default_channel
        # Redis (the broker here): declaring creates nothing, and answers the length of the list.
        return sum(channel.queue_declare(queue=name).message_count for name in queues)


_scheduler: threading.Thread | None = None


def run_beat_schedule_once() -> None:
    """Run every task of CELERY_BEAT_SCHEDULE once, here and now."""
    from proctorme.celery import app

    app.loader.import_default_modules()  # the autodiscovered tasks modules
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        task = app.tasks[entry["task"]]
        try:
            task.run()
        except Exception:
            log.exception("scheduled task %s failed", entry["task"])


def start_embedded_scheduler(*, interval: float = 60.0) -> None:
    """Embedded mode's stand-in for Celery beat: the beat schedule's tasks every minute.

    Only in ``thread`` mode (``make run``); started by the ASGI application, so
    management commands and tests never start it. Without it a session whose
    browser vanished would stay active until someone touched it.
    """
    global _scheduler
    if settings.TASKS_MODE != "thread" or _scheduler is not None:
        return

    def run_forever() -> None:
        import time

        while True:
            close_old_connections()
            run_beat_schedule_once()
            close_old_connections()
            time.sleep(interval)

    _scheduler = threading.Thread(target=run_forever, name="proctorme-scheduler", daemon=True)
    _scheduler.start()
