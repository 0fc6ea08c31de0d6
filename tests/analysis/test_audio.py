from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from analysis.audio import InvalidAudio, Segment, clip, pcm_to_wav, voice_segments
from tests.analysis import material

MIN_SCORE = 0.95


@pytest.mark.slow
def test_speech_precision_and_recall(speech_samples, confusion):
    pairs = [(label, bool(voice_segments(pcm))) for _, pcm, label in speech_samples]
    c = confusion(
        "speech (espeak-ng in quiet/white/pink/brown/hum/clicks at 10-20 dB SNR) vs non-speech "
        "(silence, white, pink, brown, hum, clicks, tones)",
        [True, False],
        pairs,
    )
    for cls in (True, False):
        assert sum(1 for t, _ in pairs if t == cls) >= 40
        assert c.precision(cls) >= MIN_SCORE and c.recall(cls) >= MIN_SCORE, cls


@pytest.mark.slow
def test_segments_cover_the_utterance(utterance):
    voice = utterance
    x = np.zeros(6 * material.SR, np.float32)
    start = 2 * material.SR
    x[start : start + len(voice)] = voice * 0.5
    segments = voice_segments(material.to_pcm(x))
    assert segments
    assert segments[0].start_s == pytest.approx(2.0, abs=0.35)
    assert segments[-1].end_s == pytest.approx(2.0 + len(voice) / material.SR, abs=0.45)
    assert all(isinstance(s, Segment) and s.duration_s >= 0.3 for s in segments)


def test_silence_and_steady_noise_have_no_segments():
    rng = np.random.default_rng(0)
    assert voice_segments(b"\x00\x00" * 16000) == []
    assert voice_segments(material.to_pcm(material.white(4 * 16000, rng) * 0.2)) == []
    assert voice_segments(material.to_pcm(material.tones(4 * 16000, rng) * 0.2)) == []


@pytest.mark.parametrize("pcm", [b"\x00", b"\x00" * 3001])
def test_odd_byte_counts_are_invalid(pcm):
    with pytest.raises(InvalidAudio):
        voice_segments(pcm)


def test_bad_parameters_are_invalid():
    with pytest.raises(InvalidAudio):
        voice_segments(b"\x00\x00" * 100, sample_rate=22050)
    with pytest.raises(InvalidAudio):
        voice_segments(b"\x00\x00" * 100, frame_ms=25)
    assert issubclass(InvalidAudio, ValueError)


def test_too_short_input_has_no_segments():
    assert voice_segments(b"") == []
    assert voice_segments(b"\x01\x00" * 100) == []


def test_pcm_to_wav_round_trips():
    pcm = np.arange(-500, 500, dtype="<i2").tobytes()
    data = pcm_to_wav(pcm, 16000)
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 16000)
        assert w.readframes(w.getnframes()) == pcm


def test_clip_cuts_on_sample_boundaries_and_clamps():
    pcm = np.arange(32000, dtype="<i2").tobytes()  # 2 s
    part = np.frombuffer(clip(pcm, 0.5, 1.0, 16000), dtype="<i2")
    assert len(part) == 8000 and part[0] == 8000
    assert len(clip(pcm, 1.5, 9.0, 16000)) == 8000 * 2
    assert clip(pcm, -1.0, 0.0, 16000) == b""
    with pytest.raises(InvalidAudio):
        clip(pcm, 1.0, 0.5, 16000)
