"""Speech in the candidate's room, from 16-bit mono PCM.

webrtcvad alone says "voice" for many noises (fans, hiss, keyboard clicks,
music). Three checks on top of it:

* energy: a frame must stand clear of the clip's own noise floor (its quieter
  tenth) and of an absolute minimum;
* voicing: speech has voiced frames, periodic at a pitch of 70-400 Hz
  (normalised autocorrelation of the differenced frame >= 0.45); hiss, rumble
  and clicks are not periodic;
* not a steady tone: instruments, beeps and synthesisers are periodic to
  within a hair (>= 0.95) for most of their voiced frames; a voice, with its
  jitter, almost never is. A segment where more than half the voiced frames
  are that perfect is a tone, not speech.

Frames that pass VAD and the energy gate are joined across pauses of up to
``max_gap_ms``; a joined segment is speech when it lasts ``min_speech_ms``,
has at least ``min_voiced_ms`` of voiced frames and is not a steady tone.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import numpy as np

SAMPLE_RATES = (8000, 16000, 32000, 48000)


class InvalidAudio(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Segment:
    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def _vad(aggressiveness: int) -> object:
    import webrtcvad

    return webrtcvad.Vad(aggressiveness)


def _samples(pcm: bytes, sample_rate: int) -> np.ndarray:
    if not isinstance(pcm, bytes | bytearray | memoryview):
        raise InvalidAudio("expected bytes")
    if sample_rate not in SAMPLE_RATES:
        raise InvalidAudio(f"sample rate must be one of {SAMPLE_RATES}")
    if len(pcm) % 2:
        raise InvalidAudio("odd number of bytes: not 16-bit PCM")
    return np.frombuffer(bytes(pcm), dtype="<i2")


def _noise_floor(rms: np.ndarray) -> float:
    # The quieter tenth of the clip: pauses between words, or the room.
    return float(np.percentile(rms, 10)) if rms.size else 0.0


def voice_segments(
    pcm: bytes,
    *,
    sample_rate: int = 16000,
    aggressiveness: int = 3,
    frame_ms: int = 30,
    min_speech_ms: int = 300,
    max_gap_ms: int = 300,
    min_rms: float = 200.0,
    floor_ratio: float = 3.0,
    min_voiced_ms: int = 90,
) -> list[Segment]:
    """Speech segments, in seconds from the start of ``pcm``.

    ``min_rms`` is in 16-bit sample units (200 ≈ -44 dBFS); ``floor_ratio`` is
    how far above the clip's noise floor a frame must be (3 ≈ 10 dB).
    """
    if frame_ms not in (10, 20, 30):
        raise InvalidAudio("frame_ms must be 10, 20 or 30 (webrtcvad)")
    samples = _samples(pcm, sample_rate)
    n = sample_rate * frame_ms // 1000
    count = len(samples) // n
    if count == 0:
        return []
    frames = samples[: count * n].reshape(count, n)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    gate = max(min_rms, _noise_floor(rms) * floor_ratio)
    vad = _vad(aggressiveness)
    active = np.zeros(count, dtype=bool)
    for i in np.flatnonzero(rms >= gate):
        active[i] = vad.is_speech(frames[i].tobytes(), sample_rate)
    periodicity = np.zeros(count)
    if active.any():
        periodicity[active] = _periodicity(frames[active], sample_rate)
    voiced = active & (periodicity >= VOICED)
    tonal = active & (periodicity >= TONAL)

    out = []
    for first, last in _runs(active, frame_ms, max_gap_ms):
        n_active = int(active[first : last + 1].sum())
        n_voiced = int(voiced[first : last + 1].sum())
        n_tonal = int(tonal[first : last + 1].sum())
        if n_active * frame_ms < min_speech_ms or n_voiced * frame_ms < min_voiced_ms:
            continue
        if n_tonal * 2 > n_voiced:
            continue
        out.append(Segment(round(first * frame_ms / 1000, 3), round((last + 1) * frame_ms / 1000, 3)))
    return out


VOICED = 0.45
TONAL = 0.95


def _periodicity(frames: np.ndarray, sample_rate: int) -> np.ndarray:
    """Peak normalised autocorrelation at pitch lags (70-400 Hz), per frame.

    Differencing first flattens the spectrum, so low rumble (brown noise, whose
    samples are all alike at short lags) does not look periodic.
    """
    d = np.diff(frames.astype(np.float64), axis=1)
    m = d.shape[1]
    lo, hi = sample_rate // 400, min(sample_rate // 70, m - 1)
    nfft = 1 << int(np.ceil(np.log2(2 * m)))
    spec = np.fft.rfft(d, nfft)
    r = np.fft.irfft(spec.real**2 + spec.imag**2, nfft)[:, : hi + 1]
    lags = np.arange(hi + 1)
    r = r / (r[:, :1] + 1e-9) * (m / (m - lags))  # unbiased: fewer products at long lags
    return r[:, lo : hi + 1].max(axis=1)


def _runs(active: np.ndarray, frame_ms: int, max_gap_ms: int) -> list[tuple[int, int]]:
    """(first, last) frame of each run of active frames, bridging short gaps."""
    runs: list[tuple[int, int]] = []
    for i in np.flatnonzero(active).tolist():
        if runs and (i - runs[-1][1] - 1) * frame_ms <= max_gap_ms:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def pcm_to_wav(pcm: bytes, sample_rate: int = 16000) -> bytes:
    _samples(pcm, sample_rate)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(bytes(pcm))
    return buf.getvalue()


def clip(pcm: bytes, start_s: float, end_s: float, sample_rate: int = 16000) -> bytes:
    """The PCM between two times, clamped to the recording, sample-aligned."""
    samples = _samples(pcm, sample_rate)
    if end_s < start_s:
        raise InvalidAudio("clip ends before it starts")
    a = min(max(int(round(start_s * sample_rate)), 0), len(samples))
    b = min(max(int(round(end_s * sample_rate)), 0), len(samples))
    return samples[a:b].tobytes()
