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
