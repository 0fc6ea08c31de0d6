"""Fixtures for the pure analysis layer: no Django, no database."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Hashable, Sequence

import pytest

from tests.analysis import material


def require_or_skip(reason: str) -> None:
    """Skip when a Debian tool or file is missing; fail under PROCTORME_REQUIRE_ALL=1 (CI)."""
    if os.environ.get("PROCTORME_REQUIRE_ALL") == "1":
        pytest.fail(f"required part absent (PROCTORME_REQUIRE_ALL=1): {reason}", pytrace=False)
    pytest.skip(reason)


def _build(factory: Callable[[], object]) -> object:
    try:
        return factory()
    except material.MissingTool as exc:
        require_or_skip(str(exc))


@pytest.fixture(scope="session")
def build():
    """Build material with a factory, skipping (failing in CI) when a Debian part is absent."""
    return _build


@pytest.fixture(scope="session")
def face_count_samples():
    return _build(material.face_count_set)


@pytest.fixture(scope="session")
def blocked_samples():
    return _build(material.blocked_set)


@pytest.fixture(scope="session")
def looking_away_samples():
    return _build(material.looking_away_set)


@pytest.fixture(scope="session")
def audio_workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def utterance(audio_workdir):
    """One espeak-ng sentence, 16 kHz float32."""
    return _build(lambda: material.speech(material.SENTENCES[0], "en", audio_workdir))


@pytest.fixture(scope="session")
def speech_samples(audio_workdir):
    return _build(lambda: material.speech_set(audio_workdir))


@pytest.fixture(scope="session")
def photo():
    """The source photograph of one of ``material.PEOPLE``."""

    def load(name: str):
        return _build(lambda: material.source(name))

    return load


@pytest.fixture(scope="session")
def portrait():
    """A head-and-shoulders crop of one of ``material.PEOPLE``."""

    def load(name: str):
        return _build(lambda: material.portrait(name))

    return load


class Confusion:
    """Confusion table with per-class precision and recall."""

    def __init__(self, title: str, classes: Sequence[Hashable], pairs: Sequence[tuple[Hashable, Hashable]]):
        self.title = title
        self.classes = list(classes)
        self.counts = Counter(pairs)
        self.total = len(pairs)

    def precision(self, c: Hashable) -> float:
        predicted = sum(self.counts[(t, c)] for t in self.classes)
        return self.counts[(c, c)] / predicted if predicted else 0.0

    def recall(self, c: Hashable) -> float:
        actual = sum(self.counts[(c, p)] for p in self.classes)
        return self.counts[(c, c)] / actual if actual else 0.0

    def table(self) -> str:
        names = [str(c) for c in self.classes]
        width = max(12, *(len(n) + 2 for n in names))
        lines = [f"\n{self.title} ({self.total} samples; rows: truth, columns: predicted)"]
        lines.append(
            "".ljust(width)
            + "".join(n.rjust(width) for n in names)
            + "precision".rjust(11)
            + "recall".rjust(8)
        )
        for c, n in zip(self.classes, names, strict=True):
            row = "".join(str(self.counts[(c, p)]).rjust(width) for p in self.classes)
            lines.append(n.ljust(width) + row + f"{self.precision(c):11.3f}{self.recall(c):8.3f}")
        return "\n".join(lines)


@pytest.fixture
def confusion(capsys):
    """Build a Confusion, print its table past pytest's capture, return it."""

    def make(title, classes, pairs) -> Confusion:
        c = Confusion(title, classes, pairs)
        with capsys.disabled():
            print(c.table())
        return c

    return make
