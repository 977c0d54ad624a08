"""The benchmark suite still runs: its quickest mode end to end (no timing is asserted)."""

import json
import subprocess
import sys

from bench import report
from tests.live import ROOT


def test_quick_bench_writes_its_figures(tmp_path):
    out = tmp_path / "quick.json"
    subprocess.run(
        [sys.executable, "-m", "bench.run", "--quick", "--modes", "eventlet", "--no-redis",
         "--out", str(out)],
        cwd=ROOT, check=True, timeout=300, capture_output=True,
    )
    results = json.loads(out.read_text())
    (mode,) = results["modes"]
    assert mode["mode"] == "eventlet"
    assert [row["clients"] for row in mode["create"]] == [1, 20]
    assert all(row["errors"] == 0 and row["per_second"] > 0 for row in mode["create"])
    assert {row["transport"] for row in mode["latency"]} >= {"websocket", "polling"}
    assert all(row["event_ms"]["n"] > 0 for row in mode["latency"])
    (crowd,) = mode["crowds"]
    assert crowd["connected"] == crowd["pages"] and crowd["fanout_received"] == crowd["pages"]
    assert crowd["rss_mib"] > 0
    baseline = results["baseline"]
    assert baseline["create"]["errors"] == 0 and baseline["create"]["per_second"] > 0
    assert [row["transport"] for row in baseline["latency"]] == ["websocket", "polling"]
    assert all(row["event_ms"]["n"] > 0 for row in baseline["latency"])


def test_the_report_renders_every_table_from_the_results(tmp_path):
    results = {"modes": [{
        "mode": "eventlet",
        "create": [{"per_second": 700.0, "latency_ms": {"p50": 1.4, "p95": 1.6, "p99": 2.3},
                    "server_cpu_ms_per_request": 1.1},
                   {"per_second": 1400.0, "latency_ms": {"p50": 14, "p95": 20, "p99": 30},
                    "server_cpu_ms_per_request": 0.7}],
        "confirm": {"per_second": 600.0, "latency_ms": {"p50": 30, "p95": 40, "p99": 45},
                    "server_cpu_ms_per_request": 1.4},
        "latency": [{"transport": "websocket", "event_ms": {"p50": 1.2, "p95": 2, "p99": 2.9},
                     "webhook_answer_ms": {"p50": 1.5}}],
        "crowds": [{"pages": 10000, "connected": 10000, "rss_before_mib": 90.0,
                    "rss_mib": 520.5, "kib_per_page": 44.1, "fanout_ms": 500.0,
                    "fanout_received": 10000, "connect_per_second": 450.0,
                    "probe": {"event_ms": {"p50": 2, "p95": 4, "p99": 6},
                              "webhook_answer_ms": {"p50": 2.5}}}],
    }]}
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))

    text = report.main([str(path)])

    assert ("| eventlet | 700.0 | 1.4 / 1.6 / 2.3 | 1400.0 | 14 / 20 / 30 | 0.7 | 600.0 | 1.4 |"
            in text)
    assert "| ≥ 1,300 creates/s with 20 clients | 1400.0 | **yes** |" in text
    assert ("| webhook → event p50 ≤ 1.5 ms, p99 ≤ 3 ms at idle (websocket) | 1.2 / 2.9 | **yes** |"
            in text)
    assert "| p99 ≤ 5 ms with 10,000 other pages | 6 | no |" in text
    assert "| 10,000 pages in ≤ 500 MiB RSS | 520.5 MiB | no |" in text
    assert "| eventlet | 10,000 | 10,000 | 90.0 → 520.5 | 44.1 | 500.0 (10,000 pages) | 450.0 |" \
        in text
