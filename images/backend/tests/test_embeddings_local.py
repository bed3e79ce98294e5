"""The offline sparse embedder's terms: each word as itself and as its stem."""

from __future__ import annotations

import pytest

from ori_backend.services.embeddings import LocalSparseEmbedder

pytestmark = pytest.mark.unit


def test_a_word_counts_as_itself_and_its_stem() -> None:
    vector = LocalSparseEmbedder._vector("Parking parking park")
    assert len(vector.indices) == 2  # "parking" and "park"
    park = LocalSparseEmbedder._vector("park").indices[0]
    weights = dict(zip(vector.indices, vector.values, strict=True))
    assert weights[park] > min(weights.values())  # "park": once itself, twice as a stem


def test_query_and_document_forms_share_the_stem_term() -> None:
    stem_terms = [set(LocalSparseEmbedder._vector(word).indices) for word in
                  ("parks", "parked", "parking", "park")]  # fmt: skip
    assert set.intersection(*stem_terms) == set(LocalSparseEmbedder._vector("park").indices)
    unrelated = set(LocalSparseEmbedder._vector("swimming").indices)
    assert not unrelated & stem_terms[-1]
