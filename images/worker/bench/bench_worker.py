# ruff: noqa: T201 - a command-line program
"""Benchmark the worker as callers experience it: latency, barge-in, pickup, density, memory.

    uv run python images/worker/bench/bench_worker.py   (make bench-worker)

Starts Redis, FerretDB and MinIO from the tools cache, the backend and worker processes on
loopback, creates bots on stand-in providers with fixed, known delays (PocketSphinx and
eSpeak NG plus a fixed wait, the scripted LLM plus a fixed wait), and phones them with the
simulator over Twilio's protocol in real time. Prints a table and writes
``build/bench/worker.json``. docs/benchmarks.md says what each number means.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop
from minio import Minio
from procstat import CpuSnapshot, CpuUse, cpu_s, peak_rss_mb, reset_peak_rss, uss_mb

from ori_contracts import (
    EndCallTool,
    LlmConfig,
    LlmProvider,
    ScriptedLlmConfig,
    ScriptedRule,
    SttConfig,
    SttProvider,
    TtsConfig,
    TtsProvider,
    TurnConfig,
    TurnStrategy,
    VadConfig,
)
from ori_contracts.call_metrics import percentile
from ori_contracts.testing import make_runtime_config
from ori_e2e.servers import S3Server, start_ferretdb, start_minio, start_redis
from ori_e2e.voice import BackendProcess, WorkerProcess, bot_spec, start_backend, start_worker
from ori_worker.sim.caller import CallReport, Line, Script, SimulatedCall

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "build" / "bench" / "worker.json"
STT_DELAY_MS, LLM_DELAY_MS, TTS_DELAY_MS = 100, 150, 100
VAD_START_S, VAD_STOP_S, VAD_MIN_VOLUME, SPEECH_TIMEOUT_S = 0.15, 0.2, 0.3, 0.6
LINES = ("I would like to book an appointment", "What are your opening hours", "Goodbye")
"""The caller's lines. Smart Turn v3 judges each of them complete on this voice with a
probability of 0.75 or more ("What time do you open", used before, scored as low as 0.73 and
now and then waited out the model's 3 s fallback, which measures the model, not the load)."""
BARGE = "Tuesday at ten works for me"
STAGGER_S = 6.0
"""Density calls start spread over about one exchange (a caller line and the bot's answer),
as independent callers would, rather than all speaking in the same instant."""
GOALS = {
    "overhead_p95_ms": ("<=", 100),
    "bargein_p95_ms": ("<=", 350),
    "pickup_p50_ms": ("<=", 300),
    "calls_per_core": (">=", 8),
    "rss_mb_per_worker": ("<=", 200),
    "result_delivery_p95_s": ("<=", 10),
}


def bench_bot(strategy: TurnStrategy) -> dict[str, Any]:
    """The bench bot: stand-in providers with fixed delays, rules for the bench lines."""
    rules = [
        ScriptedRule(when_any=["appointment"], say="I can book that. Does Tuesday at ten work?"),
        ScriptedRule(when_any=["tuesday"], say="Great, you are booked for Tuesday at ten."),
        ScriptedRule(when_any=["goodbye"], say="Thanks for calling. Goodbye!", tool="end_call"),
    ]
    config = make_runtime_config(
        stt=SttConfig(
            provider=SttProvider.POCKETSPHINX,
            phrases=[*LINES, BARGE],
            options={"delay_ms": STT_DELAY_MS},
        ),
        llm=LlmConfig(
            provider=LlmProvider.SCRIPTED,
            scripted=ScriptedLlmConfig(rules=rules, fallback_reply="We open at nine every day."),
            options={"delay_ms": LLM_DELAY_MS},
        ),
        tts=TtsConfig(
            provider=TtsProvider.ESPEAK, voice="en-us", options={"delay_ms": TTS_DELAY_MS}
        ),
        # Pipecat's default min_volume (0.6), through its volume smoothing, holds back the
        # start of speech by about 200 ms on telephone-level audio; barge-in needs less.
        vad=VadConfig(start_s=VAD_START_S, stop_s=VAD_STOP_S, min_volume=VAD_MIN_VOLUME),
        turn=TurnConfig(strategy=strategy, speech_timeout_s=SPEECH_TIMEOUT_S),
        tools=[EndCallTool()],
        knowledge_bases=[],
    )
    return bot_spec(config, name=f"Bench {strategy.value}")


def script(barge_in: bool) -> Script:
    """The caller's lines; optionally one said over the bot."""
    lines = [Line(LINES[0])]
    if barge_in:  # talk over the bot's answer 1.2 s into it
        lines.append(Line(BARGE, barge_in_after_ms=1200))
    lines += [Line(LINES[1]), Line(LINES[2])]
    return Script(tuple(lines), bot_done_silence_ms=700)


@dataclass
class Sample:
    """Measurements of one call."""

    report: CallReport
    endpointing_s: float
    rss_mb: float = 0.0
    """Peak resident memory of the call's worker during the call (``VmHWM``)."""
    uss_mb: float = 0.0
    delivery_s: float | None = None
    cpu_share: float = 0.0
    """The worker's CPU time over the call's length (one core = 1.0), finalisation included."""

    @property
    def overhead_ms(self) -> list[int]:
        """Perceived latency minus the endpointing wait and the stand-ins' fixed delays."""
        fixed = self.endpointing_s * 1000 + LLM_DELAY_MS + TTS_DELAY_MS
        return [
            round(t.latency_ms - fixed)
            for t in self.report.turns
            if t.latency_ms is not None and not t.barge_in
        ]

    @property
    def failed(self) -> bool:
        """The call did not go through."""
        return self.report.error is not None or self.report.refused is not None


@dataclass
class Round:
    """Calls placed together, and where the machine's CPU went meanwhile."""

    samples: list[Sample]
    cpu: CpuUse


@dataclass
class Bench:
    """The servers, the backend and a pool of workers."""

    root: Path
    backend: BackendProcess
    s3: S3Server
    bucket: str
    redis_url: str
    """Workers register in the backend's Redis, as in a fleet (redis-py is part of their memory)."""
    server_pids: list[int | None] = field(default_factory=list)
    workers: list[WorkerProcess] = field(default_factory=list)
    numbers: int = 0

    def ensure_workers(self, count: int) -> list[WorkerProcess]:
        """Have at least ``count`` workers running (started in parallel)."""
        missing = count - len(self.workers)
        if missing > 0:
            start = len(self.workers)
            with ThreadPoolExecutor(max_workers=4) as pool:
                started = pool.map(
                    lambda i: start_worker(
                        self.root / f"worker-{i}",
                        self.s3,
                        self.bucket,
                        config_url=self.backend.config_url,
                        name=f"worker-{i}",
                        extra_env={
                            "LOG_LEVEL": "WARNING",
                            "REDIS_URL": self.redis_url,
                            "WORKER_ID": f"worker-{i}",  # a pod's name in a fleet
                        },
                    ),
                    range(start, start + missing),
                )
                self.workers.extend(started)
        return self.workers[:count]

    def caller_number(self) -> str:
        """A fresh caller number, so each call's record can be found."""
        self.numbers += 1
        return f"+1415555{self.numbers:04d}"

    async def run_calls(
        self,
        bot_id: str,
        count: int,
        endpointing_s: float,
        *,
        barge: bool,
        stagger_s: float = 0.0,
        sample_uss: bool = False,
    ) -> Round:
        """``count`` calls, one per worker, starting evenly spread over ``stagger_s``."""
        workers = self.ensure_workers(count)
        pids = [w.process.pid for w in workers]
        numbers = [self.caller_number() for _ in workers]
        sims = [
            SimulatedCall(w.ws_url, bot_id, "twilio", script(barge), parameters={"from_number": n})
            for w, n in zip(workers, numbers, strict=True)
        ]

        async def call(i: int, sim: SimulatedCall) -> CallReport:
            await asyncio.sleep(i * stagger_s / count)
            return await sim.run()

        for pid in pids:
            reset_peak_rss(pid)
        uss = [0.0] * count
        begin = CpuSnapshot.take(pids, self.server_pids)
        tasks = [asyncio.create_task(call(i, s)) for i, s in enumerate(sims)]
        while not all(t.done() for t in tasks):
            if sample_uss:  # a walk of the whole address space: rarely, and only when asked
                uss = [max(u, uss_mb(pid)) for u, pid in zip(uss, pids, strict=True)]
            await asyncio.sleep(1.0)
        end = CpuSnapshot.take(pids, self.server_pids)
        reports = [t.result() for t in tasks]
        peaks = [peak_rss_mb(pid) for pid in pids]
        delivered = await asyncio.to_thread(self.wait_records, set(numbers), time.monotonic())
        # Finalisation (upload, analysis, the result) is part of a call's cost.
        spent = [cpu_s(pid) - before for pid, before in zip(pids, begin.workers, strict=True)]
        samples = [
            Sample(
                r,
                endpointing_s,
                peaks[i],
                uss[i],
                delivered.get(numbers[i]),
                spent[i] / max(r.duration_s, 0.001),
            )
            for i, r in enumerate(reports)
        ]
        return Round(samples, CpuUse.between(begin, end))

    def wait_records(
        self, numbers: set[str], since: float, timeout: float = 60.0
    ) -> dict[str, float]:
        """Seconds from hang-up until each caller's call record was stored."""
        found: dict[str, float] = {}
        while len(found) < len(numbers) and time.monotonic() - since < timeout:
            for call in self.backend.calls(status="ended", limit="200"):
                number = str(call.get("from_number"))
                if number in numbers and number not in found:
                    found[number] = time.monotonic() - since
            time.sleep(0.1)
        return found

    def stop(self) -> None:
        """Stop the workers and the backend."""
        for worker in self.workers:
            worker.stop()
        self.backend.stop()


def p_ms(values: list[int], pct: float) -> int | None:
    """Nearest-rank percentile of millisecond samples."""
    return percentile(values, pct)


def p_s(values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of second samples, to the millisecond."""
    value = percentile([round(v * 1000) for v in values], pct)
    return None if value is None else value / 1000


def mean(values: list[float]) -> float:
    """The arithmetic mean (0 for nothing)."""
    return sum(values) / len(values) if values else 0.0


async def measure(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    """Single calls (latency, barge-in, pickup, memory), then the density search."""
    vad_bot = bench.backend.create_bot(bench_bot(TurnStrategy.VAD_ONLY))
    density_bot = bench.backend.create_bot(bench_bot(args.density_turns))
    single: list[Sample] = []
    for _ in range(args.rounds):
        done = await bench.run_calls(
            vad_bot, 1, VAD_STOP_S + SPEECH_TIMEOUT_S, barge=True, sample_uss=True
        )
        single += done.samples
    overhead = [o for s in single for o in s.overhead_ms]
    bargein = [t.bargein_ms for s in single for t in s.report.turns if t.bargein_ms is not None]
    pickup = [s.report.pickup_ms - TTS_DELAY_MS for s in single if s.report.pickup_ms is not None]
    density = await measure_density(bench, density_bot, args)
    delivery = [s.delivery_s for s in single if s.delivery_s is not None]
    delivery += [d for row in density["steps"] for d in row.pop("delivery_s")]
    cores = os.cpu_count() or 1
    share = density["cpu_per_call_s"]
    rss_vad = round(max(s.rss_mb for s in single), 1)
    return {
        "machine": {"cpus": cores},
        "stand_in_delays_ms": {"stt": STT_DELAY_MS, "llm": LLM_DELAY_MS, "tts": TTS_DELAY_MS},
        "vad": {"start_s": VAD_START_S, "stop_s": VAD_STOP_S, "min_volume": VAD_MIN_VOLUME},
        "endpointing_s": {"vad_stop": VAD_STOP_S, "speech_timeout": SPEECH_TIMEOUT_S},
        "overhead_p50_ms": p_ms(overhead, 50),
        "overhead_p95_ms": p_ms(overhead, 95),
        "bargein_p95_ms": p_ms(bargein, 95),
        "pickup_p50_ms": p_ms(pickup, 50),
        "calls_per_core": density["passing_calls"] / cores,
        "worker_cpu_per_call_s": share,
        "cpu_bound_calls_per_core": round(1 / share, 1) if share else None,
        # The worst call of any kind: a Smart Turn inference (density steps) briefly holds
        # 20 to 35 MB more than a VAD-only call (the single calls) ever does.
        "rss_mb_per_worker": max(rss_vad, *(row["rss_mb_max"] for row in density["steps"])),
        "rss_mb_vad_only": rss_vad,
        "uss_mb_per_worker": round(max(s.uss_mb for s in single), 1),
        "cpu_core_share_per_call": round(max(s.cpu_share for s in single), 3),
        "result_delivery_p95_s": p_s(delivery, 95),
        "samples": {
            "turns": len(overhead),
            "bargeins": len(bargein),
            "calls": len(single),
            "delivered": len(delivery),
        },
        "density": density,
    }


RESOLUTION_MS = 20
"""The simulator hears in 20 ms frames: differences below that are not measured."""
RAMP = (1, 2, 4, 8, 12, 16, 20, 24, 32, 40, 48)
MIN_TURNS = 15
"""Overhead samples wanted at each density step (rounds are repeated until there are)."""
MAX_ROUNDS = 5
BASELINE_MIN_TURNS = 45
"""Samples wanted for the one-call step, whose p95 every other step is judged against.

Overheads come in 20 ms steps (the simulator's frames), so a p95 over 15 turns is one or
two turns' luck: three runs of the same code drew 71, 110 and 111 ms, which moved the
allowed p95 from 91 to 133 ms and the result from 6 to 10 calls per core.
"""


def allowed(baseline_ms: int) -> float:
    """The highest overhead p95 still "within 20 % of one call".

    That is 20 % more, but at least the measurement's resolution more: 20 % of a 50 ms
    baseline is finer than the simulator's 20 ms frames.
    """
    return max(baseline_ms * 1.2, baseline_ms + RESOLUTION_MS)


def density_endpointing_s(turns: TurnStrategy) -> float:
    """The configured wait before a turn ends, which is not overhead.

    With Smart Turn the end of a turn waits for the transcript, so the STT stand-in's delay
    is part of it; the model's inference counts as overhead.
    """
    if turns is TurnStrategy.SMART_TURN_V3:
        return VAD_STOP_S + STT_DELAY_MS / 1000
    return VAD_STOP_S + SPEECH_TIMEOUT_S


async def density_step(
    bench: Bench, bot_id: str, count: int, args: argparse.Namespace
) -> dict[str, Any]:
    """``count`` concurrent calls, repeated until :data:`MIN_TURNS` turns were measured.

    One call (the baseline) is repeated until :data:`BASELINE_MIN_TURNS`.
    """
    endpointing_s = density_endpointing_s(args.density_turns)
    wanted = BASELINE_MIN_TURNS if count == 1 else MIN_TURNS
    rounds: list[Round] = []
    while len(rounds) < (MAX_ROUNDS if count > 1 else 3 * MAX_ROUNDS):
        rounds.append(
            await bench.run_calls(
                bot_id, count, endpointing_s, barge=False, stagger_s=args.stagger_s
            )
        )
        if sum(len(s.overhead_ms) for r in rounds for s in r.samples) >= wanted:
            break
    samples = [s for r in rounds for s in r.samples]
    overhead = [o for s in samples for o in s.overhead_ms]
    shares = [s.cpu_share for s in samples]

    def cores(name: str) -> float:
        return round(mean([getattr(r.cpu, name) for r in rounds]), 2)

    return {
        "calls": count,
        "rounds": len(rounds),
        "turns": len(overhead),
        "overhead_p50_ms": p_ms(overhead, 50),
        "overhead_p95_ms": p_ms(overhead, 95),
        "failed": sum(s.failed for s in samples),
        "rss_mb_max": round(max(s.rss_mb for s in samples), 1),
        "worker_cpu_per_call_s": round(mean(shares), 4),
        "worker_cpu_per_call_s_max": round(max(shares), 4),
        "callers_cpu_per_call_s": round(cores("callers_cores") / count, 4),
        "machine_cores_busy": cores("machine_cores"),
        "workers_cores": cores("workers_cores"),
        "bench_servers_cores": cores("servers_cores"),
        "others_cores": cores("others_cores"),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "delivery_s": [round(s.delivery_s, 2) for s in samples if s.delivery_s],
    }


async def measure_density(bench: Bench, bot_id: str, args: argparse.Namespace) -> dict[str, Any]:
    """Ramp concurrent calls, one worker each (Silero VAD and Smart Turn v3 on).

    Steps through :data:`RAMP` while the overhead p95 stays within :func:`allowed` of one
    call's and no call fails. A step that misses is tried once more before the search
    stops (a neighbour's burst on a shared machine should not decide it).
    """
    steps: list[dict[str, Any]] = []
    baseline: int | None = None
    passing = 0
    for count in (c for c in RAMP if c <= args.max_calls):
        for attempt in (1, 2):
            row = await density_step(bench, bot_id, count, args)
            p95 = row["overhead_p95_ms"]
            baseline = baseline if baseline is not None else p95
            row["attempt"] = attempt
            row["within_20_percent"] = ok = (
                row["failed"] == 0 and p95 is not None and p95 <= allowed(baseline or 0)
            )
            steps.append(row)
            print(density_line(row), flush=True)
            if ok:
                break
        if not ok:
            break
        passing = count
    last = next((r for r in reversed(steps) if r["within_20_percent"]), steps[0])
    return {
        "turns": args.density_turns.value,
        "stagger_s": args.stagger_s,
        "baseline_p95_ms": baseline,
        "allowed_p95_ms": allowed(baseline) if baseline is not None else None,
        "passing_calls": passing,
        "cpu_per_call_s": last["worker_cpu_per_call_s"],
        "steps": steps,
    }


def density_line(row: dict[str, Any]) -> str:
    """One density step, as printed while the bench runs."""
    return (
        f"  density {row['calls']:>2} calls (try {row['attempt']}): overhead p50/p95 "
        f"{row['overhead_p50_ms']}/{row['overhead_p95_ms']} ms over {row['turns']} turns, "
        f"failed {row['failed']} | cpu/call-s worker {row['worker_cpu_per_call_s']:.3f} "
        f"caller {row['callers_cpu_per_call_s']:.3f} | cores busy {row['machine_cores_busy']}: "
        f"workers {row['workers_cores']}, bench servers {row['bench_servers_cores']}, "
        f"others {row['others_cores']}"
    )


def table(results: dict[str, Any]) -> str:
    """The goals, the numbers and whether each was met."""
    lines = [f"{'metric':<24} {'value':>10}   goal"]
    for name, (op, goal) in GOALS.items():
        value = results.get(name)
        met = value is not None and (value <= goal if op == "<=" else value >= goal)
        shown = "-" if value is None else f"{value:.2f}" if isinstance(value, float) else str(value)
        lines.append(f"{name:<24} {shown:>10}   {op} {goal}  {'ok' if met else 'MISSED'}")
    lines.append(f"{'overhead_p50_ms':<24} {results.get('overhead_p50_ms')!s:>10}")
    lines.append(f"{'rss_mb_vad_only':<24} {results.get('rss_mb_vad_only')!s:>10}")
    lines.append(f"{'uss_mb_per_worker':<24} {results.get('uss_mb_per_worker')!s:>10}")
    density = results["density"]
    lines.append(
        f"{'worker_cpu_per_call_s':<24} {results.get('worker_cpu_per_call_s')!s:>10}   "
        f"(CPU-seconds per call-second at {density['passing_calls'] or 1} calls; "
        f"CPU bound {results.get('cpu_bound_calls_per_core')} calls/core)"
    )
    return "\n".join(lines)


def main() -> int:
    """Start everything, measure, print and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="single calls to measure")
    parser.add_argument("--max-calls", type=int, default=24, help="density search limit")
    parser.add_argument(
        "--density-turns",
        type=TurnStrategy,
        default=TurnStrategy.SMART_TURN_V3,
        help="turn detection for the density search (smart_turn_v3 or vad_only)",
    )
    parser.add_argument(
        "--stagger-s",
        type=float,
        default=STAGGER_S,
        help="density calls start evenly spread over this many seconds (0: all at once)",
    )
    args = parser.parse_args()
    # A SIGTERM unwinds like Ctrl-C, so every server and worker started here is stopped.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with tempfile.TemporaryDirectory(prefix="ori-bench-worker-") as tmp:
        root = Path(tmp)
        redis = start_redis(root / "redis")
        mongo = start_ferretdb(root / "mongo")
        s3 = start_minio(root / "minio")
        try:
            Minio(
                s3.endpoint, access_key=s3.access_key, secret_key=s3.secret_key, secure=False
            ).make_bucket("recordings")
            redis_url = redis.db_url(0)  # the backend's, and the workers' registrations
            backend = start_backend(root / "backend", mongo.url, "bench", redis_url, s3)
            servers = [p.pid for server in (redis, mongo, s3) for p in server.processes]
            bench = Bench(
                root, backend, s3, "recordings", redis_url, [*servers, backend.process.pid]
            )
            try:
                # uvloop: the simulated callers' own CPU (a fifth less than asyncio's loop)
                # is taken from the same cores as the workers they measure.
                results = uvloop.run(measure(bench, args))
            finally:
                bench.stop()
        finally:
            for server in (s3, mongo, redis):
                server.stop()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"written to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
