"""How long the monthly report takes for the whole city: 430 points, a full month.

Times computation + rendering from hourly rollups held in memory (what `pantau report` does
after reading; target ≤ 5 s), and then the same from a real influxd loaded as the collector
would have left it (hourly rollups with their marks, packed days, capacity tests): reading over
InfluxQL and computing (target ≤ 5 s), then HTML. Prints the CPU seconds of the report and of
influxd beside the wall times (a shared machine's load shows in the one, not in the other), and
whether the figures from influxd equal those from memory. Last line: one JSON object.

    .venv/bin/python bench/report.py [--no-influx] [--influx-dir DIR]

`--influx-dir` keeps influxd's data in DIR and, when DIR already holds the loaded month, reuses
it instead of loading it again (about a minute), for profiling the read.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pantau.collector.report.cli import compute, render  # noqa: E402
from pantau.collector.report.compute import Filters  # noqa: E402
from pantau.collector.sla.periods import month  # noqa: E402
from pantau.shared.registry import load_registry  # noqa: E402
from tests.report_fixtures import MemorySource, synthetic_month  # noqa: E402

MONTH = "2026-10"
LOAD_FORMAT = "6"  # what a reused --influx-dir must hold: marks, rolled_ms and packed days


CPU: dict[str, float] = {}


def timed(fn, *args):  # type: ignore[no-untyped-def]
    """Wall time; the CPU time of this process is kept in CPU (less noisy on a shared machine)."""
    start, cpu = time.perf_counter(), time.process_time()
    value = fn(*args)
    CPU[fn.__name__] = CPU.get(fn.__name__, 0.0) + time.process_time() - cpu
    return value, time.perf_counter() - start


def process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) another process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_influx(url: str, database: str):  # type: ignore[no-untyped-def]
    from pantau.collector.influxdb.client import Influx
    from pantau.collector.influxdb.config import InfluxConfig

    return Influx(InfluxConfig(api="v1", url=url, database=database, timeout_s=120))


def load_influx(source: MemorySource, registry, url: str, database: str):  # type: ignore[no-untyped-def]
    """Write the synthetic rollups and tests as rows, as the collector would have: each hour
    marked when its raw data came (half past), rolled up a minute after it ended, and the
    packed day rows refreshed from them."""
    from pantau.collector.lines import capacity_lines
    from pantau.collector.rollup import mark_lines, rollup_line
    from pantau.collector.rollup_daily import refresh_days
    from pantau.shared.wire import Event

    db = bench_influx(url, database)
    db.ensure_database()
    points = registry.by_id()
    lines: list[str] = []
    by_hour: dict[int, list[str]] = {}
    for point_id, rows in source._rollups.items():
        for hour in rows:
            by_hour.setdefault(hour, []).append(point_id)
    for hour, ids in sorted(by_hour.items()):
        lines += mark_lines([(p, hour) for p in ids], lambda p: points[p].tags(), hour + 1_800_000)
        if len(lines) >= 20_000:
            db.write(lines)
            lines = []
    db.write(lines)
    lines = []
    for point_id, rows in source._rollups.items():
        tags = points[point_id].tags()
        lines += [rollup_line(row, tags, row.hour_ms + 3_660_000) for row in rows.values()]
        if len(lines) >= 20_000:
            db.write(lines)
            lines = []
    db.write(lines)
    lines = []
    refresh_days(
        db,
        [(p, h) for p, rows in source._rollups.items() for h in rows],
        lambda p: points[p].tags(),
    )
    for point_id, tests in source._tests.items():
        by_ts: dict[int, dict[str, float]] = {}
        for test in tests:
            by_ts.setdefault(test.ts_ms, {})[f"{test.direction}_mbps"] = test.mbps
        for ts, data in by_ts.items():
            event = Event(
                point=point_id, ts_ms=ts, kind="capacity", data={"method": "bench"} | data
            )
            lines += capacity_lines(event, points[point_id])
        if len(lines) >= 20_000:
            db.write(lines)
            lines = []
    db.write(lines)
    return db


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--no-influx", action="store_true", help="skip the real influxd run")
    parser.add_argument("--influx-dir", type=Path, help="influxd data here; reused once loaded")
    args = parser.parse_args()
    registry = load_registry(ROOT / "examples" / "registry-cilegon.yaml")
    period = month(MONTH)
    source, gen_s = timed(synthetic_month, registry, period)
    gc.freeze()  # the month is the benchmark's input: not for the collector to walk each time
    rows = sum(len(r) for r in source._rollups.values())
    print(f"synthetic month: {rows} rollup rows in {gen_s:.1f} s", file=sys.stderr)

    now_ms = int(time.time() * 1000)
    report, compute_s = timed(compute, registry, source, MONTH, Filters(), now_ms)
    html, html_s = timed(render, report, "html", "id")
    cpu_compute, cpu_html = CPU["compute"], CPU["render"]
    _, table_s = timed(render, report, "table", "id")
    _, csv_s = timed(render, report, "csv", "id")
    _, json_s = timed(render, report, "json", "id")
    expected_json = render(report, "json", "id")
    result: dict[str, object] = {
        "points": len(report.points),
        "rollup_rows": rows,
        "compute_s": round(compute_s, 2),
        "html_s": round(html_s, 2),
        "table_s": round(table_s, 2),
        "csv_s": round(csv_s, 2),
        "json_s": round(json_s, 2),
        "memory_total_s": round(compute_s + html_s, 2),
        "memory_total_cpu_s": round(cpu_compute + cpu_html, 2),
        "html_bytes": len(html),
    }
    print(
        f"from memory: compute {compute_s:.2f} s, html {html_s:.2f} s, table {table_s:.2f} s",
        file=sys.stderr,
    )
    if not args.no_influx:
        from pantau.collector.lab import services
        from pantau.collector.report.reader import InfluxSource

        with tempfile.TemporaryDirectory() as tmp:
            workdir = args.influx_dir or Path(tmp) / "influxd"
            loaded = workdir / "loaded"
            influxd = services.influxd(workdir).start()
            try:
                if loaded.exists() and loaded.read_text() == LOAD_FORMAT:
                    db = bench_influx(influxd.url, "bench")
                    print(f"reusing the month loaded in {workdir}", file=sys.stderr)
                else:
                    if loaded.exists():
                        bench_influx(influxd.url, "bench").query_raw('DROP DATABASE "bench"')
                    db, load_s = timed(load_influx, source, registry, influxd.url, "bench")
                    loaded.write_text(LOAD_FORMAT)
                    print(f"loaded influxd in {load_s:.1f} s", file=sys.stderr)
                # `pantau report` holds nothing else: drop the synthetic month (340 000 objects
                # the garbage collector would otherwise walk again and again) before timing
                source = report = None  # type: ignore[assignment]
                gc.unfreeze()
                gc.collect()
                influxd_cpu = process_cpu_s(influxd.process.pid)  # type: ignore[union-attr]
                report2, read_compute_s = timed(
                    compute, registry, InfluxSource(db), MONTH, Filters(), now_ms
                )
                influxd_cpu = process_cpu_s(influxd.process.pid) - influxd_cpu  # type: ignore[union-attr]
                cpu_read = CPU["compute"] - cpu_compute
                _, html2_s = timed(render, report2, "html", "id")
            finally:
                influxd.stop()
        same = render(report2, "json", "id") == expected_json
        result |= {
            "influx_read_compute_s": round(read_compute_s, 2),
            "influx_read_compute_cpu_s": round(cpu_read, 2),
            "influxd_cpu_s": round(influxd_cpu, 2),
            "influx_total_s": round(read_compute_s + html2_s, 2),
            "influx_same_figures": same,
            "influx_ok": read_compute_s <= 5.0,
        }
        print(
            f"from influxd: read+compute {read_compute_s:.2f} s, html {html2_s:.2f} s",
            file=sys.stderr,
        )
    result["target_s"] = 5.0  # computation + HTML from rollup rows; read + computation from influxd
    result["ok"] = compute_s + html_s <= 5.0
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
