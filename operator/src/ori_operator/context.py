"""What every handler shares: settings, the Kubernetes and Redis clients, and wake-ups."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from ori_operator.allocator import Allocator
from ori_operator.backend import Backend
from ori_operator.kube import Kube
from ori_operator.settings import OperatorSettings

__all__ = ["MEMO_KEY", "OperatorContext", "Wakeups", "context_of"]

MEMO_KEY = "ori"


class Wakeups:
    """One event per object: a watch event sets it, the object's reconcile loop waits on it."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, str], asyncio.Event] = {}

    def event(self, namespace: str, name: str) -> asyncio.Event:
        """The object's event (created on first use)."""
        return self._events.setdefault((namespace, name), asyncio.Event())

    def wake(self, namespace: str, name: str) -> None:
        """Wake the object's loop, if it has one."""
        event = self._events.get((namespace, name))
        if event is not None:
            event.set()

    def forget(self, namespace: str, name: str) -> None:
        """Drop the object's event (its loop ended)."""
        self._events.pop((namespace, name), None)


@dataclass
class OperatorContext:
    """Created once at start-up and kept in kopf's memo."""

    settings: OperatorSettings
    kube: Kube
    allocator: Allocator
    backend: Backend | None = None
    """None when BACKEND_URL is unset: Bots are validated but not synced."""
    wakeups: Wakeups = field(default_factory=Wakeups)


def context_of(memo: MutableMapping[str, Any]) -> OperatorContext:
    """The context the startup handler put in kopf's memo.

    Raises:
        RuntimeError: The startup handler has not run (a handler was called too early).
    """
    ctx = memo.get(MEMO_KEY)
    if not isinstance(ctx, OperatorContext):
        raise RuntimeError("operator context missing: the startup handler has not run")
    return ctx
