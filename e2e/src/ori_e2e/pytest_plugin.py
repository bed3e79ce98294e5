"""pytest plugin: real servers for Ori's tests, registered for the whole repo by the root conftest.

Session-scoped fixtures start a server the first time a test asks for it, keep its data under
the session's tmp dir, and stop it when the session ends:

* ``redis_server`` (:class:`~ori_e2e.servers.RedisServer`)
* ``mongo_server`` (:class:`~ori_e2e.servers.MongoServer`, FerretDB)
* ``s3_server`` (:class:`~ori_e2e.servers.S3Server`, MinIO)
* ``kube`` (:class:`~ori_e2e.servers.KubeCluster`, control plane with 2 kwok nodes)
* ``livekit_server`` (:class:`~ori_e2e.servers.LiveKitServer`, a loopback SFU, no SIP service)
* ``nginx_binary``, ``helm_binary``, ``tilt_binary`` (paths of the pinned executables)

Per-test isolation: ``redis_url`` (a flushed database of its own), ``mongo_db_name`` (a unique
database name) and ``s3_bucket`` (a new, empty bucket). A server that cannot start fails the
tests that need it, with the reason; nothing is ever skipped.

Server modules are imported lazily, so test runs that use no server pay nothing for them.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

if TYPE_CHECKING:
    from ori_e2e.servers import (
        KubeCluster,
        LiveKitServer,
        MongoServer,
        RedisServer,
        S3Server,
        Server,
    )
    from ori_e2e.voice import BackendProcess, BookingEndpoint

__all__ = [
    "backend_process",
    "booking",
    "helm_binary",
    "kube",
    "livekit_server",
    "mongo_db_name",
    "mongo_server",
    "nginx_binary",
    "redis_server",
    "redis_url",
    "s3_bucket",
    "s3_server",
    "tilt_binary",
    "unique_name",
]

S = TypeVar("S", bound="Server")

#: Seconds each server took to become ready, in start order; printed in the terminal summary.
_READY_TIMES = pytest.StashKey[dict[str, float]]()
_REDIS_DBS = pytest.StashKey[Iterator[int]]()
_KUBE_NODES = 2


def _ready_times(config: pytest.Config) -> dict[str, float]:
    return config.stash.setdefault(_READY_TIMES, {})


def _start_or_fail(
    config: pytest.Config, what: str, start: Callable[[], S], *, timing_key: str | None = None
) -> S:
    from ori_e2e.servers import ServerError
    from ori_e2e.toolcache import ToolMissing

    try:
        server = start()
    except (ToolMissing, ServerError) as exc:
        reason = str(exc)
    else:
        _ready_times(config)[timing_key or what] = server.ready_seconds
        return server
    pytest.fail(f"could not start {what}: {reason}", pytrace=False)


def _binary_or_fail(tool: str, binary: str | None = None) -> Path:
    from ori_e2e.toolcache import ToolMissing, find_binary

    try:
        return find_binary(tool, binary)
    except ToolMissing as exc:
        reason = str(exc)
    pytest.fail(reason, pytrace=False)


def unique_name(request: pytest.FixtureRequest, *, sep: str, limit: int) -> str:
    """Return a lowercase name unique to this test: a slug of its name plus random hex.

    Args:
        request: The requesting test's fixture request.
        sep: Separator character allowed by the target (``_`` or ``-``).
        limit: Maximum length of the result.

    Returns:
        A name of ``[a-z0-9]`` and ``sep``, starting with a letter, at most ``limit`` long.
    """
    suffix = uuid.uuid4().hex[:8]
    slug = re.sub(r"[^a-z0-9]+", sep, request.node.name.lower()).strip(sep)
    slug = slug.removeprefix(f"test{sep}")[: limit - len(suffix) - 3].strip(sep)
    return f"t{sep}{slug}{sep}{suffix}" if slug else f"t{sep}{suffix}"


# ------------------------------------------------------------------------------------ servers


@pytest.fixture(scope="session")
def redis_server(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RedisServer]:
    """A redis-server for the whole session (prefer ``redis_url`` for a database of your own)."""
    from ori_e2e.servers import start_redis

    server = _start_or_fail(
        pytestconfig, "redis", lambda: start_redis(tmp_path_factory.mktemp("redis"))
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mongo_server(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MongoServer]:
    """A FerretDB (MongoDB wire protocol over SQLite) for the whole session."""
    from ori_e2e.servers import start_ferretdb

    server = _start_or_fail(
        pytestconfig, "ferretdb", lambda: start_ferretdb(tmp_path_factory.mktemp("ferretdb"))
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_server(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[S3Server]:
    """A MinIO S3 server for the whole session, with its root credentials."""
    from ori_e2e.servers import start_minio

    server = _start_or_fail(
        pytestconfig, "minio", lambda: start_minio(tmp_path_factory.mktemp("minio"))
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kube(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KubeCluster]:
    """A Kubernetes control plane with 2 Ready kwok nodes; ``kube.kubeconfig`` is its kubeconfig."""
    from ori_e2e.servers import start_kube

    cluster = _start_or_fail(
        pytestconfig,
        "kube",
        lambda: start_kube(tmp_path_factory.mktemp("kube"), nodes=_KUBE_NODES),
        timing_key="kube (total)",
    )
    for component, seconds in cluster.component_ready.items():
        _ready_times(pytestconfig)[f"kube: {component}"] = seconds
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def livekit_server(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveKitServer]:
    """A livekit-server (single node, loopback media ports) with a test API key and secret."""
    from ori_e2e.servers import start_livekit

    server = _start_or_fail(
        pytestconfig, "livekit", lambda: start_livekit(tmp_path_factory.mktemp("livekit"))
    )
    yield server
    server.stop()


@pytest.fixture(scope="session")
def nginx_binary() -> Path:
    """The nginx executable (Debian package)."""
    return _binary_or_fail("nginx")


@pytest.fixture(scope="session")
def helm_binary() -> Path:
    """The helm executable built at the version tools/versions.env pins."""
    return _binary_or_fail("helm")


@pytest.fixture(scope="session")
def tilt_binary() -> Path:
    """The tilt executable built at the version tools/versions.env pins."""
    return _binary_or_fail("tilt")


# ------------------------------------------------------------------------------------ per test


@pytest.fixture
def redis_url(pytestconfig: pytest.Config, redis_server: RedisServer) -> str:
    """URL of a Redis database no other running test uses, flushed before the test."""
    import redis

    dbs = pytestconfig.stash.setdefault(
        _REDIS_DBS, itertools.cycle(range(1, redis_server.databases))
    )
    url = redis_server.db_url(next(dbs))
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url


@pytest.fixture
def mongo_db_name(
    request: pytest.FixtureRequest,
    mongo_server: MongoServer,  # noqa: ARG001 - requested so the server is up
) -> str:
    """A database name unique to this test, on ``mongo_server``."""
    return unique_name(request, sep="_", limit=48)


@pytest.fixture
def s3_bucket(request: pytest.FixtureRequest, s3_server: S3Server) -> str:
    """A new, empty bucket unique to this test, on ``s3_server``."""
    from minio import Minio

    name = unique_name(request, sep="-", limit=63)
    client = Minio(
        s3_server.endpoint,
        access_key=s3_server.access_key,
        secret_key=s3_server.secret_key,
        secure=s3_server.secure,
        region=s3_server.region,
    )
    client.make_bucket(name)
    return name


@pytest.fixture
def booking() -> Iterator[BookingEndpoint]:
    """A customer's booking endpoint, which the offline bots' custom HTTP tool calls."""
    from ori_e2e.voice import BookingEndpoint

    endpoint = BookingEndpoint()
    yield endpoint
    endpoint.close()


@pytest.fixture
def backend_process(
    tmp_path: Path,
    mongo_server: MongoServer,
    mongo_db_name: str,
    redis_url: str,
    s3_server: S3Server,
) -> Iterator[BackendProcess]:
    """The backend as a process on this test's database, Redis database and object store."""
    from ori_e2e.voice import start_backend

    process = start_backend(
        tmp_path / "backend", mongo_server.url, mongo_db_name, redis_url, s3_server
    )
    yield process
    process.stop()


# ------------------------------------------------------------------------------------ report


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Print how long each real server took to become ready, if any was started."""
    times = config.stash.get(_READY_TIMES, {})
    if not times:
        return
    terminalreporter.section("ori servers: seconds to ready")
    width = max(len(name) for name in times)
    for name, seconds in times.items():
        terminalreporter.write_line(f"{name:<{width}}  {seconds:7.2f}")
