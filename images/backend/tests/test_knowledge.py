"""Knowledge bases over Qdrant local mode: upload, chunk, embed, search, isolation, deletion."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from typing import Any

import docx
import httpx
import pytest
from fastapi import FastAPI

from ori_backend.app import create_app
from ori_backend.settings import BackendSettings
from ori_contracts.knowledge import KNOWLEDGE_SEARCH_PATH
from ori_contracts.wire import CONFIG_PATH, bearer
from ori_e2e.backend import FLEET_SECRET, Account, BotSpecFactory, Signup

pytestmark = pytest.mark.integration

FLEET = bearer(FLEET_SECRET)
FAQ = (
    "Opening hours. The clinic is open Monday to Friday from eight in the morning to six in "
    "the evening.\n\nParking. Free parking is available behind the building on Elm Street.\n\n"
    "Payments. We accept cash, credit cards and most dental insurance plans."
)

_spec = importlib.util.spec_from_file_location(
    "standin", Path(__file__).with_name("embeddings_standin.py")
)
assert _spec and _spec.loader
standin = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(standin)


def _pdf(text: str) -> bytes:
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = io.BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def _docx(text: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(text)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


async def _kb(client: httpx.AsyncClient, account: Account, name: str = "FAQ") -> str:
    answer = await client.post(
        "/api/v1/knowledge-bases", json={"name": name}, headers=account.headers
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


async def _upload(
    client: httpx.AsyncClient,
    account: Account,
    kb_id: str,
    filename: str,
    data: bytes,
    **headers: str,
) -> httpx.Response:
    return await client.post(
        f"/api/v1/knowledge-bases/{kb_id}/documents",
        params={"filename": filename},
        content=data,
        headers={**account.headers, **headers},
    )


async def _search(
    client: httpx.AsyncClient,
    kb_ids: list[str],
    query: str,
    headers: dict[str, str],
    **extra: Any,
) -> list[dict[str, Any]]:
    answer = await client.post(
        KNOWLEDGE_SEARCH_PATH,
        json={"query": query, "knowledge_base_ids": kb_ids, **extra},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    hits: list[dict[str, Any]] = answer.json()["hits"]
    return hits


async def test_upload_every_kind_and_search_offline(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    account = await signup()
    kb_id = await _kb(client, account)
    for name, data in [
        ("faq.txt", FAQ.encode()),
        ("notes.md", b"# Emergencies\n\nFor a dental emergency call the on-call dentist."),
        ("billing.pdf", _pdf("Invoices are emailed within three days")),
        ("staff.docx", _docx("Doctor Patel specialises in orthodontics")),
    ]:
        answer = await _upload(client, account, kb_id, name, data)
        assert answer.status_code == 201, (name, answer.text)
        assert answer.json()["status"] == "ready"
    hits = await _search(client, [kb_id], "is there parking", account.headers)
    assert "parking" in hits[0]["text"].lower()
    assert (await _search(client, [kb_id], "invoices emailed", account.headers))[0][
        "document_name"
    ] == "billing.pdf"
    assert (await _search(client, [kb_id], "orthodontics", account.headers))[0][
        "document_name"
    ] == "staff.docx"
    fleet = await _search(client, [kb_id], "emergency", FLEET, workspace_id=account.workspace_id)
    assert fleet[0]["document_name"] == "notes.md"


async def test_workspaces_are_isolated_and_deletion_removes_vectors(
    client: httpx.AsyncClient, signup: Signup, app: FastAPI
) -> None:
    mine, theirs = await signup(), await signup()
    my_kb, their_kb = await _kb(client, mine), await _kb(client, theirs)
    await _upload(
        client, theirs, their_kb, "secret.txt", b"The vault code is 4321 and parking is free."
    )
    doc = (await _upload(client, mine, my_kb, "faq.txt", FAQ.encode())).json()
    refused = await client.post(
        KNOWLEDGE_SEARCH_PATH,
        json={"query": "vault code", "knowledge_base_ids": [their_kb]},
        headers=mine.headers,
    )
    assert refused.status_code == 404
    assert all(
        "vault" not in h["text"]
        for h in await _search(client, [my_kb], "vault code parking", mine.headers)
    )
    assert (
        await client.get(f"/api/v1/knowledge-bases/{their_kb}", headers=mine.headers)
    ).status_code == 404
    deleted = await client.delete(
        f"/api/v1/knowledge-bases/{my_kb}/documents/{doc['id']}", headers=mine.headers
    )
    assert deleted.status_code == 204
    assert await _search(client, [my_kb], "parking", mine.headers) == []
    assert await _search(client, [their_kb], "vault", theirs.headers) != []
    removed = await client.delete(f"/api/v1/knowledge-bases/{their_kb}", headers=theirs.headers)
    assert removed.status_code == 204
    collection = f"ori_kb_{theirs.workspace_id}_local"
    assert (await app.state.qdrant.count(collection)).count == 0


@pytest.mark.parametrize(
    ("filename", "data", "status"),
    [
        ("broken.pdf", b"%PDF-1.4 this is not a pdf", 422),
        ("latin.txt", "Caf\xe9".encode("latin-1"), 400),
        ("image.png", b"\x89PNG....", 422),
        ("empty.md", b"   \n", 422),
    ],
)
async def test_bad_documents_are_4xx_and_leave_nothing(
    client: httpx.AsyncClient, signup: Signup, filename: str, data: bytes, status: int
) -> None:
    account = await signup()
    kb_id = await _kb(client, account)
    answer = await _upload(client, account, kb_id, filename, data)
    assert answer.status_code == status, answer.text
    listed = await client.get(f"/api/v1/knowledge-bases/{kb_id}/documents", headers=account.headers)
    assert listed.json() == []


async def test_call_token_searches_its_calls_workspace(
    client: httpx.AsyncClient, signup: Signup, bot_spec: BotSpecFactory
) -> None:
    account = await signup()
    kb_id = await _kb(client, account)
    await _upload(client, account, kb_id, "faq.txt", FAQ.encode())
    bot = await client.post(
        "/api/v1/bots", json=bot_spec(knowledge_base_ids=[kb_id]), headers=account.headers
    )
    config = await client.post(
        CONFIG_PATH,
        json={
            "call_id": "call_kb_1",
            "bot_id": bot.json()["id"],
            "direction": "inbound",
            "telephony": "websocket",
        },
        headers=FLEET,
    )
    assert config.json()["knowledge_bases"][0]["id"] == kb_id
    token = bearer(config.headers["X-Ori-Call-Token"])
    hits = await _search(client, [kb_id], "credit cards insurance", token, call_id="call_kb_1")
    assert "insurance" in hits[0]["text"]


@pytest.mark.parametrize("provider", ["openai", "voyage"])
async def test_cloud_embedders_against_a_local_standin(
    settings: BackendSettings, provider: str, tmp_path: Path
) -> None:
    with standin.serve("sk-test") as (base_url, seen):
        configured = settings.model_copy(
            update={
                "embedding_provider": provider,
                "embedding_base_url": base_url,
                f"{provider}_api_key": __import__("pydantic").SecretStr("sk-test"),
                "qdrant_path": str(tmp_path / "q2"),
            }
        )
        app = create_app(configured)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as http,
        ):
            signed = await http.post(
                "/api/v1/auth/signup",
                json={
                    "email": f"{provider}@example.com",
                    "password": "correct horse battery",
                    "name": "E",
                },
            )
            headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
            kb = await http.post("/api/v1/knowledge-bases", json={"name": "FAQ"}, headers=headers)
            assert kb.json()["embedder"] == provider
            up = await http.post(
                f"/api/v1/knowledge-bases/{kb.json()['id']}/documents",
                params={"filename": "faq.txt"},
                content=FAQ.encode(),
                headers=headers,
            )
            assert up.status_code == 201, up.text
            hits = await _search(
                http, [kb.json()["id"]], "free parking behind the building", headers
            )
    assert "parking" in hits[0]["text"].lower()
    assert seen[0]["model"] == ("text-embedding-3-small" if provider == "openai" else "voyage-3.5")
    if provider == "voyage":
        assert [s["input_type"] for s in seen] == ["document", "query"]


async def test_offline_search_matches_word_forms_by_their_stem(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    account = await signup()
    kb_id = await _kb(client, account)
    notes = (
        "Visitors park behind the building on Elm Street.\n\n"
        "Cancellations. Appointments cancelled a day ahead cost nothing."
    )
    assert (await _upload(client, account, kb_id, "notes.txt", notes.encode())).status_code == 201
    parking = await _search(client, [kb_id], "parking", account.headers)
    assert parking and "visitors park" in parking[0]["text"].lower()
    cancelling = await _search(client, [kb_id], "cancelling an appointment", account.headers)
    assert cancelling and "cancellations" in cancelling[0]["text"].lower()
    assert await _search(client, [kb_id], "swimming", account.headers) == []


async def test_documents_upload_as_a_multipart_file_too(
    client: httpx.AsyncClient, signup: Signup
) -> None:
    account = await signup()
    kb_id = await _kb(client, account)
    url = f"/api/v1/knowledge-bases/{kb_id}/documents"
    answer = await client.post(
        url,
        files={"file": ("staff.docx", _docx("Doctor Patel specialises in orthodontics"),
                        "application/octet-stream")},
        headers=account.headers,
    )  # fmt: skip
    assert answer.status_code == 201, answer.text
    assert (answer.json()["name"], answer.json()["status"]) == ("staff.docx", "ready")
    hits = await _search(client, [kb_id], "orthodontics", account.headers)
    assert hits[0]["document_name"] == "staff.docx"
    renamed = await client.post(
        url, params={"filename": "faq.md"}, files={"file": ("blob", b"# Parking\n\nFree.", "")},
        headers=account.headers,
    )  # fmt: skip
    assert (renamed.status_code, renamed.json()["name"]) == (201, "faq.md")
    nameless = await client.post(url, content=b"hello", headers=account.headers)
    assert nameless.status_code == 422
    assert "filename" in nameless.json()["message"]
