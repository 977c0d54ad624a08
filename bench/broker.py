"""RabbitMQ through the outbox, and the two-process figure on PostgreSQL, beside the bare floor.

    python -m bench.broker            # docs/benchmarks.md, "RabbitMQ" and "PostgreSQL"
    python -m bench.broker --quick    # a smoke run with tiny counts

Figures, each from real ``python app.py`` servers (eventlet, pinned to CPU 0
as in ``bench.run``; the load generator and the RabbitMQ consumer on CPU 1):

- **relay → RabbitMQ, events per second**: a backlog of ``payment.created``
  events is made by a server whose broker does not answer; a second server on
  the same database (with the real ``BROKER_URL``) starts, its relay drains the
  backlog, and a consumer bound to ``payments`` counts arrivals. Rate = events
  / (last arrival − first arrival): claim, publish with confirm, record.
- **bank webhook → RabbitMQ consumer, latency**: one charge at a time is
  confirmed; the clock stops when a consumer bound to ``Pagamentos_Aprovados``
  receives its ``payment.paid``. Beside it the webhook's own answer time.
- **the floor**: ``bench/baseline_app.py`` (bare Flask-SocketIO) measured by
  ``bench.run.bench_baseline`` in the same run: its create rate and its
  webhook → WebSocket event latency.
- **PostgreSQL, one and two processes, relay on** (issue 15 point 7): create
  and confirm throughput from 20 clients against one process, then against two
  processes sharing the database and Redis (every create and confirm also
  emits an event the relays publish to RabbitMQ).
"""

import argparse
import asyncio
import json
import os
import secrets
import sqlite3
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from kombu import Connection, Consumer, Exchange, Queue

from .clients import confirm, create_payment
from .run import (
    CLIENT_CPU,
    FULL,
    QUICK,
    REDIS_URL,
    RESULTS,
    SERVER_CPU,
    bench_baseline,
    can_pin,
    confirm_load,
    cpu_seconds,
    create_load,
    machine,
    percentiles,
    raise_fd_limit,
    redis_available,
    server,
    session,
)

