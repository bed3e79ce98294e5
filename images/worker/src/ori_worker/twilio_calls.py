"""Twilio's REST API for one live call: transfer it to a number or SIP URI, or hang it up.

Both are an update of the call resource, ``POST {TWILIO_API_BASE_URL}/2010-04-01/Accounts/
{AccountSid}/Calls/{CallSid}.json`` with basic auth (account SID, auth token) and a form body:

* ``Twiml=<Response><Dial><Number>+1...</Number></Dial></Response>`` (``<Sip>`` for a SIP URI)
  takes the call out of its media stream and dials the target;
* ``Status=completed`` hangs it up.

Twilio answers errors as ``{"code", "message", "more_info", "status"}``. A request is retried
briefly only where a repeat cannot do harm: a hang-up on a timeout, a connection failure, 429
or any 5xx; a transfer only when Twilio cannot have acted on it (the connection failed, 429 or
503), because a second ``<Dial>`` would ring the target again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import httpx

from ori_worker.call_control import CarrierError

if TYPE_CHECKING:
    from ori_worker.settings import WorkerSettings

log = logging.getLogger(__name__)

TWILIO_API_BASE_URL = "https://api.twilio.com"
API_VERSION = "2010-04-01"
ATTEMPTS = 3
REQUEST_TIMEOUT_S = 3.0
BACKOFF_S = 0.25
NOT_APPLIED = frozenset({429, 503})
"""Answers after which Twilio has not acted on the request: any request may be repeated."""
CALL_OVER = frozenset({20404, 21220})
"""Error codes that mean the call is over already (not found; not in progress)."""


@dataclass(frozen=True)
class TwilioAccess:
    """The Twilio account the worker controls calls with, and where its API is."""

    account_sid: str
    auth_token: str
    api_base_url: str = TWILIO_API_BASE_URL

    @classmethod
    def from_settings(cls, settings: WorkerSettings) -> TwilioAccess | None:
        """The access the settings give (``TWILIO_*``); None without credentials."""
        sid, token = settings.twilio_account_sid, settings.twilio_auth_token
        if sid is None or token is None:
            return None
        base = str(settings.twilio_api_base_url).rstrip("/")
        return cls(sid, token.get_secret_value(), base)

    def call_url(self, call_sid: str) -> str:
        """The REST resource of the live call ``call_sid``."""
        account = f"{self.api_base_url}/{API_VERSION}/Accounts/{self.account_sid}"
        return f"{account}/Calls/{call_sid}.json"


class TwilioError(CarrierError):
    """Twilio refused the update, or did not answer (``status`` and ``code`` None then)."""

    def __init__(self, message: str, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def dial_twiml(target: str) -> str:
    """TwiML that dials ``target``: an E.164 number, or a ``sip:``/``sips:`` URI (escaped)."""
    noun = "Sip" if target.startswith(("sip:", "sips:")) else "Number"
    return f"<Response><Dial><{noun}>{escape(target)}</{noun}></Dial></Response>"


def _refusal(response: httpx.Response) -> TwilioError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()[:200] or response.reason_phrase
        return TwilioError(f"Twilio answered {response.status_code}: {text}", response.status_code)
    code = body.get("code") if isinstance(body.get("code"), int) else None
    message = str(body.get("message") or response.reason_phrase)
    more = f", {body['more_info']}" if body.get("more_info") else ""
    detail = f" (code {code}{more})" if code is not None else ""
    return TwilioError(
        f"Twilio answered {response.status_code}: {message}{detail}", response.status_code, code
    )


class TwilioCall:
    """One live Twilio call, updated through the REST API.

    Args:
        http: The worker's HTTP client.
        access: The account and API root.
        call_sid: The call (``callSid`` of the media stream's ``start`` message).
        attempts: At most this many requests per action.
        timeout_s: Each request's timeout.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        access: TwilioAccess,
        call_sid: str,
        *,
        attempts: int = ATTEMPTS,
        timeout_s: float = REQUEST_TIMEOUT_S,
    ) -> None:
        self.http = http
        self.access = access
        self.call_sid = call_sid
        self.attempts = attempts
        self.timeout_s = timeout_s

    async def transfer(self, target: str) -> None:
        """Dial ``target`` in place of the media stream.

        Raises:
            TwilioError: Twilio refused, or did not answer, after the attempts allowed.
        """
        await self._update({"Twiml": dial_twiml(target)}, repeatable=False)

    async def hang_up(self) -> None:
        """End the call; a call that is over already is not an error.

        Raises:
            TwilioError: Twilio refused, or did not answer, after the attempts allowed.
        """
        try:
            await self._update({"Status": "completed"}, repeatable=True)
        except TwilioError as exc:
            if exc.code not in CALL_OVER:
                raise
            log.info("Twilio call %s was over already: %s", self.call_sid, exc)

    async def _update(self, form: dict[str, str], *, repeatable: bool) -> None:
        auth = httpx.BasicAuth(self.access.account_sid, self.access.auth_token)
        url = self.access.call_url(self.call_sid)
        error = TwilioError("not attempted")
        for attempt in range(1, self.attempts + 1):
            try:
                response = await self.http.post(url, data=form, auth=auth, timeout=self.timeout_s)
            except httpx.HTTPError as exc:
                unsent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                error = TwilioError(f"Twilio could not be reached: {type(exc).__name__}: {exc}")
                again = repeatable or unsent
            else:
                if response.is_success:
                    return
                error = _refusal(response)
                status = response.status_code
                again = status in NOT_APPLIED or (repeatable and status >= 500)
            if not again or attempt == self.attempts:
                break
            log.warning(
                "Twilio call %s update failed (attempt %d of %d): %s",
                self.call_sid,
                attempt,
                self.attempts,
                error,
            )
            await asyncio.sleep(BACKOFF_S * 2 ** (attempt - 1))
        if attempt == 1:
            raise error
        raise TwilioError(f"{error} (after {attempt} attempts)", error.status, error.code)
