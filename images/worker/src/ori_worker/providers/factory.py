"""One table per stage: which pipecat service runs each provider named in the runtime config.

Cloud services are imported lazily, so a worker that only runs offline bots never loads
their SDKs. A provider that needs a key the worker does not have, or that this worker does
not implement, raises :class:`ProviderUnavailable` before the call starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService
from pipecat.utils.types import NOT_GIVEN
from pydantic import SecretStr

from ori_contracts import (
    LlmConfig,
    LlmProvider,
    RuntimeConfig,
    SttConfig,
    SttProvider,
    TtsConfig,
    TtsProvider,
)


class ProviderUnavailable(RuntimeError):
    """The bot asks for a provider this worker cannot run (no key, or not implemented)."""


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


def _delay_s(options: dict[str, Any]) -> float:
    value = options.get("delay_ms", 0)
    return float(value) / 1000 if isinstance(value, (int, float)) and value > 0 else 0.0


def _str_option(options: dict[str, Any], name: str) -> str | None:
    value = options.get(name)
    return value if isinstance(value, str) and value else None


def _keyterms(cfg: SttConfig) -> Any:
    return list(cfg.phrases) if cfg.phrases else NOT_GIVEN


def make_stt(cfg: SttConfig, language: str, keys: ProviderKeys) -> STTService:
    """The speech-to-text service for ``cfg``."""
    match cfg.provider:
        case SttProvider.POCKETSPHINX:
            from ori_worker.providers.pocketsphinx_stt import (  # noqa: PLC0415
                PocketSphinxSTTService,
                open_recogniser,
            )

            return PocketSphinxSTTService(
                recogniser=open_recogniser(cfg.phrases),
                language=language,
                delay_s=_delay_s(cfg.options),
            )
        case SttProvider.DEEPGRAM:
            from pipecat.services.deepgram.stt import DeepgramSTTService  # noqa: PLC0415

            return DeepgramSTTService(
                api_key=keys.require("deepgram"),
                base_url=_str_option(cfg.options, "base_url") or "",
                settings=DeepgramSTTService.Settings(
                    model=cfg.model or "nova-3",
                    language=language,
                    keyterm=_keyterms(cfg),
                ),
            )
        case SttProvider.DEEPGRAM_FLUX:
            from pipecat.services.deepgram.flux.stt import DeepgramFluxSTTService  # noqa: PLC0415

            url = _str_option(cfg.options, "url") or "wss://api.deepgram.com/v2/listen"
            return DeepgramFluxSTTService(
                api_key=keys.require("deepgram"),
                url=url,
                settings=DeepgramFluxSTTService.Settings(
                    model=cfg.model or "flux-general-en",
                    keyterm=_keyterms(cfg),
                ),
            )
        case SttProvider.SONIOX:
            from pipecat.services.soniox.stt import SonioxSTTService  # noqa: PLC0415

            url = _str_option(cfg.options, "url") or "wss://stt-rt.soniox.com/transcribe-websocket"
            return SonioxSTTService(
                api_key=keys.require("soniox"),
                url=url,
                settings=SonioxSTTService.Settings(model=cfg.model or "stt-rt-v3"),
            )
        case SttProvider.OPENAI:
            from pipecat.services.openai.stt import OpenAISTTService  # noqa: PLC0415

            return OpenAISTTService(
                api_key=keys.require("openai"),
                base_url=_str_option(cfg.options, "base_url"),
                settings=OpenAISTTService.Settings(model=cfg.model or "gpt-4o-transcribe"),
            )
    raise ProviderUnavailable(f"STT provider {cfg.provider} is not implemented by this worker")


def make_llm(cfg: RuntimeConfig, keys: ProviderKeys) -> LLMService[Any]:
    """The language-model service for ``cfg.llm`` (the system prompt travels in the context)."""
    llm: LlmConfig = cfg.llm
    match llm.provider:
        case LlmProvider.SCRIPTED:
            from ori_worker.providers.scripted_llm import Script, ScriptedLLMService  # noqa: PLC0415

            if llm.scripted is None:  # the contract forbids it; keep mypy and readers honest
                raise ProviderUnavailable("scripted LLM without a script")
            return ScriptedLLMService(script=Script(llm.scripted), delay_s=_delay_s(llm.options))
        case LlmProvider.OPENAI:
            from pipecat.services.openai.llm import OpenAILLMService  # noqa: PLC0415

            return OpenAILLMService(
                api_key=keys.require("openai"),
                base_url=llm.base_url,
                settings=OpenAILLMService.Settings(
                    model=llm.model or "gpt-4.1-mini",
                    temperature=llm.temperature,
                    max_completion_tokens=llm.max_tokens,
                ),
            )
        case LlmProvider.GOOGLE:
            from pipecat.services.google.llm import GoogleLLMService  # noqa: PLC0415

            return GoogleLLMService(
                api_key=keys.require("google"),
                settings=GoogleLLMService.Settings(
                    model=llm.model or "gemini-2.5-flash",
                    temperature=llm.temperature,
                    max_tokens=llm.max_tokens,
                ),
            )
    raise ProviderUnavailable(f"LLM provider {llm.provider} is not implemented by this worker")


def make_tts(cfg: TtsConfig, keys: ProviderKeys) -> TTSService:
    """The text-to-speech service for ``cfg``."""
    match cfg.provider:
        case TtsProvider.ESPEAK:
            from ori_worker.providers.espeak_tts import EspeakTTSService  # noqa: PLC0415

            return EspeakTTSService(
                voice=cfg.voice or "en-us", speed=cfg.speed, delay_s=_delay_s(cfg.options)
            )
        case TtsProvider.ELEVENLABS:
            from pipecat.services.elevenlabs.tts import ElevenLabsTTSService  # noqa: PLC0415

            return ElevenLabsTTSService(
                api_key=keys.require("elevenlabs"),
                url=_str_option(cfg.options, "url") or "wss://api.elevenlabs.io",
                settings=ElevenLabsTTSService.Settings(
                    model=cfg.model or "eleven_flash_v2_5",
                    voice=cfg.voice or "21m00Tcm4TlvDq8ikWAM",
                    speed=cfg.speed,
                ),
            )
        case TtsProvider.CARTESIA:
            from pipecat.services.cartesia.tts import CartesiaTTSService  # noqa: PLC0415

            return CartesiaTTSService(
                api_key=keys.require("cartesia"),
                url=_str_option(cfg.options, "url") or "wss://api.cartesia.ai/tts/websocket",
                settings=CartesiaTTSService.Settings(
                    model=cfg.model or "sonic-2",
                    voice=cfg.voice or "71a7ad14-091c-4e8e-a314-022ece01c121",
                ),
            )
        case TtsProvider.OPENAI:
            from pipecat.services.openai.tts import OpenAITTSService  # noqa: PLC0415

            return OpenAITTSService(
                api_key=keys.require("openai"),
                base_url=_str_option(cfg.options, "base_url"),
                settings=OpenAITTSService.Settings(
                    model=cfg.model or "gpt-4o-mini-tts", voice=cfg.voice or "alloy"
                ),
            )
    raise ProviderUnavailable(f"TTS provider {cfg.provider} is not implemented by this worker")
