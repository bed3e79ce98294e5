"""kopf handlers: thin edges that parse, call one function and map errors.

Importing this package registers every handler with kopf's default registry.
"""

from ori_operator.handlers import bot, campaign, fleetpool, startup

__all__ = ["bot", "campaign", "fleetpool", "startup"]
