"""Tools the bot's LLM can call, and the knowledge bases they search.

`Tool` is a union discriminated by `type`. Built-in tools are run by the worker itself; an
`HttpTool` calls a customer's endpoint. Secrets are never inlined: a sensitive HTTP header
must be a `SecretRef`, which the worker resolves from its own secret store at call time.
"""

from enum import StrEnum
from typing import Annotated, Final, Literal, Self

from pydantic import Field, StringConstraints, model_validator

from ori_contracts.base import ContractModel, JsonObject
from ori_contracts.ids import E164, HttpUrlStr, KnowledgeBaseId, SipUri

__all__ = [
    "DetectedVoicemailTool",
    "EndCallTool",
    "HttpMethod",
    "HttpTool",
    "KnowledgeBaseRef",
    "SearchKnowledgeTool",
    "SecretRef",
    "Tool",
    "ToolName",
    "TransferCallTool",
]

ToolName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")]
"""A function name every LLM provider accepts: a letter or `_`, then up to 63 word chars or `-`."""

_SENSITIVE_HEADER_PARTS: Final = (
    "authorization",
    "cookie",
    "token",
    "secret",
    "password",
    "api-key",
    "apikey",
)


class SecretRef(ContractModel):
    """A pointer to a secret the worker resolves; the value never travels in a contract."""

    name: str = Field(
        pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
        description="Name of the Kubernetes Secret in the worker's namespace.",
    )
    key: str = Field(
        pattern=r"^[-._A-Za-z0-9]{1,253}$", description="Key of the value inside that Secret."
    )


class _ToolBase(ContractModel):
    name: ToolName = Field(description="Function name shown to the LLM; unique within a bot.")
    description: str = Field(
        min_length=1, description="What the tool does and when to use it, shown to the LLM."
    )


class EndCallTool(_ToolBase):
    """Hang up once the bot has finished speaking."""

    type: Literal["end_call"] = Field(default="end_call", description="Tool type.")
    name: ToolName = Field(default="end_call", description="Function name shown to the LLM.")
    description: str = Field(
        default="End the call when the conversation is over or the caller says goodbye.",
        min_length=1,
        description="What the tool does and when to use it, shown to the LLM.",
    )


class TransferCallTool(_ToolBase):
    """Hand the call to a phone number or SIP URI."""

    type: Literal["transfer_call"] = Field(default="transfer_call", description="Tool type.")
    name: ToolName = Field(default="transfer_call", description="Function name shown to the LLM.")
    description: str = Field(
        default="Transfer the caller to a human agent when they ask for one.",
        min_length=1,
        description="What the tool does and when to use it, shown to the LLM.",
    )
    target: E164 | SipUri = Field(description="Where to transfer: E.164 number or SIP URI.")
    announcement: str | None = Field(
        default=None, description="What the bot says before transferring; None: nothing."
    )


class DetectedVoicemailTool(_ToolBase):
    """Called by the LLM when it hears an answering machine."""

    type: Literal["detected_voicemail"] = Field(
        default="detected_voicemail", description="Tool type."
    )
    name: ToolName = Field(
        default="detected_voicemail", description="Function name shown to the LLM."
    )
    description: str = Field(
        default="Call this when you reach a voicemail greeting or answering machine.",
        min_length=1,
        description="What the tool does and when to use it, shown to the LLM.",
    )
    message: str | None = Field(
        default=None, description="Message to leave after the beep; None: hang up silently."
    )


class SearchKnowledgeTool(_ToolBase):
    """Retrieve passages from the bot's knowledge bases."""

    type: Literal["search_knowledge"] = Field(default="search_knowledge", description="Tool type.")
    name: ToolName = Field(
        default="search_knowledge", description="Function name shown to the LLM."
    )
    description: str = Field(
        default="Search the knowledge base for facts needed to answer the caller.",
        min_length=1,
        description="What the tool does and when to use it, shown to the LLM.",
    )
    knowledge_base_ids: list[KnowledgeBaseId] = Field(
        min_length=1, description="Knowledge bases to search; each must be in `knowledge_bases`."
    )
    top_k: int = Field(default=4, ge=1, le=20, description="Passages returned per search.")


class HttpMethod(StrEnum):
    """HTTP methods an `HttpTool` may use."""

    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"


def _no_arguments_schema() -> JsonObject:
    return {"type": "object", "properties": {}}


class HttpTool(_ToolBase):
    """Call a customer's HTTP endpoint with the LLM's arguments; its JSON reply is the result."""

    type: Literal["http"] = Field(default="http", description="Tool type.")
    parameters: JsonObject = Field(
        default_factory=_no_arguments_schema,
        description="JSON Schema of the arguments object, shown to the LLM.",
    )
    url: HttpUrlStr = Field(description="Endpoint to call.")
    method: HttpMethod = Field(default=HttpMethod.POST, description="HTTP method.")
    headers: dict[str, str | SecretRef] = Field(
        default_factory=dict,
        description="Request headers; sensitive ones (credentials, tokens) must be SecretRefs.",
    )
    timeout_s: float = Field(default=10.0, gt=0.0, le=60.0, description="Per-attempt timeout.")
    retries: int = Field(default=0, ge=0, le=5, description="Retries after a failed attempt.")

    @model_validator(mode="after")
    def _no_inline_secrets(self) -> Self:
        for header, value in self.headers.items():
            if isinstance(value, str) and _is_sensitive(header):
                raise ValueError(f"header {header!r} carries a credential; use a SecretRef")
        return self


def _is_sensitive(header: str) -> bool:
    lowered = header.lower()
    return any(part in lowered for part in _SENSITIVE_HEADER_PARTS)


Tool = Annotated[
    EndCallTool | TransferCallTool | DetectedVoicemailTool | SearchKnowledgeTool | HttpTool,
    Field(discriminator="type"),
]
"""Any tool, chosen by its `type` field."""


class KnowledgeBaseRef(ContractModel):
    """A knowledge base the bot may search, and where its vectors live."""

    id: KnowledgeBaseId = Field(description="Knowledge-base id.")
    name: str = Field(min_length=1, description="Human-readable name.")
    collection: str = Field(min_length=1, description="Vector-store collection holding its chunks.")
