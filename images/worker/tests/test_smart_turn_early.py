"""Smart Turn: the early inference (ready when the VAD ends the speech, dropped on a pause) and
the shared session."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState
from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.vad_analyzer import VADParams, VADState

from ori_worker.analyzers import (
    SHRINK_ARENA,
    SharedSileroVAD,
    SharedSmartTurn,
    ShrinkingSession,
    smart_turn_session,
)
from ori_worker.sim.audio import RATE_HZ, speak

pytestmark = pytest.mark.unit

CHUNK = RATE_HZ // 25  # 40 ms, as the worker's pipeline gets caller audio


@dataclass
class Verdict:
    state: EndOfTurnState
    probability: float
    early_used: int
    early_dropped: int
    at_s: float  # when the VAD ended the speech


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * RATE_HZ) * 2)


async def end_of_turn(audio: bytes, *, early: bool) -> Verdict:
    """Feed ``audio`` as pipecat's turn-analyzer strategy does; the verdict at the VAD's stop."""
    vad = SharedSileroVAD(params=VADParams(stop_secs=0.2))
    vad.set_sample_rate(RATE_HZ)
    turn = SharedSmartTurn(vad=vad if early else None, params=SmartTurnParams())
    turn.set_sample_rate(RATE_HZ)
    speaking, state = False, VADState.QUIET
    for i in range(0, len(audio), CHUNK * 2):
        chunk = audio[i : i + CHUNK * 2]
        new = await vad.analyze_audio(chunk)
        if new is VADState.SPEAKING and state in (VADState.QUIET, VADState.STARTING):
            speaking = True
        turn.append_audio(chunk, speaking)
        if new is VADState.QUIET and state in (VADState.SPEAKING, VADState.STOPPING):
            verdict, metrics = await turn.analyze_end_of_turn()
            probability = float(getattr(metrics, "probability", -1.0))
            at_s = (i // 2 + CHUNK) / RATE_HZ
            return Verdict(verdict, probability, turn.early_used, turn.early_dropped, at_s)
        state = new
    raise AssertionError("the VAD never ended the speech")


async def test_the_early_verdict_answers_the_end_of_the_turn_and_agrees_with_a_late_one() -> None:
    said = speak("I would like to book a cleaning please")
    audio = silence(0.5) + said.pcm + silence(1.0)
    late = await end_of_turn(audio, early=False)
    early = await end_of_turn(audio, early=True)
    assert (late.early_used, early.early_used) == (0, 1)
    assert early.state == late.state == EndOfTurnState.COMPLETE
    assert abs(early.probability - late.probability) < 0.1  # zeros stand in for the last quiet


async def test_a_pause_drops_the_early_verdict_and_the_end_still_gets_one() -> None:
    first, rest = speak("I would like"), speak("to book a cleaning please")
    words = silence(0.5) + first.pcm[: int(first.speech_end_s * RATE_HZ) * 2]
    more = rest.pcm[int(rest.speech_start_s * RATE_HZ) * 2 :] + silence(1.0)
    dropped = []
    # Silero's tail varies with the voice, so try pauses around the early start (stop_s -
    # 0.1 s of quiet) that are still too short for the VAD to end the speech
    for pause_ms in range(100, 200, 10):
        audio = words + silence(pause_ms / 1000) + more
        early = await end_of_turn(audio, early=True)
        if early.at_s < (len(audio) - len(more)) / 2 / RATE_HZ:
            continue  # the VAD ended the speech at the pause: not a pause to it
        assert early.early_used == 1  # the end of the turn was answered early all the same
        if early.early_dropped:
            dropped.append(pause_ms)
            late = await end_of_turn(audio, early=False)
            assert early.state == late.state
    assert dropped, "no pause started an early verdict that the voice after it dropped"


def test_the_shared_session_answers_as_pipecat_s_own_and_shrinks_its_arena_each_run() -> None:
    said = speak("What are your opening hours")
    audio = np.frombuffer(silence(0.5) + said.pcm + silence(0.3), np.int16).astype(np.float32)
    ours = SharedSmartTurn()
    ours.set_sample_rate(RATE_HZ)
    theirs = LocalSmartTurnAnalyzerV3()  # pipecat's: its own session, default options
    theirs.set_sample_rate(RATE_HZ)
    verdict = ours._predict_endpoint(audio / 32768)
    assert verdict == pytest.approx(theirs._predict_endpoint(audio / 32768), abs=1e-3)
    session = smart_turn_session()
    assert isinstance(session, ShrinkingSession)
    assert session.run_options.get_run_config_entry(SHRINK_ARENA) == "cpu:0"
