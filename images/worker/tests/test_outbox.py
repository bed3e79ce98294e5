from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from ori_contracts.testing import make_call_result
from ori_worker.outbox import Backoff, Outbox, write_atomically

pytestmark = pytest.mark.unit


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(first_s=0.5, factor=2.0, max_s=4.0)
    assert [backoff.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_an_atomic_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    write_atomically(target, b"{}")
    write_atomically(target, b'{"v": 2}')
    assert target.read_bytes() == b'{"v": 2}'
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


async def test_results_are_stored_before_delivery_and_listed_oldest_first(tmp_path: Path) -> None:
    async with httpx.AsyncClient() as client:
        outbox = Outbox(tmp_path, "http://127.0.0.1:9/api/v1/call-results", "s" * 16, client)
        first = outbox.put(make_call_result(call_id="call_a"))
        second = outbox.put(make_call_result(call_id="call_b"))
        os.utime(first, (1, 1))
        assert outbox.pending() == [first, second]
        assert make_call_result(call_id="call_b").model_dump_json().encode() == second.read_bytes()
