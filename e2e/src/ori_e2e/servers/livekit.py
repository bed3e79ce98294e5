"""livekit-server on loopback: a real WebRTC SFU for the worker's LiveKit call paths."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ori_e2e.servers.process import (
    HOST,
    Argv,
    Server,
    _start_process,
    _with_port_retry,
    free_port,
    http_probe,
)
from ori_e2e.toolcache import find_binary

#: Throwaway local credentials (livekit-server wants secrets of 32 characters or more).
TEST_API_KEY = "ori-test-key"
TEST_API_SECRET = "ori-test-livekit-secret-0123456789abcdef"  # noqa: S105 - local test credential


@dataclass(kw_only=True)
class LiveKitServer(Server):
    """livekit-server; ``url`` is ``ws://127.0.0.1:<port>`` (signalling, and the server API).

    Media goes over one UDP port (``udp_port``, ICE/UDP mux) or, as a fallback, one TCP port
    (``tcp_port``, ICE/TCP), both on 127.0.0.1 only. Webhooks, if configured, are signed with
    ``api_key``/``api_secret``.
    """

    api_key: str
    api_secret: str
    udp_port: int
    tcp_port: int
    config_path: Path
    webhook_urls: list[str] = field(default_factory=list)

    @property
    def http_url(self) -> str:
        """``http://127.0.0.1:<port>``, where the server API (``livekit-api``) is served."""
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop livekit-server: SIGTERM, a second one a second later if it is still up.

        livekit-server 1.13 ignores a SIGTERM in the 100 ms after it starts serving (it marks
        itself running only then), and on a first SIGTERM waits for participants to leave; a
        second SIGTERM stops it at once. Idempotent.
        """
        for process in self.processes:
            if process.running and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
                deadline = time.monotonic() + 1.0
                while process.running and time.monotonic() < deadline:
                    time.sleep(0.02)
            process.stop()


def free_udp_port() -> int:
    """Return a loopback UDP port that is free now.

    Returns:
        A port number; the caller should bind it soon.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def livekit_config(
    port: int,
    udp_port: int,
    tcp_port: int,
    keys: dict[str, str],
    webhook_urls: Sequence[str] = (),
) -> dict[str, object]:
    """The server's YAML config (as JSON, which YAML reads) for a loopback-only node.

    Args:
        port: HTTP/WebSocket port (signalling and the server API).
        udp_port: The one UDP port all ICE/UDP traffic is muxed over.
        tcp_port: The ICE/TCP fallback port.
        keys: API key -> secret.
        webhook_urls: Where room and participant events are posted, signed with the first key.

    Returns:
        The config document.
    """
    config: dict[str, object] = {
        "port": port,
        "bind_addresses": [HOST],
        "rtc": {
            "udp_port": udp_port,
            "tcp_port": tcp_port,
            "use_external_ip": False,
            "node_ip": HOST,
            "enable_loopback_candidate": True,
            "ips": {"includes": [f"{HOST}/32"]},
        },
        "keys": keys,
        "logging": {"level": "info"},
    }
    if webhook_urls:
        config["webhook"] = {"api_key": next(iter(keys)), "urls": list(webhook_urls)}
    return config


def start_livekit(
    workdir: Path,
    port: int | None = None,
    *,
    api_key: str = TEST_API_KEY,
    api_secret: str = TEST_API_SECRET,
    webhook_urls: Sequence[str] = (),
    timeout: float = 30.0,
) -> LiveKitServer:
    """Start a single-node livekit-server (no Redis, so no SIP service) on loopback.

    Args:
        workdir: Holds ``livekit.yaml`` (the generated config) and ``livekit.log``.
        port: HTTP/WebSocket port; a free one when None. The UDP and TCP media ports are
            always free ones.
        api_key: The API key tokens and server API calls are signed with.
        api_secret: Its secret (at least 32 characters).
        webhook_urls: URLs the server posts its webhooks to.
        timeout: Seconds to wait for the HTTP port to answer.

    Returns:
        The running server.

    Raises:
        ToolMissing: livekit-server is not built.
        ServerError: It did not become ready.
    """
    binary = find_binary("livekit", "livekit-server")
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "livekit.yaml"

    def launch(chosen: int) -> LiveKitServer:
        udp, tcp = free_udp_port(), free_port()
        config = livekit_config(chosen, udp, tcp, {api_key: api_secret}, webhook_urls)
        config_path.write_text(json.dumps(config, indent=2))
        argv: Argv = [binary, "--config", config_path]
        process = _start_process(
            "livekit",
            argv,
            log_path=workdir / "livekit.log",
            probe=http_probe(f"http://{HOST}:{chosen}/"),
            timeout=timeout,
        )
        return LiveKitServer(
            name="livekit",
            host=HOST,
            port=chosen,
            url=f"ws://{HOST}:{chosen}",
            processes=[process],
            ready_seconds=process.ready_seconds or 0.0,
            api_key=api_key,
            api_secret=api_secret,
            udp_port=udp,
            tcp_port=tcp,
            config_path=config_path,
            webhook_urls=list(webhook_urls),
        )

    return _with_port_retry("livekit", port, launch)
