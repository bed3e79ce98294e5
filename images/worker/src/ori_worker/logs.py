"""Worker logging: pipecat's loguru records go to the standard JSON log, with the call id.

``ori_contracts.logs`` formats stdlib records as JSON lines. Pipecat logs through loguru, so
:func:`bridge_loguru` forwards loguru into stdlib logging, and :class:`CallContextFilter`
stamps every record made while a call runs (any task of it) with that call's ``call_id``.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

call_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("call_id", default=None)


class CallContextFilter(logging.Filter):
    """Add ``call_id`` from the running call's context to records that lack one."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp the record; never drops one."""
        if getattr(record, "call_id", None) is None:
            record.call_id = call_id_var.get()
        return True


def _to_stdlib(message: Any) -> None:
    record = message.record
    logger = logging.getLogger(f"pipecat.{record['name']}")
    level = record["level"].no
    if logger.isEnabledFor(level):
        logger.log(level, record["message"])


def bridge_loguru(level: str) -> None:
    """Send pipecat's loguru output to stdlib logging at ``level`` and stamp call ids."""
    from loguru import logger  # noqa: PLC0415

    logger.remove()
    logger.add(_to_stdlib, level=level, format="{message}")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, CallContextFilter) for f in handler.filters):
            handler.addFilter(CallContextFilter())
