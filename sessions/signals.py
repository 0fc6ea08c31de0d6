"""Domain signals, sent after the transaction that caused them commits.

Receivers (webhooks, notifications) subscribe here instead of being called
from the services, so delivery concerns stay out of the session logic.
Every signal is sent with ``sender=ProctoringSession`` and keyword arguments:

* ``session_started(session, resumed: bool)``
* ``flag_created(flag)`` — a new flag (an episode), once per flag
* ``flag_updated(flag)`` — an open flag got its end / duration
* ``session_completed(session)`` — final analysis done, trust score final
* ``verdict_recorded(session)`` — a reviewer recorded or changed the verdict
"""

from django.dispatch import Signal

session_started = Signal()
flag_created = Signal()
flag_updated = Signal()
session_completed = Signal()
verdict_recorded = Signal()
