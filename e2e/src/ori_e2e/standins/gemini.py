"""A local stand-in for the Gemini API (``https://generativelanguage.googleapis.com``).

``POST /v1beta/models/{model}:streamGenerateContent?alt=sse`` answers as a server-sent event
stream of ``GenerateContentResponse`` objects (``candidates[].content.parts[]`` with ``text``
or ``functionCall``, ``finishReason``, ``usageMetadata``); ``:generateContent`` answers with
one. The key is read from ``x-goog-api-key`` (or ``?key=``); a wrong one, or a body without
``contents``, gets Google's error object (``{"error": {"code", "message", "status"}}``).
Replies are deterministic, like :mod:`ori_e2e.openai_standin`'s:

* the last user turn says "goodbye": "Goodbye!" and, when the request declares it, a call of
  ``end_call``;
* the last turn is a function response: an empty answer (the model has nothing to add);
* anything else: "You said: <the user's words>."
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ori_e2e.standins.base import StandIn

API_VERSION = "v1beta"


def google_error(code: int, status: str, message: str) -> web.Response:
    """An error answer shaped like Google's."""
    return web.json_response(
        {"error": {"code": code, "message": message, "status": status}}, status=code
    )


def _texts(content: dict[str, Any]) -> str:
    return " ".join(str(p["text"]) for p in content.get("parts", []) if "text" in p)


def _declared(body: dict[str, Any]) -> set[str]:
    names = set()
    for tool in body.get("tools") or []:
        for declaration in tool.get("functionDeclarations") or []:
            names.add(str(declaration.get("name")))
    return names


def reply(body: dict[str, Any]) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """The text and function calls answering a ``generateContent`` body."""
    contents: list[dict[str, Any]] = body.get("contents") or []
    last = contents[-1] if contents else {}
    if any("functionResponse" in p for p in last.get("parts", [])):
        return "", []
    users = [c for c in contents if c.get("role", "user") == "user" and _texts(c)]
    said = _texts(users[-1]).strip() if users else ""
    if "goodbye" in said.lower():
        calls: list[tuple[str, dict[str, Any]]] = []
        if "end_call" in _declared(body):
            calls.append(("end_call", {}))
        return "Goodbye!", calls
    return f"You said: {said}.", []


def _usage(body: dict[str, Any], text: str) -> dict[str, int]:
    prompt = sum(len(_texts(c).split()) + 4 for c in body.get("contents") or [])
    system = len(_texts(body.get("systemInstruction") or {}).split())
    prompt, answer = prompt + system, len(text.split()) + 1
    return {
        "promptTokenCount": prompt,
        "candidatesTokenCount": answer,
        "totalTokenCount": prompt + answer,
    }


def _chunk(parts: list[dict[str, Any]], model: str, finish: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], "modelVersion": model, "responseId": "standin"}


def chunks(body: dict[str, Any], model: str) -> list[dict[str, Any]]:
    """The streamed answer: text a word at a time, function calls, then the finish and usage."""
    text, calls = reply(body)
    out = [_chunk([{"text": w + " "}], model) for w in text.split(" ")] if text else []
    out += [_chunk([{"functionCall": {"name": n, "args": a}}], model) for n, a in calls]
    last = _chunk([{"text": ""}], model, "STOP")
    return [*out, {**last, "usageMetadata": _usage(body, text)}]


class GeminiStandIn(StandIn):
    """The Gemini API's ``generateContent`` methods at ``base_url``."""

    def add_routes(self, app: web.Application) -> None:
        """``POST /v1beta/models/{model}:streamGenerateContent`` and ``:generateContent``."""
        app.router.add_post(f"/{API_VERSION}/models/{{call}}", self._generate)

    @property
    def base_url(self) -> str:
        """What ``google.genai`` takes as ``HttpOptions(base_url=...)``."""
        return f"{self.http_url}/"

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["call"].partition(":")
        if method not in ("streamGenerateContent", "generateContent"):
            return google_error(404, "NOT_FOUND", f"Method {method!r} is not served here.")
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if not self.key_matches(key):
            return google_error(
                400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key."
            )
        try:
            body = await request.json()
        except ValueError:
            return google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        if not isinstance(body, dict) or not body.get("contents"):
            return google_error(
                400,
                "INVALID_ARGUMENT",
                "* GenerateContentRequest.contents: contents is not specified",
            )
        self.requests.append({"model": model, "method": method, **body})
        await self.pause()
        answer = chunks(body, model)
        if method == "generateContent":
            text, calls = reply(body)
            parts: list[dict[str, Any]] = [{"text": text}] if text else []
            parts += [{"functionCall": {"name": n, "args": a}} for n, a in calls]
            return web.json_response(
                {**_chunk(parts, model, "STOP"), "usageMetadata": answer[-1]["usageMetadata"]}
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for chunk in answer:
            await response.write(f"data: {json.dumps(chunk)}\r\n\r\n".encode())
        await response.write_eof()
        return response
