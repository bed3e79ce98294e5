from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from ori_worker.recording import StereoTimeline, object_key

pytestmark = pytest.mark.unit

RATE = 8000


def tone(seconds: float, value: int) -> bytes:
    return np.full(int(RATE * seconds), value, dtype=np.int16).tobytes()


def read(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (2, 2, RATE)
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    return frames.reshape(-1, 2), len(frames) // 2


def test_bot_audio_lands_where_the_caller_heard_it(tmp_path: Path) -> None:
    timeline = StereoTimeline(tmp_path / "r.wav", RATE)
    start = 1000.0
    for i in range(50):  # one second of caller audio, 20 ms frames
        timeline.add_caller(tone(0.02, 100), at=start + i * 0.02)
    timeline.add_bot(tone(0.5, 200))  # the bot starts answering at 1 s
    for i in range(50, 100):
        timeline.add_caller(tone(0.02, 100), at=start + i * 0.02)
    frames = timeline.close()
    audio, count = read(tmp_path / "r.wav")
    assert frames == count == 2 * RATE
    assert (audio[:, 0] == 100).all()
    assert (audio[:RATE, 1] == 0).all()
    assert (audio[RATE : RATE + RATE // 2, 1] == 200).all()
    assert (audio[RATE + RATE // 2 :, 1] == 0).all()


def test_a_barge_in_drops_bot_audio_not_yet_played(tmp_path: Path) -> None:
    timeline = StereoTimeline(tmp_path / "r.wav", RATE)
    timeline.add_caller(tone(0.5, 1), at=0.5)  # `at`: when a chunk arrived (its end)
    timeline.add_bot(tone(2.0, 300))  # two seconds queued at 0.5 s
    timeline.add_caller(tone(0.3, 1), at=0.8)
    timeline.clear_bot()  # the caller talked over it at 0.8 s
    timeline.add_caller(tone(0.2, 1), at=1.0)
    timeline.close()
    audio, count = read(tmp_path / "r.wav")
    assert count == RATE  # one second: nothing of the dropped audio is left
    played = np.flatnonzero(audio[:, 1] == 300)
    assert played[0] == RATE // 2 and played[-1] == int(0.8 * RATE) - 1


def test_a_stall_in_the_carrier_stream_becomes_silence(tmp_path: Path) -> None:
    timeline = StereoTimeline(tmp_path / "r.wav", RATE)
    timeline.add_caller(tone(0.1, 5), at=10.0)
    timeline.add_caller(tone(0.1, 5), at=11.1)  # one second with no packets
    assert timeline.close() == int(1.2 * RATE)


def test_short_gaps_that_add_up_are_filled_so_the_caller_never_drifts_ahead(
    tmp_path: Path,
) -> None:
    timeline = StereoTimeline(tmp_path / "r.wav", RATE)
    for i in range(40):  # 20 ms frames, each 150 ms after the last: 130 ms gaps, each ignored
        timeline.add_caller(tone(0.02, 5), at=1.0 + i * 0.15)
    frames = timeline.close()
    assert abs(frames - round((0.02 + 39 * 0.15) * RATE)) <= 0.2 * RATE  # the wall clock's


def test_the_bot_s_last_words_are_kept_after_the_caller_stream_ends(tmp_path: Path) -> None:
    timeline = StereoTimeline(tmp_path / "r.wav", RATE)
    timeline.add_caller(tone(0.2, 5), at=0.0)
    timeline.add_bot(tone(1.0, 9))
    assert timeline.close() == int(1.2 * RATE)


def test_object_keys_are_per_workspace_and_day() -> None:
    from datetime import UTC, datetime

    key = object_key("ws-1", "call_1", datetime(2026, 3, 2, tzinfo=UTC))
    assert key == "ws-1/2026/03/02/call_1.wav"


def test_before_the_caller_s_first_audio_the_wall_clock_runs(tmp_path: Path) -> None:
    import time

    now = time.monotonic()
    timeline = StereoTimeline(tmp_path / "r.wav", RATE, origin=now - 1.0)  # started 1 s ago
    timeline.add_bot(tone(0.5, 200))  # the bot greets before the caller's track arrives
    timeline.add_caller(tone(0.02, 100), at=now + 0.5)
    timeline.close()
    audio, _ = read(tmp_path / "r.wav")
    bot, caller = np.flatnonzero(audio[:, 1] == 200), np.flatnonzero(audio[:, 0] == 100)
    assert abs(bot[0] - RATE) < RATE // 20  # at 1 s, where it was played
    assert abs(caller[0] - int(1.48 * RATE)) < RATE // 20  # and the caller 0.5 s later


def test_the_caller_s_first_audio_is_placed_when_it_came_however_soon(tmp_path: Path) -> None:
    import time

    now = time.monotonic()
    timeline = StereoTimeline(tmp_path / "r.wav", RATE)
    timeline.start(now - 0.15)  # the call started 150 ms before the caller's first audio ended
    timeline.add_caller(tone(0.02, 100), at=now)
    timeline.close()
    audio, _ = read(tmp_path / "r.wav")
    caller = np.flatnonzero(audio[:, 0] == 100)
    assert abs(caller[0] - int(0.13 * RATE)) <= 1  # not at 0: the track would run early


def test_the_start_cannot_move_once_there_is_audio(tmp_path: Path) -> None:
    timeline = StereoTimeline(tmp_path / "r.wav", RATE)
    timeline.add_caller(tone(0.02, 100))
    with pytest.raises(RuntimeError, match="cannot move"):
        timeline.start(0.0)
    timeline.close()
