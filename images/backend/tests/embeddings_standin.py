"""A local stand-in for the OpenAI and Voyage embeddings HTTP APIs (their real wire shape)."""

from __future__ import annotations

import math
import re
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

DIM = 64


def embed(text: str) -> list[float]:
    vector = [0.0] * DIM
    for token in re.findall(r"\w+", text.lower()):
        vector[zlib.crc32(token.encode()) % DIM] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


def make_app(expected_key: str, seen: list[dict[str, Any]]) -> Starlette:
    async def embeddings(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {expected_key}":
            return JSONResponse({"error": {"message": "Incorrect API key"}}, status_code=401)
        body = await request.json()
        seen.append(body)
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": embed(t)} for i, t in enumerate(inputs)
        ]
        return JSONResponse(
            {"object": "list", "data": data, "model": body["model"], "usage": {"total_tokens": 1}}
        )

    return Starlette(routes=[Route("/v1/embeddings", embeddings, methods=["POST"])])


@contextmanager
def serve(expected_key: str) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    seen: list[dict[str, Any]] = []
    server = uvicorn.Server(
        uvicorn.Config(
            make_app(expected_key, seen), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/v1", seen
    finally:
        server.should_exit = True
        thread.join(timeout=10)
