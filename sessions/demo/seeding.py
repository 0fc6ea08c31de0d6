"""Demo sessions for Demo Academy, analysed by the real pipeline. Idempotent.

Frames are made here from photographs that ship offline: the astronaut
(the candidate) and the coffee cup kept in sessions/demo/material, and, when Debian's opencv-doc is installed, a
portrait from its documentation (someone else). They go through the real
upload service, analysis (mediapipe, dlib, webrtcvad), ending and
finalising, so the flags, evidence frames, audio clips and trust scores a
newcomer sees are real. Voices are spoken by espeak-ng when it is installed.

Each session is keyed by its attempt id: a finished demo session is left as
it is; a half-made one (an interrupted run) is removed and made again; the
running one is made again once its exam time is over.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
from django.conf import settings
from django.db.models import F
from django.test.utils import override_settings
from django.utils import timezone

from sessions.analysis_pipeline import session_analyse
from sessions.config import parse_eye
from sessions.demo.institution import DEMO_SLUG, demo_institution_seed, demo_key
from sessions.finalise import session_finalise
from sessions.models import Event, Flag, MediaChunk, ProctoringSession
from sessions.services import session_end, session_is_overdue, session_start, signal_record
from sessions.uploads import UploadItem, media_store
from tenants.models import ApiKey, Institution

ORIGIN = "http://localhost"
FRAME = (320, 240)
SNAPSHOT = (640, 480)
OPENCV_PORTRAIT = Path("/usr/share/doc/opencv-doc/opencv4/html/227943776_1.jpg")
OPENCV_ROOM = Path("/usr/share/doc/opencv-doc/examples/data/home.jpg")
SAMPLE_RATE = 16000
MATERIAL = Path(settings.BASE_DIR) / "sessions" / "demo" / "material"


# --- images -----------------------------------------------------------------------------------


def _material(name: str) -> np.ndarray:
    bgr = cv2.imread(str(MATERIAL / name), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FileNotFoundError(MATERIAL / name)
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def _astronaut() -> np.ndarray:
    return _material("astronaut.png")


def _someone_else() -> np.ndarray | None:
    if not OPENCV_PORTRAIT.exists():
        return None
    bgr = cv2.imread(str(OPENCV_PORTRAIT), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)[4:434, 12:410])


def _room() -> np.ndarray:
    """A room with nobody in it: opencv-doc's home.jpg, or the coffee cup without it."""
    if OPENCV_ROOM.exists():
        bgr = cv2.imread(str(OPENCV_ROOM), cv2.IMREAD_COLOR)
        if bgr is not None:
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return _material("coffee.jpg")


def _background(size: tuple[int, int], tint: tuple[int, int, int]) -> np.ndarray:
    room = cv2.resize(_room(), size, interpolation=cv2.INTER_AREA).astype(np.float32)
    # Each demo candidate's room gets its own light.
    return np.clip(room * (np.array(tint, np.float32) / 180.0)[None, None, :], 0, 255)


def _paste(canvas: np.ndarray, portrait: np.ndarray, cx: float, top: float, height: float) -> None:
    ph, pw = portrait.shape[:2]
    scale = height / ph
    nw, nh = max(int(pw * scale), 4), max(int(ph * scale), 4)
    img = cv2.resize(portrait, (nw, nh), interpolation=cv2.INTER_AREA).astype(np.float32)
    mask = np.zeros((nh, nw), np.float32)
    cv2.ellipse(mask, (nw // 2, nh // 2), (int(nw * 0.48), int(nh * 0.52)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(nw, nh) * 0.03)[:, :, None]
    x0, y0 = int(cx - nw / 2), int(top)
    H, W = canvas.shape[:2]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + nw, W), min(y0 + nh, H)
    src = img[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0]
    m = mask[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0]
    canvas[sy0:sy1, sx0:sx1] = src * m + canvas[sy0:sy1, sx0:sx1] * (1 - m)


class FrameMaker:
    """JPEG frames of a room with nobody, the candidate, two people, or someone else."""

    def __init__(self, tint: tuple[int, int, int]) -> None:
        self.tint = tint
        self.people = {"candidate": _astronaut()}
        other = _someone_else()
        # Without opencv-doc the second face is the candidate mirrored: still two faces.
        self.people["other"] = other if other is not None else self.people["candidate"][:, ::-1].copy()
        self.has_other = other is not None
        self.cache: dict = {}

    def jpeg(self, who: tuple[str, ...], size: tuple[int, int], t: float) -> bytes:
        key = (who, size)
        if key not in self.cache:
            w, h = size
            canvas = _background(size, self.tint)
            if len(who) == 1:
                _paste(canvas, self.people[who[0]], w * 0.5, h * 0.12, h * 0.95)
            for i, name in enumerate(who if len(who) > 1 else ()):
                _paste(canvas, self.people[name], w * (0.27 + 0.46 * i), h * 0.22, h * 0.7)
            self.cache[key] = canvas
        # A little sensor noise and a slow sway, so consecutive frames are not identical.
        rng = np.random.default_rng(int(t * 10))
        shift = int(3 * np.sin(t / 7))
        frame = np.roll(self.cache[key], shift, axis=1) + rng.normal(0, 2.0, self.cache[key].shape)
        rgb = np.clip(frame, 0, 255).astype(np.uint8)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 70])
        assert ok
        return buf.tobytes()


