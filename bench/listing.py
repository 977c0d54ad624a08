"""Measure the merchant's listing on many charges, beside the bare Flask-SocketIO floor.

    python -m bench.listing                      # 100,000 charges, SQLite
    python -m bench.listing --charges 20000 --requests 500

Seeds the database with ``--charges`` charges (1% paid, each with an
``external_id``), starts ``python app.py`` on it as ``bench.run`` does (server
on CPU 0, load on CPU 1), and times ``GET /payments/pix`` from 10 clients: the
first page, pages deep in the cursor chain, a status filter and an
``external_id`` lookup. The floor is ``bench/baseline_app.py``'s ``GET /health``
in the same run: the ratio to it is the figure that counts on a noisy machine.
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from .profile import cpu_times
from .run import can_pin, percentiles, server, session

CLIENTS = 10


def seed(database_url: str, instance: Path, charges: int) -> None:
    """Create ``charges`` charges in the database, one every 20 s over the past days."""
    from sqlalchemy import insert

    from payments import create_app
    from payments.boot import prepare_database
    from payments.charges.models import Payment, new_bank_payment_id, new_public_id, utcnow
    from payments.extensions import db
    from payments.pix.brcode import new_txid

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "bench"},
                     instance_path=str(instance))
    prepare_database(app)
    start = utcnow() - timedelta(days=30)
    with app.app_context():
        table = Payment.__table__
        batch = []
        for number in range(charges):
            created = start + timedelta(seconds=number * 20)
            batch.append({
                "public_id": new_public_id(), "bank_payment_id": new_bank_payment_id(),
                "txid": new_txid(), "amount_cents": 1000 + number % 5000,
                "status": "paid" if number % 100 == 0 else "pending",
                "pix_code": "0002...", "created_at": created, "updated_at": created,
                "expires_at": created + timedelta(days=60), "paid_at": None,
                "external_id": f"PED-{number}", "metadata": {}, "description": None,
                "return_url": None,
            })
            if len(batch) == 5000:
                with db.engine.begin() as connection:
                    connection.execute(insert(table), batch)
                batch = []
        if batch:
            with db.engine.begin() as connection:
                connection.execute(insert(table), batch)
        db.engine.dispose()


async def timed(base: str, paths: list[str], total: int, pid: int) -> dict:
    """GET the ``paths`` in turn, ``total`` times from ``CLIENTS`` clients; return the figures."""
    latencies: list[float] = []
    remaining = iter(range(total))
    async with session(CLIENTS) as http:

        async def get(path: str) -> None:
            async with http.get(base + path) as resp:
                await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"{path} answered {resp.status}")

        for path in paths[:CLIENTS]:
            await get(path)  # warm up

        async def worker() -> None:
            for number in remaining:
                started = time.perf_counter()
                await get(paths[number % len(paths)])
                latencies.append(time.perf_counter() - started)

        started, (user, system) = time.perf_counter(), cpu_times(pid)
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        wall = time.perf_counter() - started
        user_after, system_after = cpu_times(pid)
    return {"per_second": round(total / wall, 1), "latency_ms": percentiles(latencies),
            "cpu_ms": round((user_after - user + system_after - system) * 1000 / total, 3)}


async def cursors(base: str, pages: int) -> list[str]:
    """Follow the cursor chain from the first page; return ``pages`` cursors deep in it."""
    found = []
    async with session(1) as http:
        cursor = None
        for _ in range(pages):
            query = "?limit=100" + (f"&cursor={cursor}" if cursor else "")
            async with http.get(base + "/payments/pix" + query) as resp:
                cursor = json.loads(await resp.read())["next_cursor"]
            found.append(cursor)
    return found


def main(argv: list[str] | None = None) -> dict:
    """Seed, serve, measure; print a table and the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charges", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args(argv)
    if can_pin():
        os.sched_setaffinity(0, {1})
    results: dict = {"charges": args.charges, "requests": args.requests, "clients": CLIENTS,
                     "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory(prefix="listing-") as tmp:
        workdir = Path(tmp)
        database_url = f"sqlite:///{workdir / 'listing.sqlite'}"
        started = time.perf_counter()
        seed(database_url, workdir, args.charges)
        results["seed_seconds"] = round(time.perf_counter() - started, 1)
        floor_argv = [sys.executable, "-m", "bench.baseline_app"]
        with server(workdir / "floor", "eventlet", argv=floor_argv) as live:
            results["floor_health"] = asyncio.run(
                timed(live.url, ["/health"], args.requests, live.process.pid))
        with server(workdir / "app", "eventlet", env={"DATABASE_URL": database_url}) as live:
            deep = asyncio.run(cursors(live.url, min(50, args.charges // 100 - 1)))  # 5,000 deep
            cases = {
                "first page (limit=20)": ["/payments/pix"],
                f"a page {len(deep) * 100:,} charges deep (limit=20)": [
                    f"/payments/pix?cursor={deep[-1]}"],
                "pages along the chain (limit=100)": [f"/payments/pix?limit=100&cursor={c}"
                                                      for c in deep],
                "status=paid (1% of charges, limit=20)": ["/payments/pix?status=paid"],
                "external_id lookup": [f"/payments/pix?external_id=PED-{n}"
                                       for n in range(0, args.charges, max(args.charges // 97, 1))],
            }
            results["cases"] = {name: asyncio.run(timed(live.url, paths, args.requests,
                                                        live.process.pid))
                                for name, paths in cases.items()}
    floor = results["floor_health"]["cpu_ms"]
    print(f"{args.charges:,} charges; floor GET /health: {floor} ms CPU/request, "
          f"p50 {results['floor_health']['latency_ms']['p50']} ms")
    for name, row in results["cases"].items():
        lat = row["latency_ms"]
        print(f"{name}: p50 {lat['p50']} p99 {lat['p99']} ms, {row['per_second']}/s, "
              f"server CPU {row['cpu_ms']} ms/request ({row['cpu_ms'] / floor:.1f}x the floor)")
    print(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
