"""Usage rows per provider and their estimated cost (list prices, US dollars).

Prices are per unit of :class:`~ori_contracts.UsageUnit` and are estimates from the
providers' public price lists; ``None`` means unknown (the row still reports the quantity).
Offline providers cost nothing.
"""

from __future__ import annotations

from typing import Final

from ori_contracts import ProviderKind, ProviderUsage, RuntimeConfig, UsageUnit

PRICE_USD: Final[dict[tuple[str, UsageUnit], float]] = {
    ("pocketsphinx", UsageUnit.AUDIO_SECONDS): 0.0,
    ("deepgram", UsageUnit.AUDIO_SECONDS): 0.0077 / 60,
    ("deepgram_flux", UsageUnit.AUDIO_SECONDS): 0.0077 / 60,
    ("soniox", UsageUnit.AUDIO_SECONDS): 0.12 / 3600,
    ("openai_stt", UsageUnit.AUDIO_SECONDS): 0.006 / 60,
    ("scripted", UsageUnit.INPUT_TOKENS): 0.0,
    ("scripted", UsageUnit.OUTPUT_TOKENS): 0.0,
    ("openai", UsageUnit.INPUT_TOKENS): 0.40 / 1e6,
    ("openai", UsageUnit.CACHED_INPUT_TOKENS): 0.10 / 1e6,
    ("openai", UsageUnit.OUTPUT_TOKENS): 1.60 / 1e6,
    ("google", UsageUnit.INPUT_TOKENS): 0.30 / 1e6,
    ("google", UsageUnit.CACHED_INPUT_TOKENS): 0.075 / 1e6,
    ("google", UsageUnit.OUTPUT_TOKENS): 2.50 / 1e6,
    ("espeak", UsageUnit.CHARACTERS): 0.0,
    ("elevenlabs", UsageUnit.CHARACTERS): 0.05 / 1000,
    ("cartesia", UsageUnit.CHARACTERS): 0.038 / 1000,
    ("openai_tts", UsageUnit.CHARACTERS): 0.015 / 1000,
    ("websocket", UsageUnit.CALL_SECONDS): 0.0,
    ("twilio", UsageUnit.CALL_SECONDS): 0.004 / 60,
    ("exotel", UsageUnit.CALL_SECONDS): 0.004 / 60,
    ("plivo", UsageUnit.CALL_SECONDS): 0.003 / 60,
    ("telnyx", UsageUnit.CALL_SECONDS): 0.0035 / 60,
}


def _cost(price_key: str, unit: UsageUnit, quantity: float) -> float | None:
    price = PRICE_USD.get((price_key, unit))
    return None if price is None else round(price * quantity, 6)


def usage_rows(
    cfg: RuntimeConfig,
    *,
    stt_audio_s: float,
    llm_tokens: tuple[int, int, int],
    tts_characters: int,
    call_s: float,
) -> list[ProviderUsage]:
    """One row per metered quantity of the call's providers.

    Args:
        cfg: The call's config (which providers and models ran).
        stt_audio_s: Seconds of audio the STT was given.
        llm_tokens: Input, cached input and output tokens.
        tts_characters: Characters synthesised.
        call_s: Connected seconds on the carrier.
    """
    stt, llm, tts = str(cfg.stt.provider), str(cfg.llm.provider), str(cfg.tts.provider)
    stt_key = "openai_stt" if stt == "openai" else stt
    tts_key = "openai_tts" if tts == "openai" else tts
    rows = [
        ProviderUsage(
            kind=ProviderKind.STT,
            provider=stt,
            model=cfg.stt.model,
            unit=UsageUnit.AUDIO_SECONDS,
            quantity=round(stt_audio_s, 3),
            cost_usd=_cost(stt_key, UsageUnit.AUDIO_SECONDS, stt_audio_s),
        )
    ]
    units = (UsageUnit.INPUT_TOKENS, UsageUnit.CACHED_INPUT_TOKENS, UsageUnit.OUTPUT_TOKENS)
    for unit, quantity in zip(units, llm_tokens, strict=True):
        if quantity or unit is not UsageUnit.CACHED_INPUT_TOKENS:
            rows.append(
                ProviderUsage(
                    kind=ProviderKind.LLM,
                    provider=llm,
                    model=cfg.llm.model,
                    unit=unit,
                    quantity=float(quantity),
                    cost_usd=_cost(llm, unit, quantity),
                )
            )
    rows.append(
        ProviderUsage(
            kind=ProviderKind.TTS,
            provider=tts,
            model=cfg.tts.model,
            unit=UsageUnit.CHARACTERS,
            quantity=float(tts_characters),
            cost_usd=_cost(tts_key, UsageUnit.CHARACTERS, tts_characters),
        )
    )
    telephony = str(cfg.telephony_provider)
    rows.append(
        ProviderUsage(
            kind=ProviderKind.TELEPHONY,
            provider=telephony,
            unit=UsageUnit.CALL_SECONDS,
            quantity=round(call_s, 3),
            cost_usd=_cost(telephony, UsageUnit.CALL_SECONDS, call_s),
        )
    )
    return rows
