"""Measure the events' relay, beside the bare Flask-SocketIO floor, in one run.

    python -m bench.events            # 5,000 backlog events, 1,000 confirms per phase
    python -m bench.events --quick    # a smoke run with tiny counts

Servers are ``python app.py`` (eventlet, SQLite) pinned to CPU 0, as
``bench.run`` starts them; the load generator and the merchant's endpoint (an
aiohttp server answering 204 at once) share CPU 1. In order:

1. the floor (``bench/baseline_app.py``): creates from 20 clients, the bank
   webhook's latency from one client, webhook → page event (WebSocket);
2. the charges are made (untimed) on a server without webhooks: a backlog set,
   and one set for each confirm phase;
3. **relay off**: a fresh server without ``MERCHANT_WEBHOOK_URLS`` (events are
   written, nothing is sent) answers the bank webhook for one set, one client;
4. **relay busy**: the backlog's events are given a pending webhook delivery
   each (as if the endpoint had been down), and a fresh server with the URL
   starts draining them at once, while the second set is confirmed as in 3;
   the endpoint's arrival times give the relay's **events per second**;
5. **webhook → merchant**: on that server, idle again, one charge at a time:
   the bank's webhook posted, the clock stopped when the endpoint receives
   that charge's ``payment.paid``.
"""

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web

from .clients import confirm, create_payment
from .run import (
    RESULTS,
    can_pin,
    cpu_seconds,
    create_load,
    event_latency,
    percentiles,
    server,
    session,
)

SECRET = "bench-merchant-webhook-secret"
FULL = {"backlog": 5000, "confirms": 1000, "samples": 500, "creates": 5000}
QUICK = {"backlog": 50, "confirms": 20, "samples": 10, "creates": 60}


class Endpoint:
    """The merchant's endpoint: records each event's arrival time, answers 204 at once."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, str, str]] = []  # (monotonic, type, subject)
        self.waiters: dict[tuple[str, str], asyncio.Future] = {}
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def receive(self, request: web.Request) -> web.Response:
        event = json.loads(await request.read())
        arrived = time.monotonic()
        self.arrivals.append((arrived, event["type"], event["subject"]))
        waiter = self.waiters.pop((event["type"], event["subject"]), None)
        if waiter is not None and not waiter.done():
            waiter.set_result(arrived)
        return web.Response(status=204)

    async def start(self) -> "Endpoint":
        app = web.Application()
        app.router.add_post("/hooks/payments", self.receive)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hooks/payments"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def expect(self, type: str, subject: str) -> asyncio.Future:
        future = asyncio.get_running_loop().create_future()
        self.waiters[(type, subject)] = future
        return future


async def make_charges(base: str, count: int) -> list[dict]:
    async with session(20) as http:
        gate = asyncio.Semaphore(20)

        async def one() -> dict:
            async with gate:
                return await create_payment(http, base)

        return await asyncio.gather(*(one() for _ in range(count)))


async def confirm_one_by_one(base: str, payments: list[dict], pids: list[int]) -> dict:
    """The bank webhook's latency from one client, each charge once."""
    latencies: list[float] = []
    errors = 0
    async with session(1) as http:
        started, cpu = time.perf_counter(), cpu_seconds(pids)
        for payment in payments:
            begun = time.perf_counter()
            status = await confirm(http, base, payment)
            if status == 200:
                latencies.append(time.perf_counter() - begun)
            else:
                errors += 1
        wall, cpu = time.perf_counter() - started, cpu_seconds(pids) - cpu
    return {"requests": len(payments), "errors": errors, "wall_s": round(wall, 3),
            "latency_ms": percentiles(latencies),
            "server_cpu_ms_per_request": round(cpu * 1000 / max(1, len(payments)), 3)}


def give_backlog_deliveries(database: Path, subjects: set[str], url: str) -> int:
    """Give each event of ``subjects`` a pending webhook delivery to ``url``; return how many."""
    now = datetime.now(UTC).replace(tzinfo=None)
    with sqlite3.connect(database) as connection:
        ids = [row[0] for row in connection.execute("SELECT id, subject FROM events")
               if row[1] in subjects]
        connection.executemany(
            "INSERT INTO event_deliveries (event_id, kind, target, status, attempts, "
            "next_attempt_at) VALUES (?, 'webhook', ?, 'pending', 0, ?)",
            [(event_id, url, now) for event_id in ids])
    return len(ids)


async def webhook_to_merchant(base: str, endpoint: Endpoint, samples: int) -> dict:
    """Time bank webhook posted → the endpoint receives that charge's ``payment.paid``."""
    latencies: list[float] = []
    answers: list[float] = []
    async with session(2) as http:
        for _ in range(samples):
            payment = await create_payment(http, base)
            await asyncio.sleep(0.005)  # its payment.created is delivered, the relay idle
            arrived = endpoint.expect("payment.paid", payment["id"])
            started = time.monotonic()
            status = await confirm(http, base, payment)
            answered = time.monotonic()
            if status != 200:
                raise RuntimeError(f"webhook answered {status}")
            latencies.append(await asyncio.wait_for(arrived, 30) - started)
            answers.append(answered - started)
    return {"event_ms": percentiles(latencies), "webhook_answer_ms": percentiles(answers)}


