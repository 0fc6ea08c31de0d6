"""Domain signals → platform services (ACS flags, AGS results), connected in LtiConfig.ready."""

from __future__ import annotations


def connect() -> None:
    return None
