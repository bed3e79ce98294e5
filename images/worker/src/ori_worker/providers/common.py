"""What every provider adapter shares: the worker's keys, and the bot's options, checked.

A cloud provider's ``options`` (``SttConfig.options``, ``TtsConfig.options``) are checked
before the call starts: an unknown name or a bad value is a :class:`ProviderOptionError`
naming the provider, the option and what it accepts, so a typo never silently falls back to
the provider's production endpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr

WS_SCHEMES = ("wss", "ws")
HTTP_SCHEMES = ("https", "http")


class ProviderUnavailable(RuntimeError):
    """The bot asks for a provider this worker cannot run (no key, or not implemented)."""


class ProviderOptionError(ProviderUnavailable):
    """A provider option in the bot's config is unknown or has a value the adapter refuses."""


@dataclass(frozen=True)
class ProviderKeys:
    """The worker's provider credentials (from its settings)."""

    deepgram: SecretStr | None = None
    soniox: SecretStr | None = None
    openai: SecretStr | None = None
    google: SecretStr | None = None
    elevenlabs: SecretStr | None = None
    sarvam: SecretStr | None = None
    cartesia: SecretStr | None = None

    def require(self, name: str) -> str:
        """The key for ``name``, or :class:`ProviderUnavailable` naming the variable."""
        value: SecretStr | None = getattr(self, name)
        if value is None:
            raise ProviderUnavailable(f"{name} is configured but {name.upper()}_API_KEY is not set")
        return value.get_secret_value()


@dataclass(frozen=True)
class ProviderOptions:
    """One provider's options, limited to the names its adapter knows."""

    where: str
    """The stage and provider, for messages (``"stt deepgram"``)."""
    values: Mapping[str, Any]

    @classmethod
    def check(cls, where: str, values: Mapping[str, Any], known: Iterable[str]) -> ProviderOptions:
        """The options, or :class:`ProviderOptionError` when one is not among ``known``."""
        allowed = sorted(known)
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            accepted = ", ".join(allowed) or "none"
            raise ProviderOptionError(
                f"{where}: unknown option(s) {', '.join(unknown)} (accepted: {accepted})"
            )
        return cls(where, values)

    def _fail(self, name: str, expected: str) -> ProviderOptionError:
        return ProviderOptionError(
            f"{self.where}: option {name} must be {expected}, not {self.values[name]!r}"
        )

    def url(self, name: str, schemes: tuple[str, ...], default: str) -> str:
        """A URL option whose scheme is one of ``schemes``; ``default`` when absent."""
        value = self.values.get(name)
        if value is None:
            return default
        parts = urlsplit(value) if isinstance(value, str) else None
        if parts is None or parts.scheme not in schemes or not parts.hostname:
            raise self._fail(name, f"a {'/'.join(schemes)} URL")
        return str(value).rstrip("/")

    def number(self, name: str, low: float, high: float) -> float | None:
        """A number option in ``low..high``; None when absent."""
        value = self.values.get(name)
        if value is None:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not (low <= value <= high)
        ):
            raise self._fail(name, f"a number from {low:g} to {high:g}")
        return float(value)

    def integer(self, name: str, low: int, high: int) -> int | None:
        """A whole-number option in ``low..high``; None when absent."""
        value = self.values.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self._fail(name, f"a whole number from {low} to {high}")
        return value
