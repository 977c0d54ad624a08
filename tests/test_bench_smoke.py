"""The benchmark suite still runs: its quickest mode end to end (no timing is asserted)."""

import json
import subprocess
import sys

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
