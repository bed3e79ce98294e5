"""Cloud text-to-speech: one builder per provider, each pipecat's own service.

As for speech-to-text (:mod:`ori_worker.providers.cloud_stt`), options are checked first and
each builder accepts its endpoint (``url`` or ``base_url``). ``TtsConfig.speed`` is passed
where the provider has a speed (clamped to the provider's range); ``sample_rate_hz`` where it
synthesises at a chosen rate (OpenAI always answers at 24 kHz; the output transport
resamples to the carrier's rate).
"""

from __future__ import annotations

from collections.abc import Callable

from pipecat.services.tts_service import TTSService

from ori_contracts import TtsConfig, TtsProvider
from ori_worker.providers.common import HTTP_SCHEMES, WS_SCHEMES, ProviderKeys, ProviderOptions

TtsBuilder = Callable[[TtsConfig, ProviderKeys], TTSService]
OPENAI_TTS_RATE_HZ = 24000


def _speed(cfg: TtsConfig, low: float, high: float) -> float | None:
    return None if cfg.speed == 1.0 else min(high, max(low, cfg.speed))


def elevenlabs(cfg: TtsConfig, keys: ProviderKeys) -> TTSService:
    """ElevenLabs multi-context WebSocket (``options.url``: the API host)."""
    from pipecat.services.elevenlabs.tts import ElevenLabsTTSService  # noqa: PLC0415

    opts = ProviderOptions.check("tts elevenlabs", cfg.options, {"url"})
    return ElevenLabsTTSService(
        api_key=keys.require("elevenlabs"),
        url=opts.url("url", WS_SCHEMES, "wss://api.elevenlabs.io"),
        sample_rate=cfg.sample_rate_hz,
        settings=ElevenLabsTTSService.Settings(
            model=cfg.model or "eleven_flash_v2_5",
            voice=cfg.voice or "21m00Tcm4TlvDq8ikWAM",
            speed=_speed(cfg, 0.7, 1.2),
        ),
    )


def cartesia(cfg: TtsConfig, keys: ProviderKeys) -> TTSService:
    """Cartesia WebSocket (``options.url``: the WebSocket)."""
    from pipecat.services.cartesia.tts import CartesiaTTSService, GenerationConfig  # noqa: PLC0415

    opts = ProviderOptions.check("tts cartesia", cfg.options, {"url"})
    speed = _speed(cfg, 0.6, 1.5)
    return CartesiaTTSService(
        api_key=keys.require("cartesia"),
        url=opts.url("url", WS_SCHEMES, "wss://api.cartesia.ai/tts/websocket"),
        sample_rate=cfg.sample_rate_hz,
        settings=CartesiaTTSService.Settings(
            model=cfg.model or "sonic-2",
            voice=cfg.voice or "71a7ad14-091c-4e8e-a314-022ece01c121",
            generation_config=GenerationConfig(speed=speed) if speed else None,
        ),
    )


def openai(cfg: TtsConfig, keys: ProviderKeys) -> TTSService:
    """OpenAI speech, 24 kHz PCM over HTTP (``options.base_url``: the API)."""
    from pipecat.services.openai.tts import OpenAITTSService  # noqa: PLC0415

    opts = ProviderOptions.check("tts openai", cfg.options, {"base_url"})
    return OpenAITTSService(
        api_key=keys.require("openai"),
        base_url=opts.url("base_url", HTTP_SCHEMES, "") or None,
        sample_rate=OPENAI_TTS_RATE_HZ,
        settings=OpenAITTSService.Settings(
            model=cfg.model or "gpt-4o-mini-tts",
            voice=cfg.voice or "alloy",
            speed=_speed(cfg, 0.25, 4.0),
        ),
    )


def sarvam(cfg: TtsConfig, keys: ProviderKeys) -> TTSService:
    """Sarvam streaming WebSocket (``options.url``: the WebSocket)."""
    from pipecat.services.sarvam.tts import SarvamTTSService  # noqa: PLC0415

    opts = ProviderOptions.check("tts sarvam", cfg.options, {"url"})
    settings = SarvamTTSService.Settings(model=cfg.model or "bulbul:v3", pace=cfg.speed)
    if cfg.voice:
        settings.voice = cfg.voice
    return SarvamTTSService(
        api_key=keys.require("sarvam"),
        url=opts.url("url", WS_SCHEMES, "wss://api.sarvam.ai/text-to-speech/ws"),
        sample_rate=cfg.sample_rate_hz,
        settings=settings,
    )


BUILDERS: dict[TtsProvider, TtsBuilder] = {
    TtsProvider.ELEVENLABS: elevenlabs,
    TtsProvider.CARTESIA: cartesia,
    TtsProvider.OPENAI: openai,
    TtsProvider.SARVAM: sarvam,
}
