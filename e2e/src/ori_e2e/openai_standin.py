"""A local stand-in for OpenAI's chat-completions API: the real wire protocol, canned answers.

``POST /v1/chat/completions`` answers like OpenAI does: with ``"stream": true`` a
``text/event-stream`` of ``chat.completion.chunk`` objects (content deltas, then tool-call
deltas with the arguments split across chunks, a ``finish_reason``, a usage chunk when
``stream_options.include_usage`` is set, and ``data: [DONE]``); otherwise one
``chat.completion`` object. Replies are deterministic so tests can assert them:

* the last user message contains "goodbye": say "Goodbye!" and call ``end_call``;
* a request with ``response_format`` (post-call analysis): a JSON object built by
  ``analysis`` (settable per test);
* anything else: "You said: <the user's words>."

Every request body is kept in ``requests``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ori_e2e.servers import HOST


def _last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


class OpenAIStandIn:
    """The stand-in server, on a free loopback port until :meth:`close`."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.delay_s = delay_s
        self.analysis: Callable[[dict[str, Any]], dict[str, Any]] = lambda _req: {}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                outer.requests.append(body)
                if not self.path.endswith("/chat/completions"):
                    self.send_error(404)
                    return
                if outer.delay_s:
                    time.sleep(outer.delay_s)
                if body.get("stream"):
                    outer.stream(self, body)
                else:
                    outer.complete(self, body)

            def log_message(self, *args: object) -> None:  # noqa: ARG002 - quiet
                return

        self.server = ThreadingHTTPServer((HOST, 0), Handler)
        self.base_url = f"http://{HOST}:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def reply(self, body: dict[str, Any]) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
        """The text and tool calls answering a conversation."""
        said = _last_user_text(body.get("messages", [])).strip()
        last = (body.get("messages") or [{}])[-1]
        if last.get("role") == "tool":
            return "", []
        if "goodbye" in said.lower():
            return "Goodbye!", [("end_call", {})]
        return f"You said: {said}.", []

    def stream(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        """Answer as a server-sent event stream."""
        text, calls = self.reply(body)
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.send_header("cache-control", "no-cache")
        handler.send_header("connection", "close")
        handler.end_headers()
        created, model = int(time.time()), body.get("model", "stand-in")

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> None:
            data = {
                "id": "chatcmpl-standin",
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            handler.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
            handler.wfile.flush()

        chunk({"role": "assistant", "content": ""})
        for word in text.split(" ") if text else []:
            chunk({"content": word + " "})
        for index, (name, arguments) in enumerate(calls):
            call_id = f"call_standin_{index}"
            head = {"index": index, "id": call_id, "type": "function"}
            chunk({"tool_calls": [{**head, "function": {"name": name, "arguments": ""}}]})
            encoded = json.dumps(arguments)
            half = len(encoded) // 2
            for part in (encoded[:half], encoded[half:]):
                chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]})
        chunk({}, "tool_calls" if calls else "stop")
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49}
            data = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "choices": []}
            handler.wfile.write(f"data: {json.dumps({**data, 'usage': usage})}\n\n".encode())
        handler.wfile.write(b"data: [DONE]\n\n")
        handler.wfile.flush()
        handler.close_connection = True

    def complete(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        """Answer with one completion object (JSON mode for post-call analysis)."""
        if body.get("response_format"):
            content = json.dumps(self.analysis(body))
        else:
            content = self.reply(body)[0]
        payload = json.dumps(
            {
                "id": "chatcmpl-standin",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "stand-in"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120},
            }
        ).encode()
        handler.send_response(200)
        handler.send_header("content-type", "application/json")
        handler.send_header("content-length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def close(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()
