"""livekit-server: the pinned build runs, carries audio over loopback and signs its webhooks."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from livekit import api, rtc

from ori_e2e.servers import HOST, LiveKitServer, start_livekit
from ori_e2e.toolcache import find_binary, pinned_version

pytestmark = pytest.mark.integration

RATE = 16000
FRAME = RATE // 100  # 10 ms


def _token(server: LiveKitServer, room: str, identity: str) -> str:
    grants = api.VideoGrants(room_join=True, room=room)
    token = api.AccessToken(server.api_key, server.api_secret).with_identity(identity)
    return token.with_grants(grants).to_jwt()


def test_livekit_server_is_the_pinned_version() -> None:
    result = subprocess.run(
        [find_binary("livekit", "livekit-server"), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.split()[-1] == pinned_version("livekit").removeprefix("v")


async def test_audio_goes_from_one_participant_to_another(livekit_server: LiveKitServer) -> None:
    speaker, listener = rtc.Room(), rtc.Room()
    levels: list[float] = []
    heard = asyncio.Event()
    readers: list[asyncio.Task[None]] = []

    @listener.on("track_subscribed")
    def _subscribed(track: rtc.Track, *_: object) -> None:
        async def read() -> None:
            stream = rtc.AudioStream(track, sample_rate=RATE, num_channels=1)
            try:
                async for event in stream:
                    samples = np.frombuffer(event.frame.data, dtype=np.int16)
                    levels.append(float(np.abs(samples).mean()))
                    if sum(level > 1000 for level in levels) >= 20:
                        heard.set()
            finally:
                await stream.aclose()

        readers.append(asyncio.create_task(read()))

    await speaker.connect(livekit_server.url, _token(livekit_server, "probe", "speaker"))
    await listener.connect(livekit_server.url, _token(livekit_server, "probe", "listener"))
    source = rtc.AudioSource(RATE, 1)
    track = rtc.LocalAudioTrack.create_audio_track("mic", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    publication = await speaker.local_participant.publish_track(track, options)
    await asyncio.wait_for(publication.wait_for_subscription(), 10)
    tone = (np.sin(np.arange(FRAME) * 2 * np.pi * 440 / RATE) * 8000).astype(np.int16)
    try:
        for _ in range(150):
            frame = rtc.AudioFrame(tone.tobytes(), RATE, 1, FRAME)
            await source.capture_frame(frame)
            if heard.is_set():
                break
        await asyncio.wait_for(heard.wait(), 5)
    finally:
        await speaker.disconnect()
        await listener.disconnect()
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
    assert sum(level > 1000 for level in levels) >= 20


class _Hooks(BaseHTTPRequestHandler):
    received: list[tuple[str, str]] = []

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
        self.received.append((body, self.headers.get("Authorization") or ""))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:  # quiet
        return


@pytest.fixture
def hooks() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    received: list[tuple[str, str]] = []
    handler = type("Hooks", (_Hooks,), {"received": received})
    server = ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://{HOST}:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


async def test_webhooks_are_signed_with_the_api_key(
    tmp_path: Path, hooks: tuple[str, list[tuple[str, str]]]
) -> None:
    url, received = hooks
    server = start_livekit(tmp_path / "livekit", webhook_urls=[url])
    try:
        async with api.LiveKitAPI(server.http_url, server.api_key, server.api_secret) as lk:
            await lk.room.create_room(api.CreateRoomRequest(name="hooked"))
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.05)
    finally:
        server.stop()
    receiver = api.WebhookReceiver(api.TokenVerifier(server.api_key, server.api_secret))
    events = [receiver.receive(body, auth) for body, auth in received]
    assert [(e.event, e.room.name) for e in events][:1] == [("room_started", "hooked")]
    with pytest.raises(Exception, match="hash mismatch"):
        receiver.receive(received[0][0] + " ", received[0][1])
