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
        close_old_connections()


def enqueue(task, *args, countdown: float | None = None, **kwargs) -> None:
    """Run ``task(*args, **kwargs)`` in the background once the transaction commits.

    ``countdown`` delays it (seconds). In ``sync`` mode delayed tasks are not
    run at all: tests call the service they wrap at the moment they choose.
    """

    def send() -> None:
        mode = settings.TASKS_MODE
        if mode == "celery":
            task.apply_async(args=args, kwargs=kwargs, countdown=countdown)
        elif mode == "thread":
            if countdown:
                timer = threading.Timer(countdown, _executor().submit, (_run_in_thread, task, args, kwargs))
                timer.daemon = True
                timer.start()
            else:
                _executor().submit(_run_in_thread, task, args, kwargs)
        elif not countdown:
            task.run(*args, **kwargs)

    transaction.on_commit(send)


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
