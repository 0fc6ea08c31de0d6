"""The evaluation corpus behind ``make eval``: split by source, deterministic,
as varied as it claims, and "as uploaded" exactly as the widget encodes."""

from __future__ import annotations

import numpy as np
import pytest

from eval import corpus

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sample(build):
    return {
        which: build(lambda which=which: corpus.load(which, 300, cache_dir=None)) for which in corpus.HALVES
    }


def test_a_frame_is_made_only_of_its_own_halfs_sources(sample):
    for which, frames in sample.items():
        for f in frames:
            assert f.half == which
            for source in f.sources:
                group = next(
                    (p.group for p in corpus.PEOPLE if p.source == source),
                    next((s.group for s in corpus.SCENES if s.source == source), source.split(":")[1]),
                )
                assert corpus.half(source, group) == which, (f.id, source)


def test_no_source_group_is_on_both_sides():
    groups: dict[str, set[str]] = {}
    for item in (*corpus.PEOPLE, *corpus.SCENES):
        groups.setdefault(item.group, set()).add(item.half)
    assert all(len(halves) == 1 for halves in groups.values()), groups


def test_sources_tuned_on_before_are_never_reported():
    for item in (*corpus.PEOPLE, *corpus.SCENES):
        if item.source in corpus.TUNED_BEFORE:
            assert item.half == "tune", item.id
    report = corpus.split_summary()["report"]
    assert report["people"] and report["scenes"] and report["lfw faces"]


def test_frames_are_deterministic(sample):
    again = corpus.load("report", 20, cache_dir=None)
    for a, b in zip(sample["report"][:20], again, strict=True):
        assert a.id == b.id and a.faces == b.faces and np.array_equal(a.view, b.view)


def test_the_corpus_has_the_variety_it_claims(sample):
    for frames in sample.values():
        counts = {f.faces for f in frames}
        assert {0, 1, 2, 3} <= counts
        sizes = [f.min_face_px for f in frames if f.faces]
        assert min(sizes) < 16 and max(sizes) > 140
        assert {f.condition for f in frames if f.faces} == set(corpus.CONDITIONS)
        assert any(f.turned for f in frames) and any(f.hidden for f in frames)
        assert {"calibration", "animal", "object"} <= {f.backdrop for f in frames if not f.faces}


def test_as_uploaded_is_the_widgets_size_and_jpeg(sample):
    width, height, quality = corpus.widget_capture()
    assert 0 < quality <= 100
    view = sample["report"][0].view
    up = corpus.as_uploaded(view)
    assert up.shape == (height, width, 3)
    assert not np.array_equal(up, view)  # lossy, as the widget's JPEG is


def test_the_cache_gives_back_the_same_frames(tmp_path):
    made = corpus.load("tune", 6, cache_dir=tmp_path)
    cached = corpus.load("tune", 6, cache_dir=tmp_path)
    assert len(list(tmp_path.iterdir())) == 1
    for a, b in zip(made, cached, strict=True):
        assert a.id == b.id and a.sources == b.sources and np.array_equal(a.view, b.view)


def test_clean_sessions_flag_as_the_pipeline_does():
    from eval import clean_sessions
    from sessions.analysis_pipeline import DEFAULT_TIMING, FRAME_RULES

    for type_, rule in clean_sessions.RULES.items():
        assert clean_sessions.TIMING[type_] == DEFAULT_TIMING[type_]
        for faces in (0, 1, 2, 3):
            for away in (False, True):
                for hidden in (False, True):
                    observation = {"faces": faces, "away": away, "blocked": False}
                    if hidden:
                        observation["hidden"] = True
                    assert rule(faces, away, hidden) == FRAME_RULES[type_](observation), (type_, faces, away)
