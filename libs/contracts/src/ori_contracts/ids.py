"""Identifiers and addresses: entity ids, phone numbers, SIP URIs, URLs and language tags.

Ids that Ori mints (calls, bots, campaigns, workspaces, workers, knowledge bases) match
`ID_PATTERN`: a letter or digit, then up to 127 letters, digits, `_`, `.` or `-`. They contain
no `:`, so every one of them can be placed in a Redis key (`ori:<entity>:<id>:<facet>`)
without escaping. Contact ids come from CRMs and may also contain `:`; they never appear in a
key.

Patterns spell digits as `[0-9]`: pydantic's regex engine lets the digit escape match any
Unicode digit.
"""

import secrets
from datetime import UTC, datetime
from typing import Annotated, Final

from pydantic import StringConstraints

__all__ = [
    "E164",
    "E164_PATTERN",
    "EXTERNAL_ID_PATTERN",
    "ID_PATTERN",
    "BotId",
    "CallId",
    "CampaignId",
    "ContactId",
    "HttpUrlStr",
    "KnowledgeBaseId",
    "LanguageTag",
    "SipUri",
    "WorkerId",
    "WorkspaceId",
    "new_call_id",
]

ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
EXTERNAL_ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
E164_PATTERN: Final = r"^\+[1-9][0-9]{6,14}$"

_Id = StringConstraints(pattern=ID_PATTERN)

CallId = Annotated[str, _Id]
"""One call, minted by `new_call_id()`; the idempotency key of its `CallResult`."""
BotId = Annotated[str, _Id]
"""A bot (its `Bot` resource name or backend id)."""
CampaignId = Annotated[str, _Id]
"""An outbound campaign."""
WorkspaceId = Annotated[str, _Id]
"""A tenant workspace."""
WorkerId = Annotated[str, _Id]
"""A fleet worker (its pod name)."""
KnowledgeBaseId = Annotated[str, _Id]
"""A knowledge base."""
ContactId = Annotated[str, StringConstraints(pattern=EXTERNAL_ID_PATTERN)]
"""A contact, possibly a CRM's own id; may contain `:`."""

E164 = Annotated[str, StringConstraints(pattern=E164_PATTERN)]
"""A phone number in E.164 form: `+`, country code, subscriber number; 8 to 16 characters."""
SipUri = Annotated[str, StringConstraints(pattern=r"^sips?:[^\s]+$", max_length=2048)]
"""A SIP or SIPS URI, for example `sip:frontdesk@pbx.example.com`."""
HttpUrlStr = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/?#]+[^\s]*$")]
"""An absolute http(s) URL, kept as the exact string given (no normalisation)."""
LanguageTag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")]
"""A BCP-47 language tag such as `en-US`, `hi-IN` or `es-419`."""


def new_call_id(*, now: datetime | None = None) -> CallId:
    """Mint a call id that sorts by creation time.

    The id is `call_`, 12 hex digits of Unix milliseconds, then 20 random hex digits
    (80 bits), so ids created later compare greater as strings.

    Args:
        now: The creation time; the current time when omitted.

    Returns:
        A new id matching `ID_PATTERN`.
    """
    millis = int((now or datetime.now(UTC)).timestamp() * 1000)
    return f"call_{millis:012x}{secrets.token_hex(10)}"
