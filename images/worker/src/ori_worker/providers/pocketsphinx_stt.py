"""PocketSphinx speech-to-text as a pipecat segmented STT service (offline, no key).

Each VAD-delimited utterance is decoded at 16 kHz by PocketSphinx's bundled en-us model. With
phrases (``SttConfig.phrases``) the decoder uses a JSGF grammar whose sentences are those
phrases, which makes it exact on clear speech; without phrases it falls back to the bundled
trigram language model (slow and rough on telephone audio).

A grammar decoder knows only the words of its phrases: they are looked up in the bundled
dictionary (134,000 words, about 22 MB once loaded) and added to a decoder that starts with
none, so a worker does not hold the whole dictionary for a dozen words.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soxr
from pipecat.frames.frames import ErrorFrame, Frame, TranscriptionFrame
from pipecat.services.settings import STTSettings
from pipecat.services.stt_service import SegmentedSTTService
from pipecat.utils.time import time_now_iso8601
from pocketsphinx import Decoder, get_model_path

from ori_worker.providers.service_settings import complete

log = logging.getLogger(__name__)

MODEL_RATE_HZ = 16000
_NBEST = 20
_WORD = re.compile(r"[a-z']+")


def trim_to_speech(
    samples: np.ndarray, rate_hz: int, *, margin_s: float = 0.1, floor_db: float = -35.0
) -> np.ndarray:
    """Cut leading and trailing silence, keeping ``margin_s`` around the speech.

    A frame (10 ms) is speech when its level is within ``floor_db`` of the loudest frame.
    PocketSphinx decodes an utterance far more reliably without long silent edges (the
    segment comes with up to a second of pre-roll).
    """
    frame = max(1, rate_hz // 100)
    count = len(samples) // frame
    if count == 0:
        return samples
    blocks = samples[: count * frame].astype(np.float64).reshape(count, frame)
    rms = np.sqrt(np.mean(blocks * blocks, axis=1)) + 1e-9
    voiced = np.flatnonzero(20 * np.log10(rms / rms.max()) > floor_db)
    if rms.max() < 1.0 or len(voiced) == 0:
        return samples
    margin = int(margin_s * rate_hz)
    start = max(0, int(voiced[0]) * frame - margin)
    end = min(len(samples), (int(voiced[-1]) + 1) * frame + margin)
    return samples[start:end]


class GrammarError(ValueError):
    """The phrases cannot form a PocketSphinx grammar (for example, unknown words)."""


def normalise_phrase(phrase: str) -> str:
    """Lower-case ``phrase`` and keep only its words (letters and apostrophes)."""
    return " ".join(_WORD.findall(phrase.lower()))


def build_grammar(phrases: Sequence[str]) -> str:
    """Return a JSGF grammar whose public rule matches exactly one of ``phrases``.

    Raises:
        GrammarError: No phrase has any word.
    """
    cleaned = sorted({p for p in (normalise_phrase(x) for x in phrases) if p})
    if not cleaned:
        raise GrammarError("no usable phrase: each needs at least one word")
    body = " | ".join(f"( {p} )" for p in cleaned)
    return f"#JSGF V1.0;\ngrammar ori;\npublic <utterance> = {body} ;\n"


@dataclass
class Recogniser:
    """One decoder, configured for one bot's phrases; not safe for concurrent use."""

    decoder: Decoder
    phrases: frozenset[str]
    searches: set[str] = field(default_factory=set)
    """Grammar searches already added to this decoder (reused across calls)."""

    def decode(self, pcm16k: bytes) -> str:
        """Decode one utterance of 16 kHz 16-bit mono PCM; '' when nothing was recognised.

        In grammar mode the best path sometimes stops short of a whole phrase (a pruned
        search); the best of the N-best list that is a whole phrase is taken instead.
        """
        self.decoder.start_utt()
        self.decoder.process_raw(pcm16k, full_utt=True)
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        best = str(hyp.hypstr).strip() if hyp is not None else ""
        if not self.phrases or best in self.phrases or hyp is None:
            return best
        for _, candidate in zip(range(_NBEST), self.decoder.nbest(), strict=False):
            text = str(candidate.hypstr).strip()
            if text in self.phrases:
                return text
        return best


_pool_lock = threading.Lock()
_idle: list[Recogniser] = []


_DICTIONARY = Path(get_model_path()) / "en-us" / "cmudict-en-us.dict"
_pronunciations: dict[str, list[tuple[str, str]]] = {}
"""Dictionary entries (``word`` or ``word(2)``, phones) of the words looked up so far."""


