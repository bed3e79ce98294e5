"""What the dialler knows about the voice fleet: free call slots per fleet URL."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class FleetHost:
    """One entry of ``FLEET_URLS`` as last seen through its ``/health``."""

    url: str
    reachable: bool
    slots: int = 0
    free: int = 0
    error: str | None = None


def parse_health(url: str, body: object) -> FleetHost:
    """Read a worker or fleet-host ``/health`` body into a :class:`FleetHost`."""
    if not isinstance(body, dict):
        return FleetHost(url, reachable=True, error="health body is not an object")
    slots, free = body.get("slots"), body.get("free")
    if not isinstance(slots, int) or not isinstance(free, int):
        return FleetHost(url, reachable=True, error="health body lacks integer slots/free")
    return FleetHost(url, reachable=True, slots=slots, free=max(free, 0))


async def poll_host(client: httpx.AsyncClient, url: str) -> FleetHost:
    """Ask one fleet URL for its health; never raises."""
    try:
        response = await client.get(f"{url.rstrip('/')}/health")
        return parse_health(url, response.json())
    except (httpx.HTTPError, ValueError) as error:
        return FleetHost(url, reachable=False, error=f"{type(error).__name__}: {error}")


async def poll_fleet(client: httpx.AsyncClient, urls: list[str]) -> list[FleetHost]:
    """Poll every fleet URL concurrently."""
    return list(await asyncio.gather(*(poll_host(client, u) for u in urls)))


def most_free(hosts: list[FleetHost]) -> FleetHost | None:
    """The reachable host with the most free slots, or None when no slot is free anywhere."""
    candidates = [h for h in hosts if h.reachable and h.free > 0]
    return max(candidates, key=lambda h: h.free, default=None)
