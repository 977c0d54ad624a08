"""Render a results JSON as docs/benchmarks.md's tables: ``python -m bench.report R.json``.

The figures in the docs come from here, never typed by hand.
"""

import json
import sys
from pathlib import Path

#: The issue's targets (2 cores, one eventlet process, SQLite).
CREATES_PER_SECOND = 1300
CREATE_P99_MS = 50
EVENT_P50_MS, EVENT_P99_MS = 1.5, 3
CROWD_P99_MS = 5
CROWD_PAGES, CROWD_RSS_MIB = 10_000, 500


def _lat(row: dict) -> str:
    return f"{row.get('p50', '-')} / {row.get('p95', '-')} / {row.get('p99', '-')}"


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |",
             "| " + " | ".join("---" if i == 0 else "---:" for i in range(len(header))) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def creates(results: dict) -> str:
    """Creates and confirms per mode (and the baseline's creates)."""
    rows = []
    base = results.get("baseline")
    if base:
        c = base["create"]
        rows.append(["baseline (bare Flask-SocketIO)", "-", "-", c["per_second"],
                     _lat(c["latency_ms"]), c["server_cpu_ms_per_request"], "-", "-"])
    for mode in results["modes"]:
        one, twenty = mode["create"]
        rows.append([mode["mode"], one["per_second"], _lat(one["latency_ms"]),
                     twenty["per_second"], _lat(twenty["latency_ms"]),
                     twenty["server_cpu_ms_per_request"], mode["confirm"]["per_second"],
                     mode["confirm"]["server_cpu_ms_per_request"]])
    return _table(["mode", "creates/s, 1 client", "p50 / p95 / p99 ms", "creates/s, 20 clients",
                   "p50 / p95 / p99 ms", "server CPU ms/create", "confirms/s, 20 clients",
                   "server CPU ms/confirm"], rows)


def latency(results: dict) -> str:
    """webhook → event per mode, transport and crowd."""
    rows = [["baseline", lat["transport"], 0, _lat(lat["event_ms"]),
             lat["webhook_answer_ms"].get("p50")]
            for lat in results.get("baseline", {}).get("latency", [])]
    for mode in results["modes"]:
        rows += [[mode["mode"], lat["transport"], 0, _lat(lat["event_ms"]),
                  lat["webhook_answer_ms"].get("p50")] for lat in mode["latency"]]
        rows += [[mode["mode"], "websocket", f"{crowd['connected']:,}",
                  _lat(crowd["probe"]["event_ms"]), crowd["probe"]["webhook_answer_ms"].get("p50")]
                 for crowd in mode["crowds"] if crowd.get("probe")]
    return _table(["mode", "transport", "other pages", "event p50 / p95 / p99 ms",
                   "webhook answer p50 ms"], rows)


def pages(results: dict) -> str:
    """Pages one process holds, its RSS and the fan-out."""
    rows = []
    for mode in results["modes"]:
        for crowd in mode["crowds"]:
            if "error" in crowd:
                rows.append([mode["mode"], f"{crowd['pages']:,}", "failed", crowd["error"][:80],
                             "", "", ""])
                continue
            rows.append([mode["mode"], f"{crowd['pages']:,}", f"{crowd['connected']:,}",
                         f"{crowd['rss_before_mib']} → {crowd['rss_mib']}", crowd["kib_per_page"],
                         f"{crowd['fanout_ms']} ({crowd['fanout_received']:,} pages)",
                         crowd["connect_per_second"]])
    return _table(["mode", "pages asked", "connected", "RSS before → with pages, MiB",
                   "KiB per page", "fan-out to all, ms", "connects/s"], rows)


def two_processes(results: dict) -> str:
    """Two eventlet processes on Redis against one."""
    two = results.get("two_processes")
    if not two:
        return "(not run)"
    if "skipped" in two:
        return f"skipped: {two['skipped']}"
    one = next(m for m in results["modes"] if m["mode"] == "eventlet")
    rows = [["one process (CPU 0; load on CPU 1)", one["create"][1]["per_second"],
             _lat(one["create"][1]["latency_ms"]), one["confirm"]["per_second"],
             _lat(one["confirm"]["latency_ms"])],
            ["two processes on Redis (CPU 0 and 1; load on both)", two["create"]["per_second"],
             _lat(two["create"]["latency_ms"]), two["confirm"]["per_second"],
             _lat(two["confirm"]["latency_ms"])]]
    return (_table(["eventlet", "creates/s, 20 clients", "p50 / p95 / p99 ms",
                    "confirms/s, 20 clients", "p50 / p95 / p99 ms"], rows)
            + f"\n\nwebhook to process a → page on process b (websocket): "
            f"{_lat(two['cross_process']['event_ms'])} ms")


def targets(results: dict) -> str:
    """The issue's targets against the eventlet figures."""
    mode = next(m for m in results["modes"] if m["mode"] == "eventlet")
    twenty = mode["create"][1]
    idle = {lat["transport"]: lat["event_ms"] for lat in mode["latency"]}
    crowd = next((c for c in mode["crowds"] if c.get("connected") == CROWD_PAGES), None)

    def met(ok: bool) -> str:
        return "**yes**" if ok else "no"

    rows = [[f"≥ {CREATES_PER_SECOND:,} creates/s with 20 clients", twenty["per_second"],
             met(twenty["per_second"] >= CREATES_PER_SECOND)],
            [f"create p99 ≤ {CREATE_P99_MS} ms with 20 clients", twenty["latency_ms"]["p99"],
             met(twenty["latency_ms"]["p99"] <= CREATE_P99_MS)]]
    for transport, lat in idle.items():
        rows.append([f"webhook → event p50 ≤ {EVENT_P50_MS} ms, p99 ≤ {EVENT_P99_MS} ms "
                     f"at idle ({transport})", f"{lat['p50']} / {lat['p99']}",
                     met(lat["p50"] <= EVENT_P50_MS and lat["p99"] <= EVENT_P99_MS)])
    if crowd:
        probe = crowd["probe"]["event_ms"]
        rows.append([f"p99 ≤ {CROWD_P99_MS} ms with {CROWD_PAGES:,} other pages", probe["p99"],
                     met(probe["p99"] <= CROWD_P99_MS)])
        rows.append([f"{CROWD_PAGES:,} pages in ≤ {CROWD_RSS_MIB} MiB RSS",
                     f"{crowd['rss_mib']} MiB", met(crowd["rss_mib"] <= CROWD_RSS_MIB)])
    return _table(["target (2 cores, one process, SQLite)", "measured (eventlet)", "met?"], rows)


SECTIONS = {"creates": creates, "latency": latency, "pages": pages,
            "two processes": two_processes, "targets": targets}


def main(argv: list[str] | None = None) -> str:
    """Print every section's table for the results file named in ``argv``."""
    argv = sys.argv[1:] if argv is None else argv
    results = json.loads(Path(argv[0]).read_text())
    text = "\n\n".join(f"### {name}\n\n{render(results)}" for name, render in SECTIONS.items())
    print(text)
    return text


if __name__ == "__main__":
    main()
