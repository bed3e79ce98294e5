"""After hang-up: summary and extraction, QC findings, and the disposition.

Everything here is a pure function of the runtime config and the finished transcript, so it
is unit-tested without a call. :func:`analyse_offline` needs no model: extraction reads the
tool calls' arguments and the words of the conversation, the summary lists what happened,
and the disposition classifier scores each disposition's words against the call. An LLM can
do better (``llm_analysis``); its answer goes through :func:`merge_llm_analysis`, which keeps
only what fits the bot's schema.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ori_contracts import (
    AnalysisField,
    AnalysisFieldType,
    CallAnalysis,
    CallOutcome,
    DispositionSource,
    QcFinding,
    QcRule,
    QcRuleKind,
    RuntimeConfig,
    Sentiment,
    TranscriptRole,
    TranscriptTurn,
)

_WORD = re.compile(r"[a-z0-9']+")
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "to",
        "of",
        "and",
        "or",
        "in",
        "on",
        "for",
        "with",
        "was",
        "is",
        "be",
        "it",
        "this",
        "that",
        "call",
        "caller",
        "contact",
        "during",
    ]
)
_POSITIVE = frozenset(
    ["yes", "great", "thanks", "thank", "good", "perfect", "sure", "works", "wonderful"]
)
_NEGATIVE = frozenset(
    ["no", "not", "never", "stop", "angry", "bad", "terrible", "wrong", "complain", "annoyed"]
)


def words(text: str) -> list[str]:
    """Lower-case word tokens of ``text``."""
    return _WORD.findall(text.lower())


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _bag(texts: Iterable[str]) -> set[str]:
    return {_stem(w) for t in texts for w in words(t) if w not in _STOP}


@dataclass(frozen=True)
class Conversation:
    """The transcript, split the ways post-call analysis reads it."""

    turns: list[TranscriptTurn]

    @property
    def user_texts(self) -> list[str]:
        """What the caller said, in order."""
        return [t.text for t in self.turns if t.role is TranscriptRole.USER]

    @property
    def bot_texts(self) -> list[str]:
        """What the bot said, in order."""
        return [t.text for t in self.turns if t.role is TranscriptRole.ASSISTANT]

    @property
    def tool_calls(self) -> list[TranscriptTurn]:
        """Tool turns whose result was not an error."""
        return [
            t
            for t in self.turns
            if t.role is TranscriptRole.TOOL
            and not (isinstance(t.tool_result, dict) and "error" in t.tool_result)
        ]


# ------------------------------------------------------------------------------ analysis


def analyse_offline(cfg: RuntimeConfig, conversation: Conversation) -> CallAnalysis:
    """Summary, extracted fields and sentiment without a language model."""
    extracted = {f.name: _extract(f, conversation) for f in cfg.analysis_fields}
    return CallAnalysis(
        summary=_summary(conversation),
        extracted=extracted,
        sentiment=_sentiment(conversation.user_texts),
    )


def _summary(conversation: Conversation) -> str:
    if not conversation.user_texts:
        return "The caller said nothing the bot understood."
    said = "; ".join(f'"{t}"' for t in conversation.user_texts[:6])
    tools = ", ".join(dict.fromkeys(t.tool_name or "" for t in conversation.tool_calls))
    text = f"The caller said: {said}."
    if tools:
        text += f" The bot used: {tools}."
    return text[:2000]


def _extract(field: AnalysisField, conversation: Conversation) -> Any:
    key_words = _bag([field.name.replace("_", " ")])
    from_tool = _from_tool_arguments(field, conversation)
    if from_tool is not None:
        return from_tool
    if field.type is AnalysisFieldType.BOOLEAN:
        tool_words = _bag(t.tool_name or "" for t in conversation.tool_calls)
        return bool(key_words & tool_words) or (False if field.required else None)
    if field.type is AnalysisFieldType.ENUM:
        said = _bag(conversation.user_texts + conversation.bot_texts)
        found = next((v for v in field.enum_values if _bag([v]) <= said), None)
        return found if found or not field.required else field.enum_values[-1]
    if field.type is AnalysisFieldType.LIST:
        return [t for t in conversation.user_texts if t.rstrip().endswith("?")]
    if field.type is AnalysisFieldType.NUMBER:
        return 0 if field.required else None
    return "" if field.required else None


def _from_tool_arguments(field: AnalysisField, conversation: Conversation) -> Any:
    """A tool argument named like the field, or like its last word, of the field's type.

    For example ``slot`` for the field ``appointment_slot``.
    """
    names = {field.name, field.name.rsplit("_", 1)[-1]}
    for turn in reversed(conversation.tool_calls):
        for key, value in (turn.tool_arguments or {}).items():
            if key in names and _fits(field, value):
                return value
    return None


def _fits(field: AnalysisField, value: Any) -> bool:
    match field.type:
        case AnalysisFieldType.STRING:
            return isinstance(value, str)
        case AnalysisFieldType.NUMBER:
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        case AnalysisFieldType.BOOLEAN:
            return isinstance(value, bool)
        case AnalysisFieldType.ENUM:
            return value in field.enum_values
        case AnalysisFieldType.LIST:
            return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _sentiment(user_texts: list[str]) -> Sentiment | None:
    if not user_texts:
        return None
    tokens = [w for t in user_texts for w in words(t)]
    score = sum(w in _POSITIVE for w in tokens) - sum(w in _NEGATIVE for w in tokens)
    if score > 0:
        return Sentiment.POSITIVE
    return Sentiment.NEGATIVE if score < 0 else Sentiment.NEUTRAL


def merge_llm_analysis(
    cfg: RuntimeConfig, answer: dict[str, Any], fallback: CallAnalysis
) -> CallAnalysis:
    """Take an LLM's ``{"summary", "sentiment", "extracted"}`` where it fits the schema."""
    extracted = dict(fallback.extracted)
    given = answer.get("extracted")
    if isinstance(given, dict):
        for field in cfg.analysis_fields:
            value = given.get(field.name)
            if value is not None and _fits(field, value):
                extracted[field.name] = value
    summary = answer.get("summary")
    sentiment = answer.get("sentiment")
    return CallAnalysis(
        summary=summary[:2000] if isinstance(summary, str) and summary else fallback.summary,
        extracted=extracted,
        sentiment=Sentiment(sentiment) if sentiment in set(Sentiment) else fallback.sentiment,
    )


