"""Audio helpers for the simulator: G.711 mu-law, levels, and the caller's voice."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import soxr

from ori_worker.providers.espeak_engine import espeak_engine

RATE_HZ = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_BYTES = FRAME_SAMPLES * 2
_BIAS, _CLIP = 0x84, 32635


def ulaw_encode(pcm: bytes) -> bytes:
    """16-bit PCM to G.711 mu-law."""
    x = np.frombuffer(pcm, dtype=np.int16).astype(np.int32)
    sign = np.where(x < 0, 0x80, 0)
    mag = np.minimum(np.abs(x), _CLIP) + _BIAS
    exponent = np.floor(np.log2(mag)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (mag >> (exponent + 3)) & 0x0F
    return bytes((~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes())


def _ulaw_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    sign, exponent, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
    mag = ((mantissa << 3) + _BIAS) << exponent
    return np.where(sign != 0, _BIAS - mag, mag - _BIAS).astype("<i2")


_ULAW_TO_PCM = _ulaw_table()


def ulaw_decode(data: bytes) -> bytes:
    """G.711 mu-law to 16-bit PCM (one table look-up per sample)."""
    return _ULAW_TO_PCM[np.frombuffer(data, dtype=np.uint8)].tobytes()


@lru_cache(maxsize=4096)
def ulaw_encode_cached(pcm: bytes) -> bytes:
    """:func:`ulaw_encode`, remembered: a caller says the same frames in every call."""
    return ulaw_encode(pcm)


def level_dbfs(pcm: bytes) -> float:
    """RMS level of 16-bit PCM in dB full scale (-120 for silence)."""
    if not pcm:
        return -120.0
    x = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    rms = float(np.sqrt(np.mean(x * x)))
    return -120.0 if rms < 1.0 else 20.0 * float(np.log10(rms / 32768.0))


def louder_than(pcm: bytes, dbfs: float) -> bool:
    """Whether the RMS level of 16-bit PCM is above ``dbfs``.

    The same as ``level_dbfs(pcm) > dbfs`` without the logarithm: the simulator asks this of
    every frame it plays.
    """
    if not pcm:
        return False
    x = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    floor = max(1.0, 32768.0 * 10 ** (dbfs / 20))
    return float(x @ x) > floor * floor * x.size


@dataclass(frozen=True)
class Utterance:
    """A caller line as 8 kHz PCM, with where its speech really starts and ends."""

    text: str
    pcm: bytes
    speech_start_s: float
    speech_end_s: float


@lru_cache(maxsize=64)
def speak(
    text: str, voice: str = "en-us", speed: float = 1.0, threshold_dbfs: float = -60.0
) -> Utterance:
    """Synthesise ``text`` at 8 kHz and find its first and last voiced 20 ms frames."""
    speech = espeak_engine().synthesize(text, voice=voice, speed=speed)
    samples = np.frombuffer(speech.pcm, dtype=np.int16)
    pcm = soxr.resample(samples, speech.sample_rate_hz, RATE_HZ).astype(np.int16).tobytes()
    frames = [pcm[i : i + FRAME_BYTES] for i in range(0, len(pcm), FRAME_BYTES)]
    voiced = [i for i, f in enumerate(frames) if level_dbfs(f) > threshold_dbfs]
    start = (voiced[0] if voiced else 0) * FRAME_SAMPLES / RATE_HZ
    end = ((voiced[-1] + 1) if voiced else len(frames)) * FRAME_SAMPLES / RATE_HZ
    return Utterance(text, pcm, start, end)
