r"""``ori-sim``: phone a worker with N simulated callers at once and report what they heard.

    ori-sim --url ws://127.0.0.1:8001 --bot appointment-demo --protocol twilio \\
        --line "I would like to book an appointment" --line "@600:yes tuesday works" \\
        --line goodbye --calls 4 --json build/sim.json

A line written ``@<ms>:<text>`` is said over the bot, ``<ms>`` after it starts speaking.
``--protocol livekit`` opens a widget call on the worker's HTTP URL (``--url
http://127.0.0.1:8001``, ``VOXCORE_SECRET`` or ``--secret``) and joins its LiveKit room.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from ori_contracts import new_call_id
from ori_worker.sim.caller import CallReport, Line, Script, SimulatedCall
from ori_worker.sim.livekit_call import widget_call
from ori_worker.sim.stats import summarise


def parse_line(text: str) -> Line:
    """``@<ms>:<text>`` is a barge-in line; anything else is said after the bot finishes."""
    if text.startswith("@") and ":" in text:
        delay, _, said = text[1:].partition(":")
        if delay.isdigit():
            return Line(said.strip(), barge_in_after_ms=int(delay))
    return Line(text)


async def run_calls(
    urls: list[str],
    bot_id: str,
    protocol: str,
    script: Script,
    calls: int,
    call_ids: bool,
    secret: str | None = None,
) -> list[CallReport]:
    """Place ``calls`` calls at once, spread over ``urls`` round-robin."""
    if protocol == "livekit":
        if not secret:
            raise SystemExit("ori-sim: --protocol livekit needs --secret (or VOXCORE_SECRET)")
        return list(
            await asyncio.gather(
                *(
                    widget_call(urls[i % len(urls)], bot_id, script, secret=secret)
                    for i in range(calls)
                )
            )
        )
    sims = [
        SimulatedCall(
            urls[i % len(urls)],
            bot_id,
            protocol,
            script,
            call_id=new_call_id() if call_ids else None,
        )
        for i in range(calls)
    ]
    return list(await asyncio.gather(*(s.run() for s in sims)))


def main(argv: list[str] | None = None) -> int:
    """Run the calls, print a table, optionally write JSON; exit 1 if any call failed."""
    parser = argparse.ArgumentParser(prog="ori-sim", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", action="append", required=True, help="worker base URL (repeat)")
    parser.add_argument("--bot", default="appointment-demo")
    parser.add_argument(
        "--protocol", choices=("twilio", "exotel", "websocket", "livekit"), default="twilio"
    )
    parser.add_argument("--line", action="append", default=[], help="a caller line (repeat)")
    parser.add_argument("--calls", type=int, default=1)
    parser.add_argument("--voice", default="en-us")
    parser.add_argument("--call-ids", action="store_true", help="send an Ori call_id (outbound)")
    parser.add_argument("--json", type=Path, help="write the reports here")
    parser.add_argument(
        "--secret",
        default=os.environ.get("VOXCORE_SECRET"),
        help="the fleet secret for --protocol livekit (default: VOXCORE_SECRET)",
    )
    args = parser.parse_args(argv)
    lines = tuple(parse_line(text) for text in args.line) or (Line("goodbye"),)
    script = Script(lines=lines, voice=args.voice)
    reports = asyncio.run(
        run_calls(args.url, args.bot, args.protocol, script, args.calls, args.call_ids, args.secret)
    )
    summary = summarise(reports)
    print(summary.table())  # noqa: T201 - a command-line program
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"summary": summary.as_dict(), "calls": [r.as_dict() for r in reports]}
        args.json.write_text(json.dumps(payload, indent=2))
    return 0 if all(r.error is None and r.refused is None for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
