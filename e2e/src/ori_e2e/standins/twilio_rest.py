"""A local stand-in for Twilio's REST API: updating a live call (``https://api.twilio.com``).

``POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`` with basic auth (the account
SID and its auth token) and a form body, as Twilio's call update takes it:

* ``Twiml=<Response>...</Response>`` replaces what the call is doing (it must be well-formed
  XML with a ``Response`` root);
* ``Status=completed`` (or ``canceled``) ends the call.

It answers with Twilio's call resource (``sid``, ``account_sid``, ``status``, ``uri``, ...)
and refuses the way Twilio does, with ``{"code", "message", "more_info", "status"}``: 401
(20003) for a wrong account or token, 404 (20404) for a call that is not a ``CA`` SID,
400 (21220) for an update of a call that is over, 400 for a body with nothing to update or a
bad ``Status``, or unparseable TwiML (12100). Every request is kept in ``requests`` (the
account, the call, the form, the answer's status and when it arrived); :meth:`fail_next`
makes the next updates fail (a 5xx or 429 answer, or no answer within ``hang_s``).
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
import xml.etree.ElementTree as ET  # noqa: S405 - parses what our own worker sent
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from ori_e2e.standins.base import STANDIN_KEY, StandIn

STANDIN_ACCOUNT_SID = "AC" + "5" * 32
API_VERSION = "2010-04-01"
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
_REASONS = {
    400: "Bad Request",
    401: "Authenticate",
    404: "The requested resource was not found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def twilio_error(status: int, code: int, message: str) -> web.Response:
    """An error answer shaped like Twilio's."""
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return web.json_response(body, status=status)


def _basic_auth(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


class TwilioRestStandIn(StandIn):
    """Twilio's call-update API for one account, at :attr:`api_base_url`.

    Args:
        account_sid: The account it serves.
        auth_token: The account's auth token.
        delay_s: Fixed delay before each answer.
    """

    def __init__(
        self,
        account_sid: str = STANDIN_ACCOUNT_SID,
        auth_token: str = STANDIN_KEY,
        *,
        delay_s: float = 0.0,
    ) -> None:
        self.account_sid = account_sid
        self.ended: set[str] = set()
        self._failures: list[tuple[int, float]] = []
        super().__init__(api_key=auth_token, delay_s=delay_s)

    def add_routes(self, app: web.Application) -> None:
        """``POST /2010-04-01/Accounts/{account}/Calls/{call}.json``."""
        app.router.add_post(
            f"/{API_VERSION}/Accounts/{{account}}/Calls/{{call}}.json", self._update
        )

    @property
    def api_base_url(self) -> str:
        """What the worker takes as ``TWILIO_API_BASE_URL``."""
        return self.http_url

    def fail_next(self, times: int, status: int = 503, *, hang_s: float = 0.0) -> None:
        """Fail the next ``times`` updates with ``status`` and Twilio's error for it.

        With ``hang_s`` each waits that long before answering (a client's timeout).
        """
        if times < 0 or not (status == 429 or 500 <= status <= 599):
            raise ValueError("times must not be negative, status 429 or a 5xx")
        self._failures.extend([(status, hang_s)] * times)

    def updates(self, call_sid: str | None = None) -> list[dict[str, str]]:
        """The forms of the updates that were answered 200, oldest first."""
        return [
            r["form"]
            for r in self.requests
            if r.get("answered") == 200 and call_sid in (None, r["call_sid"])
        ]

    async def _update(self, request: web.Request) -> web.Response:
        account, call_sid = request.match_info["account"], request.match_info["call"]
        form = {k: str(v) for k, v in (await request.post()).items()}
        record: dict[str, Any] = {
            "account_sid": account,
            "call_sid": call_sid,
            "form": form,
            "at": time.time(),
        }
        self.requests.append(record)
        answer = await self._answer(request, account, call_sid, form)
        record["answered"] = answer.status
        return answer

    async def _answer(
        self, request: web.Request, account: str, call_sid: str, form: dict[str, str]
    ) -> web.Response:
        await self.pause()
        credentials = _basic_auth(request.headers.get("Authorization"))
        if credentials is None or credentials[0] != self.account_sid or account != self.account_sid:
            self.refused += 1
            return twilio_error(401, 20003, "Authenticate")
        if not self.key_matches(credentials[1]):
            return twilio_error(401, 20003, "Authenticate")
        if self._failures:
            status, hang_s = self._failures.pop(0)
            if hang_s:
                await asyncio.sleep(hang_s)
            return twilio_error(status, 20000 + status, _REASONS.get(status, "Error"))
        path = request.path
        if not _CALL_SID.fullmatch(call_sid):
            return twilio_error(404, 20404, f"The requested resource {path} was not found")
        refusal = self._refusal(call_sid, form)
        if refusal is not None:
            return refusal
        if form.get("Status") in ("completed", "canceled"):
            self.ended.add(call_sid)
        return web.json_response(self._resource(call_sid, path))

    def _refusal(self, call_sid: str, form: dict[str, str]) -> web.Response | None:
        if call_sid in self.ended:
            return twilio_error(400, 21220, "Call is not in-progress. Cannot redirect.")
        status, twiml = form.get("Status"), form.get("Twiml")
        if status is None and twiml is None and form.get("Url") is None:
            return twilio_error(400, 20001, "Missing required parameter: Url, Twiml or Status")
        if status is not None and status not in ("completed", "canceled"):
            return twilio_error(400, 20001, f"Invalid Status: {status}")
        if twiml is not None:
            try:
                root = ET.fromstring(twiml)  # noqa: S314 - our own worker's TwiML
            except ET.ParseError as exc:
                return twilio_error(400, 12100, f"Document parse failure: {exc}")
            if root.tag != "Response":
                return twilio_error(400, 12100, "Document parse failure: root is not <Response>")
        return None

    def _resource(self, call_sid: str, path: str) -> dict[str, Any]:
        now = format_datetime(datetime.now(UTC), usegmt=True)
        ended = call_sid in self.ended
        return {
            "sid": call_sid,
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "status": "completed" if ended else "in-progress",
            "direction": "inbound",
            "from": "+14155550142",
            "to": "+14155550100",
            "date_created": now,
            "date_updated": now,
            "start_time": now,
            "end_time": now if ended else None,
            "duration": "0" if ended else None,
            "parent_call_sid": None,
            "price": None,
            "price_unit": "USD",
            "answered_by": None,
            "uri": path,
            "subresource_uris": {
                "notifications": path.replace(".json", "/Notifications.json"),
                "recordings": path.replace(".json", "/Recordings.json"),
            },
        }
