"""The four service Dockerfiles share one recipe; only what makes each image its own differs.

Each image is built the same way (a uv stage, a build stage that syncs third-party dependencies
from `uv.lock` before copying the two workspace members it runs, a slim non-root runtime stage
holding only the virtual environment). These tests keep the copies from drifting apart: with
each file's own name, package and source directory put back to placeholders, the build stages
are identical and the runtime stages share their common instructions; every workspace member's
`pyproject.toml` is copied (`uv sync --frozen` needs them all); the uv image is the Makefile's
uv; ports, health checks and entry points agree with the package. hadolint lints each file
(`make lint`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Image:
    """One service image: its Dockerfile, its package and the directory of its sources."""

    name: str
    source: str

    @property
    def dockerfile(self) -> Path:
        return ROOT / self.source / "Dockerfile"

    @property
    def package(self) -> str:
        return f"ori-{self.name}"

    def instructions(self) -> list[str]:
        """The file's instructions, continuation lines joined, comments and blanks dropped."""
        joined = re.sub(r"\\\n\s*", " ", self.dockerfile.read_text())
        return [
            " ".join(line.split())
            for line in joined.splitlines()
            if line.strip()[:1] not in ("", "#")
        ]

    def generic(self) -> list[str]:
        """The instructions with this image's own names replaced by placeholders."""
        return [
            line.replace(f"COPY {self.source} {self.source}", "COPY <source> <source>").replace(
                f"--package {self.package}", "--package <package>"
            )
            for line in self.instructions()
        ]

    def stages(self) -> tuple[list[str], list[str]]:
        """The instructions up to the runtime stage, and the runtime stage's."""
        lines = self.generic()
        runtime = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
        return lines[:runtime], lines[runtime:]


IMAGES = [
    Image("backend", "images/backend"),
    Image("worker", "images/worker"),
    Image("dialler", "images/dialler"),
    Image("operator", "operator"),
]
RUNTIME_COMMON = [
    "FROM ${PYTHON_IMAGE}",
    "COPY --from=build --chown=ori:ori /app/.venv /app/.venv",
    "WORKDIR /app",
    "USER 10001:10001",
]
NON_ROOT_USER = (
    "RUN groupadd --system --gid 10001 ori && useradd --system --uid 10001 --gid ori "
    "--home-dir /app --shell /usr/sbin/nologin ori"
)


def test_every_service_of_the_workspace_has_its_image() -> None:
    members = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    services = {m for m in members["members"] if m.startswith("images/") or m == "operator"}
    assert services == {image.source for image in IMAGES}


def test_the_build_stages_are_one_recipe() -> None:
    reference, _ = IMAGES[0].stages()
    for image in IMAGES[1:]:
        build, _ = image.stages()
        assert build == reference, f"{image.dockerfile} builds differently from the backend's"


def test_each_image_builds_its_own_package_from_its_own_sources() -> None:
    for image in IMAGES:
        lines = image.instructions()
        assert f"COPY {image.source} {image.source}" in lines, image.dockerfile
        syncs = [line for line in lines if "uv sync" in line]
        assert len(syncs) == 2 and all(f"--package {image.package}" in s for s in syncs)


def test_every_workspace_members_pyproject_is_copied_before_the_first_sync() -> None:
    workspace = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    wanted = {f"COPY {member}/pyproject.toml {member}/" for member in workspace["members"]}
    build, _ = IMAGES[0].stages()
    first_sync = next(i for i, line in enumerate(build) if "uv sync" in line)
    assert wanted <= set(build[:first_sync])


def test_the_runtime_stages_share_the_non_root_recipe() -> None:
    for image in IMAGES:
        _, runtime = image.stages()
        assert [line for line in runtime if line in RUNTIME_COMMON] == RUNTIME_COMMON
        assert any(line.startswith(NON_ROOT_USER) for line in runtime), image.dockerfile
        env = next(line for line in runtime if line.startswith("ENV "))
        assert env.startswith("ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1")


def test_the_uv_image_is_the_makefiles_uv_and_python_fits_every_package() -> None:
    uv_version = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert uv_version is not None
    for image in IMAGES:
        lines = image.instructions()
        assert f"ARG UV_IMAGE=ghcr.io/astral-sh/uv:{uv_version[1]}" in lines
        assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in lines
        project = tomllib.loads((image.dockerfile.parent / "pyproject.toml").read_text())
        assert project["project"]["requires-python"].startswith(">=3.11")


def test_ports_health_checks_and_entry_points_agree_with_the_package() -> None:
    for image in IMAGES:
        _, runtime = image.stages()
        exposed = next(line for line in runtime if line.startswith("EXPOSE ")).split()[1:]
        health = [line for line in runtime if line.startswith("HEALTHCHECK ")]
        for check in health:
            port = re.search(r"http://127\.0\.0\.1:(\d+)/", check)
            assert port is not None and port[1] in exposed, image.dockerfile
        entry = next(line for line in runtime if line.startswith("ENTRYPOINT "))
        command = re.search(r'ENTRYPOINT \["([^"]+)"', entry)
        project = tomllib.loads((image.dockerfile.parent / "pyproject.toml").read_text())
        assert command is not None and command[1] in project["project"]["scripts"]
        if "--port" in entry:
            assert re.search(r'"--port", "(\d+)"', entry)[1] in exposed  # type: ignore[index]