# ------------------------------------------------------------------------------ QC


def check_qc(
    cfg: RuntimeConfig,
    turns: list[TranscriptTurn],
    judged: dict[str, tuple[bool, str]] | None = None,
) -> list[QcFinding]:
    """One finding per rule that can be checked; ``llm_judged`` rules need ``judged``."""
    findings = []
    for rule in cfg.qc_rules:
        finding = _check(rule, turns, judged or {})
        if finding is not None:
            findings.append(finding)
    return findings


def _check(
    rule: QcRule, turns: list[TranscriptTurn], judged: dict[str, tuple[bool, str]]
) -> QcFinding | None:
    bot = [(i, t) for i, t in enumerate(turns) if t.role is TranscriptRole.ASSISTANT]
    if rule.kind in (QcRuleKind.MUST_SAY, QcRuleKind.MUST_NOT_SAY):
        phrases = [p.lower() for p in rule.phrases]
        hit = next(((i, t) for i, t in bot if any(p in t.text.lower() for p in phrases)), None)
        must = rule.kind is QcRuleKind.MUST_SAY
        passed = (hit is not None) if must else (hit is None)
        evidence = (
            f"Bot said: {hit[1].text!r}"
            if hit
            else ("The bot never said any of the phrases." if must else None)
        )
        return QcFinding(
            rule_id=rule.id,
            passed=passed,
            severity=rule.severity,
            evidence=evidence,
            turn_index=hit[0] if hit else None,
        )
    if rule.kind is QcRuleKind.MAX_SILENCE:
        gap_ms, after = longest_silence(turns)
        limit_ms = round((rule.max_silence_s or 0.0) * 1000)
        passed = gap_ms <= limit_ms
        return QcFinding(
            rule_id=rule.id,
            passed=passed,
            severity=rule.severity,
            evidence=None if passed else f"{gap_ms / 1000:.1f} s of silence after turn {after}.",
            turn_index=None if passed else after,
        )
    if rule.id in judged:
        passed, why = judged[rule.id]
        return QcFinding(
            rule_id=rule.id, passed=passed, severity=rule.severity, evidence=why[:2000]
        )
    return None


def longest_silence(turns: list[TranscriptTurn]) -> tuple[int, int | None]:
    """The longest gap (ms) between one spoken turn's end and the next one's start."""
    spoken = [(i, t) for i, t in enumerate(turns) if t.role is not TranscriptRole.TOOL]
    best, after, reach = 0, None, None
    for i, turn in spoken:
        if reach is not None and turn.started_at_ms - reach[0] > best:
            best, after = turn.started_at_ms - reach[0], reach[1]
        if reach is None or turn.ended_at_ms > reach[0]:
            reach = (turn.ended_at_ms, i)
    return best, after


# ------------------------------------------------------------------------------ disposition


def settle_disposition(
    cfg: RuntimeConfig,
    outcome: CallOutcome,
    conversation: Conversation,
    from_tool: str | None,
    classified: str | None = None,
) -> tuple[str | None, DispositionSource | None]:
    """The disposition and what chose it: a tool, an outcome rule, a classifier, or the default."""
    codes = {d.code for d in cfg.dispositions}
    if not codes:
        return None, None
    if from_tool in codes:
        return from_tool, DispositionSource.TOOL
    by_outcome = {CallOutcome.VOICEMAIL: "voicemail", CallOutcome.TRANSFERRED: "transfer"}
    hint = by_outcome.get(outcome)
    if hint:
        match = next((c for c in sorted(codes) if hint in c), None)
        if match:
            return match, DispositionSource.RULE
    if classified in codes:
        return classified, DispositionSource.CLASSIFIER
    guess = classify_offline(cfg, conversation)
    if guess is not None:
        return guess, DispositionSource.CLASSIFIER
    return cfg.default_disposition, DispositionSource.DEFAULT


def classify_offline(cfg: RuntimeConfig, conversation: Conversation) -> str | None:
    """The disposition whose words best match the tools used, or None when nothing matches.

    Completed tool calls weigh most (``book_appointment`` for ``appointment_booked``); the
    caller's words break ties. The default disposition is never guessed.
    """
    tools = _bag(t.tool_name or "" for t in conversation.tool_calls)
    said = _bag(conversation.user_texts)
    best, best_score = None, 0.0
    for d in cfg.dispositions:
        if d.code == cfg.default_disposition:
            continue
        own = _bag([d.code.replace("_", " ")])
        score = 2.0 * len(own & tools) + 0.5 * len(own & said)
        if score > best_score:
            best, best_score = d.code, score
    return best if best_score >= 2.0 else None