BROKER_URL = os.environ.get("BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
POSTGRES_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"
#: A broker URL where nothing listens: the first server's events wait in the outbox.
NOWHERE = "amqp://guest:guest@127.0.0.1:1//"


class Tap:
    """A consumer thread on an exclusive queue; ``arrived`` maps payment id → arrival times."""

    def __init__(self, exchange: str, kind: str, routing_key: str = ""):
        self.connection = Connection(BROKER_URL, connect_timeout=5)
        self.connection.connect()
        self.queue = Queue(
            "",
            exchange=Exchange(exchange, type=kind, durable=True),
            routing_key=routing_key,
            exclusive=True,
            auto_delete=True,
        )
        self.arrivals: list[tuple[float, str, str]] = []  # (monotonic, type, subject)
        self.waiters: dict[str, tuple[asyncio.AbstractEventLoop, asyncio.Future]] = {}
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        if not self.ready.wait(10):
            raise RuntimeError("the consumer did not start")

    def _run(self) -> None:
        with Consumer(
            self.connection,
            queues=[self.queue],
            on_message=self._message,
            no_ack=True,
            prefetch_count=0,
        ):
            self.ready.set()
            while not self.stopped.is_set():
                try:
                    self.connection.drain_events(timeout=0.2)
                except TimeoutError:
                    pass

    def _message(self, message) -> None:
        now = time.monotonic()
        event = json.loads(message.body)
        with self.lock:
            self.arrivals.append((now, event["type"], event["subject"]))
            waiter = self.waiters.pop(event["subject"], None)
        if waiter is not None:
            loop, future = waiter
            loop.call_soon_threadsafe(lambda: future.done() or future.set_result(now))

    def expect(self, subject: str) -> asyncio.Future:
        """Return a future set to the arrival time of the next message about ``subject``."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        with self.lock:
            self.waiters[subject] = (loop, future)
        return future

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.connection.release()


def broker_available() -> str | None:
    """Return why the RabbitMQ figures cannot run, or None."""
    try:
        with Connection(BROKER_URL, connect_timeout=3) as connection:
            connection.connect()
    except Exception as exc:  # any connection failure
        return f"RabbitMQ at {BROKER_URL} does not answer: {exc!r}"[:200]
    return None


def relay_throughput(workdir: Path, events: int, log) -> dict:
    """Drain a backlog of ``events`` through one server's relay to RabbitMQ; events/s."""
    env = {"DATABASE_URL": f"sqlite:///{workdir / 'backlog.sqlite'}"}
    with server(workdir, "eventlet", name="backlog", env={**env, "BROKER_URL": NOWHERE}) as live:
        made = asyncio.run(create_load([live.url], 20, events, [live.process.pid]))
    # The first server tried each delivery and backed off (up to minutes), and left what it
    # held when stopped leased for EVENTS_LEASE_SECONDS: make every one due, never tried, so
    # the drain measures the relay, not the retry schedule.
    with sqlite3.connect(workdir / "backlog.sqlite") as database:
        database.execute(
            "UPDATE event_deliveries SET attempts = 0, last_error = NULL,"
            " next_attempt_at = '2000-01-01 00:00:00.000000' WHERE status = 'pending'"
        )
    tap = Tap("payments", "topic", "payment.created")
    try:
        started = time.monotonic()
        with server(
            workdir, "eventlet", name="drain", env={**env, "BROKER_URL": BROKER_URL}
        ) as live:
            pid = live.process.pid
            cpu = cpu_seconds([pid])
            expected = made["requests"] - made["errors"] + 20  # and create_load's warm-up
            deadline = time.monotonic() + 300
            while len(tap.arrivals) < expected and time.monotonic() < deadline:
                time.sleep(0.05)
            cpu = cpu_seconds([pid]) - cpu
    finally:
        tap.close()
    times = sorted(t for t, _, _ in tap.arrivals)
    span = times[-1] - times[0] if len(times) > 1 else 0
    tenth = len(times) // 10  # the middle 80%: no start-up, no tail
    middle = times[-tenth - 1] - times[tenth] if tenth else 0
    result = {
        "events": events,
        "created": made["requests"] - made["errors"],
        "received": len(times),
        "per_second": round((len(times) - 1) / span, 1) if span else None,
        "per_second_middle_80": round((len(times) - 2 * tenth - 1) / middle, 1) if middle else None,
        "first_after_start_s": round(times[0] - started, 2) if times else None,
        "server_cpu_ms_per_event": round(cpu * 1000 / max(1, len(times)), 3),
    }
    log(f"[broker] relay drain: {result}")
    return result


async def webhook_to_consumer(base: str, tap: Tap | None, samples: int) -> dict:
    """Time bank webhook sent → ``payment.paid`` received from ``Pagamentos_Aprovados``.

    Without ``tap`` (a server without ``BROKER_URL``), only the webhook's answer is timed,
    each sample followed by a pause like the consumer's wait.
    """
    latencies, answers = [], []
    async with session(4) as http:
        for _ in range(samples):
            payment = await create_payment(http, base)
            # A bank's notice comes seconds after the charge, when its payment.created is out:
            # the relay is idle again when the clock starts.
            await asyncio.sleep(0.02)
            arrival = tap.expect(payment["id"]) if tap else None
            started = time.monotonic()
            status = await confirm(http, base, payment)
            answered = time.monotonic()
            if status != 200:
                raise RuntimeError(f"webhook answered {status}")
            if arrival is not None:
                latencies.append(await asyncio.wait_for(arrival, 30) - started)
            else:
                await asyncio.sleep(0.002)
            answers.append(answered - started)
    return {"event_ms": percentiles(latencies), "webhook_answer_ms": percentiles(answers)}


def broker_latency(workdir: Path, samples: int, log) -> dict:
    """The webhook → RabbitMQ consumer latency on one server (relay on, broker up).

    Beside it, the same loop on a server without ``BROKER_URL`` (no broker delivery to
    make): what the relay's publishing adds to the webhook's own answer.
    """
    with server(workdir, "eventlet", name="no-broker") as live:
        off = asyncio.run(webhook_to_consumer(live.url, None, samples))
    tap = Tap("Pagamentos_Aprovados", "fanout")
    try:
        with server(workdir, "eventlet", name="latency", env={"BROKER_URL": BROKER_URL}) as live:
            result = asyncio.run(webhook_to_consumer(live.url, tap, samples))
    finally:
        tap.close()
    result["without_broker_webhook_answer_ms"] = off["webhook_answer_ms"]
    log(f"[broker] webhook → consumer: {result}")
    return result


@contextmanager
def postgres_database():
    """Yield the URL of a new PostgreSQL database, dropped afterwards; None without PostgreSQL."""
    try:
        import psycopg

        admin = psycopg.connect(POSTGRES_ADMIN, autocommit=True)
    except Exception:  # no driver, no server
        yield None
        return
    name = f"pix_bench_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_pids() -> list[int]:
    """Return the PostgreSQL server's process ids (its backends work for our servers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def alive_cpu_seconds(pids: list[int]) -> dict[int, float]:
    """Return {pid: CPU seconds so far} of those of ``pids`` still running."""
    found = {}
    for pid in pids:
        try:
            found[pid] = cpu_seconds([pid])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    """Return the CPU seconds spent between two readings: a process born meanwhile counts whole."""
    return sum(after[pid] - before.get(pid, 0.0) for pid in after)


def figures(bases: list[str], pids: list[int], creates: int, confirms: int) -> dict:
    """Create and confirm throughput from 20 clients, with the servers' and PostgreSQL's CPU.

    PostgreSQL's CPU is that of its processes (a backend per pooled connection, which the
    pools open as the load grows), listed again at each reading.
    """
    before = alive_cpu_seconds(postgres_pids())
    create = asyncio.run(create_load(bases, 20, creates, pids))
    middle = alive_cpu_seconds(postgres_pids())
    confirmed = asyncio.run(confirm_load(bases, 20, confirms, pids))
    after = alive_cpu_seconds(postgres_pids())
    per_create = spent(before, middle) / creates
    create["postgres_cpu_ms_per_request"] = round(per_create * 1000, 3)
    # The confirm phase first makes its charges (untimed): their share is taken off.
    per_confirm = (spent(middle, after) - per_create * confirms) / confirms
    confirmed["postgres_cpu_ms_per_request"] = round(per_confirm * 1000, 3)
    return {"create": create, "confirm": confirmed}


def postgres_pair(
    url: str, workdir: Path, env: dict, creates: int, confirms: int, log, label: str
) -> dict:
    """One process, then two, on the database at ``url``; their figures and the factor."""
    env = {"DATABASE_URL": url, "SOCKETIO_MESSAGE_QUEUE": REDIS_URL, **env}
    result: dict = {}
    with server(workdir / "one", "eventlet", SERVER_CPU, "pg-one", env) as one:
        result["one"] = figures([one.url], [one.process.pid], creates, confirms)
        result["one"]["cpus"] = "server on CPU 0; load generator on CPU 1"
    with (
        server(workdir / "two", "eventlet", SERVER_CPU, "pg-a", env) as a,
        server(workdir / "two", "eventlet", CLIENT_CPU, "pg-b", env) as b,
    ):
        result["two"] = figures([a.url, b.url], [a.process.pid, b.process.pid], creates, confirms)
        result["two"]["cpus"] = (
            "server a on CPU 0, server b on CPU 1; load generator, "
            "PostgreSQL, Redis and RabbitMQ share both"
        )
    for name in ("create", "confirm"):
        one_rate = result["one"][name]["per_second"]
        result[f"{name}_scaling"] = (
            round(result["two"][name]["per_second"] / one_rate, 2) if one_rate else None
        )
    log(
        f"[postgres {label}] x1 create {result['one']['create']['per_second']}/s, confirm "
        f"{result['one']['confirm']['per_second']}/s; x2 create "
        f"{result['two']['create']['per_second']}/s, confirm "
        f"{result['two']['confirm']['per_second']}/s"
    )
    return result


def postgres_scale(workdir: Path, creates: int, confirms: int, log) -> dict:
    """One and two eventlet processes on PostgreSQL and Redis, relay on (events to RabbitMQ).

    Then the same without ``BROKER_URL`` (the relay runs, with nothing to deliver): what
    the events' delivery takes of the scaling. Each pair has a fresh database.
    """
    reason = redis_available()
    if reason:
        return {"skipped": reason}
    result: dict = {}
    with postgres_database() as url:
        if url is None:
            return {"skipped": "PostgreSQL does not answer on 127.0.0.1:5432 (user postgres)"}
        result = postgres_pair(
            url, workdir / "broker", {"BROKER_URL": BROKER_URL}, creates, confirms, log, "relay on"
        )
    with postgres_database() as url:
        result["idle"] = postgres_pair(
            url, workdir / "idle", {}, creates, confirms, log, "no broker"
        )
    return result


def markdown(results: dict) -> str:
    """Return the Markdown tables of docs/benchmarks.md for one run's ``results``."""
    base = results["baseline"]
    floor_rate = base["create"]["per_second"]
    floor_cpu = base["create"]["server_cpu_ms_per_request"]
    floor_ws = next(row for row in base["latency"] if row["transport"] == "websocket")
    ws = floor_ws["event_ms"]

    def lat(d: dict) -> str:
        return f"{d.get('p50')} / {d.get('p99')}"

    lines = [
        f"Run {results['started']}, load average {results['loadavg_1min_before']} before, "
        f"{results['loadavg_1min_after']} after.",
        "",
    ]
    lines += [
        "| figure | value | the floor in the same run | ratio |",
        "| --- | ---: | ---: | ---: |",
    ]
    lines.append(
        f"| floor: creates/s, 20 clients (CPU ms/create) | {floor_rate} ({floor_cpu}) | - | - |"
    )
    broker = results.get("broker", {})
    if "relay" in broker:
        relay = broker["relay"]
        lines.append(
            f"| relay → RabbitMQ: events/s, backlog of {relay['received']}, first to last "
            f"(middle 80%; server CPU ms/event) | {relay['per_second']} "
            f"({relay.get('per_second_middle_80')}; {relay['server_cpu_ms_per_event']}) | "
            f"{floor_rate} creates/s ({floor_cpu}) | "
            f"{round(relay['per_second'] / floor_rate, 2)}x rate, "
            f"{round(relay['server_cpu_ms_per_event'] / floor_cpu, 2)}x CPU |"
        )
        latency = broker["latency"]
        answer = latency["webhook_answer_ms"]
        lines.append(
            f"| bank webhook → RabbitMQ consumer, p50 / p99 ms | "
            f"{lat(latency['event_ms'])} | webhook → WebSocket page {lat(ws)} | "
            f"{round(latency['event_ms']['p50'] / ws['p50'], 1)}x p50 |"
        )
        lines.append(
            f"| the webhook's answer, broker on, p50 / p99 ms | "
            f"{lat(latency['webhook_answer_ms'])} | "
            f"{floor_ws['webhook_answer_ms'].get('p50')} p50 | "
            f"{round(answer['p50'] / floor_ws['webhook_answer_ms']['p50'], 1)}x p50 |"
        )
        lines.append(
            f"| the webhook's answer, no broker, p50 / p99 ms | "
            f"{lat(latency.get('without_broker_webhook_answer_ms', {}))} | | |"
        )
    pg = results.get("postgres", {})
    if "one" in pg:
        lines += [
            "",
            "| PostgreSQL | creates/s, 20 clients | p50 / p99 ms | server CPU ms/create | "
            "PostgreSQL CPU ms/create | confirms/s, 20 clients | p50 / p99 ms | "
            "server CPU ms/confirm | PostgreSQL CPU ms/confirm |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for pair, name in ((pg, "relay on, events to RabbitMQ"), (pg.get("idle"), "no broker")):
            if not pair:
                continue
            for key, label in (("one", "one process"), ("two", "two processes")):
                c, f = pair[key]["create"], pair[key]["confirm"]
                lines.append(
                    f"| {name}: {label} | {c['per_second']} | {lat(c['latency_ms'])} | "
                    f"{c['server_cpu_ms_per_request']} | {c['postgres_cpu_ms_per_request']} | "
                    f"{f['per_second']} | {lat(f['latency_ms'])} | "
                    f"{f['server_cpu_ms_per_request']} | {f['postgres_cpu_ms_per_request']} |"
                )
            lines.append(
                f"| {name}: two / one | {pair['create_scaling']}x | | | | "
                f"{pair['confirm_scaling']}x | | | |"
            )
    elif pg:
        lines.append(f"PostgreSQL: {pg.get('skipped')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    """Run the figures; print them; write ``bench/results/broker-<time>.json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny counts: a smoke run")
    parser.add_argument("--only", choices=("broker", "postgres"), help="one part only")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--report", type=Path, help="print the Markdown of a results file")
    args = parser.parse_args(argv)
    if args.report:
        print(markdown(json.loads(args.report.read_text())))
        return {}
    backlog, samples, creates, confirms = (
        (40, 10, 60, 40) if args.quick else (3000, 500, 3000, 1500)
    )

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    raise_fd_limit()
    if can_pin():
        os.sched_setaffinity(0, {CLIENT_CPU})
    results: dict = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "loadavg_1min_before": round(os.getloadavg()[0], 2),
        "machine": machine(),
        "counts": {
            "backlog": backlog,
            "samples": samples,
            "creates": creates,
            "confirms": confirms,
        },
    }
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-broker-") as tmp:
        floor = replace(QUICK if args.quick else FULL, creates_20=creates, samples=samples)
        results["baseline"] = bench_baseline(floor, Path(tmp), log)
        if args.only in (None, "broker"):
            reason = broker_available()
            if reason:
                results["broker"] = {"skipped": reason}
            else:
                results["broker"] = {
                    "relay": relay_throughput(Path(tmp) / "relay", backlog, log),
                    "latency": broker_latency(Path(tmp) / "latency", samples, log),
                }
        if args.only in (None, "postgres"):
            results["postgres"] = postgres_scale(Path(tmp) / "pg", creates, confirms, log)
    results["seconds"] = round(time.monotonic() - started, 1)
    results["loadavg_1min_after"] = round(os.getloadavg()[0], 2)
    out = args.out or RESULTS / f"broker-{'quick-' if args.quick else ''}{int(time.time())}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(markdown(results))
    print(f"JSON: {out}")
    return results


if __name__ == "__main__":
    main()
