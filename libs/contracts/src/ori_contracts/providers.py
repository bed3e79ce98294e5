"""Provider names: validated by the backend, dispatched on by the worker.

Each enum value is the string stored in configs and results. The `OFFLINE_*` sets name the
providers that need no credentials and no network service; a worker built with only those
can run a whole call in CI.
"""

from enum import StrEnum
from typing import Final

__all__ = [
    "OFFLINE_LLM_PROVIDERS",
    "OFFLINE_STT_PROVIDERS",
    "OFFLINE_TELEPHONY_PROVIDERS",
    "OFFLINE_TTS_PROVIDERS",
    "STT_PROVIDERS_WITH_TURN_DETECTION",
    "LlmProvider",
    "ProviderKind",
    "SttProvider",
    "TelephonyProvider",
    "TtsProvider",
]


class ProviderKind(StrEnum):
    """The stage a provider serves."""

    STT = "stt"
    LLM = "llm"
    TTS = "tts"
    TELEPHONY = "telephony"


class SttProvider(StrEnum):
    """Speech-to-text providers."""

    DEEPGRAM = "deepgram"
    DEEPGRAM_FLUX = "deepgram_flux"
    SONIOX = "soniox"
    OPENAI = "openai"
    GOOGLE = "google"
    SARVAM = "sarvam"
    POCKETSPHINX = "pocketsphinx"


class LlmProvider(StrEnum):
    """Language-model providers. `scripted` is a deterministic rule engine, not a model."""

    OPENAI = "openai"
    GOOGLE = "google"
    ANTHROPIC = "anthropic"
    SCRIPTED = "scripted"


class TtsProvider(StrEnum):
    """Text-to-speech providers."""

    ELEVENLABS = "elevenlabs"
    CARTESIA = "cartesia"
    SARVAM = "sarvam"
    OPENAI = "openai"
    GOOGLE = "google"
    ESPEAK = "espeak"


class TelephonyProvider(StrEnum):
    """How the call's audio reaches the worker. `websocket` is a plain PCM WebSocket peer."""

    TWILIO = "twilio"
    EXOTEL = "exotel"
    PLIVO = "plivo"
    TELNYX = "telnyx"
    WEBSOCKET = "websocket"
    LIVEKIT = "livekit"


OFFLINE_STT_PROVIDERS: Final = frozenset({SttProvider.POCKETSPHINX})
OFFLINE_LLM_PROVIDERS: Final = frozenset({LlmProvider.SCRIPTED})
OFFLINE_TTS_PROVIDERS: Final = frozenset({TtsProvider.ESPEAK})
OFFLINE_TELEPHONY_PROVIDERS: Final = frozenset({TelephonyProvider.WEBSOCKET})

STT_PROVIDERS_WITH_TURN_DETECTION: Final = frozenset({SttProvider.DEEPGRAM_FLUX})
"""STT providers that report end of turn themselves (turn strategy `provider`)."""
