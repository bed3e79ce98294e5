from __future__ import annotations

import os
from pathlib import Path

import pytest

from ori_e2e import toolcache
from ori_e2e.toolcache import ToolMissing, find_binary, pinned_version, tool_bin_dir

pytestmark = pytest.mark.unit


@pytest.fixture
def empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "ori-tools"
    cache.mkdir()
    monkeypatch.setenv("ORI_TOOLS_CACHE", str(cache))
    return cache


def _fake_build(cache: Path, tool: str, digest: str, *, done: bool = True) -> Path:
    bin_dir = cache / f"{tool}-{pinned_version(tool)}-{digest}" / "bin"
    bin_dir.mkdir(parents=True)
    exe = bin_dir / tool
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    if done:
        (bin_dir.parent / ".done").write_text("2026-01-01T00:00:00Z\n")
    return bin_dir


def test_tool_missing_names_the_tool_and_the_fix(empty_cache: Path) -> None:
    with pytest.raises(ToolMissing) as caught:
        find_binary("kubernetes", "kube-apiserver")

    assert caught.value.tool == "kubernetes"
    message = str(caught.value)
    assert message.startswith("kubernetes:")
    assert pinned_version("kubernetes") in message
    assert str(empty_cache) in message
    assert "run `make tools`" in message


def test_unfinished_build_is_not_found(empty_cache: Path) -> None:
    _fake_build(empty_cache, "etcd", "0123456789ab", done=False)

    with pytest.raises(ToolMissing, match="etcd"):
        tool_bin_dir("etcd")


def test_newest_finished_build_wins(empty_cache: Path) -> None:
    older = _fake_build(empty_cache, "etcd", "aaaaaaaaaaaa")
    newer = _fake_build(empty_cache, "etcd", "bbbbbbbbbbbb")
    os.utime(older.parent / ".done", (1_000, 1_000))

    assert find_binary("etcd") == newer / "etcd"


def test_other_versions_are_ignored(empty_cache: Path) -> None:
    stale = empty_cache / "helm-v0.0.1-0123456789ab" / "bin"
    stale.mkdir(parents=True)
    (stale.parent / ".done").touch()

    with pytest.raises(ToolMissing, match="helm"):
        find_binary("helm")


def test_missing_executable_in_a_finished_build_names_it(empty_cache: Path) -> None:
    _fake_build(empty_cache, "kwok", "0123456789ab")

    with pytest.raises(ToolMissing, match="kwokctl"):
        find_binary("kwok", "kwokctl")


def test_debian_tool_missing_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(toolcache, "_SYSTEM_DIRS", ())
    monkeypatch.setenv("PATH", "")

    with pytest.raises(ToolMissing, match=r"^redis: redis-server .*run `make tools`"):
        find_binary("redis")


def test_cache_dir_follows_build_sh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ORI_TOOLS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))

    assert toolcache.cache_dir() == tmp_path / "ori-tools"


def test_versions_env_is_parsed() -> None:
    versions = toolcache.pinned_versions()

    assert set(versions) >= {"kubernetes", "etcd", "kwok", "helm", "ferretdb", "minio"}
    assert all(v.startswith("v") for v in versions.values())