async def wait_for_arrivals(endpoint: Endpoint, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while len(endpoint.arrivals) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return len(endpoint.arrivals) >= count


async def bench(counts: dict, workdir: Path, log) -> dict:
    result: dict = {}
    floor_argv = [sys.executable, "-m", "bench.baseline_app"]
    with server(workdir / "floor", "eventlet", argv=floor_argv) as live:
        pids = [live.process.pid]
        floor_charges = await make_charges(live.url, counts["confirms"])
        result["floor"] = {
            "create_20": await create_load([live.url], 20, counts["creates"], pids),
            "confirm_1": await confirm_one_by_one(live.url, floor_charges, pids),
            "webhook_to_page_ws": await event_latency(live.url, "websocket", counts["samples"]),
        }
    log(f"[floor] create x20 {result['floor']['create_20']['per_second']}/s; "
        f"confirm x1 {result['floor']['confirm_1']['latency_ms']}; "
        f"webhook→page {result['floor']['webhook_to_page_ws']['event_ms']}")

    database = workdir / "app" / "live.sqlite"
    plain = {"DATABASE_URL": f"sqlite:///{database}"}
    with server(workdir / "app", "eventlet", env=plain, name="make") as live:
        backlog = await make_charges(live.url, counts["backlog"])
        off_set = await make_charges(live.url, counts["confirms"])
        busy_set = await make_charges(live.url, counts["confirms"])
    with server(workdir / "app", "eventlet", env=plain, name="off") as live:
        result["relay_off"] = await confirm_one_by_one(live.url, off_set, [live.process.pid])
    log(f"[relay off] confirm x1 {result['relay_off']['latency_ms']}")

    endpoint = await Endpoint().start()
    try:
        given = give_backlog_deliveries(database, {p["id"] for p in backlog}, endpoint.url)
        hooks = {**plain, "MERCHANT_WEBHOOK_URLS": endpoint.url,
                 "MERCHANT_WEBHOOK_SECRET": SECRET}
        with server(workdir / "app", "eventlet", env=hooks, name="busy") as live:
            pid = [live.process.pid]
            ready = time.monotonic()
            busy = await confirm_one_by_one(live.url, busy_set, pid)
            confirms_done = time.monotonic()
            drained = await wait_for_arrivals(endpoint, given + len(busy_set), 300)
            backlog_times = [t for t, kind, _ in endpoint.arrivals if kind == "payment.created"]
            last = max(backlog_times) if backlog_times else ready
            first = min(backlog_times) if backlog_times else ready
            busy["overlap"] = ("the relay was draining during every confirm"
                               if last >= confirms_done else
                               f"the backlog was drained {confirms_done - last:.2f} s before "
                               "the last confirm")
            result["relay_busy"] = busy
            result["relay"] = {
                "backlog": given, "received": len(backlog_times), "drained": drained,
                "events_per_second": round(len(backlog_times) / (last - first), 1)
                if last > first else None,
                "drain_s_from_server_ready": round(last - ready, 3),
                "duplicates": len(endpoint.arrivals) - len(set(endpoint.arrivals)),
            }
            log(f"[relay busy] confirm x1 {busy['latency_ms']}; {busy['overlap']}")
            log(f"[relay] {result['relay']}")
            endpoint.arrivals.clear()
            await asyncio.sleep(1)
            result["webhook_to_merchant"] = await webhook_to_merchant(live.url, endpoint,
                                                                      counts["samples"])
            log(f"[webhook→merchant] {result['webhook_to_merchant']['event_ms']}")
    finally:
        await endpoint.stop()
    off = result["relay_off"]["latency_ms"]
    on = result["relay_busy"]["latency_ms"]
    floor = result["floor"]
    result["ratios"] = {
        "confirm_busy_over_off_p50": round(on["p50"] / off["p50"], 3),
        "confirm_busy_over_off_p99": round(on["p99"] / off["p99"], 3),
        "confirm_off_over_floor_p50": round(off["p50"] / floor["confirm_1"]["latency_ms"]["p50"],
                                            2),
        "relay_events_per_s_over_floor_creates_per_s":
            round(result["relay"]["events_per_second"] / floor["create_20"]["per_second"], 3)
            if result["relay"]["events_per_second"] else None,
        "webhook_to_merchant_over_floor_webhook_to_page_p50":
            round(result["webhook_to_merchant"]["event_ms"]["p50"]
                  / floor["webhook_to_page_ws"]["event_ms"]["p50"], 2),
    }
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke run")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/<time>.json)")
    for name in FULL:
        parser.add_argument(f"--{name}", type=int, help=f"override the count of {name}")
    args = parser.parse_args(argv)
    counts = dict(QUICK if args.quick else FULL)
    counts.update({name: getattr(args, name) for name in FULL if getattr(args, name)})

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if can_pin():
        os.sched_setaffinity(0, {1})
    load = os.getloadavg()[0]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        result = asyncio.run(bench(counts, Path(tmp), log))
    result.update({"counts": counts, "quick": args.quick, "loadavg_1min_before": round(load, 2),
                   "loadavg_1min_after": round(os.getloadavg()[0], 2),
                   "seconds": round(time.monotonic() - started, 1),
                   "started": datetime.now(UTC).isoformat(timespec="seconds")})
    out = args.out or RESULTS / f"events-{'quick-' if args.quick else ''}{int(time.time())}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("relay", "ratios")}, indent=2))
    print(f"load average {result['loadavg_1min_before']} before, "
          f"{result['loadavg_1min_after']} after; {result['seconds']} s; JSON: {out}")
    return result


if __name__ == "__main__":
    main()
