"""`make_runtime_config`: the demo bot's config, on offline providers."""

from typing import Any

from ori_contracts.pipeline_config import (
    LlmConfig,
    ScriptedLlmConfig,
    ScriptedRule,
    SttConfig,
    TtsConfig,
    TurnConfig,
    TurnStrategy,
    VadConfig,
)
from ori_contracts.post_call import (
    AnalysisField,
    AnalysisFieldType,
    Disposition,
    QcRule,
    QcRuleKind,
    QcSeverity,
)
from ori_contracts.providers import LlmProvider, SttProvider, TelephonyProvider, TtsProvider
from ori_contracts.runtime_config import (
    CallDirection,
    CallLimits,
    Contact,
    Persona,
    RecordingPolicy,
    RuntimeConfig,
)
from ori_contracts.testing.demo import (
    DEMO_BOT_ID,
    DEMO_CALL_ID,
    DEMO_CAMPAIGN_ID,
    DEMO_CLINIC_NUMBER,
    DEMO_CONTACT_ID,
    DEMO_CONTACT_NUMBER,
    DEMO_WORKSPACE_ID,
)
from ori_contracts.testing.demo import DEMO_CLINIC as _CLINIC
from ori_contracts.tools import (
    DetectedVoicemailTool,
    EndCallTool,
    HttpMethod,
    HttpTool,
    KnowledgeBaseRef,
    SearchKnowledgeTool,
    SecretRef,
    Tool,
    TransferCallTool,
)

__all__ = ["make_runtime_config"]


def make_runtime_config(**overrides: Any) -> RuntimeConfig:
    """Return a valid `RuntimeConfig` for the demo bot, with `overrides` applied.

    Args:
        **overrides: Top-level fields to replace (models or plain dicts).

    Returns:
        The validated config.
    """
    fields: dict[str, Any] = {
        "call_id": DEMO_CALL_ID,
        "bot_id": DEMO_BOT_ID,
        "bot_version": 3,
        "workspace_id": DEMO_WORKSPACE_ID,
        "campaign_id": DEMO_CAMPAIGN_ID,
        "contact": _contact(),
        "direction": CallDirection.OUTBOUND,
        "telephony_provider": TelephonyProvider.WEBSOCKET,
        "persona": _persona(),
        "stt": _stt(),
        "llm": _llm(),
        "tts": TtsConfig(provider=TtsProvider.ESPEAK, voice="en-us", sample_rate_hz=16000),
        "vad": VadConfig(confidence=0.7, start_s=0.2, stop_s=0.2, min_volume=0.6),
        "turn": TurnConfig(strategy=TurnStrategy.VAD_ONLY, speech_timeout_s=0.6),
        "tools": _tools(),
        "knowledge_bases": [
            KnowledgeBaseRef(
                id="kb-clinic-faq", name="Clinic FAQ", collection="ws-demo.kb-clinic-faq"
            )
        ],
        "analysis_fields": _analysis_fields(),
        "qc_rules": _qc_rules(),
        "dispositions": _dispositions(),
        "default_disposition": "no_decision",
        "recording": RecordingPolicy(retention_days=90),
        "limits": CallLimits(
            max_duration_s=600,
            silence_prompt_after_s=10.0,
            max_silence_prompts=2,
            idle_timeout_s=45.0,
        ),
    }
    return RuntimeConfig.model_validate({**fields, **overrides})


def _contact() -> Contact:
    return Contact(
        id=DEMO_CONTACT_ID,
        phone=DEMO_CONTACT_NUMBER,
        name="Jordan Lee",
        timezone="America/Los_Angeles",
        custom_fields={"last_visit": "2025-09-12", "preferred_dentist": "Dr. Patel"},
        crm={"account_tier": "gold", "open_balance_usd": 0},
    )


def _persona() -> Persona:
    return Persona(
        system_prompt=(
            f"You are Ava, the scheduling assistant of {_CLINIC}. Help {{contact.name}} book "
            "a cleaning or check-up. Be brief and friendly. Never give medical advice."
        ),
        greeting=f"Hi, this is Ava from {_CLINIC}. Would you like to book your next visit?",
        language="en-US",
    )


def _stt() -> SttConfig:
    return SttConfig(
        provider=SttProvider.POCKETSPHINX,
        model="en-us",
        language="en-US",
        phrases=["appointment", "book", "tuesday", "yes", "human", "goodbye"],
        options={"kws_threshold": 1e-20},
    )


