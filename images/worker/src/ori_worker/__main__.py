"""``ori-worker``: serve one worker process (one call slot in production).

SIGTERM (or Ctrl-C) drains instead of stopping at once: the worker takes no new call,
finishes the live one, flushes its result outbox, and only then exits. A second signal
stops it immediately.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from types import FrameType

# Before anything imports numpy or httpx. One call per process: numpy's OpenBLAS would
# start a thread (and a buffer) per core of the host for matrix work a call never does.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# httpx imports its command-line tool (click, rich, pygments: about 5 MB) whenever those
# happen to be installed; a worker never runs it, so it never loads it.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import uvicorn  # noqa: E402

from ori_contracts.logs import configure_logging  # noqa: E402
from ori_worker.memory import tune_allocator  # noqa: E402
from ori_worker.settings import get_settings  # noqa: E402

log = logging.getLogger("ori_worker")


class DrainingServer(uvicorn.Server):
    """A uvicorn server whose first exit signal drains the worker before shutting down."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """First signal: drain, then exit; second signal: exit now."""
        if self._draining or self.config.loaded_app is None:
            super().handle_exit(sig, frame)
            return
        self._draining = True
        log.info("signal %d: draining (finishing the live call, flushing results)", sig)
        loop = asyncio.get_event_loop()
        loop.call_soon_threadsafe(self._start_drain)

    def _start_drain(self) -> None:
        app = self.config.app
        runtime = getattr(getattr(app, "state", None), "runtime", None)
        if runtime is None:
            self.should_exit = True
            return
        task = runtime.begin_drain()
        task.add_done_callback(lambda _: setattr(self, "should_exit", True))


def main(argv: list[str] | None = None) -> None:
    """Load settings (exiting if incomplete), then serve on a TCP port or a Unix socket."""
    parser = argparse.ArgumentParser(prog="ori-worker", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (0.0.0.0 in containers)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--uds", help="serve on this Unix socket instead (one per worker)")
    args = parser.parse_args(argv)
    tune_allocator()  # before any thread starts

    settings = get_settings()
    configure_logging("ori-worker", settings.log_level)

    from ori_worker.app import create_app  # noqa: PLC0415 - heavy imports only after settings load
    from ori_worker.logs import bridge_loguru  # noqa: PLC0415

    bridge_loguru(settings.log_level)
    if settings.otel_enabled:
        from ori_worker.tracing import setup_tracing  # noqa: PLC0415

        setup_tracing(settings)
    app = create_app(settings, listen_address=f"{args.host}:{args.port}")
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        uds=args.uds,
        log_config=None,
        # Media is 50 small, incompressible messages a second each way: deflating them
        # costs CPU on both ends and saves nothing.
        ws_per_message_deflate=False,
    )
    DrainingServer(config).run()


if __name__ == "__main__":
    main()
