"""The bot's tools: built-ins the worker runs itself, and customers' HTTP endpoints.

:func:`register_tools` registers one handler per configured tool on the LLM service and
returns the function schemas to advertise. Every call is timed and reported through
``on_event`` (a telemetry hook: logs and metrics), and every failure becomes a tool result
the LLM can read, never an exception that ends the call.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.frames.frames import EndWorkerFrame, FunctionCallResultProperties, TTSSpeakFrame
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import FunctionCallParams, LLMService

from ori_contracts import (
    DetectedVoicemailTool,
    EndCallTool,
    HttpTool,
    RuntimeConfig,
    SearchKnowledgeTool,
    SecretRef,
    TransferCallTool,
)
from ori_contracts.knowledge import (
    KnowledgeSearchRequest,
    KnowledgeSearchResponse,
    knowledge_search_url,
)
from ori_contracts.wire import bearer
from ori_worker import call_control
from ori_worker.call_control import CallControl

log = logging.getLogger(__name__)

ToolEventHook = Callable[["ToolEvent"], None]


@dataclass(frozen=True)
class ToolEvent:
    """One finished tool call, for telemetry."""

    name: str
    type: str
    ok: bool
    duration_s: float
    attempts: int = 1
    error: str | None = None


@dataclass
class ToolContext:
    """What tool handlers need from the call around them."""

    cfg: RuntimeConfig
    control: CallControl
    http: httpx.AsyncClient
    config_url: str
    secret: str
    secrets_dir: Path | None = None
    on_event: ToolEventHook | None = None

    def report(self, event: ToolEvent) -> None:
        """Log the event and hand it to the telemetry hook."""
        level = logging.INFO if event.ok else logging.WARNING
        log.log(
            level,
            "tool %s (%s) %s in %.0f ms after %d attempt(s)%s",
            event.name,
            event.type,
            "succeeded" if event.ok else "failed",
            event.duration_s * 1000,
            event.attempts,
            f": {event.error}" if event.error else "",
            extra={"call_id": self.cfg.call_id, "bot_id": self.cfg.bot_id},
        )
        if self.on_event is not None:
            self.on_event(event)


Handler = Callable[[FunctionCallParams], Awaitable[None]]


def _schema(
    name: str, description: str, props: Mapping[str, Any], required: list[str]
) -> FunctionSchema:
    return FunctionSchema(
        name=name, description=description, properties=dict(props), required=required
    )


def register_tools(llm: LLMService, ctx: ToolContext) -> list[FunctionSchema]:
    """Register a handler for each of the bot's tools; return the schemas to advertise."""
    schemas = []
    codes = [d.code for d in ctx.cfg.dispositions]
    for tool in ctx.cfg.tools:
        handler, schema = _bind(tool, ctx, codes)
        llm.register_function(tool.name, handler, cancel_on_interruption=False)
        schemas.append(schema)
    return schemas


def _bind(tool: Any, ctx: ToolContext, codes: list[str]) -> tuple[Handler, FunctionSchema]:
    disposition = {"disposition": {"type": "string", "enum": codes}} if codes else {}
    if isinstance(tool, EndCallTool):
        return _ender(ctx, tool.name, "end_call", None, call_control.BOT_ENDED), _schema(
            tool.name, tool.description, disposition, []
        )
    if isinstance(tool, TransferCallTool):
        handler = _ender(
            ctx, tool.name, "transfer_call", tool.announcement, call_control.TRANSFERRED
        )
        return handler, _schema(tool.name, tool.description, disposition, [])
    if isinstance(tool, DetectedVoicemailTool):
        handler = _ender(ctx, tool.name, "detected_voicemail", tool.message, call_control.VOICEMAIL)
        return handler, _schema(tool.name, tool.description, {}, [])
    if isinstance(tool, SearchKnowledgeTool):
        query = {"query": {"type": "string", "description": "What to look up."}}
        return _searcher(ctx, tool), _schema(tool.name, tool.description, query, ["query"])
    http_tool: HttpTool = tool
    props = http_tool.parameters.get("properties")
    required = http_tool.parameters.get("required")
    return _http_caller(ctx, http_tool), _schema(
        http_tool.name,
        http_tool.description,
        props if isinstance(props, dict) else {},
        [str(r) for r in required] if isinstance(required, list) else [],
    )


def _take_disposition(ctx: ToolContext, arguments: Mapping[str, Any]) -> None:
    code = arguments.get("disposition")
    if isinstance(code, str) and code in {d.code for d in ctx.cfg.dispositions}:
        ctx.control.disposition = code


