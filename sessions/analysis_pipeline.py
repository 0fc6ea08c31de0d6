"""From uploaded media to flags, for one session.

Two phases, so that re-running is always safe (``acks_late`` redelivery, a
batch uploaded twice, batches arriving out of order):

1. *Observe* every chunk not analysed yet (decode, detect). The observation
   is a pure function of the chunk, stored on it. Snapshots, audio and the
   phone's frames are observed before the session's row is locked, frames
   while they are folded; one query reads what a run needs of both.
2. *Fold* observations into flags, strictly in capture order per kind, from
   cursors and tracker states kept on the session, inside one transaction
   that locks the session row. A missing ``seq`` holds the cursor back until
   it arrives, or is skipped once it is ``GAP_SKIP_SECONDS`` behind the
   newest chunk (or at the final pass). Flags are keyed by detector and
   episode start, so the same observations always give the same flags.
"""

from __future__ import annotations

import io
import logging
import random
import wave
from dataclasses import replace
from datetime import timedelta

import numpy as np
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone

from analysis.audio import InvalidAudio, clip, pcm_to_wav, voice_segments
from analysis.frames import (
    FrameAnalyser,
    FrameSensitivity,
    InvalidImage,
    analyse_frame,
    decode_jpeg,
    decode_jpeg_reduced,
)
from analysis.identity import descriptor_distance, face_descriptor
from analysis.tracker import EpisodeTracker
from proctorme.locks import exclusive
from proctorme.outbound import OutboundError, outbound_request
from proctorme.realtime import broadcast, institution_group
from sessions.candidate_warnings import warnings_apply
from sessions.models import MediaChunk, ProctoringSession
from sessions.rows import model_rows
from sessions.scoring import detector_settings_for, session_score_compute
from sessions.services import flag_record

log = logging.getLogger(__name__)

GAP_SKIP_SECONDS = 30.0
# A dlib descriptor costs ~0.1 CPU-s: compare identity on every 4th snapshot
# (every 2 minutes at the default cadence), not on all of them.
IDENTITY_EVERY_SNAPSHOTS = 4
IDENTITY_THRESHOLD = 0.6
# A snapshot that is not compared for identity is counted for faces (the replay shows it) at
# the detection frames' size (sessions.config.CAPTURE_DEFAULTS: 320×240), decoded at that size.
SNAPSHOT_COUNT_SIZE = (320, 240)
REFERENCE_MAX_BYTES = 5 * 1024 * 1024
REFERENCE_TIMEOUT = 10  # seconds in all: resolving, connecting, headers and body

# (min_duration, max_gap) in seconds, overridable in detector_settings["sensitivity"]["timing"].
DEFAULT_TIMING = {
    "FACE_ABSENCE": (5.0, 2.5),
    "MULTIPLE_FACE": (2.0, 2.5),
    "LOOKING_AWAY": (5.0, 2.5),
    "CAMERA_BLOCKED": (5.0, 2.5),
    "FACE_MISMATCH": (120.0, 150.0),
    "SOUND_DETECTED": (1.0, 2.0),
}

FRAME_RULES = {
    # A face hidden behind a cup or a hand (the view changed only around it) is not an absence.
    "FACE_ABSENCE": lambda o: o["faces"] == 0 and not o["blocked"] and not o.get("hidden"),
    "MULTIPLE_FACE": lambda o: o["faces"] >= 2,
    "LOOKING_AWAY": lambda o: o["faces"] == 1 and o["away"] and not o["blocked"],
    "CAMERA_BLOCKED": lambda o: o["blocked"],
}
ALL_DETECTORS = {*FRAME_RULES, "FACE_MISMATCH", "SOUND_DETECTED", "PERIODIC_SNAPSHOT"}
# The paired phone's side view (AutoProctor's auxiliaryDevice): it sees the candidate from the
# side, so neither "no face" nor "looking away" means anything there; another person in the
# room or a covered phone camera does. Its episodes are keyed "aux:" apart from the laptop's.
AUX_RULES = {
    "MULTIPLE_FACE": lambda o: o["faces"] >= 2,
    "CAMERA_BLOCKED": lambda o: o["blocked"],
}
AUX_FRAME_SECONDS = 2.0  # the phone sends a frame every 2 s (sessions.aux.FRAME_INTERVAL_MS)


# --- configuration -------------------------------------------------------------------


