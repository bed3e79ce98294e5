"""eSpeak NG text-to-speech as a pipecat TTS service (offline, no key)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import numpy as np
import soxr
from pipecat.frames.frames import ErrorFrame, Frame, TTSAudioRawFrame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService

from ori_worker.providers.espeak_engine import EspeakEngine, espeak_engine
from ori_worker.providers.service_settings import complete

_CHUNK_S = 0.04


class EspeakTTSService(TTSService):
    """Synthesise each sentence with eSpeak NG and stream it out in 40 ms chunks."""

    def __init__(
        self,
        *,
        voice: str = "en-us",
        speed: float = 1.0,
        delay_s: float = 0.0,
        engine: EspeakEngine | None = None,
        **kwargs: object,
    ) -> None:
        """Create the service.

        Args:
            voice: eSpeak voice name, e.g. ``en-us`` or ``en-us+f3``.
            speed: Rate multiplier; 1.0 is 175 words per minute.
            delay_s: Extra fixed delay before the first audio, for benchmark stand-ins.
            engine: The eSpeak engine; the process-wide one by default.
            **kwargs: Passed to :class:`TTSService` (e.g. ``sample_rate``).
        """
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            settings=complete(TTSSettings, voice=voice),
            **kwargs,  # type: ignore[arg-type]
        )
        self._voice = voice
        self._speed = speed
        self._delay_s = delay_s
        self._engine = engine or espeak_engine()
        self.characters = 0

    def can_generate_metrics(self) -> bool:
        """Report time to first byte and character usage."""
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame | None, None]:
        """Synthesise ``text`` and yield it as audio frames at the service's sample rate."""
        self.characters += len(text)
        await self.start_tts_usage_metrics(text)
        try:
            speech = await asyncio.to_thread(
                self._engine.synthesize, text, voice=self._voice, speed=self._speed
            )
            samples = np.frombuffer(speech.pcm, dtype=np.int16)
            if speech.sample_rate_hz != self.sample_rate:
                samples = soxr.resample(samples, speech.sample_rate_hz, self.sample_rate)
            pcm = samples.astype(np.int16).tobytes()
            if self._delay_s:
                await asyncio.sleep(self._delay_s)
        except Exception as exc:  # a synthesis failure drops this sentence, not the call
            await self.stop_ttfb_metrics()
            yield ErrorFrame(error=f"eSpeak failed: {exc}")
            return
        await self.stop_ttfb_metrics()
        step = max(2, int(self.sample_rate * _CHUNK_S) * 2)
        for start in range(0, len(pcm), step):
            yield TTSAudioRawFrame(
                audio=pcm[start : start + step],
                sample_rate=self.sample_rate,
                num_channels=1,
                context_id=context_id,
            )
