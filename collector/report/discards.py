"""The speed tests a report did not count, and why: per point and in total, for the JSON, the
speed section of the HTML (and so the PDF); counted per row of every level for the CSV files and
the XLSX level sheets (COUNT_COLUMNS, after the figures' columns); and one line on the first
page when any test was discarded. Which tests count is decided in sla/capacity.py: a low result
only when the test server was not the bottleneck and a retest confirmed it.
"""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

from pantau.collector.report.compute import MonthReport
from pantau.collector.report.i18n import DISCARD_COLUMN_ID
from pantau.collector.sla.capacity import DISCARD_REASONS, PointCapacity
from pantau.collector.sla.month import PointDetail

REASONS = {
    "en": {
        "server_loaded": "server loaded",
        "server_busy": "server busy",
        "retest_passed": "retest passed",
        "not_confirmed": "not confirmed by a retest",
    },
    "id": {
        "server_loaded": "server uji sibuk (beban tinggi)",
        "server_busy": "server uji penuh",
        "retest_passed": "uji ulang lolos",
        "not_confirmed": "tidak dikonfirmasi uji ulang",
    },
}
WORDS = {
    "en": {
        "title": "Speed tests not counted",
        "line": "{n} download test(s) not counted against the provider ({why}); {peak} of them"
        " in the peak window. {confirmed} low result(s) confirmed by a retest count.",
        "none": "Every download test counted: no test server was the bottleneck.",
        "point": "Point",
        "peak": "in peak window",
        "notice": "{n} speed test(s) discarded: {why}",
    },
    "id": {
        "title": "Uji kecepatan yang tidak dihitung",
        "line": "{n} uji unduh tidak dihitung terhadap penyedia ({why}); {peak} di antaranya"
        " pada jam sibuk. {confirmed} hasil rendah yang dikonfirmasi uji ulang tetap dihitung.",
        "none": "Semua uji unduh dihitung: server uji tidak pernah menjadi hambatan.",
        "point": "Titik",
        "peak": "pada jam sibuk",
        "notice": "{n} uji kecepatan tidak dihitung: {why}",
    },
}


def _counts(pairs: tuple[tuple[str, int], ...]) -> dict[str, int]:
    return {reason: n for reason, n in pairs}


def point_fields(cap: PointCapacity) -> dict[str, Any]:
    """One point's discards (the figures' columns stay the documented ones)."""
    return {
        "tests_discarded_n": cap.discarded_n,
        "tests_discarded": _counts(cap.discarded),
        "peak_tests_discarded": _counts(cap.peak_discarded),
        "tests_confirmed_by_retest_n": cap.confirmations_n,
    }


def totals(report: MonthReport) -> dict[str, Any]:
    """Every point's discards added up, reasons in a fixed order."""
    all_, peak = Counter[str](), Counter[str]()
    for detail in report.points:
        all_.update(_counts(detail.capacity.discarded))
        peak.update(_counts(detail.capacity.peak_discarded))
    return {
        "tests_discarded_n": sum(all_.values()),
        "tests_discarded": {r: all_[r] for r in DISCARD_REASONS if all_[r]},
        "peak_tests_discarded": {r: peak[r] for r in DISCARD_REASONS if peak[r]},
        "tests_confirmed_by_retest_n": sum(d.capacity.confirmations_n for d in report.points),
    }


def as_dict(report: MonthReport) -> dict[str, Any]:
    """The JSON block `speed_tests_discarded`: totals, and every point that had a test
    discarded."""
    return totals(report) | {
        "points": {
            d.figures.id: point_fields(d.capacity) for d in report.points if d.capacity.discarded
        }
    }


def line(report: MonthReport, lang: str) -> str:
    words, reasons = WORDS[lang], REASONS[lang]
    found = totals(report)
    if not found["tests_discarded_n"]:
        return words["none"]
    why = ", ".join(f"{reasons[r]} {n}" for r, n in found["tests_discarded"].items())
    return words["line"].format(
        n=found["tests_discarded_n"],
        why=why,
        peak=sum(found["peak_tests_discarded"].values()),
        confirmed=found["tests_confirmed_by_retest_n"],
    )


def html(report: MonthReport, lang: str) -> str:
    """A paragraph, and a row per point with any test discarded."""
    words, reasons = WORDS[lang], REASONS[lang]
    out = [
        f"<h3>{escape(words['title'])}</h3>",
        f'<p class="note">{escape(line(report, lang))}</p>',
    ]
    rows = [d for d in report.points if d.capacity.discarded]
    if rows:
        head = "".join(f"<th>{escape(reasons[r])}</th>" for r in DISCARD_REASONS)
        out.append(f"<table><tr><th>{escape(words['point'])}</th>{head}</tr>")
        for d in rows:
            counts, peak = _counts(d.capacity.discarded), _counts(d.capacity.peak_discarded)
            cells = "".join(
                f"<td>{counts.get(r, 0)} ({peak.get(r, 0)} {escape(words['peak'])})</td>"
                for r in DISCARD_REASONS
            )
            out.append(f"<tr><td>{escape(d.figures.id)}</td>{cells}</tr>")
        out.append("</table>")
    return "\n".join(out)


# Columns the CSV files and the XLSX level sheets add after the figures' (sla.figures.COLUMNS):
# download tests not counted, in all and by reason, those of them in the peak window, and the
# retests that confirmed a low result. Whole counts at every level, so a column sums.
COUNT_COLUMNS = (
    "tests_discarded_n",
    *(f"tests_discarded_{reason}_n" for reason in DISCARD_REASONS),
    "peak_tests_discarded_n",
    "tests_confirmed_by_retest_n",
)


def count_headers(lang: str) -> list[str]:
    return [DISCARD_COLUMN_ID[c] for c in COUNT_COLUMNS] if lang == "id" else list(COUNT_COLUMNS)


def counts(points: list[PointDetail]) -> list[int]:
    """COUNT_COLUMNS' values over these points."""
    all_, peak = Counter[str](), Counter[str]()
    for detail in points:
        all_.update(_counts(detail.capacity.discarded))
        peak.update(_counts(detail.capacity.peak_discarded))
    return [
        sum(all_.values()),
        *(all_[r] for r in DISCARD_REASONS),
        sum(peak.values()),
        sum(d.capacity.confirmations_n for d in points),
    ]


def level_counts(report: MonthReport, level: str) -> list[list[int]]:
    """One row of counts per row of the level, in the level's order (render_data.level_rows):
    a point's own, a group's over the points in it (a group row's id is the kelurahan,
    kecamatan or provider its points name), the total's over every point."""
    if level == "point":
        return [counts([d]) for d in report.points]
    if level == "total":
        return [counts(report.points)]
    groups = {"kelurahan": report.kelurahan, "kecamatan": report.kecamatan}
    rows = groups.get(level, report.providers)
    return [
        counts([d for d in report.points if (getattr(d.figures, level) or "") == row.id])
        for row in rows
    ]


def notice(report: MonthReport, lang: str) -> str | None:
    """The first page's line when any test was discarded: how many, and why (the reasons in
    their fixed order); None when every test counted."""
    found = totals(report)
    if not found["tests_discarded_n"]:
        return None
    reasons = REASONS[lang]
    why = ", ".join(f"{n} {reasons[r]}" for r, n in found["tests_discarded"].items())
    return WORDS[lang]["notice"].format(n=found["tests_discarded_n"], why=why)
