"""The clean-session generator (``eval/clean_sessions.py``): a seated candidate whose eyes move
over the screen as a reader's do, within ``eval/eyes.py``'s "eyes ahead", and whose head rolls
a little, with the rest of the session (place, sway, light, cups) as it was."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from eval import clean_sessions, corpus, eyes


def _person(pid: str) -> corpus.Person:
    return next(p for p in corpus.PEOPLE if p.id == pid)


def test_the_eyes_read_the_screen_within_eyes_ahead(build):
    views = build(lambda: clean_sessions.reading_cutouts(_person("man_a")))
    assert sorted(views) == list(clean_sessions.READING_SHIFTS)
    assert len(views) == 5 and 0.0 in views
    assert max(abs(s) for s in views) == pytest.approx(eyes.AHEAD_SHIFTS[1])
    assert views[0.0] is corpus.cutout(_person("man_a"))  # the photo's own eyes
    ahead = views[max(views)]
    assert ahead.image.shape == views[0.0].image.shape
    assert not np.array_equal(ahead.image, views[0.0].image)  # the irises moved


def test_someone_without_eye_marks_keeps_the_photos_eyes(build):
    person = next(p for p in clean_sessions.candidates("report") if p.id not in eyes.EYE_MARKS)
    views = build(lambda: clean_sessions.reading_cutouts(person))
    assert list(views) == [0.0] and views[0.0] is corpus.cutout(person)


def test_a_session_moves_the_eyes_and_keeps_the_rest(build):
    person = _person("man_a")
    seed = zlib.crc32(person.id.encode())
    seconds = 40
    reading = build(
        lambda: list(
            clean_sessions.session_frames(clean_sessions.reading_cutouts(person), seconds, seed, "tune")
        )
    )
    still = list(clean_sessions.session_frames(corpus.cutout(person), seconds, seed, "tune"))
    assert [e for _, _, e in reading] == [e for _, _, e in still]  # the same cups, leaning back
    # A single cutout is the dict of its own eyes: the same session, frame for frame.
    same = list(clean_sessions.session_frames({0.0: corpus.cutout(person)}, seconds, seed, "tune"))
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(same, still, strict=True))
    # The eyes left the photo's place in some frames (a dwell is 3-15 s, over 5 places) and the
    # rest of the view (light, sway: the same random stream) stayed: frames differ a little.
    diffs = [
        float(np.abs(a[0].astype(int) - b[0].astype(int)).mean()) for a, b in zip(reading, still, strict=True)
    ]
    assert sum(d > 0 for d in diffs) >= seconds // 4
    assert max(diffs) < 3.0  # only the eyes moved
