"""Renderers: stable columns, every level present, both languages, charts in the HTML."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from decimal import ROUND_FLOOR, Decimal
from functools import cache

import pytest

from pantau.collector.admin.registry_cli import generate
from pantau.collector.report.cli import compute, render
from pantau.collector.report.compute import Filters, MonthReport
from pantau.collector.report.discards import COUNT_COLUMNS
from pantau.collector.sla.figures import COLUMNS
from pantau.collector.sla.periods import month
from pantau.shared.errors import ConfigError
from pantau.shared.registry import Registry, parse_registry
from tests.report_fixtures import synthetic_month

KELURAHAN = [
    {"kecamatan": "Jombang", "kelurahan": "Masigit", "kelurahan_code": "36.72.05.1003"},
    {"kecamatan": "Jombang", "kelurahan": "Jombang Wetan", "kelurahan_code": "36.72.05.1002"},
    {"kecamatan": "Citangkil", "kelurahan": "Citangkil", "kelurahan_code": "36.72.08.1007"},
]


@cache
def registry() -> Registry:
    return parse_registry(generate(KELURAHAN, 4, "Awinet"), "test")


@cache
def report(kelurahan: str | None = None) -> MonthReport:
    source = synthetic_month(registry(), month("2026-10"))
    return compute(registry(), source, "2026-10", Filters(kelurahan=kelurahan))


def test_csv_is_one_file_per_level_so_sums_never_double_count() -> None:
    from pantau.collector.report.render_data import to_csv_files

    files = to_csv_files(report(), "en")
    assert list(files) == ["point", "kelurahan", "kecamatan", "provider", "total"]
    rows = {level: list(csv.DictReader(io.StringIO(text))) for level, text in files.items()}
    assert tuple(rows["point"][0].keys()) == (*COLUMNS, *COUNT_COLUMNS)
    assert {level: len(r) for level, r in rows.items()} == {
        "point": 12,
        "kelurahan": 3,
        "kecamatan": 2,
        "provider": 1,
        "total": 1,
    }
    assert {level: {r["level"] for r in found} for level, found in rows.items()} == {
        level: {level} for level in rows
    }
    total = rows["total"][0]
    assert total["points"] == "12"
    assert int(total["fee_idr"]) == 12 * 500_000
    for level in ("point", "kelurahan", "kecamatan", "provider"):
        for column in ("minutes_active", "fee_idr", "deduction_idr", "net_payable_idr"):
            assert sum(int(r[column]) for r in rows[level]) == int(total[column])
    assert total["availability_pct"] == cut2(report().total.availability_pct)


def cut2(value: float | None) -> str:
    """Availability as the CSV shows it: cut to two decimals, never rounded up."""
    assert value is not None
    return str(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_FLOOR))


def test_csv_in_indonesian_opens_in_an_indonesian_spreadsheet() -> None:
    text = render(report(), "csv", "id", "kelurahan")
    lines = text.splitlines()
    assert lines[0].startswith("tingkat;id;kelurahan;kecamatan;penyedia;titik;hari_aktif;")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert len(rows) == 3 and {r["tingkat"] for r in rows} == {"kelurahan"}
    f = report().kelurahan[0]
    row = rows[0]
    assert row["ketersediaan_pct"] == cut2(f.availability_pct).replace(".", ",")
    assert row["tanpa_data_dihitung_down"] == "tidak"
    assert row["biaya_rp"] == str(f.fee_idr)
    assert "." not in row["ketersediaan_pct"]


def test_json_groups_and_the_slow_kelurahan() -> None:
    data = json.loads(render(report(), "json", "en"))
    assert data["month"] == "2026-10"
    assert data["period"] == {
        "start": "2026-10-01T00:00:00+07:00",
        "end": "2026-11-01T00:00:00+07:00",
        "timezone": "Asia/Jakarta",
    }
    assert [k["id"] for k in data["kelurahan"]] == ["Citangkil", "Jombang Wetan", "Masigit"]
    assert [p["id"] for p in data["providers"]] == ["Awinet"]
    assert len(data["points"]) == 12 and len(data["clients_by_hour"]) == 24
    assert set(data["points"][0]) == set(COLUMNS)
    slow = next(k for k in data["kelurahan"] if k["id"] == "Masigit")
    assert slow["points_lt80_n"] == 4 and slow["peak_down_median_mbps"] < 30
    assert all(o["duration_s"] >= 300 for o in data["outages"])


def test_table_per_kelurahan_and_drill_down() -> None:
    text = render(report(), "table", "id")
    assert "Ketersediaan" in text
    for name in ("Citangkil", "Jombang Wetan", "Masigit", "Awinet", "total"):
        assert re.search(rf"^ ?{name} ", text, re.MULTILINE), name
    assert max(len(line) for line in text.splitlines()) <= 120
    drilled = render(report("Masigit"), "table", "en")
    assert "Availability" in drilled
    assert [line.split()[0] for line in drilled.splitlines() if "masigit-" in line] == [
        f"masigit-0{i}" for i in range(1, 5)
    ]


@pytest.mark.parametrize(
    ("lang", "heading"), [("id", "Linimasa gangguan"), ("en", "Outage timeline")]
)
def test_html_is_self_contained_with_four_charts(lang: str, heading: str) -> None:
    html = render(report(), "html", lang)
    assert html.startswith("<!DOCTYPE html>") and f'<html lang="{lang}">' in html
    assert heading in html
    charts = re.findall(r'<svg class="chart" data-chart="(\w+)"', html)
    assert charts == ["availability", "speed", "outages", "clients"]
    for external in ("<script", "<link", " src=", 'href="http', "url(http", "@import"):
        assert external not in html
    assert "@page { size: A4" in html


def test_unknown_filter_is_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^--kelurahan 'Atlantis': not in the registry$"):
        compute(
            registry(),
            synthetic_month(registry(), month("2026-10")),
            "2026-10",
            Filters(kelurahan="Atlantis"),
        )


@pytest.mark.parametrize("label", ["2026-13", "2026-1", "oct"])
def test_bad_month_is_refused(label: str) -> None:
    with pytest.raises(ConfigError, match="expected YYYY-MM"):
        month(label)


def test_readers_select_every_rollup_field_in_dataclass_order() -> None:
    from dataclasses import fields

    from pantau.collector.rollup_daily import ROLLUP_FIELDS
    from pantau.collector.sla.hourly import HourRollup

    assert tuple(f.name for f in fields(HourRollup)) == ("hour_ms", *ROLLUP_FIELDS)


def test_readme_lists_every_column_in_order() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = text.split("### Columns", 1)[1].split("\n## ", 1)[0]
    assert tuple(re.findall(r"^\| `(\w+)` \|", section, re.MULTILINE)) == COLUMNS


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2026-13"], "pantau report: month '2026-13': expected YYYY-MM, e.g. 2026-10"),
        ([], "pantau report: InfluxDB http://127.0.0.1:"),
        (["--kelurahan", "Atlantis"], "pantau report: --kelurahan 'Atlantis': not in the registry"),
    ],
)
def test_report_cli_errors_are_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from pathlib import Path

    from pantau.collector.lab.services import free_port
    from pantau.shared.cli import main

    registry = Path(__file__).resolve().parents[3] / "examples" / "registry-cilegon.yaml"
    base = ["report", "--month", "2026-10", "--registry", str(registry)]
    base += ["--influx-url", f"http://127.0.0.1:{free_port()}"]
    assert main(base + args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith(message), err


def test_a_truncated_or_failed_influx_answer_raises() -> None:
    from pantau.collector.rollup import whole_series
    from pantau.shared.errors import SinkError

    series = {"name": "sla_hourly", "columns": ["time"], "values": [[1]]}
    assert list(whole_series([{"series": [series]}])) == [series]
    with pytest.raises(SinkError, match="truncated answer \\(flagged partial\\)"):
        list(whole_series([{"series": [series | {"partial": True}]}]))
    with pytest.raises(SinkError, match="InfluxQL error: database not found"):
        list(whole_series([{"error": "database not found"}]))


def test_availability_just_under_a_bracket_bound_never_shows_the_bound() -> None:
    """89.99768 % (4 321 of 43 200 minutes down) is judged "< 90 %" unrounded: every rendering
    shows 89.99, never 90.00; exactly 90 % shows 90.00; the JSON keeps the exact value. Coverage
    (judged against the contract's minimum the same way) is cut too."""
    base = report()
    first = base.points[0]
    under = replace(first.figures, availability_pct=100 * 38_879 / 43_200, coverage_pct=89.96)
    exact = replace(base.points[1].figures, availability_pct=100 * 38_880 / 43_200)
    assert under.availability_pct == 89.99768518518519 and exact.availability_pct == 90.0
    shown = MonthReport(
        **{
            **vars(base),
            "points": [replace(first, figures=under), replace(base.points[1], figures=exact)],
            "filters": Filters(kelurahan=under.kelurahan),  # the table lists the points
        }
    )
    for lang, sep in (("en", ","), ("id", ";")):
        rows = list(csv.reader(io.StringIO(render(shown, "csv", lang, "point")), delimiter=sep))
        at = rows[0].index("availability_pct" if lang == "en" else "ketersediaan_pct")
        cov = rows[0].index("coverage_pct" if lang == "en" else "kelengkapan_pct")
        mark = "." if lang == "en" else ","
        assert [r[at] for r in rows[1:]] == [f"89{mark}99", f"90{mark}00"]
        assert rows[1][cov] == f"89{mark}96"
    table = render(shown, "table", "en")
    row = next(line for line in table.splitlines() if line.strip().startswith(under.id + " "))
    assert " 89.99 " in row and "90.00" not in row
    html = render(shown, "html", "en")
    assert ">89.99<" in html and ">89.9<" in html  # the point's availability; its coverage
    data = json.loads(render(shown, "json", "en"))
    assert data["points"][0]["availability_pct"] == 89.99768518518519
