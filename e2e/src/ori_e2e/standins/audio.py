"""Audio for the speech stand-ins: what they "hear" and what they "say".

A speech-to-text stand-in cuts the audio it receives into utterances by level
(:class:`Endpointer`, content-based, so the result does not depend on how fast the audio
arrives) and hands each utterance to a :data:`Transcriber`. A text-to-speech stand-in turns
text into 16-bit mono PCM with a :data:`Synthesizer`. Both are plain callables, so a test can
pass a real recogniser or voice; the defaults need nothing: :class:`ExpectedLines` is told
the text it will hear, in order, and :func:`tone` answers with a tone whose length is
proportional to the text.
"""

from __future__ import annotations

import io
import math
import threading
import wave
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Transcriber = Callable[[bytes, int], str]
"""``(pcm, sample_rate_hz) -> text``: one utterance of 16-bit mono PCM to its words."""

Synthesizer = Callable[[str, int], bytes]
"""``(text, sample_rate_hz) -> pcm``: text to 16-bit mono PCM at the asked rate."""

TONE_HZ = 440.0
TONE_S_PER_CHAR = 0.06


def tone(text: str, rate_hz: int) -> bytes:
    """A 440 Hz tone, 60 ms per character (at least 0.2 s), faded in and out, at -12 dBFS."""
    count = int(max(0.2, TONE_S_PER_CHAR * len(text.strip())) * rate_hz)
    fade = max(1, rate_hz // 100)
    amplitude = 0.25 * 32767
    samples = array("h")
    for i in range(count):
        ramp = min(1.0, i / fade, (count - 1 - i) / fade)
        samples.append(int(amplitude * ramp * math.sin(2 * math.pi * TONE_HZ * i / rate_hz)))
    return samples.tobytes()


class ExpectedLines:
    """A transcriber told what it will hear: each utterance is the next line, in order.

    Every utterance it is given is kept in ``heard`` (its length in seconds), so a test can
    check that audio really arrived. Past the last line it hears nothing (``""``).
    """

    def __init__(self, lines: Sequence[str]) -> None:
        self._lines = list(lines)
        self._lock = threading.Lock()
        self.heard: list[float] = []

    def __call__(self, pcm: bytes, rate_hz: int) -> str:
        """The next expected line for this utterance."""
        with self._lock:
            self.heard.append(len(pcm) / 2 / rate_hz)
            return self._lines.pop(0) if self._lines else ""


def pcm_from_wav(data: bytes) -> tuple[bytes, int]:
    """The 16-bit mono PCM and rate inside a WAV file.

    Raises:
        ValueError: Not a WAV file, or not 16-bit mono.
    """
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                raise ValueError("only 16-bit mono WAV is accepted")
            return wav.readframes(wav.getnframes()), wav.getframerate()
    except (wave.Error, EOFError) as exc:
        raise ValueError(f"not a WAV file: {exc}") from exc


def _rms(pcm: bytes) -> float:
    samples = array("h", pcm)
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


@dataclass
class Utterance:
    """One stretch of speech the endpointer found, with its place in the stream."""

    pcm: bytes
    start_s: float
    end_s: float


@dataclass
class Endpointer:
    """Finds speech in a stream of 16-bit mono PCM by level, 10 ms at a time.

    Speech starts after ``min_speech_ms`` of frames louder than ``threshold_dbfs`` and ends
    after ``silence_ms`` of quieter ones; an utterance keeps ``pre_roll_ms`` of audio before
    its start.
    """

    rate_hz: int
    silence_ms: int = 400
    min_speech_ms: int = 60
    pre_roll_ms: int = 300
    threshold_dbfs: float = -45.0
    _pending: bytearray = field(default_factory=bytearray)
    _speech: bytearray = field(default_factory=bytearray)
    _history: bytearray = field(default_factory=bytearray)
    _voiced_run: int = 0
    _silent_run: int = 0
    _in_speech: bool = False
    _start_s: float = 0.0
    frames: int = 0
    """10 ms frames received so far (the stream's clock)."""

    @property
    def frame_bytes(self) -> int:
        """Bytes in one 10 ms frame."""
        return max(2, self.rate_hz // 100 * 2)

    @property
    def position_s(self) -> float:
        """Seconds of audio received so far."""
        return self.frames / 100

    @property
    def in_speech(self) -> bool:
        """Whether an utterance is under way."""
        return self._in_speech

    def feed(self, pcm: bytes) -> tuple[bool, list[Utterance]]:
        """Take more audio; returns whether speech started in it, and utterances it ended."""
        self._pending.extend(pcm)
        started, ended = False, []
        size = self.frame_bytes
        threshold = 32768 * 10 ** (self.threshold_dbfs / 20)
        while len(self._pending) >= size:
            frame = bytes(self._pending[:size])
            del self._pending[:size]
            self.frames += 1
            voiced = _rms(frame) > threshold
            if self._step(frame, voiced):
                started = True
            if self._in_speech and self._silent_run * 10 >= self.silence_ms:
                ended.append(self._finish())
        return started, ended

    def _step(self, frame: bytes, voiced: bool) -> bool:
        keep = self.pre_roll_ms // 10 * len(frame)
        if not self._in_speech:
            self._history.extend(frame)
            del self._history[: max(0, len(self._history) - keep)]
            self._voiced_run = self._voiced_run + 1 if voiced else 0
            if self._voiced_run * 10 >= self.min_speech_ms:
                self._in_speech, self._silent_run = True, 0
                self._speech = bytearray(self._history)
                self._start_s = max(0.0, self.position_s - len(self._history) / 2 / self.rate_hz)
                return True
            return False
        self._speech.extend(frame)
        self._silent_run = 0 if voiced else self._silent_run + 1
        return False

    def _finish(self) -> Utterance:
        end_s = self.position_s - self._silent_run / 100  # where the speech itself ended
        utterance = Utterance(bytes(self._speech), self._start_s, end_s)
        self._in_speech, self._voiced_run, self._silent_run = False, 0, 0
        self._speech, self._history = bytearray(), bytearray()
        return utterance

    def flush(self) -> Utterance | None:
        """End the utterance under way now (a client's finalize); None when there is none."""
        return self._finish() if self._in_speech else None


def words_with_times(text: str, start_s: float, end_s: float) -> list[tuple[str, float, float]]:
    """``text``'s words, each given a share of ``start_s..end_s`` proportional to its length."""
    words = text.split()
    total = sum(len(w) for w in words) or 1
    span = max(0.0, end_s - start_s)
    out, at = [], start_s
    for word in words:
        length = span * len(word) / total
        out.append((word, round(at, 3), round(at + length, 3)))
        at += length
    return out
