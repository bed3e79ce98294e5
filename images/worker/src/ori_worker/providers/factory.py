"""One table per stage: which pipecat service runs each provider named in the runtime config.

Offline providers are built here; cloud ones by :mod:`ori_worker.providers.cloud_stt` and
:mod:`ori_worker.providers.cloud_tts` (and the LLMs below). Cloud services are imported
lazily, so a worker that only runs offline bots never loads their SDKs. A provider that needs
a key the worker does not have, that this worker does not implement, or whose options are
wrong raises :class:`ProviderUnavailable` (:class:`ProviderOptionError` for options) before
the call starts.
"""

from __future__ import annotations

from typing import Any

from pipecat.services.llm_service import LLMService
from pipecat.services.stt_service import STTService
from pipecat.services.tts_service import TTSService

from ori_contracts import (
    LlmConfig,
    LlmProvider,
    RuntimeConfig,
    SttConfig,
    SttProvider,
    TtsConfig,
    TtsProvider,
)
from ori_worker.providers import cloud_stt, cloud_tts
from ori_worker.providers.common import (
    ProviderKeys,
    ProviderOptionError,
    ProviderOptions,
    ProviderUnavailable,
)

__all__ = [
    "ProviderKeys",
    "ProviderOptionError",
    "ProviderUnavailable",
    "make_llm",
    "make_stt",
    "make_tts",
]


def _delay_s(options: dict[str, Any]) -> float:
    value = options.get("delay_ms", 0)
    return float(value) / 1000 if isinstance(value, (int, float)) and value > 0 else 0.0


def _refused_value(where: str, exc: ValueError) -> ProviderOptionError:
    """A pipecat service refusing a setting (a model it does not know, ...) as an option error."""
    return ProviderOptionError(f"{where}: {exc}")


def make_stt(cfg: SttConfig, language: str, keys: ProviderKeys) -> STTService:
    """The speech-to-text service for ``cfg``."""
    if cfg.provider is SttProvider.POCKETSPHINX:
        from ori_worker.providers.pocketsphinx_stt import (  # noqa: PLC0415
            PocketSphinxSTTService,
            open_recogniser,
        )

        return PocketSphinxSTTService(
            recogniser=open_recogniser(cfg.phrases),
            language=language,
            delay_s=_delay_s(cfg.options),
        )
    builder = cloud_stt.BUILDERS.get(cfg.provider)
    if builder is None:
        raise ProviderUnavailable(f"STT provider {cfg.provider} is not implemented by this worker")
    try:
        return builder(cfg, language, keys)
    except ValueError as exc:
        raise _refused_value(f"stt {cfg.provider}", exc) from exc


def make_llm(cfg: RuntimeConfig, keys: ProviderKeys) -> LLMService[Any]:
    """The language-model service for ``cfg.llm`` (the system prompt travels in the context).

    ``llm.base_url`` points OpenAI at any compatible server and Gemini at another host of
    the Gemini API (its root, e.g. ``https://generativelanguage.googleapis.com/``).
    """
    llm: LlmConfig = cfg.llm
    match llm.provider:
        case LlmProvider.SCRIPTED:
            from ori_worker.providers.scripted_llm import Script, ScriptedLLMService  # noqa: PLC0415

            if llm.scripted is None:  # the contract forbids it; keep mypy and readers honest
                raise ProviderUnavailable("scripted LLM without a script")
            return ScriptedLLMService(script=Script(llm.scripted), delay_s=_delay_s(llm.options))
        case LlmProvider.OPENAI:
            from pipecat.services.openai.llm import OpenAILLMService  # noqa: PLC0415

            ProviderOptions.check("llm openai", llm.options, ())
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
            from google.genai.types import HttpOptions  # noqa: PLC0415
            from pipecat.services.google.llm import GoogleLLMService  # noqa: PLC0415

            ProviderOptions.check("llm google", llm.options, ())
            return GoogleLLMService(
                api_key=keys.require("google"),
                http_options=HttpOptions(base_url=llm.base_url) if llm.base_url else None,
                settings=GoogleLLMService.Settings(
                    model=llm.model or "gemini-2.5-flash",
                    temperature=llm.temperature,
                    max_tokens=llm.max_tokens,
                ),
            )
    raise ProviderUnavailable(f"LLM provider {llm.provider} is not implemented by this worker")


def make_tts(cfg: TtsConfig, keys: ProviderKeys) -> TTSService:
    """The text-to-speech service for ``cfg``."""
    if cfg.provider is TtsProvider.ESPEAK:
        from ori_worker.providers.espeak_tts import EspeakTTSService  # noqa: PLC0415

        return EspeakTTSService(
            voice=cfg.voice or "en-us", speed=cfg.speed, delay_s=_delay_s(cfg.options)
        )
    builder = cloud_tts.BUILDERS.get(cfg.provider)
    if builder is None:
        raise ProviderUnavailable(f"TTS provider {cfg.provider} is not implemented by this worker")
    try:
        return builder(cfg, keys)
    except ValueError as exc:
        raise _refused_value(f"tts {cfg.provider}", exc) from exc
