"""Measure what idle WebSocket pages cost the server in memory: RSS and its parts.

    python -m bench.memory --pages 3000            # eventlet, SQLite, one server
    python -m bench.memory --pages 3000 --env MALLOC_ARENA_MAX=1

Starts ``python app.py`` as ``bench.run`` does (server on CPU 0, crowd on CPU 1),
reads the server's ``/proc/<pid>/smaps_rollup`` before and with the crowd, then
checks that every page still gets the next ``payment_status`` (the fan-out).
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

from .clients import create_payment
from .crowd import Crowd
from .run import CLIENT_CPU, can_pin, raise_fd_limit, server, session

#: The smaps_rollup fields worth a column (KiB).
FIELDS = ("Rss", "Anonymous", "Private_Dirty", "Shared_Clean")


def rollup(pid: int) -> dict[str, int]:
    """Return the server's memory by kind in KiB (``/proc/<pid>/smaps_rollup``)."""
    sizes = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        name, value, *_ = line.split()
        sizes[name.rstrip(":")] = int(value)
    return sizes


async def measure(live, pages: int, settle: float) -> dict:
    """Hold ``pages`` idle pages on one charge; return memory before/with them and the fan-out."""
    pid = live.process.pid
    async with session(4) as http:
        payment = await create_payment(http, live.url)
    await asyncio.sleep(settle)
    before = rollup(pid)
    crowd = Crowd(live.url, payment["id"], pages)
    try:
        joined = crowd.start()
        await asyncio.sleep(settle)
        after = rollup(pid)
        fan = await crowd.fanout(live.url, payment)
    finally:
        crowd.stop()
    connected = joined["connected"]
    per_page = {k: round((after[k] - before[k]) / connected, 1) if connected else None
                for k in FIELDS}
    return {
        "pages": pages, "connected": connected, "failed": joined["failed"],
        "first_failure": joined["first_failure"],
        "before_kib": {k: before[k] for k in FIELDS}, "after_kib": {k: after[k] for k in FIELDS},
        "kib_per_page": per_page,
        "rss_mib": [round(before["Rss"] / 1024, 1), round(after["Rss"] / 1024, 1)],
        **fan,
    }


def main(argv: list[str] | None = None) -> dict:
    """Run one measurement and print it as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--mode", default="eventlet")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds before each reading")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    args = parser.parse_args(argv)
    raise_fd_limit()
    if can_pin():
        os.sched_setaffinity(0, {CLIENT_CPU})  # the crowd inherits it; the server gets CPU 0
    env = dict(item.split("=", 1) for item in args.env)
    with tempfile.TemporaryDirectory(prefix="bench-mem-") as tmp:
        with server(Path(tmp), args.mode, env=env) as live:
            result = asyncio.run(measure(live, args.pages, args.settle))
    result["env"] = env
    print(json.dumps(result), flush=True)
    if result["connected"] != args.pages or result["fanout_received"] != result["connected"]:
        sys.exit("error: not every page connected and received the fan-out")
    return result


if __name__ == "__main__":
    main()
