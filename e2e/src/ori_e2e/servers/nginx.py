"""nginx on loopback, for the call router's configuration tests."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ori_e2e.servers.process import (
    HOST,
    Argv,
    ManagedProcess,
    Probe,
    Server,
    _with_port_retry,
    tcp_probe,
)
from ori_e2e.toolcache import find_binary


@dataclass(kw_only=True)
class NginxServer(Server):
    """nginx; ``url`` is ``http://127.0.0.1:<port>``."""

    workdir: Path
    conf_path: Path


_NGINX_MAIN = """\
{user}worker_processes 1;
pid {workdir}/nginx.pid;
error_log stderr notice;
daemon off;
events {{ worker_connections 256; }}
http {{
  access_log {workdir}/logs/access.log;
  client_body_temp_path {workdir}/tmp/client_body;
  proxy_temp_path {workdir}/tmp/proxy;
  fastcgi_temp_path {workdir}/tmp/fastcgi;
  uwsgi_temp_path {workdir}/tmp/uwsgi;
  scgi_temp_path {workdir}/tmp/scgi;
  types {{
    text/html html htm; text/plain txt; text/css css; application/javascript js mjs;
    application/json json; image/svg+xml svg; image/png png; audio/wav wav;
  }}
  default_type application/octet-stream;
{body}
}}
"""


def start_nginx(
    conf_text: str, workdir: Path, port: int | None = None, *, timeout: float = 30.0
) -> NginxServer:
    """Start nginx with the given ``http {}`` body, all its files under ``workdir``.

    ``conf_text`` is the content of the ``http`` block (``server``/``upstream`` blocks). It must
    listen on the literal placeholder ``{{port}}`` (e.g. ``listen 127.0.0.1:{{port}};``), and may
    use ``{{workdir}}`` for paths; both are replaced textually. The harness supplies the main
    context (pid, error log to the process log, temp paths, MIME types, ``daemon off``).

    Args:
        conf_text: The ``http {}`` body with ``{{port}}`` (and optionally ``{{workdir}}``).
        workdir: Holds ``nginx.conf``, ``nginx.log`` (error log), ``logs/access.log``, ``tmp/``.
        port: Port to substitute for ``{{port}}``; a free one when None.
        timeout: Seconds to wait for the port to accept connections.

    Returns:
        The running server.

    Raises:
        ValueError: ``conf_text`` has no ``{{port}}`` placeholder.
        ToolMissing: nginx is not installed.
        ServerError: It did not become ready (e.g. a config error; the log says which).
    """
    if "{{port}}" not in conf_text:
        raise ValueError("nginx conf_text must listen on the placeholder {{port}}")
    binary = find_binary("nginx")
    for sub in ("logs", "tmp"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    conf_path = workdir / "nginx.conf"

    def launch(chosen: int) -> NginxServer:
        body = conf_text.replace("{{port}}", str(chosen)).replace("{{workdir}}", str(workdir))
        # As root the workers would drop to `nobody`, who cannot read a 0700 pytest tmp dir.
        user = "user root;\n" if os.geteuid() == 0 else ""
        conf_path.write_text(_NGINX_MAIN.format(user=user, workdir=workdir, body=body))
        argv: Argv = [binary, "-p", workdir, "-c", conf_path, "-e", "stderr"]
        process = ManagedProcess("nginx", argv, log_path=workdir / "nginx.log")
        process.start(_nginx_probe(process, workdir / "nginx.pid", chosen), timeout=timeout)
        return NginxServer(
            name="nginx",
            host=HOST,
            port=chosen,
            url=f"http://{HOST}:{chosen}",
            processes=[process],
            ready_seconds=process.ready_seconds or 0.0,
            workdir=workdir,
            conf_path=conf_path,
        )

    return _with_port_retry("nginx", port, launch)


def _nginx_probe(process: ManagedProcess, pid_file: Path, port: int) -> Probe:
    # nginx retries a taken port for ~2.5 s, and meanwhile a bare TCP probe would reach the
    # other listener; its pid file is written only once all its sockets are bound.
    def probe() -> bool:
        if pid_file.read_text().strip() != str(process.pid):
            return False
        return tcp_probe(port)()

    return probe


def chart_router_conf(worker_port: int) -> str:
    """The chart's call router (`templates/router/configmap.yaml`), rendered by helm.

    Its workers are any loopback address on ``worker_port``; it listens on the ``{{port}}``
    placeholder :func:`start_nginx` fills in.
    """
    import subprocess  # noqa: PLC0415

    import yaml  # noqa: PLC0415

    chart = Path(__file__).resolve().parents[4] / "charts" / "ori"
    values = ["--set", "router.workerCIDRs={127.0.0.0/8}",
              "--set", f"router.workerPorts={{{worker_port}}}"]  # fmt: skip
    rendered = subprocess.run(
        [str(find_binary("helm")), "template", "t", str(chart), "--kube-version", "1.35.4",
         "--show-only", "templates/router/configmap.yaml", *values],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    conf: str = yaml.safe_load(rendered)["data"]["router.conf"]
    if "listen 8080;" not in conf:
        raise AssertionError(f"the chart's router no longer listens on 8080:\n{conf}")
    return conf.replace("listen 8080;", "listen 127.0.0.1:{{port}};")
