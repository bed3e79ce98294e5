"""What every provider stand-in shares: an aiohttp server on loopback, from a thread of its own.

A stand-in is started by constructing it and stopped by :meth:`StandIn.close` (or a ``with``
block). It binds ``127.0.0.1`` on a free port, checks the API key the way its provider does
(``api_key``, ``"standin-key"`` unless told otherwise), keeps what clients sent in
``requests`` (one entry per request or connection: its query, its configuration message or
its body) and adds ``delay_s`` before each answer, a fixed stand-in for the provider's
latency. Speech-to-text stand-ins recognise with a :data:`~ori_e2e.standins.audio.Transcriber`
and keep what they recognised in ``transcripts``; text-to-speech stand-ins speak with a
:data:`~ori_e2e.standins.audio.Synthesizer` and keep what they said in ``spoken``. Blocking
work (recognising, speaking) runs in threads so one connection never stalls another.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Coroutine
from types import TracebackType
from typing import Any, Self, TypeVar

from aiohttp import web

from ori_e2e.servers import HOST
from ori_e2e.standins.audio import ExpectedLines, Synthesizer, Transcriber, tone

STANDIN_KEY = "standin-key"  # noqa: S105 - a test-only credential
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0

T = TypeVar("T")


class StandIn:
    """An aiohttp application on a free loopback port; subclasses add their routes.

    Args:
        transcriber: How it recognises an utterance (speech-to-text stand-ins); without one
            it recognises nothing.
        synthesizer: How it speaks (text-to-speech stand-ins); a tone unless told otherwise.
        api_key: The only key it accepts.
        delay_s: Fixed delay before each answer (a result, the first audio, a response).
        silence_ms: Silence that ends an utterance, where the stand-in finds speech itself.
    """

    def __init__(
        self,
        transcriber: Transcriber | None = None,
        synthesizer: Synthesizer = tone,
        *,
        api_key: str = STANDIN_KEY,
        delay_s: float = 0.0,
        silence_ms: int = 400,
    ) -> None:
        if delay_s < 0 or silence_ms < 10:
            raise ValueError("delay_s must not be negative, silence_ms at least 10")
        self.transcriber = transcriber or ExpectedLines(())
        self.synthesizer = synthesizer
        self.api_key = api_key
        self.delay_s = delay_s
        self.silence_ms = silence_ms
        self.transcripts: list[str] = []
        self.spoken: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.refused = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=type(self).__name__, daemon=True
        )
        self._thread.start()
        app = web.Application()
        self.add_routes(app)
        self._runner = web.AppRunner(app, handle_signals=False)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind((HOST, 0))
        self.port: int = self._socket.getsockname()[1]
        self._call(self._start())

    def add_routes(self, app: web.Application) -> None:
        """Register the provider's routes on ``app``."""
        raise NotImplementedError

    async def _start(self) -> None:
        await self._runner.setup()
        await web.SockSite(self._runner, self._socket).start()

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = START_TIMEOUT_S) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def http_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{HOST}:{self.port}"

    @property
    def ws_url(self) -> str:
        """``ws://127.0.0.1:<port>``."""
        return f"ws://{HOST}:{self.port}"

    def key_matches(self, value: str | None, scheme: str | None = None) -> bool:
        """Whether a credential header carries this stand-in's key (after ``scheme``)."""
        expected = f"{scheme} {self.api_key}" if scheme else self.api_key
        if value == expected:
            return True
        self.refused += 1
        return False

    async def pause(self) -> None:
        """Wait the stand-in's fixed delay."""
        if self.delay_s:
            await asyncio.sleep(self.delay_s)

    async def transcribe(self, pcm: bytes, rate_hz: int) -> str:
        """Recognise one utterance (in a thread: a real recogniser takes a while)."""
        loop = asyncio.get_running_loop()
        text = await loop.run_in_executor(None, self.transcriber, pcm, rate_hz)
        self.transcripts.append(text)
        return text

    async def synthesize(self, text: str, rate_hz: int) -> bytes:
        """Speak ``text`` at ``rate_hz`` (in a thread)."""
        loop = asyncio.get_running_loop()
        pcm = await loop.run_in_executor(None, self.synthesizer, text, rate_hz)
        self.spoken.append(text)
        return pcm

    def close(self) -> None:
        """Stop serving (open connections are closed) and end the thread."""
        if self._loop.is_closed():
            return
        with contextlib.suppress(TimeoutError):
            self._call(self._runner.cleanup(), STOP_TIMEOUT_S)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(STOP_TIMEOUT_S)
        self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class Outbox:
    """Messages to one WebSocket client, sent in order, each no earlier than it is due."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self._ws = ws
        self._queue: asyncio.Queue[tuple[float, str | bytes | None]] = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    def send(self, message: dict[str, Any] | str | bytes, delay_s: float = 0.0) -> None:
        """Queue ``message`` (a dict goes as JSON text) to leave ``delay_s`` from now."""
        payload = json.dumps(message) if isinstance(message, dict) else message
        self._queue.put_nowait((asyncio.get_running_loop().time() + delay_s, payload))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, payload = await self._queue.get()
            if payload is None:
                return
            await asyncio.sleep(max(0.0, due - loop.time()))
            if self._ws.closed:
                continue
            with contextlib.suppress(ConnectionError):
                if isinstance(payload, bytes):
                    await self._ws.send_bytes(payload)
                else:
                    await self._ws.send_str(payload)

    async def drain(self) -> None:
        """Send everything queued, then stop."""
        self._queue.put_nowait((0.0, None))
        await self._task

    async def stop(self) -> None:
        """Stop without sending what is left."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


def json_error(status: int, body: dict[str, Any]) -> web.Response:
    """An HTTP error answer with a JSON body."""
    return web.json_response(body, status=status)
