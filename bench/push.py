"""Measure the push path: a change with N subscriptions, through the relay, to a push service.

    python -m bench.push                      # 200 changes for each N in 0, 1, 5
    python -m bench.push --changes 20         # a smoke run

Starts ``python app.py`` (eventlet, CPU 0) with a known VAPID key and, in this
process (CPU 1), the fake push service of the tests, which checks each push's
VAPID JWT and decrypts it as a browser would. For each N (subscriptions per
charge: 0, 1 and 5, the contract's most) it creates charges, subscribes N
browsers to each, then, one change at a time (the N taking turns), posts the
bank's approval and waits until all N pushes have arrived and been decrypted
and the relay has recorded them (``/health``'s ``events_waiting`` is 0).
Figures: the webhook's answer (the pushes are not in it), the time from the
webhook to the last of the N pushes, and the server's CPU per change (with
the few ``/health`` polls, under a millisecond each). Beside them, in the
same run, the floor: ``bench/baseline_app.py``, the bare Flask-SocketIO
server, its webhook answer and webhook-to-page event over WebSocket; on a
noisy machine the ratios to it are the figures that count.
"""

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.push_service import PushService, vapid_key_pair

from .profile import cpu_times
from .run import can_pin, event_latency, percentiles, server

SUBSCRIPTIONS = (0, 1, 5)



def settled(http: requests.Session, base: str, timeout: float = 30) -> None:
    """Wait until the server has no delivery left pending (``/health``'s events_waiting)."""
    deadline = time.monotonic() + timeout
    while http.get(f"{base}/health").json().get("events_waiting") and time.monotonic() < deadline:
        time.sleep(0.002)


def prepare(
    http: requests.Session, base: str, service: PushService, per_charge: int, count: int
) -> list[dict]:
    """Create ``count`` charges with ``per_charge`` browsers subscribed to each."""
    charges = []
    for _ in range(count):
        payment = http.post(f"{base}/payments/pix", json={"value": "1500.50"}).json()["payment"]
        for _ in range(per_charge):
            answer = http.post(
                f"{base}/payments/pix/{payment['id']}/push", json=service.browser().subscription()
            )
            assert answer.status_code == 201, answer.text
        charges.append(payment)
    return charges


def one_change(
    http: requests.Session,
    base: str,
    pid: int,
    service: PushService,
    payment: dict,
    per_charge: int,
) -> tuple[float, float, float]:
    """Confirm ``payment``; return (webhook answer, webhook to last push, server CPU) seconds."""
    expected = len(service.pushes) + per_charge
    user, system = cpu_times(pid)
    started = time.perf_counter()
    notice = {"bank_payment_id": payment["bank_payment_id"], "value": payment["value"]}
    status = http.post(f"{base}/payments/pix/confirmation", json=notice).status_code
    answered = time.perf_counter()
    service.wait_for(expected, timeout=30)
    arrived = time.perf_counter()
    settled(http, base)  # the relay has recorded them: the next change meets an idle server
    user_after, system_after = cpu_times(pid)
    assert status == 200 and not service.rejected, service.rejected
    return answered - started, arrived - started, user_after - user + system_after - system


def push_path(base: str, pid: int, service: PushService, changes: int) -> list[dict]:
    """Time ``changes`` confirmations for each N of ``SUBSCRIPTIONS``, taking turns.

    The N take turns change by change, so a burst of load from elsewhere on the
    machine falls on all of them alike.
    """
    http = requests.Session()
    charges = {n: prepare(http, base, service, n, changes + 3) for n in SUBSCRIPTIONS}
    figures = {n: ([], [], []) for n in SUBSCRIPTIONS}
    for number in range(changes + 3):
        for n in SUBSCRIPTIONS:
            answer, arrival, cpu = one_change(http, base, pid, service, charges[n][number], n)
            if number >= 3:  # the first three warm up
                for values, value in zip(figures[n], (answer, arrival, cpu), strict=True):
                    values.append(value)
    assert all(push.payload["title"] == "Pagamento confirmado" for push in service.pushes)
    return [
        {
            "subscriptions": n,
            "changes": changes,
            "webhook_answer_ms": percentiles(answers),
            "webhook_to_last_push_ms": percentiles(arrivals) if n else None,
            "server_cpu_ms_per_change": round(sum(cpus) * 1000 / changes, 3),
        }
        for n, (answers, arrivals, cpus) in figures.items()
    ]


def floor(workdir: Path, samples: int) -> dict:
    """Measure the bare Flask-SocketIO server: webhook answer and webhook→page event."""
    argv = [sys.executable, "-m", "bench.baseline_app"]
    with server(workdir / "floor", "eventlet", argv=argv) as live:
        return asyncio.run(event_latency(live.url, "websocket", samples))


def main(argv: list[str] | None = None) -> dict:
    """Serve, measure, print a table and the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=200)
    args = parser.parse_args(argv)
    if can_pin():
        os.sched_setaffinity(0, {1})
    results: dict = {
        "changes": args.changes,
        "load_before": round(os.getloadavg()[0], 2),
        "pinned": can_pin(),
    }
    pem, public = vapid_key_pair()
    with tempfile.TemporaryDirectory(prefix="push-") as tmp:
        workdir = Path(tmp)
        results["floor"] = floor(workdir, args.changes)
        with (
            PushService(public) as service,
            server(workdir / "app", "eventlet", env={"VAPID_PRIVATE_KEY": pem}) as live,
        ):
            results["app_websocket"] = asyncio.run(
                event_latency(live.url, "websocket", args.changes)
            )
            results["push"] = push_path(live.url, live.process.pid, service, args.changes)
    results["load_after"] = round(os.getloadavg()[0], 2)
    base = results["floor"]
    floor_answer = base["webhook_answer_ms"]["p50"]
    floor_event = base["event_ms"]["p50"]
    print(
        f"floor (bare Flask-SocketIO): webhook answer p50 {floor_answer} ms, "
        f"webhook→page (WebSocket) p50 {floor_event} ms"
    )
    app = results["app_websocket"]
    print(
        f"app, no subscription: webhook answer p50 {app['webhook_answer_ms']['p50']} ms, "
        f"webhook→page p50 {app['event_ms']['p50']} ms"
    )
    none = results["push"][0]["server_cpu_ms_per_change"]
    for row in results["push"]:
        answer, push, n = (
            row["webhook_answer_ms"],
            row["webhook_to_last_push_ms"],
            row["subscriptions"],
        )
        line = (
            f"{n} subscription(s): webhook answer p50 {answer['p50']} ms "
            f"({answer['p50'] / floor_answer:.1f}x floor)"
        )
        if push:
            line += (
                f", webhook→last push p50 {push['p50']} p95 {push['p95']} p99 "
                f"{push['p99']} ms ({push['p50'] / floor_event:.1f}x the floor's event)"
            )
        cpu = row["server_cpu_ms_per_change"]
        line += f", server CPU {cpu} ms/change"
        if n:
            line += f" ({(cpu - none) / n:.1f} ms per push above none)"
        print(line)
    print(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
