"""The speed tests a report did not count, and why: per point and in total, for the JSON, the
speed section of the HTML (and so the PDF). Which tests count is decided in sla/capacity.py: a
low result only when the test server was not the bottleneck and a retest confirmed it.
"""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

from pantau.collector.report.compute import MonthReport
from pantau.collector.sla.capacity import DISCARD_REASONS, PointCapacity

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
    },
    "id": {
        "title": "Uji kecepatan yang tidak dihitung",
        "line": "{n} uji unduh tidak dihitung terhadap penyedia ({why}); {peak} di antaranya"
        " pada jam sibuk. {confirmed} hasil rendah yang dikonfirmasi uji ulang tetap dihitung.",
        "none": "Semua uji unduh dihitung: server uji tidak pernah menjadi hambatan.",
        "point": "Titik",
        "peak": "pada jam sibuk",
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
