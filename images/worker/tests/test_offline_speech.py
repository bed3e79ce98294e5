"""PocketSphinx and eSpeak NG, the offline speech providers, on telephone-quality audio."""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from ori_worker.providers.espeak_engine import EspeakError, espeak_engine
from ori_worker.providers.pocketsphinx_stt import (
    GrammarError,
    build_grammar,
    open_recogniser,
    trim_to_speech,
)
from ori_worker.sim.audio import RATE_HZ, level_dbfs, speak, ulaw_decode, ulaw_encode

pytestmark = pytest.mark.unit

PHRASES = [
    "I would like to book an appointment",
    "Tuesday at ten works for me",
    "What time do you open",
    "Goodbye",
]


def telephone(text: str) -> bytes:
    """``text`` as a carrier delivers it (8 kHz mu-law), upsampled to the model's 16 kHz."""
    narrow = np.frombuffer(ulaw_decode(ulaw_encode(speak(text).pcm)), dtype=np.int16)
    wide: bytes = soxr.resample(narrow, RATE_HZ, 16000).astype(np.int16).tobytes()
    return wide


def test_espeak_speaks_and_rejects_unknown_voices() -> None:
    speech = espeak_engine().synthesize("Hello there", voice="en-us", speed=1.2)
    assert speech.sample_rate_hz == 22050 and 0.4 < speech.duration_s < 2.0
    assert level_dbfs(speech.pcm) > -40
    with pytest.raises(EspeakError, match="unknown eSpeak voice"):
        espeak_engine().synthesize("x", voice="no-such-voice")


def test_the_grammar_decoder_recognises_each_phrase_on_telephone_audio() -> None:
    recogniser = open_recogniser(PHRASES)
    heard = [recogniser.decode(telephone(p)) for p in PHRASES]
    assert heard == [p.lower() for p in PHRASES]


def test_the_utterance_timing_of_a_caller_line_is_found() -> None:
    line = speak("Goodbye")
    assert 0.0 <= line.speech_start_s < 0.2 < line.speech_end_s < len(line.pcm) / 2 / RATE_HZ


def test_grammar_building_normalises_and_refuses_empty_or_unknown_words() -> None:
    assert "( tuesday works ) | ( yes )" in build_grammar(["Yes!", "Tuesday, works", "yes"])
    with pytest.raises(GrammarError, match="no usable phrase"):
        build_grammar(["?!", ""])
    with pytest.raises(GrammarError, match="zzqxv"):
        open_recogniser(["hello zzqxv"])


def test_long_silent_edges_are_trimmed_before_decoding() -> None:
    rate = 16000
    speech = np.frombuffer(telephone("Tuesday at ten works for me"), dtype=np.int16)
    segment = np.concatenate([np.zeros(rate, np.int16), speech, np.zeros(rate // 2, np.int16)])
    trimmed = trim_to_speech(segment, rate)
    assert len(speech) - rate // 2 < len(trimmed) < len(speech) + rate // 2
    assert open_recogniser(PHRASES).decode(trimmed.tobytes()) == "tuesday at ten works for me"
    silence = np.zeros(rate, np.int16)
    assert len(trim_to_speech(silence, rate)) == rate
