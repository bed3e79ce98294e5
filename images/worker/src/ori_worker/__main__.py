"""``ori-worker``: serve one worker process (one call slot in production)."""

from __future__ import annotations

import argparse

import uvicorn

from ori_contracts.logs import configure_logging
from ori_worker.settings import get_settings


def main(argv: list[str] | None = None) -> None:
    """Load settings (exiting if incomplete), then serve on a TCP port or a Unix socket."""
    parser = argparse.ArgumentParser(prog="ori-worker", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (0.0.0.0 in containers)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--uds", help="serve on this Unix socket instead (one per worker)")
    args = parser.parse_args(argv)

    settings = get_settings()
    configure_logging("ori-worker", settings.log_level)

    from ori_worker.app import create_app  # noqa: PLC0415 - heavy imports only after settings load

    uvicorn.run(create_app(settings), host=args.host, port=args.port, uds=args.uds, log_config=None)


if __name__ == "__main__":
    main()
