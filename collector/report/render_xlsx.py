"""`--format xlsx`: one workbook (openpyxl) for whoever checks the figures in a spreadsheet.

Sheets: `report` (period, verdict lines, notices, software version, fingerprint), one per
level (`point`, `kelurahan`, `kecamatan`, `provider`, `total`: the CSV's columns and headers,
the speed tests not counted and why among them, numbers as numbers, so a column sums without
counting a point twice), `contract` (the contract in force, one setting a row) and `outages`
(every outage in the period). The `report` sheet's `speed_tests_discarded` row is the first
page's line on discarded speed tests, when there were any.
"""

from __future__ import annotations

import io
import json
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from pantau.collector.report import discards
from pantau.collector.report.compute import MonthReport
from pantau.collector.report.notices import notices
from pantau.collector.report.render_data import (
    LEVELS,
    contract_dict,
    iso,
    table_headers,
    table_rows,
)
from pantau.collector.report.verdict import verdicts
from pantau.shared import __version__

BOLD = Font(bold=True)


def render_xlsx(report: MonthReport, lang: str) -> bytes:
    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "report"
    rows: list[list[Any]] = [
        ["city", report.city],
        ["month", report.period.label],
        ["period_start", iso(report.period.start_ms)],
        ["period_end", iso(report.period.end_ms)],
        ["final", report.final],
        ["provisional", report.provisional],
        ["software_version", __version__],
        ["fingerprint_sha256", report.fingerprint],
        ["generated", iso(report.generated_ms)],
    ]
    rows += [["verdict", v.line(lang)] for v in verdicts(report)]
    rows += [["notice", n] for n in notices(report, lang)]
    discarded = discards.notice(report, lang)
    if discarded:
        rows.append(["speed_tests_discarded", discarded])
    for row in rows:
        first.append(row)
    for level in LEVELS:
        sheet = book.create_sheet(level)
        sheet.append(table_headers(lang))
        for row in table_rows(report, level):
            sheet.append(row)
        _header_style(sheet)
    contract = book.create_sheet("contract")
    contract.append(["provider", "contract", "kelurahan", "setting", "value"])
    for c in report.contracts:
        data = contract_dict(c)
        scopes = [("", data["terms"]), *data["kelurahan"].items()]
        for field in ("valid_from", "valid_until", "points"):
            contract.append([c.provider, c.id, "", field, data[field]])
        for kelurahan, terms in scopes:
            for key, value in _flat(terms):
                contract.append([c.provider, c.id, kelurahan, key, value])
    _header_style(contract)
    outages = book.create_sheet("outages")
    outages.append(
        ["point", "kelurahan", "start", "end", "duration_s", "continues_before", "continues_after"]
    )
    for o in report.outages:
        outages.append(
            [
                o.point,
                o.kelurahan,
                iso(o.run.start_ms),
                iso(o.run.end_ms),
                o.run.duration_s,
                o.run.continues_before,
                o.run.continues_after,
            ]
        )
    _header_style(outages)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _flat(terms: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Settings as dotted names; lists (schedules) as their JSON text."""
    found: list[tuple[str, Any]] = []
    for key, value in terms.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            found += _flat(value, f"{name}.")
        elif isinstance(value, list):
            found.append((name, json.dumps(value)))
        else:
            found.append((name, value))
    return found


def _header_style(sheet: Any) -> None:
    for cell in sheet[1]:
        cell.font = BOLD
    sheet.freeze_panes = "A2"
