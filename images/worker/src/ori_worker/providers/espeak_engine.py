"""eSpeak NG through ctypes, from the library and data that ship in ``espeakng-loader``.

eSpeak keeps global state (one voice, one callback), so one :class:`EspeakEngine` per process
serialises every synthesis behind a lock. Synthesis is fast (a sentence in about 15 ms), so
callers run :meth:`EspeakEngine.synthesize` in a thread and get the whole utterance at once.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import espeakng_loader

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_CHARS_UTF8 = 1
_ENDPAUSE = 0x1000
_PARAM_RATE = 1
_EE_OK = 0
_DEFAULT_WPM = 175

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class EspeakError(RuntimeError):
    """eSpeak NG could not be loaded, or rejected a voice or a text."""


@dataclass(frozen=True)
class Speech:
    """One synthesised utterance: 16-bit mono PCM at ``sample_rate_hz``."""

    pcm: bytes
    sample_rate_hz: int

    @property
    def duration_s(self) -> float:
        """Length of the audio in seconds."""
        return len(self.pcm) / 2 / self.sample_rate_hz


class EspeakEngine:
    """The process-wide eSpeak NG instance; use :func:`espeak_engine` to get it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: list[bytes] = []
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self._lib.espeak_Initialize.argtypes = [
            ctypes.c_int,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_int,
        ]
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        data_parent = str(Path(espeakng_loader.get_data_path()).parent).encode()
        rate = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_parent, 0)
        if rate <= 0:
            raise EspeakError(f"espeak_Initialize failed ({rate})")
        self.sample_rate_hz: int = rate
        # Keep a reference: ctypes frees a callback that is garbage-collected.
        self._callback = _SynthCallback(self._on_audio)
        self._lib.espeak_SetSynthCallback(self._callback)

    def _on_audio(self, wav: ctypes._Pointer[ctypes.c_short], count: int, _: int) -> int:
        if wav and count > 0:
            self._chunks.append(ctypes.string_at(wav, count * 2))
        return 0

    def synthesize(self, text: str, *, voice: str = "en-us", speed: float = 1.0) -> Speech:
        """Speak ``text`` with ``voice`` at ``speed`` times the normal rate.

        Args:
            text: What to say (UTF-8; SSML is not interpreted).
            voice: An eSpeak voice name such as ``en-us`` or ``en-gb+f3``.
            speed: Rate multiplier; 1.0 is eSpeak's default 175 words per minute.

        Returns:
            The utterance, with a short trailing pause.

        Raises:
            EspeakError: The voice is unknown or synthesis failed.
        """
        encoded = text.encode("utf-8") + b"\0"
        with self._lock:
            self._chunks = []
            if self._lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                raise EspeakError(f"unknown eSpeak voice {voice!r}")
            self._lib.espeak_SetParameter(_PARAM_RATE, round(_DEFAULT_WPM * speed), 0)
            status = self._lib.espeak_Synth(
                encoded, len(encoded), 0, 0, 0, _CHARS_UTF8 | _ENDPAUSE, None, None
            )
            if status != _EE_OK:
                raise EspeakError(f"espeak_Synth failed ({status})")
            self._lib.espeak_Synchronize()
            pcm = b"".join(self._chunks)
            self._chunks = []
        return Speech(pcm=pcm, sample_rate_hz=self.sample_rate_hz)


@lru_cache(maxsize=1)
def espeak_engine() -> EspeakEngine:
    """The process-wide engine, initialised on first use."""
    return EspeakEngine()
