"""pipecat's LiveKit transport, for one caller in a room.

:class:`CallerRoomTransport` is pipecat's ``LiveKitTransport`` with the client events the call
runner listens to (``on_client_connected``, ``on_client_disconnected``) narrowed to the call's
one caller:

* ``on_client_connected`` fires once, when the caller is in the room and subscribed to the
  bot's audio track (or after ``hear_timeout_s``), so the greeting is not spoken into a track
  nobody receives yet;
* ``on_client_disconnected`` fires when the caller leaves, or when the room closes under the
  bot; other participants (a supervisor, a recorder) come and go without ending the call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from livekit import rtc
from pipecat.frames.frames import ClientConnectedFrame
from pipecat.transports.livekit.transport import LiveKitParams, LiveKitTransport

log = logging.getLogger(__name__)

HEAR_TIMEOUT_S = 3.0


class CallerRoomTransport(LiveKitTransport):
    """A LiveKit transport whose client is the call's caller only (see the module docstring)."""

    def __init__(
        self,
        url: str,
        token: str,
        room_name: str,
        *,
        caller_identity: str | None,
        params: LiveKitParams,
        hear_timeout_s: float = HEAR_TIMEOUT_S,
    ) -> None:
        """Prepare the transport; nothing connects until a pipeline starts it.

        Args:
            url: The LiveKit server URL.
            token: The bot's access token for ``room_name``.
            room_name: The room.
            caller_identity: The caller's identity; None takes the first participant to join.
            params: pipecat's LiveKit parameters.
            hear_timeout_s: The longest the bot waits for the caller to subscribe to its audio.
        """
        super().__init__(url, token, room_name, params=params)
        self.caller_identity = caller_identity
        self._hear_timeout_s = hear_timeout_s
        self._caller_seen = False
        self._caller_gone = False
        self._leaving = False
        self._greeter: asyncio.Task[None] | None = None

    def _bot_audio(self) -> rtc.LocalTrackPublication | None:
        publications = self._client.room.local_participant.track_publications.values()
        return next((p for p in publications if p.kind == rtc.TrackKind.KIND_AUDIO), None)

    async def _on_participant_connected(self, participant_id: str) -> None:
        await self._call_event_handler("on_participant_connected", participant_id)
        if self.caller_identity is None:
            self.caller_identity = participant_id
        if participant_id != self.caller_identity or self._caller_seen:
            return
        self._caller_seen = True
        self._greeter = asyncio.create_task(self._caller_hears(participant_id), name="lk-caller")

    async def _caller_hears(self, participant_id: str) -> None:
        publication = self._bot_audio()
        if publication is not None:
            try:
                await asyncio.wait_for(publication.wait_for_subscription(), self._hear_timeout_s)
            except TimeoutError:
                log.warning("%s did not subscribe to the bot's audio in time", participant_id)
        await self._call_event_handler("on_client_connected", {"id": participant_id})
        if self._input:
            await self._input.push_frame(ClientConnectedFrame())

    async def _on_participant_disconnected(self, participant_id: str) -> None:
        await self._call_event_handler("on_participant_disconnected", participant_id)
        await self._call_event_handler("on_participant_left", participant_id, "disconnected")
        if participant_id == self.caller_identity:
            await self._caller_left()

    async def _on_before_disconnect(self) -> None:
        self._leaving = True
        await super()._on_before_disconnect()  # type: ignore[no-untyped-call]

    async def _on_disconnected(self) -> None:
        await super()._on_disconnected()  # type: ignore[no-untyped-call]
        if not self._leaving:  # the room closed, or the server dropped the bot
            await self._caller_left()

    async def _caller_left(self) -> None:
        if self._greeter is not None:
            self._greeter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._greeter
        if self._caller_gone:
            return
        self._caller_gone = True
        await self._call_event_handler("on_client_disconnected", {"id": self.caller_identity})
