"""Post-call analysis by the bot's own language model, when it has one (OpenAI-compatible).

One JSON-mode chat completion reads the transcript and answers the summary, sentiment, the
bot's analysis fields, a verdict for each ``llm_judged`` QC rule and a disposition. Anything
missing or malformed in the answer is ignored (``post_call.merge_llm_analysis`` keeps only
what fits the bot's schema), and any failure leaves the offline analysis in place.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx

from ori_contracts import LlmProvider, QcRuleKind, RuntimeConfig, TranscriptRole, TranscriptTurn
from ori_worker.providers.factory import ProviderKeys

log = logging.getLogger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"
TIMEOUT_S = 20.0


@dataclass
class Verdict:
    """What the model answered, and what it cost."""

    answer: dict[str, Any]
    input_tokens: int = 0
    output_tokens: int = 0
    judged: dict[str, tuple[bool, str]] = field(default_factory=dict)
    disposition: str | None = None


def transcript_text(turns: list[TranscriptTurn]) -> str:
    """The conversation as plain lines for the model."""
    lines = []
    for turn in turns:
        if turn.role is TranscriptRole.TOOL:
            args = json.dumps(turn.tool_arguments or {})
            lines.append(f"[tool {turn.tool_name}({args}) -> {json.dumps(turn.tool_result)}]")
        else:
            who = "Caller" if turn.role is TranscriptRole.USER else "Bot"
            cut = " (interrupted)" if turn.interrupted else ""
            lines.append(f"{who}{cut}: {turn.text}")
    return "\n".join(lines)


def instructions(cfg: RuntimeConfig) -> str:
    """The system prompt: the answer's shape, from the bot's schema, rules and dispositions."""
    fields = {
        f.name: {
            "type": f.type.value,
            "description": f.description,
            **({"one_of": f.enum_values} if f.enum_values else {}),
            "required": f.required,
        }
        for f in cfg.analysis_fields
    }
    judged = {r.id: r.description for r in cfg.qc_rules if r.kind is QcRuleKind.LLM_JUDGED}
    dispositions = {d.code: d.description or d.label for d in cfg.dispositions}
    return (
        "You review a finished phone call between a caller and a voice bot. Answer with one "
        "JSON object and nothing else, with these keys:\n"
        '- "summary": two sentences at most.\n'
        '- "sentiment": the caller\'s overall sentiment, "positive", "neutral" or "negative".\n'
        f'- "extracted": an object with these fields (null when unknown): {json.dumps(fields)}\n'
        f'- "qc": for each of these rules, {{"passed": true|false, "evidence": "..."}}: '
        f"{json.dumps(judged)}\n"
        f'- "disposition": the one code that best fits the call: {json.dumps(dispositions)}\n'
    )


async def analyse(
    cfg: RuntimeConfig, turns: list[TranscriptTurn], http: httpx.AsyncClient, keys: ProviderKeys
) -> Verdict | None:
    """Ask the bot's model for its analysis; None when it has none or the request fails."""
    if cfg.llm.provider is not LlmProvider.OPENAI or keys.openai is None or not turns:
        return None
    url = (cfg.llm.base_url or OPENAI_BASE_URL).rstrip("/") + "/chat/completions"
    body = {
        "model": cfg.llm.model or "gpt-4.1-mini",
        "temperature": 0,
        "response_format": {"type": "json_object"},
        "messages": [
            {"role": "system", "content": instructions(cfg)},
            {"role": "user", "content": transcript_text(turns)},
        ],
    }
    headers = {"Authorization": f"Bearer {keys.openai.get_secret_value()}"}
    try:
        response = await http.post(url, json=body, headers=headers, timeout=TIMEOUT_S)
        response.raise_for_status()
        data = response.json()
        answer = json.loads(data["choices"][0]["message"]["content"])
    except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
        log.warning("post-call analysis by the LLM failed, offline analysis kept: %s", exc)
        return None
    if not isinstance(answer, dict):
        return None
    usage = data.get("usage") or {}
    return Verdict(
        answer=answer,
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        judged=_judged(cfg, answer.get("qc")),
        disposition=answer.get("disposition")
        if isinstance(answer.get("disposition"), str)
        else None,
    )


def _judged(cfg: RuntimeConfig, qc: object) -> dict[str, tuple[bool, str]]:
    if not isinstance(qc, dict):
        return {}
    judged = {}
    for rule in cfg.qc_rules:
        verdict = qc.get(rule.id)
        if rule.kind is QcRuleKind.LLM_JUDGED and isinstance(verdict, dict):
            passed = verdict.get("passed")
            if isinstance(passed, bool):
                judged[rule.id] = (passed, str(verdict.get("evidence") or ""))
    return judged
