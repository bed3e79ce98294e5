"""Store-mode pipecat service settings with every field given (unsupported ones as None)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from pipecat.services.settings import ServiceSettings
from pipecat.utils.types import is_given

S = TypeVar("S", bound=ServiceSettings)


def complete(settings_cls: type[S], **given: Any) -> S:
    """Build ``settings_cls`` from ``given`` and set every other field to None."""
    settings = settings_cls(**given)
    for item in fields(settings):
        if item.name != "extra" and not is_given(getattr(settings, item.name)):
            setattr(settings, item.name, False if item.name.startswith("use_") else None)
    return settings