def enabled_detectors(session: ProctoringSession, settings: dict) -> set[str]:
    features = session.config.get("features", {})
    tracking = session.config.get("tracking", {})
    enabled = set(ALL_DETECTORS)
    if not features.get("aiProctoring", True):
        enabled -= {*FRAME_RULES, "SOUND_DETECTED", "PERIODIC_SNAPSHOT"}
    if not tracking.get("audio", True):
        enabled.discard("SOUND_DETECTED")
    if not tracking.get("numHumans", True):
        enabled.discard("MULTIPLE_FACE")
    if not tracking.get("photosAtRandom", True):
        enabled.discard("PERIODIC_SNAPSHOT")
    identity = (
        features.get("facialRecognition", True)
        if session.dialect == "eye"
        else tracking.get("impersonation", False)
    )
    if not identity:
        enabled.discard("FACE_MISMATCH")
    return enabled - set(settings.get("disabled", []))


def frame_sensitivity(settings: dict) -> FrameSensitivity:
    """The frame detectors' sensitivity from merged detector settings."""
    return _sensitivity(settings)


def _sensitivity(settings: dict, *, eyes: bool = True) -> FrameSensitivity:
    """``eyes`` False: no gaze check (LOOKING_AWAY off, or pictures that never feed it:
    snapshots, the phone's side view), so no face-mesh call for the eyes."""
    values = settings.get("sensitivity", {})
    fields = FrameSensitivity.__dataclass_fields__
    s = FrameSensitivity(**{k: float(v) for k, v in values.items() if k in fields})
    return s if eyes else replace(s, eyes_check=False)


def _timing(settings: dict, type_: str, session: ProctoringSession | None = None) -> tuple[float, float]:
    custom = settings.get("sensitivity", {}).get("timing", {}).get(type_)
    if isinstance(custom, list | tuple) and len(custom) == 2:
        return float(custom[0]), float(custom[1])
    if type_ == "FACE_MISMATCH" and session is not None:
        # Two identity checks in a row, whatever the snapshot cadence: a gap of
        # more than one check splits episodes, so a lone odd check never joins a
        # later real mismatch.
        interval = session.config.get("capture", {}).get("snapshotIntervalMs", 30000) / 1000
        check = interval * IDENTITY_EVERY_SNAPSHOTS
        return check, check * 1.25
    return DEFAULT_TIMING[type_]


# --- phase 1: observations ------------------------------------------------------------


def _read(chunk: MediaChunk) -> bytes:
    with chunk.file.open("rb") as handle:
        return handle.read()


def _observe_picture(chunk: MediaChunk, analyse, *, identity: bool = False, least=None) -> dict:
    """Decode one JPEG chunk and describe it; ``analyse`` is analyse_frame or a stream analyser's.

    ``least`` (width, height): decode at the smallest DCT scale that is still that large (a
    snapshot not compared for identity is only counted for faces, as a detection frame is, at
    the frames' size); a picture compared for identity is decoded in full, as dlib's
    descriptor wants the face at its own size."""
    try:
        data = _read(chunk)
        rgb = decode_jpeg_reduced(data, least) if least and not identity else decode_jpeg(data)
    except (InvalidImage, OSError) as exc:
        return {"error": f"undecodable: {exc}"}
    obs = analyse(rgb)
    out = _described(obs)
    if identity and obs.face_count == 1 and not obs.blocked:
        descriptor = face_descriptor(rgb, obs.faces[0])
        if descriptor is not None:
            out["descriptor"] = [round(float(x), 5) for x in descriptor]
    return out


def _described(obs) -> dict:
    out = {"faces": obs.face_count, "blocked": obs.blocked, "away": obs.looking_away}
    if obs.blocked:
        out["blockedReason"] = obs.blocked_reason  # dark or covered: the candidate's warning says which
    out["brightness"] = round(obs.brightness, 1)
    if obs.face_hidden:
        out["hidden"] = True
    if obs.yaw is not None:
        out.update(yaw=round(obs.yaw, 1), pitch=round(obs.pitch, 1))
    if obs.eyes_yaw is not None:
        out["eyesYaw"] = round(obs.eyes_yaw, 1)  # the eyes' sideways turn in the head (analysis/gaze.py)
    return out


def _observe_frame(chunk: MediaChunk, analyser: FrameAnalyser, at: float) -> dict:
    """One detection frame through the stream analyser, which decodes it in full only
    when it is analysed (a still frame reuses the last analysed frame's faces)."""
    try:
        obs = analyser.analyse_jpeg(_read(chunk), at=at)
    except (InvalidImage, OSError) as exc:
        return {"error": f"undecodable: {exc}"}
    return _described(obs)


def _observe_audio(chunk: MediaChunk) -> dict:
    try:
        with wave.open(io.BytesIO(_read(chunk))) as wav:
            pcm = wav.readframes(wav.getnframes())
        segments = voice_segments(pcm)
    except (InvalidAudio, wave.Error, EOFError, OSError) as exc:
        return {"error": f"undecodable: {exc}"}
    return {"segments": [[s.start_s, s.end_s] for s in segments]}


