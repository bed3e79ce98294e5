"""``ori-backend``: serve the control-plane API (port 8080 by default)."""

from __future__ import annotations

import argparse

import uvicorn

from ori_backend.settings import get_settings
from ori_contracts.logs import configure_logging


def main(argv: list[str] | None = None) -> None:
    """Load settings (exiting if incomplete), then serve the API."""
    parser = argparse.ArgumentParser(prog="ori-backend", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="bind address (0.0.0.0 in containers)")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)

    settings = get_settings()
    configure_logging("ori-backend", settings.log_level)

    from ori_backend.app import create_app  # noqa: PLC0415 - heavy imports only after settings load

    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_config=None)


if __name__ == "__main__":
    main()
