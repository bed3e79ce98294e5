"""Cloud speech-to-text: one builder per provider, each pipecat's own service.

Every builder checks the provider's options first (:class:`ProviderOptions`); each accepts
the endpoint it talks to (``url`` or ``base_url``, the name pipecat's service gives it) so a
bot can be pointed at a regional endpoint, a private deployment or a test stand-in. The SDK
is imported only when the provider is used.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipecat.services.stt_service import STTService
from pipecat.utils.types import NOT_GIVEN

from ori_contracts import SttConfig, SttProvider
from ori_worker.providers.common import HTTP_SCHEMES, WS_SCHEMES, ProviderKeys, ProviderOptions

SttBuilder = Callable[[SttConfig, str, ProviderKeys], STTService]


def _keyterms(cfg: SttConfig) -> Any:
    return list(cfg.phrases) if cfg.phrases else NOT_GIVEN


def deepgram(cfg: SttConfig, language: str, keys: ProviderKeys) -> STTService:
    """Deepgram Nova, live (``options.base_url``: the API host, ``wss://api.deepgram.com``)."""
    from pipecat.services.deepgram.stt import DeepgramSTTService  # noqa: PLC0415

    opts = ProviderOptions.check("stt deepgram", cfg.options, {"base_url"})
    return DeepgramSTTService(
        api_key=keys.require("deepgram"),
        base_url=opts.url("base_url", WS_SCHEMES + HTTP_SCHEMES, ""),
        settings=DeepgramSTTService.Settings(
            model=cfg.model or "nova-3", language=language, keyterm=_keyterms(cfg)
        ),
    )


def deepgram_flux(cfg: SttConfig, language: str, keys: ProviderKeys) -> STTService:  # noqa: ARG001
    """Deepgram Flux, which ends turns itself.

    Options: ``url`` (the WebSocket), ``eot_threshold`` (0.5..0.9) and ``eot_timeout_ms``.
    """
    from pipecat.services.deepgram.flux.stt import DeepgramFluxSTTService  # noqa: PLC0415

    known = {"url", "eot_threshold", "eot_timeout_ms"}
    opts = ProviderOptions.check("stt deepgram_flux", cfg.options, known)
    return DeepgramFluxSTTService(
        api_key=keys.require("deepgram"),
        url=opts.url("url", WS_SCHEMES, "wss://api.deepgram.com/v2/listen"),
        settings=DeepgramFluxSTTService.Settings(
            model=cfg.model or "flux-general-en",
            keyterm=_keyterms(cfg),
            eot_threshold=opts.number("eot_threshold", 0.5, 0.9),
            eot_timeout_ms=opts.integer("eot_timeout_ms", 500, 10000),
        ),
    )


def soniox(cfg: SttConfig, language: str, keys: ProviderKeys) -> STTService:
    """Soniox real-time (``options.url``: the WebSocket)."""
    from pipecat.services.soniox.stt import SonioxSTTService  # noqa: PLC0415

    opts = ProviderOptions.check("stt soniox", cfg.options, {"url"})
    return SonioxSTTService(
        api_key=keys.require("soniox"),
        url=opts.url("url", WS_SCHEMES, "wss://stt-rt.soniox.com/transcribe-websocket"),
        settings=SonioxSTTService.Settings(model=cfg.model or "stt-rt-v3", language=language),
    )


def openai(cfg: SttConfig, language: str, keys: ProviderKeys) -> STTService:
    """OpenAI transcriptions, one request per utterance (``options.base_url``: the API)."""
    from pipecat.services.openai.stt import OpenAISTTService  # noqa: PLC0415

    opts = ProviderOptions.check("stt openai", cfg.options, {"base_url"})
    base_url = opts.url("base_url", HTTP_SCHEMES, "") or None
    return OpenAISTTService(
        api_key=keys.require("openai"),
        base_url=base_url,
        settings=OpenAISTTService.Settings(
            model=cfg.model or "gpt-4o-transcribe", language=language
        ),
    )


def sarvam(cfg: SttConfig, language: str, keys: ProviderKeys) -> STTService:
    """Sarvam realtime (``options.url``: the WebSocket), its turns marked by the pipeline.

    Sarvam serves Indian locales: a language is heard as its Indian variant (``en-US`` as
    ``en-IN``). Phrases are sent as keyterms to ``saaras:v4``, the model that takes them.
    """
    from pipecat.services.sarvam.stt import SarvamRealtimeSTTService  # noqa: PLC0415

    opts = ProviderOptions.check("stt sarvam", cfg.options, {"url"})
    model = cfg.model or "saaras:v3-realtime"
    return SarvamRealtimeSTTService(
        api_key=keys.require("sarvam"),
        base_url=opts.url("url", WS_SCHEMES, "wss://api.sarvam.ai/speech-to-text-realtime/ws"),
        endpointing="manual",
        keyterms=list(cfg.phrases) if cfg.phrases and model == "saaras:v4" else None,
        settings=SarvamRealtimeSTTService.Settings(model=model, language=language.split("-")[0]),
    )


BUILDERS: dict[SttProvider, SttBuilder] = {
    SttProvider.DEEPGRAM: deepgram,
    SttProvider.DEEPGRAM_FLUX: deepgram_flux,
    SttProvider.SONIOX: soniox,
    SttProvider.OPENAI: openai,
    SttProvider.SARVAM: sarvam,
}
