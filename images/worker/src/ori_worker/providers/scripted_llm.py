"""The scripted LLM: deterministic replies and tool calls from the bot's rules (offline).

It answers each user turn with the first rule whose keywords occur in the transcript as
whole words (case-insensitive), or with the fallback reply, and calls the rule's tool after
speaking. It says nothing for a context that does not end with a user message (for example
right after a tool result), so tools never make it repeat itself.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipecat.adapters.llm.base_llm_adapter import BaseLLMAdapter
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import (
    Frame,
    FunctionCallFromLLM,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext, LLMSpecificMessage
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.settings import LLMSettings

from ori_contracts import ScriptedLlmConfig, ScriptedRule
from ori_worker.providers.service_settings import complete


@dataclass(frozen=True)
class Reply:
    """What the script says to one user turn, and the tool it calls (if any)."""

    say: str
    tool: str | None = None
    tool_arguments: dict[str, Any] | None = None
    rule_index: int | None = None


def _pattern(keyword: str) -> re.Pattern[str]:
    words = [re.escape(w) for w in keyword.lower().split()]
    return re.compile(r"\b" + r"\s+".join(words) + r"\b")


class Script:
    """The compiled rules of one bot."""

    def __init__(self, config: ScriptedLlmConfig) -> None:
        self.config = config
        self._rules: list[tuple[ScriptedRule, list[re.Pattern[str]]]] = [
            (rule, [_pattern(k) for k in rule.when_any if k.strip()]) for rule in config.rules
        ]

    def reply(self, user_text: str) -> Reply:
        """The reply to ``user_text``: the first matching rule, else the fallback."""
        text = " ".join(re.findall(r"[\w']+", user_text.lower()))
        for index, (rule, patterns) in enumerate(self._rules):
            if any(p.search(text) for p in patterns):
                arguments = dict(rule.tool_arguments) if rule.tool else None
                return Reply(rule.say, rule.tool, arguments, index)
        return Reply(self.config.fallback_reply)


def last_user_text(messages: Sequence[Any]) -> str | None:
    """The text of the last message if it is the user's, else None."""
    if not messages:
        return None
    last = messages[-1]
    if not isinstance(last, dict) or last.get("role") != "user":
        return None
    content = last.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return " ".join(part for part in parts if part)
    return None


class ScriptedLLMAdapter(BaseLLMAdapter[dict[str, Any]]):  # type: ignore[no-untyped-call]
    """The scripted LLM's adapter: the universal context as it is, nothing converted.

    The script reads the context itself. Pipecat's default adapter (OpenAI's) would load
    the OpenAI SDK, about 11 MB resident, into every worker that runs offline bots.
    """

    @property
    def id_for_llm_specific_messages(self) -> str:
        """Messages meant only for this LLM are marked ``scripted``."""
        return "scripted"

    async def get_llm_invocation_params(
        self, context: LLMContext, **_kwargs: Any
    ) -> dict[str, Any]:
        """The context's messages."""
        return {"messages": context.get_messages()}

    def to_provider_tools_format(self, tools_schema: ToolsSchema) -> list[Any]:
        """Each tool's plain JSON-schema description."""
        return [tool.to_default_dict() for tool in tools_schema.standard_tools]

    def get_messages_for_logging(self, context: LLMContext) -> list[dict[str, Any]]:
        """The context's messages, as they are."""
        return [
            {"llm": m.llm, "message": m.message} if isinstance(m, LLMSpecificMessage) else dict(m)
            for m in context.get_messages()
        ]


class ScriptedLLMService(LLMService):
    """A pipecat LLM service that runs a :class:`Script` instead of a model."""

    adapter_class = ScriptedLLMAdapter

    def __init__(self, *, script: Script, delay_s: float = 0.0, **kwargs: object) -> None:
        """Create the service.

        Args:
            script: The bot's compiled rules.
            delay_s: Fixed delay before each reply, for benchmark stand-ins.
            **kwargs: Passed to :class:`LLMService`.
        """
        super().__init__(settings=complete(LLMSettings, model="rules-v1"), **kwargs)  # type: ignore[arg-type]
        self._script = script
        self._delay_s = delay_s
        self.replies: list[Reply] = []

    def can_generate_metrics(self) -> bool:
        """Report time to first byte."""
        return True

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Answer each context that ends with a user message; pass other frames on."""
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame):
            await self._answer(frame.context)
        else:
            await self.push_frame(frame, direction)

    async def _answer(self, context: LLMContext) -> None:
        user_text = last_user_text(context.get_messages())
        if user_text is None:
            return
        await self.push_frame(LLMFullResponseStartFrame())
        try:
            await self.start_ttfb_metrics()
            if self._delay_s:
                await asyncio.sleep(self._delay_s)
            reply = self._script.reply(user_text)
            self.replies.append(reply)
            await self._push_llm_text(reply.say)
            await self.stop_ttfb_metrics()
            if reply.tool is not None:
                call = FunctionCallFromLLM(
                    function_name=reply.tool,
                    tool_call_id=f"call_{uuid.uuid4().hex[:12]}",
                    arguments=reply.tool_arguments or {},
                    context=context,
                )
                await self.run_function_calls([call])
        finally:
            await self.push_frame(LLMFullResponseEndFrame())
