# ruff: noqa: T201 - a command-line program
"""Smart Turn's inference memory and time, the worker's way against glibc's and ONNX's defaults.

    uv run python images/worker/bench/bench_smart_turn_memory.py

Each variant runs in a process of its own (glibc's settings hold for a whole process): twelve
Smart Turn v3 inferences on an eight-second window, each on the turn model's own thread as in
the worker, with some small allocations on the main thread between them. It prints, side by
side, how far the resident size rose above where it started (peak, ``VmHWM``) and where it
ended, and the median inference time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

RUNS = 12
VARIANTS = {
    "worker": "glibc's mapping threshold fixed at 256 KiB, ONNX arena given back after each run",
    "before": "glibc's dynamic mapping threshold, no ONNX arena (the worker until this change)",
}


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(variant: str) -> dict[str, float]:
    """Run the inferences in this process, tuned as ``variant`` says."""
    import time  # noqa: PLC0415

    import numpy as np  # noqa: PLC0415
    import onnxruntime  # noqa: PLC0415
    from pipecat.audio.turn.smart_turn._whisper_features import (  # noqa: PLC0415
        compute_whisper_log_mel_features,
    )

    from ori_worker import analyzers, memory  # noqa: PLC0415

    session: analyzers.ShrinkingSession | onnxruntime.InferenceSession
    if variant == "worker":
        memory.tune_allocator()
        session = analyzers.smart_turn_session()
    else:
        memory.tune_allocator(mmap_threshold=None)
        session = onnxruntime.InferenceSession(
            analyzers.smart_turn_model(),
            providers=["CPUExecutionProvider"],
            sess_options=analyzers._options(1),
        )
    rng = np.random.default_rng(0)

    def infer() -> float:
        audio = (rng.standard_normal(16000 * 8) * 0.1).astype(np.float32)
        features = compute_whisper_log_mel_features(audio)[None]
        start = time.perf_counter()
        session.run(None, {"input_features": features})
        return time.perf_counter() - start

    pool = ThreadPoolExecutor(1)
    pool.submit(infer).result()  # load and warm
    memory.release_memory()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset VmHWM
    start = _status_mb("VmRSS")
    times = []
    for _ in range(RUNS):
        churn = [bytes(20_000) for _ in range(200)]  # the event loop's own small buffers
        times.append(pool.submit(infer).result())
        del churn
    return {
        "peak_mb": round(_status_mb("VmHWM") - start, 1),
        "end_mb": round(_status_mb("VmRSS") - start, 1),
        "inference_ms": round(sorted(times)[RUNS // 2] * 1000, 1),
    }


def main() -> int:
    """Measure each variant in a fresh process and print them side by side."""
    if len(sys.argv) == 3 and sys.argv[1] == "--variant":
        print(json.dumps(measure(sys.argv[2])))
        return 0
    results = {}
    for variant in VARIANTS:
        out = subprocess.run(  # noqa: S603 - this script, by its own path
            [sys.executable, __file__, "--variant", variant],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        )
        results[variant] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{'variant':<10} {'peak MB':>8} {'end MB':>7} {'inference ms':>13}   what")
    for variant, row in results.items():
        print(
            f"{variant:<10} {row['peak_mb']:>8} {row['end_mb']:>7} {row['inference_ms']:>13}"
            f"   {VARIANTS[variant]}"
        )
    worker, before = results["worker"], results["before"]
    print(
        f"ratio worker/before: peak {worker['peak_mb'] / before['peak_mb']:.2f}, "
        f"time {worker['inference_ms'] / before['inference_ms']:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
