"""Run the benchmark suite against real ``python app.py`` servers; print a table, write JSON.

    python -m bench.run            # the whole suite (docs/benchmarks.md), under 10 minutes
    python -m bench.run --quick    # a smoke run with tiny counts

The server is pinned to CPU 0 and this process (the load generator, and the
process holding the crowd of idle pages) to CPU 1, so load generation never
takes the server's core. Every loop is bounded by a count.
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import aiohttp

from tests.live import LiveServer

from .clients import TRANSPORTS, confirm, create_payment, sse_available
from .crowd import Crowd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SERVER_CPU, CLIENT_CPU = 0, 1
MODES = ("eventlet", "gevent", "threading")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")
PACKAGES = ("flask", "flask-socketio", "python-socketio", "python-engineio", "sqlalchemy",
            "eventlet", "gevent", "simple-websocket", "aiohttp", "redis")


@dataclass(frozen=True)
class Counts:
    """How much work each figure does (bounded loops)."""

    creates_1: int
    creates_20: int
    samples: int
    crowd_samples: int
    crowds: tuple[int, ...]
    confirms: int


FULL = Counts(creates_1=1000, creates_20=5000, samples=1000, crowd_samples=500,
              crowds=(1000, 5000, 10000), confirms=2000)
QUICK = Counts(creates_1=20, creates_20=60, samples=8, crowd_samples=5, crowds=(20,),
               confirms=40)
#: Other modes hold fewer pages: the suite must stay under 10 minutes, and threading
#: runs three OS threads per page (5,000 pages: 15,000 threads, a load average over 1,000).
CROWDS_BY_MODE = {"threading": (1000,), "gevent": (1000, 5000)}


def percentiles(values: list[float]) -> dict:
    """Return n, mean, p50, p95, p99 and max of ``values`` (seconds) in milliseconds."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3)

    return {"n": len(ordered), "mean": round(sum(ordered) / len(ordered) * 1000, 3),
            "p50": pick(0.50), "p95": pick(0.95), "p99": pick(0.99),
            "max": round(ordered[-1] * 1000, 3)}


def rss_mib(pid: int) -> float:
    """Return the resident set size of a process in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def cpu_seconds(pids: list[int]) -> float:
    """Return the CPU time (user + system) the processes ``pids`` have used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def raise_fd_limit() -> int:
    """Raise this process's open-file limit (servers started from here inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


#: The CPUs this process may use, read before it pins itself to the load generator's.
CPUS = frozenset(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else frozenset()


def can_pin() -> bool:
    """Tell whether this machine has the two CPUs the pinning needs.

    Asked of ``CPUS``, not of the current affinity: once the load generator has
    pinned itself to its CPU, the servers it starts must still get theirs.
    """
    return {SERVER_CPU, CLIENT_CPU} <= CPUS


@contextlib.contextmanager
def server(workdir: Path, mode: str, cpu: int | None = SERVER_CPU, name: str = "app",
           env: dict | None = None, argv: list[str] | None = None) -> Iterator[LiveServer]:
    """Run ``python app.py`` (or ``argv``) in ``mode`` pinned to ``cpu`` (None: not pinned).

    The app's database is migrated first (``flask db upgrade``), so the server
    starts as a server restarted on its database does: with nothing to migrate,
    it never loads Alembic (12 MiB of its memory; see payments/schema.py).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    live = LiveServer(workdir, env={"ASYNC_MODE": mode, "MAX_CONNECTIONS": "12000",
                                    "RATE_LIMIT_CREATE": "", **(env or {})}, name=name, argv=argv)
    if argv is None:
        subprocess.run([sys.executable, "-m", "flask", "--app", "payments", "db", "upgrade"],
                       cwd=ROOT, env=live.env, check=True, capture_output=True, timeout=120)
    mine = os.sched_getaffinity(0) if can_pin() else None
    if mine is not None and cpu is not None:
        os.sched_setaffinity(0, {cpu})  # the child inherits it from birth, threads included
    try:
        live.start(timeout=60)
    finally:
        if mine is not None:
            os.sched_setaffinity(0, mine)
    try:
        yield live
    finally:
        live.stop()


