"""Real servers on loopback for Ori's tests and for `make up`.

Every server here is a real binary (see :mod:`ori_e2e.toolcache`) started as a
:class:`ManagedProcess`: its own process group, stdout+stderr appended to a log file, a readiness
probe bounded by a deadline, and ``stop()`` = SIGTERM to the group, SIGKILL after a grace period.
Everything binds 127.0.0.1 on a free port (or the port given) and keeps its data under the
directory it is given. A start either returns a ready server or raises :class:`ServerError`
(naming the server, the reason, and the tail of its log) with nothing left running;
:class:`~ori_e2e.toolcache.ToolMissing` is raised before anything starts if a binary is absent.

Typical use::

    with start_redis(tmp / "redis") as redis:
        client = redis_asyncio.from_url(redis.url)

    kube = start_kube(tmp / "kube", nodes=2)  # etcd, kube-apiserver, kcm, scheduler, kwok
    os.environ["KUBECONFIG"] = str(kube.kubeconfig)
    ...
    kube.stop()
"""

from ori_e2e.servers.data import (
    MongoServer,
    RedisServer,
    S3Server,
    start_ferretdb,
    start_minio,
    start_redis,
)
from ori_e2e.servers.kube import KWOK_NODE_ANNOTATION, KubeCluster, start_kube
from ori_e2e.servers.livekit import LiveKitServer, start_livekit
from ori_e2e.servers.nginx import NginxServer, chart_router_conf, start_nginx
from ori_e2e.servers.process import (
    HOST,
    Argv,
    ManagedProcess,
    Probe,
    Server,
    ServerError,
    WaitTimeout,
    free_port,
    http_probe,
    tcp_probe,
    wait_for,
)

__all__ = [
    "HOST",
    "KWOK_NODE_ANNOTATION",
    "Argv",
    "KubeCluster",
    "LiveKitServer",
    "ManagedProcess",
    "MongoServer",
    "NginxServer",
    "chart_router_conf",
    "Probe",
    "RedisServer",
    "S3Server",
    "Server",
    "ServerError",
    "WaitTimeout",
    "free_port",
    "http_probe",
    "start_ferretdb",
    "start_kube",
    "start_livekit",
    "start_minio",
    "start_nginx",
    "start_redis",
    "tcp_probe",
    "wait_for",
]
