"""Draw the benchmark's PNG plots from a results JSON: ``python -m bench.plots RESULTS.json``."""

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

IMG = Path(__file__).resolve().parents[1] / "docs" / "img"
PERCENTILES = ("p50", "p95", "p99")


def latency_plot(results: dict, path: Path) -> None:
    """Bar chart: webhook → payment_status p50/p95/p99 per mode and transport (and crowd)."""
    labels, rows = [], []
    for lat in results.get("baseline", {}).get("latency", []):
        labels.append(f"baseline\n{lat['transport']}")
        rows.append(lat["event_ms"])
    for mode in results["modes"]:
        for lat in mode["latency"]:
            labels.append(f"{mode['mode']}\n{lat['transport']}")
            rows.append(lat["event_ms"])
        for crowd in mode["crowds"]:
            if crowd.get("probe"):
                labels.append(f"{mode['mode']}\nws +{crowd['connected']:,}")
                rows.append(crowd["probe"]["event_ms"])
    fig, ax = plt.subplots(figsize=(max(6, len(labels) * 0.9), 4.2))
    width = 0.27
    for i, name in enumerate(PERCENTILES):
        ax.bar([x + (i - 1) * width for x in range(len(labels))],
               [row.get(name, 0) for row in rows], width, label=name)
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set_ylabel("ms, webhook sent → event received")
    ax.set_title("webhook → payment_status latency (one process, SQLite)")
    ax.axhline(3, color="grey", linestyle="--", linewidth=0.8)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def rss_plot(results: dict, path: Path) -> None:
    """Line chart: server RSS against connected pages, per async mode."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for mode in results["modes"]:
        points = [(0, mode["crowds"][0]["rss_before_mib"])] if mode["crowds"] and \
            "rss_before_mib" in mode["crowds"][0] else []
        points += [(c["connected"], c["rss_mib"]) for c in mode["crowds"] if "rss_mib" in c]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", label=mode["mode"])
    ax.axhline(500, color="grey", linestyle="--", linewidth=0.8, label="target 500 MiB")
    ax.set_xlabel("connected pages (WebSocket)")
    ax.set_ylabel("server RSS, MiB")
    ax.set_title("memory of one server process")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> list[Path]:
    """Write ``docs/img/bench-latency.png`` and ``docs/img/bench-rss.png``; return their paths."""
    argv = sys.argv[1:] if argv is None else argv
    results = json.loads(Path(argv[0]).read_text())
    out = Path(argv[1]) if len(argv) > 1 else IMG
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "bench-latency.png", out / "bench-rss.png"]
    latency_plot(results, paths[0])
    rss_plot(results, paths[1])
    return paths


if __name__ == "__main__":
    print("\n".join(str(p) for p in main()))
