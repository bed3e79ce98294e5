"""Data servers: Redis, FerretDB (MongoDB wire protocol) and MinIO (S3)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymongo

from ori_e2e.servers.process import (
    HOST,
    Argv,
    Probe,
    Server,
    _start_process,
    _with_port_retry,
    free_port,
    http_probe,
    tcp_probe,
)
from ori_e2e.toolcache import find_binary


@dataclass(kw_only=True)
class RedisServer(Server):
    """redis-server; ``url`` is ``redis://127.0.0.1:<port>`` (database 0)."""

    databases: int

    def db_url(self, db: int) -> str:
        """Return the URL of one numbered database.

        Args:
            db: Database index, below ``databases``.

        Returns:
            ``redis://127.0.0.1:<port>/<db>``.
        """
        if not 0 <= db < self.databases:
            raise ValueError(f"redis database {db} out of range 0..{self.databases - 1}")
        return f"{self.url}/{db}"


@dataclass(kw_only=True)
class MongoServer(Server):
    """FerretDB (MongoDB wire protocol over SQLite); ``url`` is ``mongodb://127.0.0.1:<port>/``."""


@dataclass(kw_only=True)
class S3Server(Server):
    """MinIO; ``url`` is ``http://127.0.0.1:<port>``, ``endpoint`` is ``127.0.0.1:<port>``."""

    access_key: str
    secret_key: str
    region: str = "us-east-1"
    secure: bool = False

    @property
    def endpoint(self) -> str:
        """``host:port``, as the ``minio`` client takes it."""
        return f"{self.host}:{self.port}"


def start_redis(
    data_dir: Path,
    port: int | None = None,
    *,
    databases: int = 64,
    persistent: bool = False,
    timeout: float = 30.0,
) -> RedisServer:
    """Start redis-server on loopback with its files in ``data_dir``.

    Args:
        data_dir: Working directory for dump/AOF files and the log (``redis.log``).
        port: TCP port; a free one when None.
        databases: Number of numbered databases (tests hand out one each).
        persistent: Keep data across restarts (append-only file); off for tests.
        timeout: Seconds to wait for PING to answer.

    Returns:
        The running server.

    Raises:
        ToolMissing: redis-server is not installed.
        ServerError: It did not become ready.
    """
    binary = find_binary("redis")
    data_dir.mkdir(parents=True, exist_ok=True)
    persistence = ["--appendonly", "yes"] if persistent else ["--appendonly", "no", "--save", ""]

    def launch(chosen: int) -> RedisServer:
        argv: Argv = [binary, "--bind", HOST, "--port", str(chosen), "--dir", str(data_dir)]
        argv += ["--databases", str(databases), "--daemonize", "no", "--protected-mode", "yes"]
        argv += ["--logfile", "", *persistence]
        process = _start_process(
            "redis",
            argv,
            log_path=data_dir / "redis.log",
            probe=_redis_probe(chosen),
            timeout=timeout,
        )
        return RedisServer(
            name="redis",
            host=HOST,
            port=chosen,
            url=f"redis://{HOST}:{chosen}",
            processes=[process],
            ready_seconds=process.ready_seconds or 0.0,
            databases=databases,
        )

    return _with_port_retry("redis", port, launch)


def _redis_probe(port: int) -> Probe:
    def probe() -> bool:
        with socket.create_connection((HOST, port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")

    return probe


def start_ferretdb(
    data_dir: Path, port: int | None = None, *, timeout: float = 60.0
) -> MongoServer:
    """Start FerretDB v1 (MongoDB wire protocol, SQLite storage) on loopback.

    Args:
        data_dir: Holds ``sqlite/`` (one SQLite file per database) and ``ferretdb.log``.
        port: TCP port; a free one when None.
        timeout: Seconds to wait for a ``ping`` command to succeed.

    Returns:
        The running server.

    Raises:
        ToolMissing: FerretDB is not built.
        ServerError: It did not become ready.
    """
    binary = find_binary("ferretdb")
    sqlite_dir = data_dir / "sqlite"
    sqlite_dir.mkdir(parents=True, exist_ok=True)

    def launch(chosen: int) -> MongoServer:
        url = f"mongodb://{HOST}:{chosen}/"
        argv: Argv = [binary, f"--listen-addr={HOST}:{chosen}", f"--sqlite-dir={sqlite_dir}"]
        process = _start_process(
            "ferretdb",
            [*argv, "--log-level=warn"],
            log_path=data_dir / "ferretdb.log",
            probe=_mongo_probe(url),
            timeout=timeout,
        )
        return MongoServer(
            name="ferretdb",
            host=HOST,
            port=chosen,
            url=url,
            processes=[process],
            ready_seconds=process.ready_seconds or 0.0,
        )

    return _with_port_retry("ferretdb", port, launch)


def _mongo_probe(url: str) -> Probe:
    def probe() -> bool:
        tcp_probe(int(url.rsplit(":", 1)[1].strip("/")))()
        client: pymongo.MongoClient[dict[str, Any]] = pymongo.MongoClient(
            url, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000, directConnection=True
        )
        try:
            return bool(client.admin.command("ping").get("ok"))
        finally:
            client.close()

    return probe


def start_minio(
    data_dir: Path,
    port: int | None = None,
    *,
    access_key: str = "ori-test",
    secret_key: str = "ori-test-secret",  # noqa: S107 - a throwaway local test credential
    timeout: float = 60.0,
) -> S3Server:
    """Start a single-drive MinIO S3 server on loopback.

    Args:
        data_dir: Holds ``data/`` (the drive), ``certs/`` (empty; keeps MinIO out of ~/.minio)
            and ``minio.log``.
        port: S3 API port; a free one when None. The (disabled) console gets another free port.
        access_key: Root user (at least 3 characters).
        secret_key: Root password (at least 8 characters).
        timeout: Seconds to wait for ``/minio/health/cluster``.

    Returns:
        The running server, with its credentials.

    Raises:
        ToolMissing: MinIO is not built.
        ServerError: It did not become ready.
    """
    binary = find_binary("minio")
    drive, certs = data_dir / "data", data_dir / "certs"
    drive.mkdir(parents=True, exist_ok=True)
    certs.mkdir(parents=True, exist_ok=True)
    env = {
        "MINIO_ROOT_USER": access_key,
        "MINIO_ROOT_PASSWORD": secret_key,
        "MINIO_BROWSER": "off",
        "MINIO_UPDATE": "off",
    }

    def launch(chosen: int) -> S3Server:
        url = f"http://{HOST}:{chosen}"
        argv: Argv = [binary, "server", drive, "--address", f"{HOST}:{chosen}"]
        argv += ["--console-address", f"{HOST}:{free_port()}", "--certs-dir", certs, "--quiet"]
        process = _start_process(
            "minio",
            argv,
            log_path=data_dir / "minio.log",
            # /minio/health/ready answers 200 before the object layer, bucket metadata and IAM
            # are up; S3 calls then get 503 + Retry-After: 60, which minio-py obeys (a 60 s
            # stall). /minio/health/cluster is 200 only once all of them are ready.
            probe=http_probe(f"{url}/minio/health/cluster"),
            timeout=timeout,
            env=env,
        )
        return S3Server(
            name="minio",
            host=HOST,
            port=chosen,
            url=url,
            processes=[process],
            ready_seconds=process.ready_seconds or 0.0,
            access_key=access_key,
            secret_key=secret_key,
        )

    return _with_port_retry("minio", port, launch)
