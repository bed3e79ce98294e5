"""Embedders for knowledge-base chunks: an offline sparse lexical default and two cloud APIs.

* ``local``: sparse vectors from a hashing tokenizer (term frequency ``1 + ln tf`` at index
  ``crc32(token)``), scored by Qdrant with its IDF modifier, i.e. BM25-like lexical search that
  needs no key and no model download. Each word counts as itself and, when they differ, as its
  English Snowball stem, so "parking" finds "park" while an exact form still scores higher
  (and vectors stored before stemming keep matching their words).
* ``openai``: ``POST {base}/embeddings`` (``text-embedding-3-small``), dense.
* ``voyage``: ``POST {base}/embeddings`` with ``input_type`` document or query
  (``voyage-3.5``), dense.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import Counter
from functools import lru_cache
from typing import Final, Protocol

import httpx
import snowballstemmer
from qdrant_client import models

from ori_backend.errors import ServiceUnavailable
from ori_backend.settings import BackendSettings

__all__ = [
    "Embedder",
    "LocalSparseEmbedder",
    "OpenAIEmbedder",
    "Vector",
    "VoyageEmbedder",
    "make_embedder",
]

Vector = models.SparseVector | list[float]
_TOKEN: Final = re.compile(r"[^\W_]+", re.UNICODE)
_BATCH: Final = 64


class Embedder(Protocol):
    """Turns texts into vectors of one kind, stored under one named vector."""

    name: str
    """``local``, ``openai`` or ``voyage``; part of the collection name."""
    vector_name: str
    """The Qdrant named vector: ``lexical`` (sparse) or ``dense``."""

    async def documents(self, texts: list[str]) -> list[Vector]:
        """Vectors of chunks to store."""
        ...

    async def query(self, text: str) -> Vector:
        """Vector of a search query."""
        ...


_STEMMER: Final = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65_536)
def _terms(word: str) -> tuple[int, ...]:
    """The hashed terms of one case-folded word: the word, and its stem when different."""
    stem = str(_STEMMER.stemWord(word))
    forms = (word,) if stem == word else (word, stem)
    return tuple(zlib.crc32(form.encode()) & 0x7FFFFFFF for form in forms)


class LocalSparseEmbedder:
    """Offline sparse lexical vectors; see the module docstring."""

    name = "local"
    vector_name = "lexical"

    @staticmethod
    def _vector(text: str) -> models.SparseVector:
        counts = Counter(term for word in _TOKEN.findall(text.casefold()) for term in _terms(word))
        indices = sorted(counts)
        return models.SparseVector(
            indices=indices, values=[1.0 + math.log(counts[i]) for i in indices]
        )

    async def documents(self, texts: list[str]) -> list[Vector]:
        """One sparse vector per text."""
        return [self._vector(text) for text in texts]

    async def query(self, text: str) -> Vector:
        """The query's sparse vector."""
        return self._vector(text)


class _HttpEmbedder:
    vector_name = "dense"
    name = "http"
    default_base = ""
    default_model = ""

    def __init__(self, *, api_key: str, base_url: str | None, model: str | None) -> None:
        self.api_key = api_key
        self.base_url = (base_url or self.default_base).rstrip("/")
        self.model = model or self.default_model

    def _body(self, texts: list[str], input_type: str) -> dict[str, object]:  # noqa: ARG002
        return {"model": self.model, "input": texts}

    async def _embed(self, texts: list[str], input_type: str) -> list[Vector]:
        vectors: list[Vector] = []
        async with httpx.AsyncClient(timeout=30.0) as http:
            for start in range(0, len(texts), _BATCH):
                batch = texts[start : start + _BATCH]
                try:
                    answer = await http.post(
                        f"{self.base_url}/embeddings",
                        json=self._body(batch, input_type),
                        headers={"Authorization": f"Bearer {self.api_key}"},
                    )
                    answer.raise_for_status()
                except httpx.HTTPError as error:
                    raise ServiceUnavailable(f"{self.name} embeddings failed: {error}") from None
                data = sorted(answer.json()["data"], key=lambda item: item["index"])
                vectors += [list(map(float, item["embedding"])) for item in data]
        return vectors

    async def documents(self, texts: list[str]) -> list[Vector]:
        """One dense vector per text."""
        return await self._embed(texts, "document")

    async def query(self, text: str) -> Vector:
        """The query's dense vector."""
        return (await self._embed([text], "query"))[0]


class OpenAIEmbedder(_HttpEmbedder):
    """OpenAI's (or a compatible server's) embeddings API."""

    name = "openai"
    default_base = "https://api.openai.com/v1"
    default_model = "text-embedding-3-small"


class VoyageEmbedder(_HttpEmbedder):
    """Voyage AI's embeddings API."""

    name = "voyage"
    default_base = "https://api.voyageai.com/v1"
    default_model = "voyage-3.5"

    def _body(self, texts: list[str], input_type: str) -> dict[str, object]:
        return {"model": self.model, "input": texts, "input_type": input_type}


def make_embedder(settings: BackendSettings) -> Embedder:
    """The embedder ``EMBEDDING_PROVIDER`` names.

    Raises:
        ValueError: A cloud provider is chosen without its API key.
    """
    provider = settings.embedding_provider
    if provider == "local":
        return LocalSparseEmbedder()
    key = settings.openai_api_key if provider == "openai" else settings.voyage_api_key
    if key is None:
        raise ValueError(f"EMBEDDING_PROVIDER={provider} needs {provider.upper()}_API_KEY")
    cls = OpenAIEmbedder if provider == "openai" else VoyageEmbedder
    return cls(
        api_key=key.get_secret_value(),
        base_url=settings.embedding_base_url,
        model=settings.embedding_model,
    )
