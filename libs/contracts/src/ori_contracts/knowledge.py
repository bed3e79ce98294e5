"""The knowledge-base search hop: worker (`search_knowledge` tool) -> backend.

``POST {knowledge_search_url(VOXBRIDGE_CONFIG_URL)}`` with a :class:`KnowledgeSearchRequest`
answers a :class:`KnowledgeSearchResponse`. It authenticates like the config fetch (the shared
``VOXCORE_SECRET`` or the call's token); the backend searches only knowledge bases of the call's
workspace.
"""

from typing import Final
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field

from ori_contracts.base import ContractModel
from ori_contracts.ids import CallId, KnowledgeBaseId, WorkspaceId
from ori_contracts.wire import CONFIG_PATH

__all__ = [
    "KNOWLEDGE_SEARCH_PATH",
    "KnowledgeHit",
    "KnowledgeSearchRequest",
    "KnowledgeSearchResponse",
    "knowledge_search_url",
]

KNOWLEDGE_SEARCH_PATH: Final = "/api/v1/knowledge-bases/search"


class KnowledgeSearchRequest(ContractModel):
    """Search some of a workspace's knowledge bases for passages relevant to a query."""

    query: str = Field(min_length=1, max_length=2000, description="What to look for.")
    knowledge_base_ids: list[KnowledgeBaseId] = Field(
        min_length=1, max_length=20, description="Knowledge bases to search."
    )
    top_k: int = Field(default=4, ge=1, le=20, description="Passages to return.")
    workspace_id: WorkspaceId | None = Field(
        default=None,
        description="Workspace of the knowledge bases; required with the shared secret, "
        "implied by a call token or an operator's credentials.",
    )
    call_id: CallId | None = Field(default=None, description="The call asking, for logs.")


class KnowledgeHit(ContractModel):
    """One passage found."""

    knowledge_base_id: KnowledgeBaseId = Field(description="Where it was found.")
    document_id: str = Field(description="The document it comes from.")
    document_name: str = Field(description="That document's file name.")
    chunk_index: int = Field(ge=0, description="Position of the passage in the document.")
    text: str = Field(description="The passage.")
    score: float = Field(description="Relevance; higher is better, comparable within one answer.")


class KnowledgeSearchResponse(ContractModel):
    """The passages found, best first."""

    hits: list[KnowledgeHit] = Field(default_factory=list, description="Best first.")


def knowledge_search_url(config_url: str) -> str:
    """The knowledge-search URL on the same backend as ``config_url`` (``VOXBRIDGE_CONFIG_URL``)."""
    parts = urlsplit(config_url)
    path = parts.path.rstrip("/")
    prefix = path[: -len(CONFIG_PATH)] if path.endswith(CONFIG_PATH) else ""
    return urlunsplit((parts.scheme, parts.netloc, prefix + KNOWLEDGE_SEARCH_PATH, "", ""))
