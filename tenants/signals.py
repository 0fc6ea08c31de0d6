"""Access changes reach what is already open: a removed member's live dashboard closes."""

from __future__ import annotations

from django.db import transaction

from proctorme.realtime import broadcast, user_group


def _tell(user_pk: int) -> None:
    group = user_group(user_pk)
    transaction.on_commit(lambda: broadcast(group, {"type": "access.changed"}))


def on_membership_deleted(sender, instance, **kwargs) -> None:
    _tell(instance.user_id)


def on_user_saved(sender, instance, created: bool = False, **kwargs) -> None:
    if not created and not instance.is_active:
        _tell(instance.pk)
