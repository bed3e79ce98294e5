"""``ori-backend``: serve the control-plane API (port 8080 by default), or administer it.

ori-backend [--host H] [--port P]                    serve
ori-backend create-superuser --email E [--name N]    create a platform administrator
                                                     (password read from standard input)
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

import uvicorn

from ori_backend.settings import BackendSettings, get_settings
from ori_contracts.logs import configure_logging


def main(argv: list[str] | None = None) -> None:
    """Load settings (exiting if incomplete), then serve the API or run a subcommand."""
    parser = argparse.ArgumentParser(prog="ori-backend", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="bind address (0.0.0.0 in containers)")
    parser.add_argument("--port", type=int, default=8080)
    commands = parser.add_subparsers(dest="command")
    superuser = commands.add_parser("create-superuser", help="create a platform administrator")
    superuser.add_argument("--email", required=True)
    superuser.add_argument("--name", default="Administrator")
    superuser.add_argument("--workspace", default="Default", help="name of their first workspace")
    args = parser.parse_args(argv)

    settings = get_settings()
    configure_logging("ori-backend", settings.log_level)
    if args.command == "create-superuser":
        password = _read_password()
        sys.exit(
            asyncio.run(
                _create_superuser(settings, args.email, args.name, args.workspace, password)
            )
        )

    from ori_backend.app import create_app  # noqa: PLC0415 - heavy imports only after settings load

    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_config=None)


def _read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    return sys.stdin.readline().rstrip("\n")


async def _create_superuser(
    settings: BackendSettings, email: str, name: str, workspace: str, password: str
) -> int:
    from motor.motor_asyncio import AsyncIOMotorClient  # noqa: PLC0415

    from ori_backend.db import ensure_indexes  # noqa: PLC0415
    from ori_backend.errors import ApiError  # noqa: PLC0415
    from ori_backend.schemas.auth import LoginRequest, SignupRequest  # noqa: PLC0415
    from ori_backend.services import identity  # noqa: PLC0415

    body = SignupRequest(email=email, password=password, name=name, workspace_name=workspace)
    LoginRequest(email=body.email, password=password)
    client: AsyncIOMotorClient[dict[str, object]] = AsyncIOMotorClient(
        settings.mongodb_uri, tz_aware=True
    )
    db = client[settings.mongodb_db]
    try:
        await ensure_indexes(db)
        user = await identity.create_user(
            db, email=body.email, password=body.password, name=body.name, superuser=True
        )
        await identity.create_workspace_for(db, user["_id"], workspace)
    except ApiError as error:
        print(f"ori-backend: {error.message}", file=sys.stderr)  # noqa: T201
        return 1
    finally:
        client.close()
    print(f"created superuser {body.email} ({user['_id']})")  # noqa: T201
    return 0


if __name__ == "__main__":
    main()