def _observe_pending(
    session: ProctoringSession, settings: dict, enabled: set[str], pending: list[MediaChunk]
) -> int:
    """Observe the snapshots, audio windows and phone frames not analysed yet (``pending``,
    from the run's one query, ``_unfolded``); frames are analysed as they are folded."""
    # Snapshots and the phone's frames never feed LOOKING_AWAY: no face-mesh call for the eyes.
    sensitivity = _sensitivity(settings, eyes=False)
    identity = "FACE_MISMATCH" in enabled
    now = timezone.now()
    for chunk in pending:
        if chunk.kind == MediaChunk.Kind.AUDIO:
            obs = _observe_audio(chunk) if "SOUND_DETECTED" in enabled else {"skipped": True}
        elif chunk.kind == MediaChunk.Kind.AUX:
            obs = _observe_picture(chunk, lambda rgb: analyse_frame(rgb, sensitivity=sensitivity))
        else:
            compare = chunk.kind == MediaChunk.Kind.SNAPSHOT and chunk.seq % IDENTITY_EVERY_SNAPSHOTS == 1
            obs = _observe_picture(
                chunk,
                lambda rgb: analyse_frame(rgb, sensitivity=sensitivity),
                identity=identity and compare,
                least=SNAPSHOT_COUNT_SIZE,
            )
        chunk.meta = {**chunk.meta, "obs": obs}
        chunk.analysed_at = now
    _observations_save(pending)
    return len(pending)


# --- phase 2: folding observations into flags -------------------------------------------


FOLDED_KINDS = (MediaChunk.Kind.FRAME, MediaChunk.Kind.SNAPSHOT, MediaChunk.Kind.AUDIO, MediaChunk.Kind.AUX)


OBSERVED_KINDS = (MediaChunk.Kind.SNAPSHOT, MediaChunk.Kind.AUDIO, MediaChunk.Kind.AUX)


_UNFOLDED_COLUMNS = ("id", "kind", "seq", "captured_at", "meta", "duration_seconds", "file", "analysed_at")
_unfolded_sql_by_vendor: dict[str, str] = {}


def _unfolded_sql() -> str:
    """The run's one read, as SQL written once per database vendor (the ORM built and compiled
    the query afresh on every run, which cost more CPU than running it). One ``SELECT`` per
    kind, joined by ``UNION ALL``, each a range of the (session, kind, seq) unique index: the
    chunks of each folded kind after its cursor, and the snapshots, audio windows and phone
    frames at or before their cursor not analysed yet. As one ``WHERE session = … AND (… OR …)``
    SQLite read every chunk the session had stored on every run (0.8 ms a run an hour into an
    exam, and growing with it). Only the model's own table and column names are formatted in;
    the values are parameters (``_unfolded_params``)."""
    sql = _unfolded_sql_by_vendor.get(connection.vendor)
    if sql is None:
        quote = connection.ops.quote_name
        meta = MediaChunk._meta

        def column(name: str) -> str:
            return quote(meta.get_field(name).column)

        kind, seq = column("kind"), column("seq")
        head = (
            f"SELECT {', '.join(column(name) for name in _UNFOLDED_COLUMNS)} "  # noqa: S608
            f"FROM {quote(meta.db_table)} WHERE {column('session')} = %s AND {kind} = %s AND "
        )
        after = [f"{head}{seq} > %s"] * len(FOLDED_KINDS)
        behind = [f"{head}{seq} <= %s AND {column('analysed_at')} IS NULL"] * len(OBSERVED_KINDS)
        sql = f"{' UNION ALL '.join([*after, *behind])} ORDER BY {kind}, {seq}"
        _unfolded_sql_by_vendor[connection.vendor] = sql
    return sql


def _unfolded_params(session, state: dict) -> list:
    """``_unfolded_sql``'s parameters: (session, kind, cursor) for each of its ``SELECT``s."""
    params: list = []
    for kind in (*FOLDED_KINDS, *OBSERVED_KINDS):
        params += [session.pk, kind, state.get(kind, {}).get("cursor", 0)]
    return params


def _unfolded(session, state: dict) -> tuple[dict[str, list[MediaChunk]], list[MediaChunk]]:
    """What a run reads, in one query (it used to take two: the chunks still to observe, then
    those to fold): every chunk of the folded kinds after its kind's cursor, in seq order, and
    every snapshot, audio window and phone frame not analysed yet (one that came after its
    cursor had passed it is observed for the replay, never folded). Returns the chunks to fold
    by kind, and those to observe first (frames are analysed while they are folded). The
    chunks carry only ``_UNFOLDED_COLUMNS`` (any other is read when first used)."""
    out: dict[str, list[MediaChunk]] = {kind: [] for kind in FOLDED_KINDS}
    pending = []
    rows = model_rows(_unfolded_sql(), _unfolded_params(session, state), MediaChunk, _UNFOLDED_COLUMNS)
    for chunk in rows:
        if chunk.kind != MediaChunk.Kind.FRAME and chunk.analysed_at is None:
            pending.append(chunk)
        if chunk.seq > state.get(chunk.kind, {}).get("cursor", 0):
            out[chunk.kind].append(chunk)
    return out, pending


