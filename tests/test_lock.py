"""The locks cover exactly what requirements*.txt pin, each package with its hashes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("-r "):
            pins.update(_pins(path.parent / line[3:].strip()))
        match = PIN.match(line)
        if match:
            pins[_name(match.group(1))] = match.group(2)
    return pins


def _locked(path: Path) -> dict[str, tuple[str, int]]:
    """name → (version, number of hashes)."""
    locked, current = {}, None
    for line in path.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = _name(match.group(1))
            locked[current] = (match.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = locked[current]
            locked[current] = (version, hashes + 1)
    return locked


@pytest.mark.parametrize(
    ("requirements", "lock"),
    [("requirements.txt", "requirements.lock"), ("requirements-dev.txt", "requirements-dev.lock")],
)
def test_the_lock_pins_what_the_requirements_pin_with_hashes(requirements, lock):
    pins, locked = _pins(ROOT / requirements), _locked(ROOT / lock)
    drift = {
        name: (version, locked.get(name, ("missing", 0))[0])
        for name, version in pins.items()
        if locked.get(name, ("missing", 0))[0] != version
    }
    assert not drift, f"{lock} is out of date with {requirements} (pinned, locked): {drift}; run make lock"
    assert all(hashes for _, hashes in locked.values()), f"{lock} has packages without hashes"


def test_the_dev_lock_installs_the_runtime_lock_unchanged():
    runtime, dev = _locked(ROOT / "requirements.lock"), _locked(ROOT / "requirements-dev.lock")
    changed = {
        name: (v, dev.get(name, ("missing",))[0])
        for name, (v, _) in runtime.items()
        if dev.get(name, ("",))[0] != v
    }
    assert not changed, f"the development lock changes runtime versions: {changed}"
