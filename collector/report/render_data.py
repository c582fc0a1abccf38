"""Machine-readable renderings: CSV and JSON with the stable column names of sla.figures.

CSV: one row per point, kelurahan, kecamatan, provider and the total, told apart by `level`;
a report that is not final starts with one `# ` comment line saying why (notices.py).
JSON: the same figures grouped by level, plus the outage list and clients by hour of day, and
up front whether the report is final, its notices and the state of its evidence.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from pantau.collector.report.compute import MonthReport
from pantau.collector.report.notices import first_line, fix_command, notices
from pantau.collector.sla.figures import COLUMNS
from pantau.collector.sla.periods import from_ms

JSON_VERSION = 2  # 2: final, provisional, notices, evidence; money to be decided


def to_csv(report: MonthReport, lang: str = "en") -> str:
    out = io.StringIO()
    line = first_line(report, lang)
    if line:
        out.write(f"# {line}\n")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for figures in report.rows():
        writer.writerow(_cell(v) for v in figures.as_dict().values())
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(round(value, 6))
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
        },
        "generated": iso(report.generated_ms),
        "period": {
            "start": iso(report.period.start_ms),
            "end": iso(report.period.end_ms),
            "timezone": "Asia/Jakarta",
        },
        "filters": report.filters.as_dict(),
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


def to_json(report: MonthReport, lang: str = "en") -> str:
    return json.dumps(to_dict(report, lang), ensure_ascii=False, indent=1) + "\n"
