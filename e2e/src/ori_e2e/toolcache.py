"""Locate the real server binaries that `make tools` (tools/build.sh) puts in the tool cache.

Go-built tools live in ``$ORI_TOOLS_CACHE/<name>-<version>-<hash>/bin`` (default cache:
``${XDG_CACHE_HOME:-~/.cache}/ori-tools``); a directory counts only once its ``.done`` stamp
exists. Pinned versions come from ``tools/versions.env``. Servers Debian ships (redis-server,
nginx, espeak-ng) are found on ``PATH`` instead.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

__all__ = [
    "DEBIAN_TOOLS",
    "ToolMissing",
    "cache_dir",
    "find_binary",
    "pinned_version",
    "pinned_versions",
    "repo_root",
    "tool_bin_dir",
]

#: Tools installed from Debian packages: tool name -> default binary name.
DEBIAN_TOOLS: dict[str, str] = {"redis": "redis-server", "nginx": "nginx", "espeak-ng": "espeak-ng"}

# Where Debian puts binaries that may be missing from a non-root PATH.
_SYSTEM_DIRS = (Path("/usr/sbin"), Path("/usr/bin"), Path("/sbin"), Path("/bin"))
_HASH_SUFFIX = re.compile(r"[0-9a-f]{12}")
_ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)_VERSION=(\S+)$")


class ToolMissing(RuntimeError):
    """A server binary the tests or `make up` need is not installed or not built yet."""

    def __init__(self, tool: str, detail: str) -> None:
        self.tool = tool
        super().__init__(f"{tool}: {detail}; run `make tools` to build or install it")


def repo_root() -> Path:
    """Return the repository root, found from this file's location.

    Returns:
        The first ancestor directory holding ``tools/versions.env``.

    Raises:
        ToolMissing: No ancestor holds ``tools/versions.env`` (e.g. an installed wheel).
    """
    for parent in Path(__file__).resolve().parents:
        if (parent / "tools" / "versions.env").is_file():
            return parent
    raise ToolMissing("versions.env", f"no tools/versions.env above {Path(__file__).resolve()}")


def pinned_versions() -> dict[str, str]:
    """Parse ``tools/versions.env`` into ``{"kubernetes": "v1.35.4", "etcd": ..., ...}``.

    Returns:
        Lower-cased tool names mapped to their pinned versions.
    """
    versions: dict[str, str] = {}
    text = (repo_root() / "tools" / "versions.env").read_text(encoding="utf-8")
    for line in text.splitlines():
        match = _ASSIGNMENT.match(line.strip())
        if match:
            versions[match.group(1).lower()] = match.group(2).strip("\"'")
    return versions


def pinned_version(tool: str) -> str:
    """Return the version ``tools/versions.env`` pins for ``tool``.

    Args:
        tool: A cached tool name such as ``"helm"`` or ``"kubernetes"``.

    Returns:
        The pinned version string, e.g. ``"v3.21.4"``.

    Raises:
        ToolMissing: versions.env pins no such tool.
    """
    versions = pinned_versions()
    if tool not in versions:
        raise ToolMissing(tool, f"tools/versions.env pins no version (known: {sorted(versions)})")
    return versions[tool]


def cache_dir() -> Path:
    """Return the tool cache directory, following the same rules as tools/build.sh.

    Returns:
        ``$ORI_TOOLS_CACHE``, else ``$XDG_CACHE_HOME/ori-tools``, else ``~/.cache/ori-tools``.
    """
    explicit = os.environ.get("ORI_TOOLS_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "ori-tools"


def tool_bin_dir(tool: str) -> Path:
    """Return the ``bin`` directory of the newest finished cache entry for the pinned version.

    Args:
        tool: A tool pinned in versions.env (``kubernetes``, ``etcd``, ``kwok``, ``helm``,
            ``ferretdb``, ``minio``).

    Returns:
        ``<cache>/<tool>-<version>-<hash>/bin`` of the entry whose ``.done`` stamp is newest.

    Raises:
        ToolMissing: No finished entry exists for the pinned version.
    """
    version = pinned_version(tool)
    root = cache_dir()
    prefix = f"{tool}-{version}-"
    done: list[tuple[int, Path]] = []
    if root.is_dir():
        for entry in root.iterdir():
            stamp = entry / ".done"
            if (
                entry.name.startswith(prefix)
                and _HASH_SUFFIX.fullmatch(entry.name[len(prefix) :])
                and stamp.is_file()
            ):
                done.append((stamp.stat().st_mtime_ns, entry))
    if not done:
        raise ToolMissing(tool, f"no finished build of {version} in {root} (looked for {prefix}*)")
    return max(done)[1] / "bin"


def find_binary(tool: str, binary: str | None = None) -> Path:
    """Return the path of one executable of a tool.

    Args:
        tool: A tool pinned in versions.env (looked up in the cache) or a Debian tool
            (``redis``, ``nginx``, ``espeak-ng``; looked up on ``PATH`` and in the sbin dirs).
        binary: The executable's file name; defaults to the tool's main binary
            (``redis-server`` for ``redis``, otherwise the tool name).

    Returns:
        The absolute path of an executable file.

    Raises:
        ToolMissing: The tool is not built/installed, or lacks that executable.
    """
    if tool in DEBIAN_TOOLS:
        return _debian_binary(tool, binary or DEBIAN_TOOLS[tool])
    name = binary or tool
    path = tool_bin_dir(tool) / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ToolMissing(tool, f"the cached build has no executable {name} ({path})")
    return path


def _debian_binary(tool: str, binary: str) -> Path:
    found = shutil.which(binary)
    if found:
        return Path(found)
    for directory in _SYSTEM_DIRS:
        candidate = directory / binary
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise ToolMissing(tool, f"{binary} is not on PATH nor in /usr/sbin (a Debian package)")
