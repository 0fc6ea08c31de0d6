"""A cup raised to the mouth: ``analysis.frames.mouth_detail`` tells a covered mouth from a
seen one, and head pitch read off a face with its mouth covered does not make it looking
away (face mesh tips its fit up when it cannot see the mouth), while head yaw still does.

Views from the tune half's clean sessions (``eval/clean_sessions.py``: the seated candidate,
a cup at the mouth from the 100th second), the material the limit was chosen on."""

from __future__ import annotations

import zlib
from dataclasses import replace

import pytest

from analysis.frames import FrameSensitivity, analyse_frame, mouth_detail
from eval import clean_sessions, corpus

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def views(build):
    """(person, event, view as uploaded) for the seated seconds 30-39 and the cup's 100-107."""

    def make():
        out = []
        for person in clean_sessions.candidates("tune"):
            seed = zlib.crc32(person.id.encode())
            session = clean_sessions.session_frames(corpus.cutout(person), 108, seed, "tune")
            for t, (_, frame, event) in enumerate(session):
                if 30 <= t < 40 or t >= 100:
                    out.append((person.id, event, frame))
        return out

    return build(make)


def _details(views, event):
    out = []
    for _, ev, frame in views:
        if ev == event and len(faces := analyse_frame(frame).faces) == 1:
            out.append(mouth_detail(frame, faces[0]))
    return out


def test_a_cup_over_the_mouth_is_told_from_a_mouth(views):
    limit = FrameSensitivity().mouth_covered_below
    seated, cup = _details(views, "seated"), _details(views, "cup")
    assert len(seated) >= 50 and len(cup) >= 40
    assert all(d is not None and d >= limit for d in seated), sorted(seated)[:5]
    assert sum(d is not None and d < limit for d in cup) >= 0.75 * len(cup)


def test_pitch_off_a_covered_mouth_is_not_looking_away_but_yaw_is(views):
    # Limits low enough that every one of these faces is past them (and the eyes not read):
    # what decides is the rule.
    pitch_only = FrameSensitivity(
        max_pitch_deg=0.5, max_yaw_deg=90.0, pose_confirm_margin_deg=0.5, eyes_check=False
    )
    ignoring_cups = replace(pitch_only, mouth_covered_below=0.0)
    yaw_only = FrameSensitivity(max_pitch_deg=90.0, max_yaw_deg=0.0, pose_confirm_margin_deg=90.0)
    covered = seen = 0
    for _, event, frame in views:
        obs = analyse_frame(frame, sensitivity=pitch_only)
        if obs.face_count != 1 or obs.pitch is None or abs(obs.pitch) <= 0.5 or abs(obs.yaw) <= 0.0:
            continue
        detail = mouth_detail(frame, obs.faces[0])
        assert analyse_frame(frame, sensitivity=ignoring_cups).looking_away
        assert analyse_frame(frame, sensitivity=yaw_only).looking_away  # yaw counts, covered or not
        if detail is not None and detail < pitch_only.mouth_covered_below:
            covered += 1
            assert not obs.looking_away, event
        else:
            seen += 1
            assert obs.looking_away, event
    assert covered >= 20 and seen >= 50