def pronunciations(words: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """The bundled dictionary's entries for ``words``, alternatives included.

    Unknown words are left out. Words not looked up before cost one pass over the file.
    """
    wanted = set(words)
    missing = sorted(wanted - _pronunciations.keys())
    if missing:
        found: dict[str, list[tuple[str, str]]] = {w: [] for w in missing}
        names = b"|".join(re.escape(w.encode()) for w in missing)
        entry = re.compile(rb"^((" + names + rb")(?:\(\d+\))?) ([^\n]+)$", re.MULTILINE)
        for match in entry.finditer(_DICTIONARY.read_bytes()):
            found[match[2].decode()].append((match[1].decode(), match[3].decode().strip()))
        with _pool_lock:
            _pronunciations.update(found)
    return {w: _pronunciations[w] for w in wanted if _pronunciations[w]}


def _new_decoder(with_lm: bool) -> Decoder:
    """A decoder at 16 kHz, with half-bit dither from a fixed seed.

    Exact digital silence (synthetic audio, muted legs) otherwise skews the live cepstral mean
    and spoils the utterances after it; the fixed seed keeps recognition reproducible. A
    grammar decoder starts with an empty dictionary (see the module docstring).
    """
    if with_lm:
        return Decoder(samprate=MODEL_RATE_HZ, loglevel="FATAL", dither=True, seed=11)
    fd, empty = tempfile.mkstemp(prefix="ori-dict-", suffix=".dict")
    os.close(fd)
    try:
        return Decoder(
            samprate=MODEL_RATE_HZ, lm=None, dict=empty, loglevel="FATAL", dither=True, seed=11
        )
    finally:
        Path(empty).unlink(missing_ok=True)


def _teach(decoder: Decoder, words: set[str]) -> list[str]:
    """Add the words ``decoder`` lacks from the bundled dictionary; returns unknown words."""
    new = {w for w in words if decoder.lookup_word(w) is None}
    known = pronunciations(new)
    entries = [entry for w in sorted(known) for entry in known[w]]
    for i, (name, phones) in enumerate(entries):
        decoder.add_word(name, phones, update=i == len(entries) - 1)
    return sorted(new - known.keys())


def prewarm() -> None:
    """Load one grammar decoder (acoustic model and dictionary) ahead of the next call."""
    with _pool_lock:
        if _idle:
            return
    recogniser = Recogniser(_new_decoder(with_lm=False), frozenset())
    with _pool_lock:
        _idle.append(recogniser)


def open_recogniser(phrases: Sequence[str]) -> Recogniser:
    """A recogniser for ``phrases`` (grammar mode) or, with none, for open speech (LM mode).

    Raises:
        GrammarError: A phrase has a word the dictionary does not know.
    """
    if not phrases:
        return Recogniser(decoder=_new_decoder(with_lm=True), phrases=frozenset())
    grammar = build_grammar(phrases)
    with _pool_lock:
        pooled = _idle.pop() if _idle else None
    recogniser = pooled or Recogniser(_new_decoder(with_lm=False), frozenset())
    decoder = recogniser.decoder
    unknown = _teach(decoder, {w for p in phrases for w in normalise_phrase(p).split()})
    if unknown:
        release(recogniser)
        raise GrammarError(f"words not in the PocketSphinx dictionary: {', '.join(unknown)}")
    name = "g" + hashlib.sha1(grammar.encode(), usedforsecurity=False).hexdigest()[:16]
    if name not in recogniser.searches:
        decoder.add_jsgf_string(name, grammar)
        recogniser.searches.add(name)
    decoder.activate_search(name)
    recogniser.phrases = frozenset(normalise_phrase(p) for p in phrases)
    return recogniser


def release(recogniser: Recogniser) -> None:
    """Return a grammar recogniser to the pool for the next call."""
    with _pool_lock:
        if len(_idle) < 2:
            _idle.append(recogniser)


class PocketSphinxSTTService(SegmentedSTTService):
    """Transcribe each utterance with PocketSphinx after the VAD says it ended."""

    def __init__(
        self,
        *,
        recogniser: Recogniser,
        language: str = "en-US",
        delay_s: float = 0.0,
        **kwargs: object,
    ) -> None:
        """Create the service.

        Args:
            recogniser: The decoder to use (see :func:`open_recogniser`).
            language: BCP-47 tag stamped on transcripts.
            delay_s: Extra fixed delay per utterance, for benchmark stand-ins.
            **kwargs: Passed to :class:`SegmentedSTTService`.
        """
        super().__init__(
            settings=complete(STTSettings, model="en-us", language=language),
            trailing_silence_secs=0.0,
            **kwargs,  # type: ignore[arg-type]
        )
        self._recogniser = recogniser
        self._delay_s = delay_s
        self.decode_seconds: list[float] = []

    @property
    def wants_wav_segments(self) -> bool:
        """PocketSphinx reads raw PCM."""
        return False

    def can_generate_metrics(self) -> bool:
        """Report processing time and usage."""
        return True

    async def cleanup(self) -> None:
        """Give the decoder back to the pool."""
        await super().cleanup()  # type: ignore[no-untyped-call]
        if self._recogniser.phrases:
            release(self._recogniser)

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame | None, None]:
        """Decode one utterance and yield its transcript (nothing if it was not understood)."""
        await self.start_processing_metrics()
        try:
            samples = np.frombuffer(audio, dtype=np.int16)
            if self.sample_rate != MODEL_RATE_HZ:
                samples = soxr.resample(samples, self.sample_rate, MODEL_RATE_HZ)
            pcm = trim_to_speech(samples.astype(np.int16), MODEL_RATE_HZ).tobytes()
            started = time.perf_counter()
            text = await asyncio.to_thread(self._recogniser.decode, pcm)
            self.decode_seconds.append(time.perf_counter() - started)
            if self._delay_s:
                await asyncio.sleep(self._delay_s)
        except Exception as exc:  # a decoder failure ends this utterance, not the call
            yield ErrorFrame(error=f"PocketSphinx failed: {exc}")
            return
        finally:
            await self.stop_processing_metrics()
        log.debug("pocketsphinx heard %r in %.2f s of audio", text, len(pcm) / 2 / MODEL_RATE_HZ)
        if text:
            yield TranscriptionFrame(text, self._user_id, time_now_iso8601(), language=None)