def _llm() -> LlmConfig:
    rules = [
        ScriptedRule(
            when_any=["appointment", "book", "schedule"],
            say="I can book that for you. Does Tuesday at 10 AM work?",
        ),
        ScriptedRule(
            when_any=["tuesday", "yes", "works"],
            say="Great, you're booked for Tuesday at 10 AM. Anything else?",
            tool="book_appointment",
            tool_arguments={"slot": "2026-03-10T10:00:00-07:00", "reason": "cleaning"},
        ),
        ScriptedRule(
            when_any=["human", "agent", "person"],
            say="Let me connect you to our front desk.",
            tool="transfer_call",
        ),
        ScriptedRule(
            when_any=["goodbye", "bye"],
            say=f"Thanks for calling {_CLINIC}. Goodbye!",
            tool="end_call",
        ),
    ]
    return LlmConfig(
        provider=LlmProvider.SCRIPTED,
        model="rules-v1",
        temperature=0.0,
        max_tokens=256,
        scripted=ScriptedLlmConfig(
            rules=rules, fallback_reply="Sorry, I didn't catch that. Could you say it again?"
        ),
    )


def _tools() -> list[Tool]:
    return [
        EndCallTool(),
        TransferCallTool(
            target=DEMO_CLINIC_NUMBER, announcement="Transferring you to our front desk now."
        ),
        DetectedVoicemailTool(
            message=f"Hi, this is Ava from {_CLINIC}. Please call us back to book your visit."
        ),
        SearchKnowledgeTool(knowledge_base_ids=["kb-clinic-faq"], top_k=3),
        HttpTool(
            name="book_appointment",
            description="Book an appointment slot for the contact.",
            parameters={
                "type": "object",
                "properties": {
                    "slot": {"type": "string", "format": "date-time"},
                    "reason": {"type": "string", "enum": ["cleaning", "checkup"]},
                },
                "required": ["slot"],
            },
            url="https://clinic.example.com/api/v1/appointments",
            method=HttpMethod.POST,
            headers={
                "Authorization": SecretRef(name="clinic-api", key="token"),
                "X-Clinic-Id": "bright-smile-sf",
            },
            timeout_s=5.0,
            retries=1,
        ),
    ]


def _analysis_fields() -> list[AnalysisField]:
    return [
        AnalysisField(
            name="appointment_booked",
            type=AnalysisFieldType.BOOLEAN,
            description="Whether an appointment was booked.",
            required=True,
        ),
        AnalysisField(
            name="appointment_slot",
            type=AnalysisFieldType.STRING,
            description="Booked slot as an ISO 8601 date-time.",
        ),
        AnalysisField(
            name="visit_reason",
            type=AnalysisFieldType.ENUM,
            description="Why the contact wants to visit.",
            enum_values=["cleaning", "checkup", "pain", "other"],
        ),
        AnalysisField(
            name="callback_in_days",
            type=AnalysisFieldType.NUMBER,
            description="Days until the contact wants a callback, if asked.",
        ),
        AnalysisField(
            name="questions_asked",
            type=AnalysisFieldType.LIST,
            description="Questions the contact asked.",
        ),
    ]


def _qc_rules() -> list[QcRule]:
    return [
        QcRule(
            id="states-clinic-name",
            description="The bot names the clinic.",
            kind=QcRuleKind.MUST_SAY,
            phrases=[_CLINIC],
            severity=QcSeverity.CRITICAL,
        ),
        QcRule(
            id="no-medical-advice",
            description="The bot gives no medical advice.",
            kind=QcRuleKind.MUST_NOT_SAY,
            phrases=["diagnose", "prescription", "antibiotic"],
            severity=QcSeverity.CRITICAL,
        ),
        QcRule(
            id="polite",
            description="The bot stays polite and does not pressure the contact.",
            kind=QcRuleKind.LLM_JUDGED,
            severity=QcSeverity.INFO,
        ),
        QcRule(
            id="no-dead-air",
            description="No silence longer than five seconds.",
            kind=QcRuleKind.MAX_SILENCE,
            max_silence_s=5.0,
            severity=QcSeverity.WARNING,
        ),
    ]


def _dispositions() -> list[Disposition]:
    return [
        Disposition(
            code="appointment_booked",
            label="Appointment booked",
            description="A visit was booked during the call.",
            is_success=True,
        ),
        Disposition(
            code="callback_requested",
            label="Callback requested",
            description="The contact asked to be called back later.",
            terminal=False,
        ),
        Disposition(
            code="not_interested",
            label="Not interested",
            description="The contact declined to book.",
        ),
        Disposition(
            code="no_decision",
            label="No decision",
            description="The call ended without a decision.",
            terminal=False,
        ),
    ]
