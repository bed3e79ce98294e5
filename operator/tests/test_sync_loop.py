"""The sync loop the Bot, Campaign and FleetPool daemons share: when passes run, what is retried."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from ori_operator import metrics
from ori_operator.context import Wakeups
from ori_operator.sync_loop import Cadence, Outcome, run_sync_loop

pytestmark = pytest.mark.unit

NS, KEY = "team-a", "bot/front-desk"
HOUR = 3600.0
BOUND_S = 10.0  # a wait that never passes unless the loop is broken


class Stop:
    """A settable stand-in for kopf's `DaemonStopped` (true once the loop must end)."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def __bool__(self) -> bool:
        return self.event.is_set()

    def wait(self) -> Awaitable[object]:
        return self.event.wait()


def errors_of(kind: str) -> float:
    return metrics.RECONCILE_ERRORS.labels(kind)._value.get()  # type: ignore[no-any-return]


def ok_of(kind: str) -> float:
    return metrics.RECONCILE_TOTAL.labels(kind, "ok")._value.get()  # type: ignore[no-any-return]


async def run(
    passes: list[Callable[[], bool]], cadence: Cadence, kind: str, wakeups: Wakeups | None = None
) -> tuple[int, Wakeups]:
    """Run the loop over scripted passes; the last one stops it. Answers the passes made."""
    wakeups, stop, made = wakeups or Wakeups(), Stop(), 0

    async def one_pass() -> bool:
        nonlocal made
        made += 1
        settled = passes[made - 1]()
        if made == len(passes):
            stop.event.set()  # the wait after this pass ends at once, whatever the cadence
        return settled

    await asyncio.wait_for(
        run_sync_loop(
            one_pass,
            wakeups=wakeups,
            namespace=NS,
            key=KEY,
            stopped=stop,
            cadence=cadence,
            kind=kind,
            label="Bot team-a/front-desk",
        ),  # fmt: skip
        BOUND_S,
    )
    return made, wakeups


@pytest.mark.parametrize(
    ("outcome", "wait"),
    [(Outcome.SETTLED, 60.0), (Outcome.UNSETTLED, 5.0), (Outcome.FAILED, 5.0)],
)
def test_only_a_settled_pass_waits_the_full_interval(outcome: Outcome, wait: float) -> None:
    assert Cadence(interval_s=60.0, retry_s=5.0).next_wait(outcome) == wait


def test_a_retry_never_waits_longer_than_the_interval() -> None:
    assert Cadence(interval_s=2.0, retry_s=5.0).next_wait(Outcome.FAILED) == 2.0


async def test_a_wake_up_during_a_pass_runs_the_next_one_at_once() -> None:
    wakeups = Wakeups()
    first = wakeups.event(NS, KEY)

    def woken() -> bool:
        wakeups.wake(NS, KEY)  # a watch event arrives while the pass runs
        return True

    made, _ = await run([woken, lambda: True], Cadence(HOUR, HOUR), "LoopWake", wakeups)
    assert made == 2  # without the wake-up the second pass would come an hour later
    assert wakeups.event(NS, KEY) is not first  # the loop forgot its event when it ended


async def test_a_failed_pass_is_logged_counted_and_retried_soon(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def boom() -> bool:
        raise RuntimeError("backend exploded")

    errors, ok = errors_of("LoopFail"), ok_of("LoopFail")
    with caplog.at_level(logging.ERROR, logger="ori_operator.sync_loop"):
        made, _ = await run([boom, lambda: True], Cadence(HOUR, 0.01), "LoopFail")
    assert made == 2  # the loop survived the exception and came back on the retry cadence
    assert (errors_of("LoopFail") - errors, ok_of("LoopFail") - ok) == (1, 1)
    assert "Bot team-a/front-desk: sync failed; retrying" in caplog.text
    assert "backend exploded" in caplog.text  # with its traceback


async def test_an_unsettled_pass_is_retried_soon_without_counting_an_error() -> None:
    errors = errors_of("LoopUnsettled")
    made, _ = await run([lambda: False, lambda: True], Cadence(HOUR, 0.01), "LoopUnsettled")
    assert made == 2
    assert errors_of("LoopUnsettled") == errors


async def test_a_stopped_loop_makes_no_pass() -> None:
    stop, made = Stop(), []
    stop.event.set()

    async def one_pass() -> bool:
        made.append(1)
        return True

    await asyncio.wait_for(
        run_sync_loop(
            one_pass,
            wakeups=Wakeups(),
            namespace=NS,
            key=KEY,
            stopped=stop,
            cadence=Cadence(HOUR, HOUR),
            kind="LoopStopped",
            label="x",
        ),  # fmt: skip
        BOUND_S,
    )
    assert made == []
