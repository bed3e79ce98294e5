"""Knowledge bases and their documents."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

__all__ = ["DocumentPublic", "KnowledgeBaseCreate", "KnowledgeBasePublic"]


class KnowledgeBaseCreate(BaseModel):
    """A new, empty knowledge base."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = (
        Field(description="Name shown to people (and to the bot's tool).")
    )
    description: str = Field(default="", max_length=2000, description="What it holds.")


class KnowledgeBasePublic(BaseModel):
    """A knowledge base."""

    id: str = Field(description="Knowledge-base id; list it in a bot's `knowledge_base_ids`.")
    name: str = Field(description="Name.")
    description: str = Field(description="What it holds.")
    embedder: str = Field(description="`local`, `openai` or `voyage`.")
    created_at: datetime = Field(description="When it was created.")


class DocumentPublic(BaseModel):
    """A document of a knowledge base."""

    id: str = Field(description="Document id.")
    name: str = Field(description="File name.")
    kind: str = Field(description="txt, md, pdf or docx.")
    size_bytes: int = Field(description="Size of the upload.")
    chunks: int = Field(description="Passages stored.")
    status: str = Field(description="`processing` or `ready`.")
    created_at: datetime = Field(description="When it was uploaded.")
