"""Machine-readable renderings: CSV and JSON with the stable column names of sla.figures.

CSV: one file per level (point, kelurahan, kecamatan, provider, total), so summing a column
never counts a point twice; the figures' columns, then the counts of speed tests not counted
and why (discards.COUNT_COLUMNS); `--lang en`: the column names, `,` and a decimal point; `--lang id`:
Indonesian headers, `;` and a decimal comma, as a spreadsheet set to Indonesian opens them.
Numbers with decimals are rounded to two, except availability and coverage, which are cut to
two (they are judged unrounded: 89.9977 shows 89.99, not 90.00); amounts are whole rupiah. A report that is not final
starts with one `# ` comment line saying why (notices.py).
JSON: the same figures grouped by level, plus the outage list and clients by hour of day, and
up front whether the report is final, its notices and the state of its evidence.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from pantau.collector.report import discards
from pantau.collector.report.compute import ContractInForce, MonthReport
from pantau.collector.report.i18n import COLUMN_ID, judged_number
from pantau.collector.report.notices import archive_line, first_line, fix_command, notices
from pantau.collector.report.unregistered import UnregisteredPoint
from pantau.collector.report.verdict import verdicts
from pantau.collector.sla.figures import COLUMNS, Figures
from pantau.collector.sla.periods import from_ms
from pantau.shared import __version__

JSON_VERSION = 3  # 2: final, provisional, notices, evidence; 3: verdicts, contracts, fingerprint


LEVELS = ("point", "kelurahan", "kecamatan", "provider", "total")
# shares judged against a contract bound without rounding (docs/sla.md): shown cut, not rounded
JUDGED_UNROUNDED = frozenset({"availability_pct", "coverage_pct"})


def level_rows(report: MonthReport, level: str) -> list[Figures]:
    return {
        "point": [d.figures for d in report.points],
        "kelurahan": report.kelurahan,
        "kecamatan": report.kecamatan,
        "provider": report.providers,
        "total": [report.total],
    }[level]


def headers(lang: str) -> list[str]:
    return [COLUMN_ID[c] for c in COLUMNS] if lang == "id" else list(COLUMNS)


def table_headers(lang: str) -> list[str]:
    """A level's CSV file and XLSX sheet: the figures' columns, then the discard counts."""
    return headers(lang) + discards.count_headers(lang)


def table_rows(report: MonthReport, level: str) -> list[list[Any]]:
    """The values under table_headers, one row per row of the level."""
    return [
        [*figures.as_dict().values(), *found]
        for figures, found in zip(
            level_rows(report, level), discards.level_counts(report, level), strict=True
        )
    ]


def to_csv(report: MonthReport, lang: str = "en", level: str = "point") -> str:
    """One level's rows."""
    out = io.StringIO()
    line = first_line(report, lang)
    if line:
        out.write(f"# {line}\n")
    writer = csv.writer(out, delimiter=";" if lang == "id" else ",", lineterminator="\n")
    writer.writerow(table_headers(lang))
    judged = [name in JUDGED_UNROUNDED for name in (*COLUMNS, *discards.COUNT_COLUMNS)]
    for row in table_rows(report, level):
        writer.writerow(cell(v, lang, cut) for v, cut in zip(row, judged, strict=True))
    return out.getvalue()


def to_csv_files(report: MonthReport, lang: str = "en") -> dict[str, str]:
    """Every level, one CSV text each."""
    return {level: to_csv(report, lang, level) for level in LEVELS}


def cell(value: Any, lang: str = "en", judged: bool = False) -> str:
    """One CSV value; `judged`: a share judged unrounded against a bound, cut to two decimals
    (i18n.judged_number) instead of rounded."""
    if value is None:
        return ""
    if isinstance(value, bool):
        if lang == "id":
            return "ya" if value else "tidak"
        return "true" if value else "false"
    if isinstance(value, float):
        text = judged_number(value, 2, "en").replace(",", "") if judged else f"{value:.2f}"
        return text.replace(".", ",") if lang == "id" else text
    return str(value)


def iso(ms: int) -> str:
    return from_ms(ms).isoformat()


