"""Finalising an answered call: transcript, recording, analysis, QC, disposition, usage.

Each step is bounded, and none can lose the result.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ori_contracts import RecordingRef, RuntimeConfig
from ori_worker import analysis_llm, post_call
from ori_worker.call_control import CallControl, CallEnd
from ori_worker.call_record import build_latency, build_transcript
from ori_worker.carrier_control import settle_transfer
from ori_worker.pricing import usage_rows
from ori_worker.recording import object_key, upload_recording
from ori_worker.result import Findings

if TYPE_CHECKING:
    from ori_worker.call import CallServices
    from ori_worker.pipeline import CallPipeline

log = logging.getLogger(__name__)

UPLOAD_TIMEOUT_S = 30.0


class Finaliser:
    """Builds an answered call's :class:`Findings` once its pipeline has stopped."""

    def __init__(
        self, cfg: RuntimeConfig, built: CallPipeline, services: CallServices, call_id: str
    ) -> None:
        self.cfg = cfg
        self.built = built
        self.services = services
        self.call_id = call_id

    async def findings(
        self, control: CallControl, end: CallEnd, t0: float, t_end: float
    ) -> Findings:
        """Everything the result reports about the conversation."""
        rec = self.built.recorder
        transcript = build_transcript(rec.events, t0, t_end)
        latency = build_latency(rec.events, transcript, t0, self.built.stage_names)
        recording = await self._recording()
        conversation = post_call.Conversation(transcript)
        analysis = post_call.analyse_offline(self.cfg, conversation)
        usage = rec.usage
        verdict = await analysis_llm.analyse(
            self.cfg, transcript, self.services.http, self.services.keys
        )
        if verdict is not None:
            analysis = post_call.merge_llm_analysis(self.cfg, verdict.answer, analysis)
            usage.llm_input_tokens += verdict.input_tokens
            usage.llm_output_tokens += verdict.output_tokens
        qc = post_call.check_qc(self.cfg, transcript, verdict.judged if verdict else None)
        disposition, source = post_call.settle_disposition(
            self.cfg,
            end.outcome,
            conversation,
            control.disposition,
            verdict.disposition if verdict else None,
        )
        rows = usage_rows(
            self.cfg,
            stt_audio_s=usage.stt_audio_s,
            llm_tokens=(
                max(0, usage.llm_input_tokens - usage.llm_cached_tokens),
                usage.llm_cached_tokens,
                usage.llm_output_tokens,
            ),
            tts_characters=usage.tts_characters,
            call_s=max(0.0, t_end - t0),
        )
        return Findings(
            transcript,
            recording,
            analysis,
            qc,
            disposition,
            source,
            rows,
            latency,
            settle_transfer(control),
        )

    async def _recording(self) -> RecordingRef | None:
        timeline = self.built.timeline
        if timeline is None:
            return None
        frames = timeline.close()
        storage = self.services.storage
        try:
            if storage is None or frames == 0:
                return None
            key = object_key(self.cfg.workspace_id, self.call_id, datetime.now(UTC))
            return await asyncio.wait_for(
                asyncio.to_thread(
                    upload_recording, storage, timeline.path, key, timeline.rate, frames
                ),
                UPLOAD_TIMEOUT_S,
            )
        except Exception as exc:  # storage trouble costs the recording, never the result
            log.error("recording upload failed: %s", exc, extra={"call_id": self.call_id})
            return None
        finally:
            timeline.path.unlink(missing_ok=True)
