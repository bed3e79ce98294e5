"""Fetching a call's runtime config from the backend, bounded in time.

``POST {VOXBRIDGE_CONFIG_URL}`` with a ``ConfigRequest`` answers the ``RuntimeConfig``
(``ori_contracts.wire``). Anything but a valid config within the timeout is a
:class:`ConfigError` that says whether the config was unavailable or invalid, so the call can
end politely with the right failure reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from pydantic import ValidationError

from ori_contracts import FailureReason, RuntimeConfig
from ori_contracts.wire import ConfigRequest, bearer

ConfigSource = Callable[[ConfigRequest], Awaitable[RuntimeConfig]]
"""Answers the runtime config for a call, or raises :class:`ConfigError`."""


class ConfigError(RuntimeError):
    """No usable runtime config; ``reason`` is the failure reason for the call's result."""

    def __init__(self, reason: FailureReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def http_config_source(
    client: httpx.AsyncClient, url: str, secret: str, timeout_s: float
) -> ConfigSource:
    """A :data:`ConfigSource` that asks the backend at ``url``."""

    async def fetch(request: ConfigRequest) -> RuntimeConfig:
        try:
            response = await asyncio.wait_for(
                client.post(
                    url,
                    content=request.model_dump_json(),
                    headers={**bearer(secret), "content-type": "application/json"},
                    timeout=timeout_s,
                ),
                timeout=timeout_s,
            )
        except (httpx.HTTPError, TimeoutError) as exc:
            raise ConfigError(
                FailureReason.CONFIG_UNAVAILABLE,
                f"runtime config not fetched within {timeout_s:g} s: {type(exc).__name__}",
            ) from exc
        if response.status_code != 200:
            raise ConfigError(
                FailureReason.CONFIG_UNAVAILABLE,
                f"backend answered {response.status_code} for the runtime config",
            )
        try:
            config = RuntimeConfig.model_validate_json(response.content)
        except ValidationError as exc:
            raise ConfigError(
                FailureReason.CONFIG_INVALID,
                f"runtime config is invalid: {exc.error_count()} error(s), first: "
                f"{exc.errors()[0]['msg']}",
            ) from exc
        if config.call_id != request.call_id:
            raise ConfigError(
                FailureReason.CONFIG_INVALID,
                f"runtime config is for call {config.call_id}, not {request.call_id}",
            )
        return config

    return fetch


def fixed_config_source(config: RuntimeConfig) -> ConfigSource:
    """A :data:`ConfigSource` that answers ``config`` for its own call id (tests, demos)."""

    async def fetch(request: ConfigRequest) -> RuntimeConfig:
        return config.model_copy(update={"call_id": request.call_id})

    return fetch


def file_config_source(path: Path) -> ConfigSource:
    """A :data:`ConfigSource` that answers the RuntimeConfig in ``path`` for every call.

    The file is read at each call, so a demo can be edited while the worker runs; a missing
    or invalid file fails the call like an unavailable or invalid backend answer would.
    """

    async def fetch(request: ConfigRequest) -> RuntimeConfig:
        try:
            raw = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            raise ConfigError(
                FailureReason.CONFIG_UNAVAILABLE, f"cannot read {path}: {exc}"
            ) from exc
        try:
            config = RuntimeConfig.model_validate_json(raw)
        except ValidationError as exc:
            raise ConfigError(
                FailureReason.CONFIG_INVALID, f"{path} is not a valid RuntimeConfig: {exc}"
            ) from exc
        return config.model_copy(update={"call_id": request.call_id})

    return fetch