def session(limit: int = 100) -> aiohttp.ClientSession:
    """Return an HTTP client session with keep-alive connections."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=limit),
                                 timeout=aiohttp.ClientTimeout(total=60))


async def create_load(bases: list[str], clients: int, total: int, pids: list[int]) -> dict:
    """Create ``total`` charges from ``clients`` concurrent keep-alive clients."""
    async with session(clients) as http:
        for base in bases:  # warm up every server and connection
            await asyncio.gather(*(create_payment(http, base) for _ in range(clients)))
        latencies: list[float] = []
        errors = 0
        remaining = iter(range(total))

        async def worker(index: int) -> None:
            nonlocal errors
            base = bases[index % len(bases)]
            for _ in remaining:
                started = time.perf_counter()
                try:
                    await create_payment(http, base)
                    latencies.append(time.perf_counter() - started)
                except (RuntimeError, aiohttp.ClientError):
                    errors += 1

        started, cpu = time.perf_counter(), cpu_seconds(pids)
        await asyncio.gather(*(worker(i) for i in range(clients)))
        wall, cpu = time.perf_counter() - started, cpu_seconds(pids) - cpu
    return {"clients": clients, "requests": total, "errors": errors,
            "per_second": round(len(latencies) / wall, 1), "latency_ms": percentiles(latencies),
            "server_cpu_ms_per_request": round(cpu * 1000 / total, 3)}


async def confirm_load(bases: list[str], clients: int, total: int, pids: list[int]) -> dict:
    """Confirm ``total`` fresh charges (created first, untimed) from ``clients`` clients."""
    async with session(clients) as http:
        gate = asyncio.Semaphore(clients)

        async def make(base: str) -> dict:
            async with gate:
                return await create_payment(http, base)

        payments = await asyncio.gather(*(make(bases[i % len(bases)]) for i in range(total)))
        latencies: list[float] = []
        errors = 0
        queue = iter(enumerate(payments))

        async def worker() -> None:
            nonlocal errors
            for index, payment in queue:
                started = time.perf_counter()
                try:
                    status = await confirm(http, bases[(index + 1) % len(bases)], payment)
                except aiohttp.ClientError:
                    status = 0
                if status == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1

        started, cpu = time.perf_counter(), cpu_seconds(pids)
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall, cpu = time.perf_counter() - started, cpu_seconds(pids) - cpu
    return {"clients": clients, "requests": total, "errors": errors,
            "per_second": round(len(latencies) / wall, 1), "latency_ms": percentiles(latencies),
            "server_cpu_ms_per_request": round(cpu * 1000 / total, 3)}


async def event_latency(base: str, transport: str, samples: int, notify: str | None = None) -> dict:
    """Time webhook sent → ``payment_status`` received at a page, ``samples`` times.

    Each sample: create a charge, connect a page and read its first event, let
    the page wait (a parked long-poll for polling), then post the webhook to
    ``notify`` (default ``base``) and stop the clock when the page sees ``paid``.
    """
    notify = notify or base
    latencies: list[float] = []
    answers: list[float] = []
    async with session(8) as http:
        for _ in range(samples):
            payment = await create_payment(http, notify)
            page = TRANSPORTS[transport](http, base, payment["id"])
            try:
                first = await asyncio.wait_for(page.connect(), 30)
                assert first["status"] == "pending", first
                waiting = asyncio.create_task(page.next_event())
                await asyncio.sleep(0.005)  # the page is idle, its long-poll parked
                started = time.monotonic()
                status = await confirm(http, notify, payment)
                answered = time.monotonic()
                arrived, event = await asyncio.wait_for(waiting, 30)
                if status != 200 or event["status"] != "paid":
                    raise RuntimeError(f"webhook {status}, event {event['status']}")
                latencies.append(arrived - started)
                answers.append(answered - started)
            finally:
                await page.close()
    return {"transport": transport, "event_ms": percentiles(latencies),
            "webhook_answer_ms": percentiles(answers)}


async def crowd_figures(live: LiveServer, pages: int, samples: int) -> dict:
    """Hold ``pages`` idle pages on one charge; measure RSS, probe latency and fan-out."""
    async with session(4) as http:
        crowd_payment = await create_payment(http, live.url)
    rss_before = rss_mib(live.process.pid)
    crowd = Crowd(live.url, crowd_payment["id"], pages)
    try:
        joined = crowd.start()
        await asyncio.sleep(1)
        rss_after = rss_mib(live.process.pid)
        probe = await event_latency(live.url, "websocket", samples) if samples else None
        fan = await crowd.fanout(live.url, crowd_payment)
    finally:
        crowd.stop()
    connected = joined["connected"]
    return {
        "pages": pages, "connected": connected, "failed": joined["failed"],
        "first_failure": joined["first_failure"],
        "connect_per_second": round(connected / joined["connect_seconds"], 1)
        if joined["connect_seconds"] else None,
        "rss_before_mib": rss_before, "rss_mib": rss_after,
        "kib_per_page": round((rss_after - rss_before) * 1024 / connected, 1)
        if connected else None,
        "probe": probe,
        **fan,
    }


def bench_mode(mode: str, counts: Counts, workdir: Path, log) -> dict:
    """Measure one async mode: creation, event latency per transport, crowds."""
    result: dict = {"mode": mode}
    with server(workdir / mode, mode) as live:
        log(f"[{mode}] server pid {live.process.pid} on CPU {SERVER_CPU}")
        pids = [live.process.pid]
        result["create"] = [asyncio.run(create_load([live.url], 1, counts.creates_1, pids)),
                            asyncio.run(create_load([live.url], 20, counts.creates_20, pids))]
        for row in result["create"]:
            log(f"[{mode}] create x{row['clients']}: {row['per_second']}/s {row['latency_ms']}")
        result["confirm"] = asyncio.run(confirm_load([live.url], 20, counts.confirms, pids))
        log(f"[{mode}] confirm x20: {result['confirm']['per_second']}/s")
        result["latency"] = []
        transports = ["websocket", "polling"]
        probe_payment = asyncio.run(_one_payment(live.url))
        if asyncio.run(_sse(live.url, probe_payment)):
            transports.append("sse")
        else:
            result["sse"] = "not available: GET /payments/pix/<id>/events did not answer 200"
        for transport in transports:
            row = asyncio.run(event_latency(live.url, transport, counts.samples))
            result["latency"].append(row)
            log(f"[{mode}] {transport}: {row['event_ms']}")
        result["rss_idle_mib"] = rss_mib(live.process.pid)
    result["crowds"] = []
    for pages in CROWDS_BY_MODE.get(mode, counts.crowds) if counts is FULL else counts.crowds:
        with server(workdir / f"{mode}-{pages}", mode) as live:
            try:
                row = asyncio.run(crowd_figures(live, pages, counts.crowd_samples))
            except Exception as exc:  # a mode that cannot hold the crowd is a finding
                row = {"pages": pages, "error": repr(exc)[:300]}
            result["crowds"].append(row)
            log(f"[{mode}] crowd {pages}: { {k: v for k, v in row.items() if k != 'probe'} }")
            if row.get("probe"):
                log(f"[{mode}] crowd {pages} probe: {row['probe']['event_ms']}")
    return result


async def _one_payment(base: str) -> dict:
    async with session(2) as http:
        return await create_payment(http, base)


async def _sse(base: str, payment: dict) -> bool:
    async with session(2) as http:
        return await sse_available(http, base, payment["id"])


def bench_baseline(counts: Counts, workdir: Path, log) -> dict:
    """Measure the floor, ``bench/baseline_app.py``, as the app is measured (no DB, no work)."""
    argv = [sys.executable, "-m", "bench.baseline_app"]
    with server(workdir / "baseline", "eventlet", argv=argv) as live:
        pids = [live.process.pid]
        result = {"create": asyncio.run(create_load([live.url], 20, counts.creates_20, pids)),
                  "latency": [asyncio.run(event_latency(live.url, transport, counts.samples))
                              for transport in ("websocket", "polling")]}
    log(f"[baseline] create x20: {result['create']['per_second']}/s; "
        + "; ".join(f"{row['transport']}: {row['event_ms']}" for row in result["latency"]))
    return result


def redis_available() -> str | None:
    """Return why the Redis figure cannot run, or None."""
    try:
        import redis
    except ImportError:
        return "the redis package is not installed"
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except Exception as exc:  # any connection failure
        return f"Redis at {REDIS_URL} does not answer: {exc!r}"[:200]
    return None


def bench_two_processes(counts: Counts, workdir: Path, log) -> dict:
    """Create and confirm throughput of two eventlet processes sharing Redis and one database."""
    reason = redis_available()
    if reason:
        return {"skipped": reason}
    workdir.mkdir(parents=True, exist_ok=True)
    env = {"SOCKETIO_MESSAGE_QUEUE": REDIS_URL,
           "DATABASE_URL": f"sqlite:///{workdir / 'shared.sqlite'}"}
    with server(workdir, "eventlet", SERVER_CPU, "a", env) as a, \
            server(workdir, "eventlet", CLIENT_CPU, "b", env) as b:
        bases, pids = [a.url, b.url], [a.process.pid, b.process.pid]
        result = {
            "cpus": "server a on CPU 0, server b on CPU 1, load generator on both (no core left)",
            "create": asyncio.run(create_load(bases, 20, counts.creates_20, pids)),
            "confirm": asyncio.run(confirm_load(bases, 20, counts.confirms, pids)),
            "cross_process": asyncio.run(event_latency(b.url, "websocket", counts.crowd_samples,
                                                       notify=a.url)),
        }
    log(f"[redis x2] create {result['create']['per_second']}/s "
        f"(errors {result['create']['errors']}), confirm {result['confirm']['per_second']}/s "
        f"(errors {result['confirm']['errors']}), a→b event {result['cross_process']['event_ms']}")
    return result


def machine() -> dict:
    """Describe the machine and the software measured."""
    model = next((line.split(":", 1)[1].strip()
                  for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    mem = next(line.split(":", 1)[1].strip() for line in Path("/proc/meminfo").read_text()
               .splitlines() if line.startswith("MemTotal"))
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"nproc": os.cpu_count(), "cpu": model, "memory": mem,
            "python": platform.python_version(), "kernel": platform.release(),
            "packages": versions}


def table(results: dict) -> str:
    """Format the figures as a plain-text table."""
    lines = [f"{'figure':<44} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'rate/s':>9} {'extra'}"]

    def row(label: str, lat: dict, rate="", extra="") -> None:
        lines.append(f"{label:<44} {lat.get('p50', '-'):>8} {lat.get('p95', '-'):>8} "
                     f"{lat.get('p99', '-'):>8} {rate:>9} {extra}")

    baseline = results.get("baseline")
    if baseline:
        c = baseline["create"]
        row("baseline (bare Flask-SocketIO): create, 20", c["latency_ms"], c["per_second"],
            f"errors {c['errors']}, server CPU {c['server_cpu_ms_per_request']} ms/request")
        for lat in baseline["latency"]:
            row(f"baseline: webhook→event, {lat['transport']}", lat["event_ms"], "",
                f"webhook answer p50 {lat['webhook_answer_ms'].get('p50')} ms")

    for mode in results["modes"]:
        m = mode["mode"]
        for c in mode["create"]:
            row(f"{m}: create, {c['clients']} client(s)", c["latency_ms"], c["per_second"],
                f"errors {c['errors']}, server CPU {c['server_cpu_ms_per_request']} ms/request")
        row(f"{m}: confirm, 20 clients", mode["confirm"]["latency_ms"],
            mode["confirm"]["per_second"], f"errors {mode['confirm']['errors']}, server CPU "
            f"{mode['confirm']['server_cpu_ms_per_request']} ms/request")
        for lat in mode["latency"]:
            row(f"{m}: webhook→event, {lat['transport']}, idle", lat["event_ms"], "",
                f"webhook answer p50 {lat['webhook_answer_ms'].get('p50')} ms")
        for crowd in mode["crowds"]:
            if "error" in crowd:
                lines.append(f"{m}: {crowd['pages']} pages: {crowd['error']}")
                continue
            probe = crowd["probe"]["event_ms"] if crowd.get("probe") else {}
            row(f"{m}: webhook→event, ws, {crowd['connected']} other pages", probe, "",
                f"RSS {crowd['rss_mib']} MiB ({crowd['kib_per_page']} KiB/page), "
                f"fan-out {crowd['fanout_ms']} ms to {crowd['fanout_received']}")
    two = results.get("two_processes", {})
    if "skipped" in two:
        lines.append(f"two processes on Redis: skipped: {two['skipped']}")
    elif two:
        row("eventlet x2 on Redis: create, 20 clients", two["create"]["latency_ms"],
            two["create"]["per_second"], f"errors {two['create']['errors']}")
        row("eventlet x2 on Redis: confirm, 20 clients", two["confirm"]["latency_ms"],
            two["confirm"]["per_second"], f"errors {two['confirm']['errors']}")
        row("eventlet x2 on Redis: webhook a → page on b", two["cross_process"]["event_ms"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Run the suite; print the table; write ``bench/results/*.json``; return the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke run")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated async modes")
    parser.add_argument("--no-redis", action="store_true", help="skip the two-process figure")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the bare Flask-SocketIO server (bench/baseline_app.py)")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/<time>.json)")
    args = parser.parse_args(argv)
    counts = QUICK if args.quick else FULL
    modes = [m for m in args.modes.split(",") if m]

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    fd_limit = raise_fd_limit()
    pinned = can_pin()
    if pinned:
        os.sched_setaffinity(0, {CLIENT_CPU})
    load = os.getloadavg()[0]
    if load > 1.0:
        log(f"warning: 1-minute load average is {load:.2f}; figures will be noisy")
    results: dict = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick, "counts": counts.__dict__ | {"crowds_by_mode": CROWDS_BY_MODE},
        "loadavg_1min_before": round(load, 2), "machine": machine(), "fd_limit": fd_limit,
        "pinning": (f"server on CPU {SERVER_CPU}; load generator and crowd on CPU {CLIENT_CPU} "
                    "(os.sched_setaffinity)") if pinned else "not pinned: fewer than 2 CPUs",
        "modes": [],
    }
    log(results["pinning"])
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        if not args.no_baseline:
            results["baseline"] = bench_baseline(counts, Path(tmp), log)
        for mode in modes:
            results["modes"].append(bench_mode(mode, counts, Path(tmp), log))
        if not args.no_redis:
            results["two_processes"] = bench_two_processes(counts, Path(tmp) / "redis", log)
    results["seconds"] = round(time.monotonic() - started, 1)
    results["loadavg_1min_after"] = round(os.getloadavg()[0], 2)
    out = args.out or RESULTS / f"bench-{'quick-' if args.quick else ''}{int(time.time())}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(table(results))
    print(f"{results['pinning']}; load average {results['loadavg_1min_before']} before, "
          f"{results['loadavg_1min_after']} after; {results['seconds']} s; JSON: {out}")
    return results


if __name__ == "__main__":
    main()