def _ender(
    ctx: ToolContext, name: str, kind: str, say: str | None, end: call_control.CallEnd
) -> Handler:
    async def handle(params: FunctionCallParams) -> None:
        started = time.monotonic()
        _take_disposition(ctx, params.arguments)
        if kind == "transfer_call":
            tool = next(t for t in ctx.cfg.tools if t.name == name)
            ctx.control.transfer_target = getattr(tool, "target", None)
        won = ctx.control.end_with(end)
        result = {"status": "ending" if won else "already ending"}
        await params.result_callback(result, properties=FunctionCallResultProperties(run_llm=False))
        if say:
            await params.llm.push_frame(TTSSpeakFrame(say))
        # The end travels behind what the bot is saying, so the goodbye is heard in full.
        await params.llm.push_frame(EndWorkerFrame(reason=kind), FrameDirection.UPSTREAM)
        ctx.report(ToolEvent(name, kind, True, time.monotonic() - started))

    return handle


def _searcher(ctx: ToolContext, tool: SearchKnowledgeTool) -> Handler:
    url = knowledge_search_url(ctx.config_url)

    async def handle(params: FunctionCallParams) -> None:
        started = time.monotonic()
        query = str(params.arguments.get("query") or "").strip()
        if not query:
            await params.result_callback({"error": "query is required"})
            ctx.report(ToolEvent(tool.name, "search_knowledge", False, 0.0, error="no query"))
            return
        body = KnowledgeSearchRequest(
            query=query[:2000],
            knowledge_base_ids=tool.knowledge_base_ids,
            top_k=tool.top_k,
            workspace_id=ctx.cfg.workspace_id,
            call_id=ctx.cfg.call_id,
        )
        try:
            response = await ctx.http.post(
                url, json=body.model_dump(mode="json"), headers=bearer(ctx.secret), timeout=5.0
            )
            response.raise_for_status()
            hits = KnowledgeSearchResponse.model_validate_json(response.content).hits
        except (httpx.HTTPError, ValueError) as exc:
            await params.result_callback({"error": "the knowledge base is unavailable"})
            ctx.report(
                ToolEvent(
                    tool.name, "search_knowledge", False, time.monotonic() - started, error=str(exc)
                )
            )
            return
        passages = [{"text": h.text, "source": h.document_name, "score": h.score} for h in hits]
        await params.result_callback({"passages": passages})
        ctx.report(ToolEvent(tool.name, "search_knowledge", True, time.monotonic() - started))

    return handle


class SecretUnavailable(LookupError):
    """A header's SecretRef could not be resolved from the worker's secret store."""


def resolve_secret(ref: SecretRef, secrets_dir: Path | None) -> str:
    """Read a SecretRef from ``<secrets_dir>/<name>/<key>`` (a mounted Kubernetes Secret).

    Raises:
        SecretUnavailable: No secrets directory is configured or the file is missing.
    """
    if secrets_dir is None:
        raise SecretUnavailable(f"secret {ref.name}/{ref.key}: TOOL_SECRETS_DIR is not set")
    path = secrets_dir / ref.name / ref.key
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise SecretUnavailable(f"secret {ref.name}/{ref.key} is not mounted") from exc


def _http_caller(ctx: ToolContext, tool: HttpTool) -> Handler:
    async def handle(params: FunctionCallParams) -> None:
        started = time.monotonic()
        _take_disposition(ctx, params.arguments)
        try:
            headers = {
                k: v if isinstance(v, str) else resolve_secret(v, ctx.secrets_dir)
                for k, v in tool.headers.items()
            }
        except SecretUnavailable as exc:
            await params.result_callback({"error": "the tool is not configured on this worker"})
            ctx.report(ToolEvent(tool.name, "http", False, 0.0, attempts=0, error=str(exc)))
            return
        result, attempts, error = await call_http_tool(
            ctx.http, tool, dict(params.arguments), headers
        )
        await params.result_callback(result)
        ctx.report(
            ToolEvent(tool.name, "http", error is None, time.monotonic() - started, attempts, error)
        )

    return handle


async def call_http_tool(
    http: httpx.AsyncClient, tool: HttpTool, arguments: dict[str, Any], headers: dict[str, str]
) -> tuple[Any, int, str | None]:
    """Call ``tool``'s endpoint with retries; never raises.

    GET and DELETE send the arguments as query parameters, the other methods as a JSON body.
    A 5xx answer, a timeout or a connection error is retried (``tool.retries`` times, with
    a short backoff); a 4xx answer is not.

    Returns:
        The result for the LLM (the JSON reply, or an error object), the number of attempts,
        and the last error (None on success).
    """
    as_query = tool.method.value in ("GET", "DELETE")
    error = "not attempted"
    for attempt in range(1, tool.retries + 2):
        try:
            response = await http.request(
                tool.method.value,
                tool.url,
                params={k: str(v) for k, v in arguments.items()} if as_query else None,
                json=None if as_query else arguments,
                headers=headers,
                timeout=tool.timeout_s,
            )
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code < 400:
                try:
                    return response.json(), attempt, None
                except ValueError:
                    return {"text": response.text[:2000]}, attempt, None
            error = f"HTTP {response.status_code}"
            if response.status_code < 500:
                return {"error": error}, attempt, error
        if attempt <= tool.retries:
            await asyncio.sleep(min(0.25 * 2 ** (attempt - 1), 2.0))
    return {"error": f"the tool failed ({error})"}, tool.retries + 1, error
