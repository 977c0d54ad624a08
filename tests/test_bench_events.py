"""The events' benchmark still runs: its quickest mode end to end (no timing is asserted)."""

import json
import subprocess
import sys

from tests.live import ROOT


def test_quick_events_bench_writes_its_figures(tmp_path):
    out = tmp_path / "events.json"
    subprocess.run([sys.executable, "-m", "bench.events", "--quick", "--out", str(out)],
                   cwd=ROOT, check=True, timeout=300, capture_output=True)
    results = json.loads(out.read_text())
    relay = results["relay"]
    assert relay["drained"] and relay["received"] == relay["backlog"] == 50
    assert relay["events_per_second"] > 0
    for phase in ("relay_off", "relay_busy"):
        assert results[phase]["errors"] == 0
        assert results[phase]["latency_ms"]["n"] == 20
    assert results["webhook_to_merchant"]["event_ms"]["n"] == 10
    assert results["floor"]["create_20"]["errors"] == 0
    assert set(results["ratios"]) >= {"confirm_busy_over_off_p50", "confirm_busy_over_off_p99"}
