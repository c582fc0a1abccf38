"""What a reader must know before trusting a report's amounts, said on its first line: the
month is not over, rollups are missing or late (and the command that fixes it), points without
any usable data, and the money left to be decided because of them."""

from __future__ import annotations

from pantau.collector.report.compute import MonthReport
from pantau.collector.report.i18n import rupiah
from pantau.collector.sla.periods import from_ms

SHOWN_IDS = 5  # point ids named in a notice before "…"

_TEXT: dict[str, tuple[str, str]] = {
    "provisional": (
        "SEMENTARA: {month} belum berakhir (laporan per {now} WIB); angka dan jumlah akan berubah",
        "PROVISIONAL: {month} is not over (report of {now} WIB); figures and amounts will change",
    ),
    "evidence": (
        "BUKTI BELUM LENGKAP: {missing} jam-titik berisi telemetri tanpa rollup, {stale} dengan"
        " rollup lebih lama dari telemetrinya, di {points} titik, sejak {oldest} WIB;"
        " perbaiki: {fix}",
        "EVIDENCE INCOMPLETE: {missing} point-hours with telemetry but no rollup, {stale} with"
        " a rollup older than their telemetry, at {points} point(s), from {oldest} WIB;"
        " fix: {fix}",
    ),
    "no_data": (
        "TANPA DATA: {points} titik tanpa satu menit pun yang dapat dinilai: {ids}",
        "NO DATA: {points} point(s) without a single minute to judge: {ids}",
    ),
    "undecided": (
        "BELUM DIPUTUSKAN: {amount} ({points} titik) tidak termasuk jumlah dibayar",
        "TO BE DECIDED: {amount} ({points} point(s)) left out of the net payable",
    ),
}


def fix_command(report: MonthReport) -> str:
    """The command that recomputes the rollups the report found missing or late."""
    return f"pantau rollup rebuild --month {report.period.label}"


def notices(report: MonthReport, lang: str) -> list[str]:
    """Each thing that keeps the report from being final, in one sentence; [] when final."""
    index = 0 if lang == "id" else 1
    found = []
    if report.provisional:
        found.append(
            _TEXT["provisional"][index].format(
                month=report.period.label, now=f"{from_ms(report.generated_ms):%Y-%m-%d %H:%M}"
            )
        )
    evidence = report.evidence
    if not evidence.complete:
        assert evidence.oldest_ms is not None
        found.append(
            _TEXT["evidence"][index].format(
                missing=evidence.missing_hours,
                stale=evidence.stale_hours,
                points=len(evidence.points),
                oldest=f"{from_ms(evidence.oldest_ms):%Y-%m-%d %H:%M}",
                fix=fix_command(report),
            )
        )
    if evidence.no_data_points:
        ids = ", ".join(evidence.no_data_points[:SHOWN_IDS])
        if len(evidence.no_data_points) > SHOWN_IDS:
            ids += ", …"
        found.append(_TEXT["no_data"][index].format(points=len(evidence.no_data_points), ids=ids))
    total = report.total
    if total.points_to_be_decided_n:
        found.append(
            _TEXT["undecided"][index].format(
                amount=rupiah(total.to_be_decided_idr, lang), points=total.points_to_be_decided_n
            )
        )
    return found


def first_line(report: MonthReport, lang: str) -> str | None:
    """The notices as the one line a report starts with, or None when it is final."""
    found = notices(report, lang)
    return " | ".join(found) if found else None
