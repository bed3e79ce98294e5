"""Local stand-ins for the paid cloud providers, each speaking its provider's real wire protocol.

Paid APIs are unreachable from tests, so the worker's cloud adapters (pipecat's services) are
pointed at these instead, through the runtime config's ``url``/``base_url`` options. See
:mod:`ori_e2e.standins.base` for what they share and :mod:`ori_e2e.standins.audio` for how
they hear and speak.
"""

from ori_e2e.standins.audio import ExpectedLines, Synthesizer, Transcriber, tone
from ori_e2e.standins.base import STANDIN_KEY, StandIn

__all__ = ["STANDIN_KEY", "ExpectedLines", "StandIn", "Synthesizer", "Transcriber", "tone"]