def to_dict(report: MonthReport, lang: str = "en") -> dict[str, Any]:
    evidence = report.evidence
    return {
        "report": "pantau-sla",
        "version": JSON_VERSION,
        "city": report.city,
        "month": report.period.label,
        "final": report.final,
        "provisional": report.provisional,
        "notices": notices(report, lang),
        "evidence": {
            "complete": evidence.complete,
            "missing_hours": evidence.missing_hours,
            "stale_hours": evidence.stale_hours,
            "points": list(evidence.points),
            "oldest_hour": None if evidence.oldest_ms is None else iso(evidence.oldest_ms),
            "fix": None if evidence.complete else fix_command(report),
            "no_data_points": list(evidence.no_data_points),
            "low_coverage_points": list(evidence.low_coverage_points),
            "not_enough_tests_points": list(evidence.not_enough_tests_points),
            "unregistered_points": [unregistered_dict(p) for p in report.unregistered],
        },
        "software_version": __version__,
        "fingerprint": {"sha256": report.fingerprint},
        "archive": archive_dict(report, lang),
        "verdicts": [
            {
                "provider": v.provider,
                "fee_idr": v.fee_idr,
                "net_payable_idr": v.net_payable_idr,
                "to_be_decided_idr": v.to_be_decided_idr,
                "unregistered_points_n": v.unregistered_n,
                "causes": [
                    {"cause": c.cause, "kelurahan": c.kelurahan, "amount_idr": c.amount_idr}
                    for c in v.causes
                ],
                "line": v.line(lang),
            }
            for v in verdicts(report)
        ],
        "contracts": [contract_dict(c) for c in report.contracts],
        "generated": iso(report.generated_ms),
        "period": {
            "start": iso(report.period.start_ms),
            "end": iso(report.period.end_ms),
            "timezone": "Asia/Jakarta",
        },
        "filters": report.filters.as_dict(),
        "speed_tests_discarded": discards.as_dict(report),
        "total": report.total.as_dict(),
        "providers": [f.as_dict() for f in report.providers],
        "kecamatan": [f.as_dict() for f in report.kecamatan],
        "kelurahan": [f.as_dict() for f in report.kelurahan],
        "points": [d.figures.as_dict() for d in report.points],
        "outages": [
            {
                "point": o.point,
                "kelurahan": o.kelurahan,
                "start": iso(o.run.start_ms),
                "end": iso(o.run.end_ms),
                "duration_s": o.run.duration_s,
                "continues_before": o.run.continues_before,
                "continues_after": o.run.continues_after,
            }
            for o in report.outages
        ],
        "clients_by_hour": report.clients_by_hour,
    }


def unregistered_dict(point: UnregisteredPoint) -> dict[str, Any]:
    """A point with data stored in the month that the registry does not list, as stored."""
    return {
        "id": point.id,
        "providers": list(point.providers),
        "kelurahan": list(point.kelurahan),
        "kecamatan": list(point.kecamatan),
        "hours": point.hours,
        "samples": point.samples,
        "first": None if point.first_ms is None else iso(point.first_ms),
        "last": None if point.last_ms is None else iso(point.last_ms),
    }


def archive_dict(report: MonthReport, lang: str) -> dict[str, Any]:
    """The month's checkpoints and the command that checks this report against them; without
    an archive, only that there is none."""
    found: dict[str, Any] = (
        {"configured": False} if report.archive is None else report.archive.as_dict()
    )
    return found | {"notice": archive_line(report, lang)}


def contract_dict(contract: ContractInForce) -> dict[str, Any]:
    return {
        "provider": contract.provider,
        "id": contract.id,
        "valid_from": contract.valid_from,
        "valid_until": contract.valid_until,
        "points": contract.points,
        "terms": contract.terms.model_dump(mode="json"),
        "kelurahan": {k: t.model_dump(mode="json") for k, t in contract.overrides.items()},
    }


def to_json(report: MonthReport, lang: str = "en") -> str:
    return json.dumps(to_dict(report, lang), ensure_ascii=False, indent=1) + "\n"