def _cursors(state: dict) -> list:
    return [state.get(kind, {}).get("cursor", 0) for kind in FOLDED_KINDS]


def _in_order(chunks: list[MediaChunk], state: dict, final: bool):
    """Chunks of one kind after the cursor, in seq order, stopping at a fresh gap."""
    cursor = state.get("cursor", 0)
    chunks = [c for c in chunks if c.seq > cursor]
    if not chunks:
        return
    newest = max(c.captured_at for c in chunks)
    for chunk in chunks:
        if (
            chunk.seq != cursor + 1
            and not final
            and (newest - chunk.captured_at).total_seconds() < GAP_SKIP_SECONDS
        ):
            return  # wait for the missing one
        yield chunk
        cursor = chunk.seq
        state["cursor"] = cursor


def _observations_save(chunks: list[MediaChunk]) -> None:
    """Store the chunks' observations (meta and analysed_at): one UPDATE statement run for
    all of them, instead of bulk_update's CASE per row and field, which cost more CPU to
    build than the rows it wrote."""
    if not chunks:
        return
    meta, analysed_at = MediaChunk._meta.get_field("meta"), MediaChunk._meta.get_field("analysed_at")
    quote = connection.ops.quote_name
    table, pk = quote(MediaChunk._meta.db_table), quote(MediaChunk._meta.pk.column)
    columns = f"{quote(meta.column)} = %s, {quote(analysed_at.column)} = %s"
    # Only the model's own table and column names are formatted in; the values are parameters.
    sql = f"UPDATE {table} SET {columns} WHERE {pk} = %s"  # noqa: S608
    rows = [
        (
            meta.get_db_prep_save(chunk.meta, connection),
            analysed_at.get_db_prep_save(chunk.analysed_at, connection),
            chunk.pk,
        )
        for chunk in chunks
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


class _Folder:
    def __init__(
        self,
        session: ProctoringSession,
        settings: dict,
        enabled: set[str],
        chunks: dict[str, list[MediaChunk]],
    ) -> None:
        self.session = session
        self.settings = settings
        self.enabled = enabled
        self.state = session.analysis_state or {}
        self.flag_count = 0
        self.flag_writes = 0  # flags recorded or closed by this run: the score may have moved
        self.frames_analysed = 0
        self.chunks = chunks

    def tracker(self, type_: str, *, device: str = "") -> EpisodeTracker:
        states = self.state.setdefault("trackers", {})
        min_duration, max_gap = _timing(self.settings, type_, self.session)
        if device:
            # Frames come less often from the phone: a gap of two of them still joins an episode.
            max_gap = max(max_gap, 2.5 * AUX_FRAME_SECONDS)
            return EpisodeTracker(min_duration, max_gap, states.setdefault(f"{device}:{type_}", {}))
        return EpisodeTracker(min_duration, max_gap, states.setdefault(type_, {}))

    def at(self, seconds: float):
        return self.session.started_at + timedelta(seconds=seconds)

    def seconds(self, when) -> float:
        return round((when - self.session.started_at).total_seconds(), 3)

    def apply(self, type_: str, events, *, evidence=None, payload=None, device: str = "") -> None:
        for kind, run in events:
            if kind == "extend":
                continue  # the end is written when the episode closes
            evidence_chunk = evidence(run["ref"]) if evidence else None
            flag_record(
                session=self.session,
                type=type_,
                episode_key=f"{device}:{type_}@{run['start']:.3f}"
                if device
                else f"{type_}@{run['start']:.3f}",
                started_at=self.at(run["start"]),
                ended_at=self.at(run["end"]) if kind == "close" else None,
                evidence=evidence_chunk,
                payload=payload(run) if payload else None,
            )
            self.flag_count += kind == "open"
            self.flag_writes += 1

    def frames(self, final: bool) -> None:
        """Frames are analysed here, in capture order, so the stream analyser's reuse of
        still frames is the same whatever order the batches arrived in."""
        types = [t for t in FRAME_RULES if t in self.enabled]
        frame_state = self.state.setdefault("frame", {})
        analyser = FrameAnalyser(
            sensitivity=_sensitivity(self.settings, eyes="LOOKING_AWAY" in self.enabled),
            state=frame_state.get("analyser"),
        )
        observed = []
        seen: list[tuple] = []  # (captured_at, observation) of this run, for the candidate's warnings
        for chunk in _in_order(self.chunks[MediaChunk.Kind.FRAME], frame_state, final):
            obs = chunk.meta.get("obs")
            if obs is None:
                obs = _observe_frame(chunk, analyser, self.seconds(chunk.captured_at))
                chunk.meta = {**chunk.meta, "obs": obs}
                chunk.analysed_at = timezone.now()
                observed.append(chunk)
            seen.append((chunk.captured_at, obs))
            if "error" in obs:
                continue
            t = self.seconds(chunk.captured_at)
            for type_ in types:
                events = self.tracker(type_).feed(
                    t, FRAME_RULES[type_](obs), ref=chunk.pk, value=obs.get("faces", 0)
                )
                if events:
                    self.apply(type_, events, evidence=_chunk_by_pk)
        if seen:
            # Once for the run (the analyser's state is the same after its last frame whether
            # it is written after each one or at the end; a run that fails writes nothing).
            frame_state["analyser"] = analyser.state
        _observations_save(observed)
        self.frames_analysed = len(observed)
        if not final and self.session.status == ProctoringSession.Status.ACTIVE:
            warnings_apply(self.session, self.state.setdefault("warning", {}), seen, self.enabled)

    def aux(self, final: bool) -> None:
        """The paired phone's side view: its own episodes and flags, ``details.device: "aux"``."""
        types = [t for t in AUX_RULES if t in self.enabled]
        for chunk in _in_order(self.chunks[MediaChunk.Kind.AUX], self.state.setdefault("aux", {}), final):
            obs = chunk.meta.get("obs", {})
            if "error" in obs or "faces" not in obs:
                continue
            t = self.seconds(chunk.captured_at)
            for type_ in types:
                events = self.tracker(type_, device="aux").feed(
                    t, AUX_RULES[type_](obs), ref=chunk.pk, value=obs.get("faces", 0)
                )
                if events:
                    self.apply(
                        type_,
                        events,
                        evidence=_chunk_by_pk,
                        payload=lambda run: {"device": "aux"},
                        device="aux",
                    )

    def snapshots(self, final: bool) -> None:
        identity = self.state.setdefault("identity", {})
        chosen = set(self._random_photo_seqs()) if "PERIODIC_SNAPSHOT" in self.enabled else set()
        for chunk in _in_order(
            self.chunks[MediaChunk.Kind.SNAPSHOT], self.state.setdefault("snapshot", {}), final
        ):
            obs = chunk.meta.get("obs", {})
            t = self.seconds(chunk.captured_at)
            if chunk.seq in chosen:
                flag_record(
                    session=self.session,
                    type="PERIODIC_SNAPSHOT",
                    episode_key=f"PERIODIC_SNAPSHOT@{chunk.seq}",
                    started_at=chunk.captured_at,
                    ended_at=chunk.captured_at,
                    evidence=chunk,
                )
                self.flag_writes += 1
            descriptor = obs.get("descriptor")
            if "FACE_MISMATCH" not in self.enabled or descriptor is None:
                continue
            if "reference" not in identity:
                # Enrol from the first good snapshot when there is no reference photo.
                identity.update(reference=descriptor, source="enrolled", seq=chunk.seq)
                continue
            distance = descriptor_distance(np.asarray(identity["reference"]), np.asarray(descriptor))
            events = self.tracker("FACE_MISMATCH").feed(
                t, distance > IDENTITY_THRESHOLD, ref=chunk.pk, value=distance
            )
            if events:
                self.apply(
                    "FACE_MISMATCH",
                    events,
                    evidence=_chunk_by_pk,
                    payload=lambda run: {
                        "distance": round(run["peak"], 3),
                        "reference": identity.get("source"),
                    },
                )

    def _random_photo_seqs(self) -> list[int]:
        tracking = self.session.config.get("tracking", {})
        capture = self.session.config.get("capture", {})
        interval = max(capture.get("snapshotIntervalMs", 30000) / 1000, 1)
        expected = max(int(self.session.config.get("examSeconds", 3600) // interval), 1)
        wanted = min(int(tracking.get("numPhotosAtRandom", 25)), expected)
        # Seeded by the session: the same photos are chosen on every re-run.
        return random.Random(str(self.session.public_id)).sample(range(1, expected + 1), wanted)

    def audio(self, final: bool) -> None:
        if "SOUND_DETECTED" not in self.enabled:
            return
        for chunk in _in_order(self.chunks[MediaChunk.Kind.AUDIO], self.state.setdefault("audio", {}), final):
            obs = chunk.meta.get("obs", {})
            base = self.seconds(chunk.captured_at)
            for index, (start, end) in enumerate(obs.get("segments", [])):
                ref = [chunk.pk, index, start, end]
                tracker = self.tracker("SOUND_DETECTED")
                # Speech is continuous between a segment's ends: feed it as samples a quarter-second apart.
                events = []
                for t in [*np.arange(start, end, 0.25), end]:
                    events += tracker.feed(round(base + float(t), 3), True, ref=ref)
                if events:
                    self.apply("SOUND_DETECTED", events, evidence=self._audio_evidence)
            tracker = self.tracker("SOUND_DETECTED")
            events = tracker.feed(base + chunk.duration_seconds + 1e-3, False)
            if events:
                self.apply("SOUND_DETECTED", events, evidence=self._audio_evidence)

    def _audio_evidence(self, ref) -> MediaChunk | None:
        chunk_pk, index, start, end = ref
        source = MediaChunk.objects.filter(pk=chunk_pk).first()
        if source is None:
            return None
        seq = source.seq * 1000 + index
        existing = MediaChunk.objects.filter(
            session=self.session, kind=MediaChunk.Kind.EVIDENCE, seq=seq
        ).first()
        if existing:
            return existing
        with wave.open(io.BytesIO(_read(source))) as wav:
            pcm = wav.readframes(wav.getnframes())
        wav_bytes = pcm_to_wav(clip(pcm, max(start - 0.5, 0), end + 0.5))
        evidence = MediaChunk(
            institution_id=self.session.institution_id,
            session=self.session,
            kind=MediaChunk.Kind.EVIDENCE,
            seq=seq,
            captured_at=source.captured_at + timedelta(seconds=max(start - 0.5, 0)),
            duration_seconds=min(end + 0.5, source.duration_seconds) - max(start - 0.5, 0),
            content_type="audio/wav",
            size=len(wav_bytes),
            meta={"source": source.seq, "segment": [start, end]},
        )
        evidence.file.save(
            f"{self.session.institution.public_id}/{self.session.public_id}/evidence-{seq:09d}.wav",
            ContentFile(wav_bytes),
            save=False,
        )
        evidence.save()
        return evidence

    def finish(self) -> None:
        for type_ in [*FRAME_RULES, "FACE_MISMATCH", "SOUND_DETECTED"]:
            if type_ in self.enabled and type_ in self.state.get("trackers", {}):
                evidence = self._audio_evidence if type_ == "SOUND_DETECTED" else _chunk_by_pk
                self.apply(type_, self.tracker(type_).finish(), evidence=evidence)
        for type_ in AUX_RULES:
            if type_ in self.enabled and f"aux:{type_}" in self.state.get("trackers", {}):
                self.apply(
                    type_,
                    self.tracker(type_, device="aux").finish(),
                    evidence=_chunk_by_pk,
                    payload=lambda run: {"device": "aux"},
                    device="aux",
                )


def _chunk_by_pk(pk) -> MediaChunk | None:
    return MediaChunk.objects.filter(pk=pk).first()


# --- reference photo ---------------------------------------------------------------------


REFERENCE_UNAVAILABLE = "The reference photo could not be fetched."


def _reference_from_url(session: ProctoringSession, identity: dict) -> None:
    """Fetch candidateImageUrl once through the hardened fetcher: https, public addresses, limits.

    What went wrong is logged for operators; the dashboard gets one neutral
    sentence for every network failure, so the field cannot be used to probe
    which hosts and ports the server can reach.
    """
    url = session.candidate.image_url
    if not url or "reference" in identity or identity.get("url_tried"):
        return
    identity["url_tried"] = True
    from django.conf import settings as django_settings

    try:
        if not url.startswith("https://") and not django_settings.PROCTORME_ALLOW_PRIVATE_URLS:
            raise ValueError("only https reference photos are fetched")
        try:
            response = outbound_request(
                method="GET",
                url=url,
                headers={"User-Agent": "Proctorme/1.0", "Accept": "image/jpeg"},
                timeout=REFERENCE_TIMEOUT,
                max_bytes=REFERENCE_MAX_BYTES,
            )
        except OutboundError as exc:
            log.info("reference photo for session %s not fetched: %s", session.public_id, exc.reason)
            raise ValueError(REFERENCE_UNAVAILABLE) from None
        if response.status != 200:
            log.info("reference photo for session %s: HTTP %s", session.public_id, response.status)
            raise ValueError(REFERENCE_UNAVAILABLE)
        rgb = decode_jpeg(response.body)
        descriptor = face_descriptor(rgb)
        if descriptor is None:
            raise ValueError("no face found in the reference photo")
    except InvalidImage:
        identity["url_error"] = "The reference photo is not a readable JPEG."
        return
    except ValueError as exc:
        identity["url_error"] = str(exc)[:200]
        log.info("reference photo for session %s not used: %s", session.public_id, exc)
        return
    identity.update(reference=[round(float(x), 5) for x in descriptor], source="candidateImageUrl")


# --- entry point ---------------------------------------------------------------------------


# What a run reads again under the session's row lock: every column but the foreign keys,
# whose objects (institution, assessment, candidate) never change and stay as loaded.
_LOCKED_FIELDS = [
    f for f in ProctoringSession._meta.concrete_fields if not f.is_relation and not f.primary_key
]
_LOCKED_NAMES = tuple(f.name for f in [ProctoringSession._meta.pk, *_LOCKED_FIELDS])
_locked_sql_by_vendor: dict[str, str] = {}


def _locked_sql() -> str:
    """The locking read as SQL written once per database vendor (refresh_from_db built and
    compiled it afresh on every run). Only the model's own names are formatted in."""
    sql = _locked_sql_by_vendor.get(connection.vendor)
    if sql is None:
        quote = connection.ops.quote_name
        meta = ProctoringSession._meta
        columns = ", ".join(quote(f.column) for f in [meta.pk, *_LOCKED_FIELDS])
        lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
        sql = f"SELECT {columns} FROM {quote(meta.db_table)} WHERE {quote(meta.pk.column)} = %s{lock}"  # noqa: S608
        _locked_sql_by_vendor[connection.vendor] = sql
    return sql


def _locked(session: ProctoringSession) -> ProctoringSession:
    """``session`` with its row locked and its columns read again under the lock (the task
    loaded it with its institution, assessment and candidate: they are kept, not built again)."""
    fresh = next(iter(model_rows(_locked_sql(), [session.pk], ProctoringSession, _LOCKED_NAMES)), None)
    if fresh is None:
        raise ProctoringSession.DoesNotExist("the session is gone")
    for field in _LOCKED_FIELDS:
        setattr(session, field.attname, getattr(fresh, field.attname))
    return session


_fields_save_sql: dict[tuple, str] = {}


def _session_fields_save(session: ProctoringSession, names: list[str]) -> None:
    """``session.save(update_fields=names)`` as one UPDATE written once per vendor and fields
    (the ORM compiled it afresh on every run; nothing listens to the session's saves)."""
    meta = ProctoringSession._meta
    fields = [meta.get_field(name) for name in names]
    key = (connection.vendor, *names)
    sql = _fields_save_sql.get(key)
    if sql is None:
        quote = connection.ops.quote_name
        columns = ", ".join(f"{quote(f.column)} = %s" for f in fields)
        # Only the model's own table and column names are formatted in; the values are parameters.
        sql = _fields_save_sql[key] = (
            f"UPDATE {quote(meta.db_table)} SET {columns} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
        )
    params = [f.get_db_prep_save(getattr(session, f.attname), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, session.pk])


# A running session's score moves with the clock too (an open flag grows, the exam gets
# longer), and flags raised by the widget's signals count in it: a run that recorded or closed
# no flag scores the session again only when its live score is this old.
LIVE_SCORE_SECONDS = 10.0


def session_analyse(*, session: ProctoringSession, final: bool = False) -> dict:
    """Analyse what is pending and fold it into flags. Safe to run any number of times."""
    settings = detector_settings_for(session)
    enabled = enabled_detectors(session, settings)
    # Read and observe before the session's row is locked (an upload meanwhile is not held up
    # by a snapshot's analysis; one committed from now on has queued the next run, which takes
    # it). The cursors are those the session was loaded with: should another run have moved
    # them since, the chunks are read again under the lock.
    cursors = _cursors(session.analysis_state or {})
    chunks, pending = _unfolded(session, session.analysis_state or {})
    observed = _observe_pending(session, settings, enabled, pending)
    if "FACE_MISMATCH" in enabled and session.candidate.image_url:
        identity = dict((session.analysis_state or {}).get("identity", {}))
        if "reference" not in identity and not identity.get("url_tried"):
            _reference_from_url(session, identity)
            with transaction.atomic():
                locked = ProctoringSession.objects.select_for_update().get(pk=session.pk)
                locked.analysis_state = {
                    **locked.analysis_state,
                    "identity": {**locked.analysis_state.get("identity", {}), **identity},
                }
                locked.save(update_fields=["analysis_state"])
    with transaction.atomic():
        locked = _locked(session)
        if _cursors(locked.analysis_state or {}) != cursors:
            chunks, pending = _unfolded(locked, locked.analysis_state or {})
            observed += _observe_pending(locked, settings, enabled, pending)
        folder = _Folder(locked, settings, enabled, chunks)
        folder.frames(final)
        folder.snapshots(final)
        folder.audio(final)
        folder.aux(final)
        if final:
            folder.finish()
        locked.analysis_state = folder.state
        fields = ["analysis_state"]
        if not final and locked.status == ProctoringSession.Status.ACTIVE:
            now = timezone.now().timestamp()
            scored_at = folder.state.get("scored_at")
            if (
                folder.flag_writes
                or locked.trust_score is None
                or not isinstance(scored_at, int | float)
                or not 0 <= now - scored_at < LIVE_SCORE_SECONDS
            ):
                folder.state["scored_at"] = now
                result = session_score_compute(session=locked)
                if result.score != locked.trust_score:
                    locked.trust_score = result.score
                    fields.append("trust_score")
                    message = {
                        "type": "institution.message",
                        "message": {
                            "type": "score",
                            "sessionId": str(locked.public_id),
                            "trustScore": result.score,
                            "band": result.band,
                        },
                    }
                    group = institution_group(locked.institution.public_id)
                    transaction.on_commit(lambda: broadcast(group, message))
        _session_fields_save(locked, fields)
    return {"observed": observed + folder.frames_analysed, "flags": folder.flag_count}


# A run queued and not started yet, per session (cache key on its public id). It is set when
# a run is queued and cleared when the run starts, before it reads what is pending, so an
# upload that finds it set leaves its chunks to that run: a session has at most one run
# waiting in the queue, however many uploads arrive meanwhile (one per upload before, and a
# backlog of runs that found nothing left to do). An upload that arrives once the run has
# started queues the next one. The key expires after QUEUED_SECONDS, so a run lost on its way
# to the broker (it was away) holds nothing back for longer: the sweep queues it then.
QUEUED_SECONDS = 120


def _queued_key(public_id) -> str:
    return f"analyse:queued:{public_id}"


def session_analysis_queue(session: ProctoringSession) -> None:
    """Queue the session's analysis once the transaction commits, unless a run of it is
    already queued and not started (that run takes every chunk still pending)."""
    public_id = str(session.public_id)
    transaction.on_commit(lambda: _queue_once(public_id))


def _queue_once(public_id: str) -> bool:
    from proctorme.tasks import enqueue
    from sessions.tasks import session_analyse_task

    try:
        fresh = cache.add(_queued_key(public_id), 1, timeout=QUEUED_SECONDS)
    except Exception:  # the cache is away: queue it, as every upload did before
        log.warning("could not mark the analysis of %s queued", public_id, exc_info=True)
        fresh = True
    if fresh:
        enqueue(session_analyse_task, public_id)
    return fresh


def _queued_clear(public_id: str) -> None:
    try:
        cache.delete(_queued_key(public_id))
    except Exception:  # it expires by itself; an upload meanwhile may wait for the sweep
        log.warning("could not clear the queued mark of %s", public_id, exc_info=True)


def session_analyse_serialised(*, session: ProctoringSession, final: bool = False) -> None:
    """Run session_analyse, one at a time per session; a run asked for meanwhile runs after."""
    # Started: an upload from now on queues the next run (this one may already have read past it).
    _queued_clear(str(session.public_id))
    # The lock dies with its holder (proctorme.locks): a worker killed mid-run does not
    # leave its redelivered task locked out.
    # A run that finds the lock held marks "again"; the holder, once done, runs once more if
    # the mark was there (cache.delete says so: one cache call per run, not a delete and a get).
    # A mark left from before the holder started costs one run that finds little to do.
    again_key = f"analyse:again:{session.pk}"
    while True:
        with exclusive(f"analyse:{session.pk}") as held:
            if not held:
                cache.set(again_key, 1, timeout=600)
                return
            session_analyse(session=session, final=final)
        if not cache.delete(again_key):
            return


def analysis_pending_enqueue() -> int:
    """Queue analysis for running sessions whose uploads have waited too long.

    Each accepted upload queues its session's analysis, which takes every chunk
    still pending; when the broker was away at that moment, nothing was queued.
    This sweep (on the beat schedule) is the safety net; a session whose run is queued and
    not started is left to it. Returns how many sessions it queued.
    """
    cutoff = timezone.now() - timedelta(seconds=django_settings.PROCTORME_ANALYSIS_PENDING_GRACE)
    sessions = (
        MediaChunk.objects.filter(
            analysed_at__isnull=True,
            created_at__lte=cutoff,
            kind__in=[
                MediaChunk.Kind.FRAME,
                MediaChunk.Kind.SNAPSHOT,
                MediaChunk.Kind.AUDIO,
                MediaChunk.Kind.AUX,
            ],
            session__status=ProctoringSession.Status.ACTIVE,
        )
        .order_by()  # without the model's ordering, distinct is over the sessions alone
        .values_list("session__public_id", flat=True)
        .distinct()
    )
    ids = [str(public_id) for public_id in sessions[:1000]]
    return sum(_queue_once(public_id) for public_id in ids)
