"""Speed tests not counted against the provider, in every export: the counts per row of every
level in the CSV files and the XLSX level sheets, and one line on the first page (HTML, table,
the XLSX `report` sheet) when any test was discarded.

October 2026, committed 50 Mbit/s, so a download under 40 is low; the peak window is 19–23 WIB.
Every point has a plain 48 Mbit/s test at 20:00 on 4–31 Oct, and:

- ciwaduk-01 (Ciwaduk, Cilegon, Awinet): 1 Oct 20:00 low on a loaded server (server loaded,
  peak), 2 Oct 20:00 low with some streams refused (server busy, peak), 3 Oct 10:00 low and
  awaiting a retest that never ran (not confirmed, off-peak): 3 discarded, 2 in the peak.
- ciwaduk-02 (Ciwaduk, Cilegon, Biznet): 1 Oct 20:00 low, its 20:30 retest 47 (retest passed,
  peak); 2 Oct 20:00 low, its 20:30 retest 30 on an idle server confirms it (a confirmation):
  1 discarded, in the peak, 1 confirmed.
- masigit-01 (Masigit, Jombang, Awinet): nothing flagged.

Kelurahan Ciwaduk and kecamatan Cilegon: 4 = 1 loaded + 1 busy + 1 retest passed + 1 not
confirmed, 3 in the peak, 1 confirmed; Masigit and Jombang: none. Awinet: 3 (1 + 1 + 0 + 1),
2 in the peak; Biznet: 1 retest passed, 1 in the peak, 1 confirmed. Total as Ciwaduk.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import load_workbook

from pantau.collector.report.cli import compute, render, render_binary
from pantau.collector.report.compute import Filters, MonthReport
from pantau.collector.report.discards import COUNT_COLUMNS
from pantau.collector.report.render_data import to_csv_files
from pantau.collector.sla.capacity import CapacityTest
from pantau.collector.sla.figures import COLUMNS
from pantau.collector.sla.periods import month
from pantau.shared.registry import Registry, parse_registry
from tests.report_fixtures import MemorySource
from tests.unit.sla.helpers import rollups, wib

OCT = month("2026-10")
NOW = wib(2026, 11, 3, 9, 0)
POINTS = [
    ("ciwaduk-01", "Ciwaduk", "Cilegon", "Awinet"),
    ("ciwaduk-02", "Ciwaduk", "Cilegon", "Biznet"),
    ("masigit-01", "Masigit", "Jombang", "Awinet"),
]
NOTICE_EN = (
    "4 speed test(s) discarded: 1 server loaded, 1 server busy, 1 retest passed,"
    " 1 not confirmed by a retest"
)
NOTICE_ID = (
    "4 uji kecepatan tidak dihitung: 1 server uji sibuk (beban tinggi), 1 server uji penuh,"
    " 1 uji ulang lolos, 1 tidak dikonfirmasi uji ulang"
)
NONE = (0, 0, 0, 0, 0, 0, 0)
CIWADUK = (4, 1, 1, 1, 1, 3, 1)
EXPECTED: dict[str, dict[str, tuple[int, ...]]] = {
    "point": {
        "ciwaduk-01": (3, 1, 1, 0, 1, 2, 0),
        "ciwaduk-02": (1, 0, 0, 1, 0, 1, 1),
        "masigit-01": NONE,
    },
    "kelurahan": {"Ciwaduk": CIWADUK, "Masigit": NONE},
    "kecamatan": {"Cilegon": CIWADUK, "Jombang": NONE},
    "provider": {"Awinet": (3, 1, 1, 0, 1, 2, 0), "Biznet": (1, 0, 0, 1, 0, 1, 1)},
    "total": {"total": CIWADUK},
}
HEADERS_ID = (
    "uji_tidak_dihitung",
    "uji_tidak_dihitung_server_sibuk",
    "uji_tidak_dihitung_server_penuh",
    "uji_tidak_dihitung_uji_ulang_lolos",
    "uji_tidak_dihitung_tidak_dikonfirmasi",
    "uji_jam_sibuk_tidak_dihitung",
    "uji_dikonfirmasi_uji_ulang",
)


def registry() -> Registry:
    contracts = [
        {"id": f"{p.lower()}-2024", "provider": p, "terms": {"min_coverage_pct": 0}}
        for p in ("Awinet", "Biznet")
    ]
    return parse_registry(
        {
            "contracts": contracts,
            "points": [
                {"id": i, "kelurahan": k, "kecamatan": c, "provider": p} for i, k, c, p in POINTS
            ],
        },
        "test",
    )


def down(ts: int, mbps: float, **marks: Any) -> CapacityTest:
    return CapacityTest(ts, "down", mbps, "http", **marks)


def source(flagged: bool = True) -> MemorySource:
    plain = [down(wib(2026, 10, d, 20, 0), 48.0) for d in range(4, 32)]
    first, second = wib(2026, 10, 1, 20, 0), wib(2026, 10, 2, 20, 0)
    later = 30 * 60_000
    marked = {
        "ciwaduk-01": [
            down(first, 20.0, low=True, server_loaded=True, retest="awaiting"),
            down(second, 25.0, low=True, server_busy=True),
            down(wib(2026, 10, 3, 10, 0), 30.0, low=True, retest="awaiting"),
        ],
        "ciwaduk-02": [
            down(first, 20.0, low=True, retest="awaiting"),
            down(first + later, 47.0, retest_of_ms=first),
            down(second, 25.0, low=True, retest="awaiting"),
            down(second + later, 30.0, low=True, retest_of_ms=second),
        ],
    }
    return MemorySource(
        {pid: rollups(OCT, []) for pid, *_ in POINTS},
        {pid: (marked.get(pid, []) if flagged else []) + plain for pid, *_ in POINTS},
    )


def report(flagged: bool = True) -> MonthReport:
    return compute(registry(), source(flagged), "2026-10", Filters(), NOW)


def counts(row: dict[str, Any], names: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(int(row[n]) for n in names)


def test_every_csv_level_counts_the_discarded_tests_after_the_figures() -> None:
    files = to_csv_files(report(), "en")
    for level, expected in EXPECTED.items():
        rows = list(csv.DictReader(io.StringIO(files[level])))
        assert tuple(rows[0]) == (*COLUMNS, *COUNT_COLUMNS)
        assert {r["id"]: counts(r, COUNT_COLUMNS) for r in rows} == expected, level
    # a column sums at every level to the total, never counting a point twice
    total = EXPECTED["total"]["total"]
    for level in ("point", "kelurahan", "kecamatan", "provider"):
        sums = tuple(sum(c[i] for c in EXPECTED[level].values()) for i in range(len(total)))
        assert sums == total, level


def test_the_indonesian_csv_has_indonesian_discard_headers() -> None:
    text = render(report(), "csv", "id", "provider")
    rows = list(csv.DictReader(io.StringIO(text), delimiter=";"))
    assert tuple(rows[0])[-len(HEADERS_ID) :] == HEADERS_ID
    assert {r["id"]: counts(r, HEADERS_ID) for r in rows} == EXPECTED["provider"]


def test_the_xlsx_level_sheets_count_them_and_its_report_sheet_says_so() -> None:
    book = load_workbook(io.BytesIO(render_binary(report(), "xlsx", "en")), read_only=True)
    for level, expected in EXPECTED.items():
        values = list(book[level].iter_rows(values_only=True))
        header = values[0]
        assert header[-len(COUNT_COLUMNS) :] == COUNT_COLUMNS
        rows = [dict(zip(header, row, strict=True)) for row in values[1:]]
        assert {r["id"]: tuple(r[n] for n in COUNT_COLUMNS) for r in rows} == expected, level
    first = {r[0]: r[1] for r in book["report"].iter_rows(values_only=True)}
    assert first["speed_tests_discarded"] == NOTICE_EN
    book_id = load_workbook(io.BytesIO(render_binary(report(), "xlsx", "id")), read_only=True)
    header = next(book_id["total"].iter_rows(values_only=True))
    assert header[-len(HEADERS_ID) :] == HEADERS_ID
    first = {r[0]: r[1] for r in book_id["report"].iter_rows(values_only=True)}
    assert first["speed_tests_discarded"] == NOTICE_ID


def test_the_first_page_has_one_line_on_them_in_both_languages() -> None:
    r = report()
    for lang, line, contract in (
        ("en", NOTICE_EN, "Contract in force"),
        ("id", NOTICE_ID, "Kontrak yang berlaku"),
    ):
        body = render(r, "html", lang).split("<body>\n", 1)[1]
        assert body.count(line) == 1
        at = body.index(f'<p class="discarded">{line}</p>')
        assert body.index('<section class="verdict">') < at < body.index(contract)
        assert at < body.index('<div class="cards">')
    table = render(r, "table", "en").splitlines()
    assert table[3] == NOTICE_EN  # title, then a verdict line per provider, then this


def test_a_report_with_every_test_counted_has_no_line_and_zero_counts() -> None:
    r = report(flagged=False)
    files = to_csv_files(r, "en")
    for level in EXPECTED:
        rows = list(csv.DictReader(io.StringIO(files[level])))
        assert {counts(row, COUNT_COLUMNS) for row in rows} == {NONE}
    html = render(r, "html", "en")
    assert 'class="discarded"' not in html and "discarded:" not in render(r, "table", "en")
    book = load_workbook(io.BytesIO(render_binary(r, "xlsx", "en")), read_only=True)
    assert "speed_tests_discarded" not in {
        row[0] for row in book["report"].iter_rows(values_only=True)
    }
