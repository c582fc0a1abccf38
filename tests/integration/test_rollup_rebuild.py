"""`pantau rollup rebuild`: a month's rollups from raw rows alone, idempotent, filtered."""

from __future__ import annotations

from pathlib import Path

import pytest

from pantau.collector.lab.services import Service
from pantau.collector.lines import telemetry_lines
from pantau.collector.report.reader import InfluxSource
from pantau.shared.cli import main
from pantau.shared.registry import load_registry
from pantau.shared.wire import Sample, Telemetry
from tests.pipeline import influx, write_yaml

H0 = 1_790_787_600_000  # 2026-10-01 00:00 WIB (2026-09-30 17:00 UTC)
H = 3_600_000


def rollup_rows(db) -> int:  # type: ignore[no-untyped-def]
    rows = db.query('SELECT COUNT("samples_n") FROM "sla_hourly"')
    return int(rows[0]["count"]) if rows else 0


def registry(tmp_path: Path) -> Path:
    points = [
        {"id": "masigit-01", "kelurahan": "Masigit", "kecamatan": "Jombang", "provider": "Awinet"},
        {"id": "masigit-02", "kelurahan": "Masigit", "kecamatan": "Jombang", "provider": "Awinet"},
        {"id": "ciwaduk-01", "kelurahan": "Ciwaduk", "kecamatan": "Cilegon", "provider": "Awinet"},
    ]
    return write_yaml(
        tmp_path / "registry.yaml", {"contracts": [{"provider": "Awinet"}], "points": points}
    )


def store_day(db, reg: Path) -> None:  # type: ignore[no-untyped-def]
    """Each point: one day at 10 s (8,640 samples), the WAN down from 06:00 to 07:30 WIB."""
    for point in load_registry(reg).points:
        samples = [
            Sample(
                ts_ms=H0 + i * 10_000,
                seq=i,
                boot="b1",
                device_up=True,
                interval_s=10,
                wan_up=not (6 * H <= i * 10_000 < 7 * H + 30 * 60_000),
            )
            for i in range(8640)
        ]
        lines: list[str] = []
        for i in range(0, len(samples), 500):
            lines += telemetry_lines(Telemetry(point=point.id, samples=samples[i : i + 500]), point)
        db.write(lines)


def test_rebuild_a_month_then_again_then_one_kelurahan(
    tmp_path: Path, influxd: Service, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = registry(tmp_path)
    db = influx(influxd.url, database)
    db.ensure_database()
    store_day(db, reg)
    base = ["rollup", "rebuild", "--month", "2026-10", "--registry", str(reg)]
    base += ["--influx-url", influxd.url, "--database", database]
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "rebuilt 72 hourly rollup(s) of 3 point(s) for 2026-10" in out, out
    assert rollup_rows(db) == 72
    ids = ["masigit-01", "masigit-02", "ciwaduk-01"]
    rollups = InfluxSource(db).rollups(ids, H0 - 24 * H, H0 + 48 * H)
    for point in ids:
        rows = rollups[point]
        assert sorted(rows) == [H0 + h * H for h in range(24)]
        assert all(r.samples_n == 360 for r in rows.values())
        assert rows[H0 + 6 * H].states == "D" * 60
        assert rows[H0 + 7 * H].states == "D" * 30 + "U" * 30
        assert "".join(rows[H0 + h * H].states for h in range(24)).count("D") == 90

    assert main(base) == 0  # idempotent: the same rows, no second copy
    assert rollup_rows(db) == 72
    assert InfluxSource(db).rollups(ids, H0 - 24 * H, H0 + 48 * H) == rollups

    db.query_raw('DROP MEASUREMENT "sla_hourly"')
    capsys.readouterr()
    assert main([*base, "--kelurahan", "masigit"]) == 0
    assert "of 2 point(s)" in capsys.readouterr().out
    assert rollup_rows(db) == 48
    assert main([*base, "--point", "ciwaduk-01"]) == 0
    assert rollup_rows(db) == 72


def test_rebuild_says_what_was_wrong_in_one_line(
    tmp_path: Path, influxd: Service, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    reg = registry(tmp_path)
    base = ["rollup", "rebuild", "--registry", str(reg), "--influx-url", influxd.url]
    base += ["--database", database]
    for args, message in (
        (["--month", "2026-13"], "pantau rollup: month '2026-13': expected YYYY-MM"),
        (
            ["--month", "2026-10", "--kelurahan", "Atlantis"],
            "pantau rollup: --kelurahan 'Atlantis'",
        ),
        (["--month", "2026-10", "--point", "nope-01"], "pantau rollup: --point 'nope-01'"),
    ):
        assert main(base + args) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith(message), err
    influx(influxd.url, database).ensure_database()
    assert main([*base, "--month", "2026-10"]) == 0
    assert "no telemetry stored for these 3 point(s) in 2026-10" in capsys.readouterr().out
