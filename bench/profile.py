"""Measure (and optionally profile) one route under load: server CPU per request.

    python -m bench.profile                          # 5,000 creates from 20 clients
    python -m bench.profile --route floor            # the framework's floor, see below
    python -m bench.profile --runs 5 --pyspy create.txt
    python -m bench.profile --route create-idempotent   # with an API key and an Idempotency-Key

Each run starts a fresh ``python app.py`` (eventlet) pinned to CPU 0, as
``bench.run`` does, with this process (the load) on CPU 1; it prints the rate,
the latency percentiles and the server's CPU ms per request, the figure the
shared machine disturbs least, with the share of the wall time the server was
busy and the share it waited, runnable, for its CPU (``/proc/<pid>/schedstat``:
other processes on CPU 0), and the load generator's own CPU per request.
``--pyspy FILE`` records the server with ``py-spy record --format raw --gil``
during the last run (collapsed stacks, for ``flamegraph.pl`` or speedscope);
``--gil`` keeps out the samples of a server not running (idle, or waiting for
its CPU), which py-spy otherwise leaves in ``GreenSocket._send_loop``.
``--route floor`` serves the same app and handler with one more route,
``POST /_floor``, that reads a small JSON body and returns a small JSON object:
what Flask, eventlet.wsgi and our hooks cost before any of our code runs.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .run import can_pin, percentiles, server, session

FLOOR_PATH = "/_floor"
ROUTES = {"create": "/payments/pix", "create-key": "/payments/pix",
          "create-idempotent": "/payments/pix", "floor": FLOOR_PATH}
#: The merchant's key of the keyed routes (a benchmark's, never a real one).
BENCH_KEY = "sk_bench_" + "0" * 32


def route_headers(route: str, number: int) -> dict:
    """Return the headers request ``number`` of ``route`` carries: a key, an idempotency key."""
    headers = {}
    if route in ("create-key", "create-idempotent"):
        headers["Authorization"] = f"Bearer {BENCH_KEY}"
    if route == "create-idempotent":
        headers["Idempotency-Key"] = f"bench-{os.getpid()}-{number}"  # every request a new one
    return headers


def serve_floor() -> None:
    """Run ``app.py``'s server with the floor route added (the server process of ``floor``)."""
    sys.argv = ["app.py"]
    import app as server_module  # patches the standard library first, as app.py does
    from payments import boot, create_app

    def create_app_with_floor(*args, **kwargs):
        from flask import request

        flask_app = create_app(*args, **kwargs)

        @flask_app.post(FLOOR_PATH)
        def floor():
            request.get_json()
            return {"message": "ok", "value": 1}, 201

        return flask_app

    boot.create_app = create_app_with_floor  # what the server's start builds its app with
    server_module.main()


def cpu_times(pid: int) -> tuple[float, float]:
    """Return the user and system CPU seconds process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks


def runqueue_seconds(pid: int) -> float:
    """Return how long process ``pid`` has waited, runnable, for a CPU (other load on it)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


async def load(base: str, route: str, clients: int, total: int, pid: int) -> dict:
    """POST ``{"value": "150.50"}`` to ``route`` ``total`` times from ``clients`` clients."""
    path = ROUTES[route]
    url = base + path
    body = {"value": "150.50"}
    numbers = iter(range(10**9))
    async with session(clients) as http:

        async def post() -> None:
            headers = route_headers(route, next(numbers))
            async with http.post(url, json=body, headers=headers) as resp:
                await resp.read()
                if resp.status != 201:
                    raise RuntimeError(f"{path} answered {resp.status}")

        for _ in range(3):  # warm up every connection
            await asyncio.gather(*(post() for _ in range(clients)))
        latencies: list[float] = []
        remaining = iter(range(total))

        async def worker() -> None:
            for _ in remaining:
                started = time.perf_counter()
                await post()
                latencies.append(time.perf_counter() - started)

        started, (user, system) = time.perf_counter(), cpu_times(pid)
        client, waited = time.process_time(), runqueue_seconds(pid)
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
        client, waited = time.process_time() - client, runqueue_seconds(pid) - waited
        user_after, system_after = cpu_times(pid)
    user, system = user_after - user, system_after - system
    return {"per_second": round(total / wall, 1), "latency_ms": percentiles(latencies),
            "cpu_ms": round((user + system) * 1000 / total, 3),
            "system_ms": round(system * 1000 / total, 3),
            "client_cpu_ms": round(client * 1000 / total, 3),
            "server_busy": round((user + system) / wall, 2),
            "server_waiting": round(waited / wall, 2)}


def one_run(route: str, clients: int, total: int, workdir: Path, pyspy: Path | None) -> dict:
    """Start a server, load it, optionally record it with py-spy; return the figures."""
    argv = [sys.executable, "-m", "bench.profile", "--serve-floor"] if route == "floor" else None
    env = {"MERCHANT_API_KEYS": BENCH_KEY} if route in ("create-key", "create-idempotent") else {}
    with server(workdir, "eventlet", argv=argv, env=env) as live:
        pid = live.process.pid
        recorder = None
        if pyspy is not None:
            recorder = subprocess.Popen(
                ["py-spy", "record", "--pid", str(pid), "--rate", "2000", "--format", "raw",
                 "--gil", "--output", str(pyspy), "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1)  # py-spy attaches
        try:
            return asyncio.run(load(live.url, route, clients, total, pid))
        finally:
            if recorder is not None:
                recorder.send_signal(2)  # SIGINT: py-spy writes its file and exits
                recorder.wait(timeout=30)


def main(argv: list[str] | None = None) -> None:
    """Run the measurement ``--runs`` times; print each run and the median CPU ms/request."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--route", choices=sorted(ROUTES), default="create")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--pyspy", type=Path, help="py-spy raw output of the last run")
    parser.add_argument("--serve-floor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_floor:
        serve_floor()
        return
    if can_pin():
        os.sched_setaffinity(0, {1})
    cpus = []
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        for run in range(args.runs):
            pyspy = args.pyspy if run == args.runs - 1 else None
            row = one_run(args.route, args.clients, args.requests, Path(tmp) / str(run), pyspy)
            cpus.append(row["cpu_ms"])
            lat = row["latency_ms"]
            print(f"{args.route} x{args.clients}: {row['per_second']}/s, p50 {lat['p50']} "
                  f"p99 {lat['p99']} ms, server CPU {row['cpu_ms']} ms/request "
                  f"({row['system_ms']} in the kernel; busy {row['server_busy']:.0%}, waiting "
                  f"for its CPU {row['server_waiting']:.0%}), "
                  f"client CPU {row['client_cpu_ms']} ms/request "
                  f"(load {os.getloadavg()[0]:.2f})", flush=True)
    print(f"median server CPU {statistics.median(cpus):.3f} ms/request over {len(cpus)} run(s)")


if __name__ == "__main__":
    main()