# --- audio ------------------------------------------------------------------------------------------


def _speech_pcm(text: str) -> bytes | None:
    """espeak-ng's voice at 16 kHz mono 16-bit, or None when espeak-ng is not installed."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run([espeak, "-s", "150", "-w", str(path), text], check=True, capture_output=True)  # noqa: S603
        with wave.open(str(path), "rb") as wav:
            rate, raw = wav.getframerate(), wav.readframes(wav.getnframes())
    voice = np.frombuffer(raw, dtype="<i2").astype(np.float32)
    n = int(len(voice) * SAMPLE_RATE / rate)
    voice = np.interp(np.linspace(0, len(voice) - 1, n), np.arange(len(voice)), voice)
    clip = np.random.default_rng(1).normal(0, 30, 4 * SAMPLE_RATE)  # a quiet room, 4 s
    start = SAMPLE_RATE // 2
    clip[start : start + min(len(voice), len(clip) - start)] += voice[: len(clip) - start] * 0.6
    return np.clip(clip, -32768, 32767).astype("<i2").tobytes()


# --- the demo sessions ----------------------------------------------------------------------------


@dataclass
class Demo:
    candidate_id: str
    first: str
    last: str
    assessment_id: str
    title: str
    seconds: int
    # (from, to, who) in seconds; the candidate alone outside these spans.
    scenes: list[tuple[int, int, tuple[str, ...]]] = field(default_factory=list)
    # (at seconds, event, payload) browser signals.
    signals: list[tuple[int, str, dict]] = field(default_factory=list)
    speech_at: list[int] = field(default_factory=list)
    days_ago: int = 0
    snapshot_every: int = 30
    tint: tuple[int, int, int] = (176, 168, 150)
    live: bool = False
    needs_other: bool = False

    @property
    def attempt_id(self) -> str:
        from sessions.config import eye_attempt_id

        return eye_attempt_id(self.assessment_id, self.candidate_id)

    def who(self, t: float) -> tuple[str, ...]:
        for start, end, who in self.scenes:
            if start <= t < end:
                return who
        return ("candidate",)


BIO = ("bio-101-midterm", "Biology 101 – Midterm")
MATH = ("math-201-final", "Linear Algebra – Final")
DEMOS = [
    Demo("s-1001", "Ada", "Lovelace", *BIO, seconds=150, days_ago=6, tint=(188, 178, 160)),
    Demo(
        "s-1002",
        "Alan",
        "Turing",
        *BIO,
        seconds=210,
        days_ago=4,
        scenes=[(40, 58, ()), (150, 172, ())],
        signals=[
            (95, "TAB_FOCUS_CHANGE", {"focused": False, "cause": "visibility"}),
            (118, "TAB_FOCUS_CHANGE", {"focused": True, "cause": "visibility"}),
        ],
        tint=(160, 172, 186),
    ),
    Demo(
        "s-1003",
        "Grace",
        "Hopper",
        *MATH,
        seconds=210,
        days_ago=2,
        scenes=[(50, 80, ("candidate", "other")), (160, 185, ("candidate", "other"))],
        signals=[
            (100, "COPY_PASTE", {"action": "paste"}),
            (130, "FULLSCREEN_CHANGE", {"fullscreen": False}),
            (141, "FULLSCREEN_CHANGE", {"fullscreen": True}),
        ],
        speech_at=[115],
        tint=(170, 186, 168),
    ),
    Demo(
        "s-1004",
        "Katherine",
        "Johnson",
        *MATH,
        seconds=300,
        days_ago=1,
        scenes=[(100, 300, ("other",))],
        # Identity is compared on every 4th snapshot and must differ for two minutes in a row.
        snapshot_every=5,
        tint=(190, 170, 170),
        needs_other=True,
    ),
    Demo("s-1005", "Edsger", "Dijkstra", *MATH, seconds=120, days_ago=0, tint=(180, 180, 190)),
    Demo(
        "s-1006",
        "Barbara",
        "Liskov",
        *BIO,
        seconds=150,
        live=True,
        scenes=[(60, 78, ())],
        tint=(184, 176, 196),
    ),
]
# The running demo session's exam length: long enough to watch it on the live page.
LIVE_EXAM_SECONDS = 3 * 3600


@dataclass
class SeedResult:
    made: int = 0
    kept: int = 0
    skipped: list[str] = field(default_factory=list)


def demo_sessions_seed() -> SeedResult:
    """Make the demo sessions that are missing (or half-made, or a live one whose time is over)."""
    institution = Institution.objects.filter(slug=DEMO_SLUG).first()
    if institution is None:
        demo_institution_seed()
        institution = Institution.objects.get(slug=DEMO_SLUG)
    key = demo_key(ApiKey.Kind.PUBLISHABLE)
    result = SeedResult()
    speech = None
    # Inline tasks: each step finishes (and commits) before the next one starts.
    with override_settings(TASKS_MODE="sync"):
        for demo in DEMOS:
            existing = ProctoringSession.objects.filter(
                institution=institution, attempt_id=demo.attempt_id
            ).first()
            if existing is not None and _keep(existing, demo):
                result.kept += 1
                continue
            if existing is not None:
                _remove(existing)
            makers = FrameMaker(demo.tint)
            if demo.needs_other and not makers.has_other:
                result.skipped.append(f"{demo.first} {demo.last}: needs opencv-doc for a second face")
                continue
            if demo.speech_at and speech is None:
                speech = _speech_pcm("Psst. The answer to question four is twelve. Write it down.") or b""
            _make(demo, key=key, frames=makers, speech=speech or None)
            result.made += 1
    return result


def _keep(session: ProctoringSession, demo: Demo) -> bool:
    if demo.live:
        return session.status == ProctoringSession.Status.ACTIVE and not session_is_overdue(session)
    return session.status == ProctoringSession.Status.COMPLETED


def _remove(session: ProctoringSession) -> None:
    for chunk in MediaChunk.objects.filter(session=session):
        chunk.file.delete(save=False)
    session.delete()


def _make(demo: Demo, *, key: str, frames: FrameMaker, speech: bytes | None) -> None:
    request = parse_eye(
        {
            "apiKey": key,
            "assessmentId": demo.assessment_id,
            "assessmentTitle": demo.title,
            "candidateId": demo.candidate_id,
            "candidateEmail": f"{demo.first}.{demo.last}@students.demo.proctorme.local".lower(),
            "candidateFirstName": demo.first,
            "candidateLastName": demo.last,
            "institutionName": "Demo Academy",
            "examDuration": LIVE_EXAM_SECONDS if demo.live else 3600,
        }
    )
    session = session_start(request=request, origin=ORIGIN).session
    # The capture happened over the last ``seconds``: move the start back accordingly.
    started = timezone.now() - timedelta(seconds=demo.seconds + 2)
    ProctoringSession.objects.filter(pk=session.pk).update(
        started_at=started, deadline_at=F("deadline_at") - timedelta(seconds=demo.seconds + 2)
    )
    session.refresh_from_db()

    items: list[UploadItem] = []
    seq = {"frame": 0, "snapshot": 0, "audio": 0}

    def add(kind: str, t: float, data: bytes, duration: float = 0.0) -> None:
        seq[kind] += 1
        items.append(
            UploadItem(
                part=f"p{len(items)}",
                kind=kind,
                seq=seq[kind],
                captured_at=started + timedelta(seconds=t),
                data=data,
                duration_seconds=duration,
            )
        )

    for t in range(demo.seconds):
        add("frame", t, frames.jpeg(demo.who(t), FRAME, t))
        if t >= 5 and (t - 5) % demo.snapshot_every == 0:
            add("snapshot", t, frames.jpeg(demo.who(t), SNAPSHOT, t))
        if speech and t in demo.speech_at:
            add("audio", t, speech, duration=len(speech) / 2 / SAMPLE_RATE)
    for index in range(0, len(items), 40):
        session.refresh_from_db()
        media_store(session=session, items=items[index : index + 40])
    for n, (t, event, payload) in enumerate(demo.signals, start=1):
        signal_record(
            session_id=session.pk,
            seq=n,
            event=event,
            at=(started + timedelta(seconds=t)).isoformat(),
            payload=payload,
        )
    # Uploads queue this already (inline, after commit); calling it again only analyses what is left.
    session_analyse(session=ProctoringSession.objects.get(pk=session.pk))
    if demo.live:
        ProctoringSession.objects.filter(pk=session.pk).update(last_seen_at=timezone.now())
        return

    session = session_end(session=session, reason="ended")
    session_finalise(session=ProctoringSession.objects.get(pk=session.pk))
    if demo.days_ago:
        _shift(session, timedelta(days=demo.days_ago, hours=demo.days_ago * 2 % 7))


def _shift(session: ProctoringSession, delta: timedelta) -> None:
    """Move a finished session into the past, so the overview has more than one day."""
    ProctoringSession.objects.filter(pk=session.pk).update(
        started_at=F("started_at") - delta,
        ended_at=F("ended_at") - delta,
        deadline_at=F("deadline_at") - delta,
        last_seen_at=F("last_seen_at") - delta,
    )
    Event.objects.filter(session=session).update(started_at=F("started_at") - delta)
    Event.objects.filter(session=session, ended_at__isnull=False).update(ended_at=F("ended_at") - delta)
    Flag.objects.filter(session=session).update(
        started_at=F("started_at") - delta, created_at=F("created_at") - delta
    )
    Flag.objects.filter(session=session, ended_at__isnull=False).update(ended_at=F("ended_at") - delta)
    MediaChunk.objects.filter(session=session).update(captured_at=F("captured_at") - delta)
