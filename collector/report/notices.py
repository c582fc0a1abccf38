"""What a reader must know before trusting a report's amounts, said on its first line: the
month is not over, rollups are missing or late (and the command that fixes it), data stored for
points the registry does not list (and what the operator must do), points without any usable
data, and the money left to be decided because of them."""

from __future__ import annotations

from collections.abc import Iterable

from pantau.collector.report.compute import MonthReport
from pantau.collector.report.i18n import number, rupiah
from pantau.collector.report.unregistered import UnregisteredPoint
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
    "unregistered": (
        "TIDAK ADA DI REGISTRI: {points} titik dengan data tersimpan di {month} tanpa entri di"
        " registri, tidak termasuk laporan ini: {ids}; kembalikan tiap titik ke registri dengan"
        " `removed:` pada hari pertama titik itu tidak lagi beroperasi, lalu buat laporan lagi",
        "NOT IN THE REGISTRY: {points} point(s) with data stored in {month} but no registry"
        " entry, left out of this report: {ids}; put each back in the registry with `removed:`"
        " set to its first day out of service, then make the report again",
    ),
    "no_data": (
        "TANPA DATA: {points} titik tanpa satu menit pun yang dapat dinilai: {ids}",
        "NO DATA: {points} point(s) without a single minute to judge: {ids}",
    ),
    "low_coverage": (
        "DATA KURANG: {points} titik dengan kelengkapan data di bawah {minimum} % kontrak: {ids}",
        "LOW COVERAGE: {points} point(s) with data coverage under the contract's {minimum} %:"
        " {ids}",
    ),
    "not_enough_tests": (
        "UJI KURANG: {points} titik dengan kurang dari {minimum} uji kecepatan jam sibuk: {ids}",
        "NOT ENOUGH TESTS: {points} point(s) with fewer than {minimum} peak-window speed tests:"
        " {ids}",
    ),
    "undecided": (
        "BELUM DIPUTUSKAN: {amount} ({points} titik) tidak termasuk jumlah dibayar",
        "TO BE DECIDED: {amount} ({points} point(s)) left out of the net payable",
    ),
}


_ARCHIVE: dict[str, tuple[str, str]] = {
    "absent": (
        "TANPA ARSIP BUKTI: kolektor tidak menyimpan arsip pesan bertanda tangan, jadi angka ini"
        " tidak dapat diperiksa pihak ketiga",
        "NO EVIDENCE ARCHIVE: the collector keeps no archive of signed messages, so third"
        " parties cannot check these figures",
    ),
    "none_yet": (
        "Arsip bukti: belum ada checkpoint untuk {month}. Periksa: {command}",
        "Evidence archive: no checkpoint for {month} yet. Check: {command}",
    ),
    "checkpoint": (
        "Checkpoint arsip bukti {day}: {size} pesan, root {root}, ditandatangani kunci"
        " {signer}. Periksa: {command}",
        "Evidence archive checkpoint of {day}: {size} messages, root {root}, signed by key"
        " {signer}. Check: {command}",
    ),
}


def archive_line(report: MonthReport, lang: str) -> str:
    """The month's checkpoint and the command that checks the report against it, or that
    there is no archive to check it with (first page and JSON)."""
    index = 0 if lang == "id" else 1
    digest = report.archive
    if digest is None:
        return _ARCHIVE["absent"][index]
    if digest.last is None:
        return _ARCHIVE["none_yet"][index].format(month=digest.month, command=digest.command)
    last = digest.last
    return _ARCHIVE["checkpoint"][index].format(
        day=last.day,
        size=last.tree_size,
        root=last.root,
        signer=last.signer,
        command=digest.command,
    )


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
    if report.unregistered:
        found.append(unregistered_line(report, lang))
    if evidence.no_data_points:
        found.append(_points_line("no_data", evidence.no_data_points, index))
    figures = {d.figures.id: d.figures for d in report.points}
    if evidence.low_coverage_points:
        minimum = _same(figures[p].min_coverage_pct for p in evidence.low_coverage_points)
        found.append(_points_line("low_coverage", evidence.low_coverage_points, index, minimum))
    if evidence.not_enough_tests_points:
        minimum = _same(figures[p].speed_min_tests for p in evidence.not_enough_tests_points)
        found.append(
            _points_line("not_enough_tests", evidence.not_enough_tests_points, index, minimum)
        )
    total = report.total
    if total.points_to_be_decided_n:
        found.append(
            _TEXT["undecided"][index].format(
                amount=rupiah(total.to_be_decided_idr, lang), points=total.points_to_be_decided_n
            )
        )
    return found


def unregistered_line(report: MonthReport, lang: str) -> str:
    """The points the registry lost, each with the WIB days and the rows stored of it, so the
    operator can tell which entry was deleted and when the point left service."""
    index = 0 if lang == "id" else 1
    points = report.unregistered
    ids = ", ".join(_stored(p, lang) for p in points[:SHOWN_IDS])
    if len(points) > SHOWN_IDS:
        ids += ", …"
    return _TEXT["unregistered"][index].format(
        points=len(points), month=report.period.label, ids=ids
    )


def _stored(point: UnregisteredPoint, lang: str) -> str:
    what = []
    if point.first_ms is not None and point.last_ms is not None:
        first, last = f"{from_ms(point.first_ms):%Y-%m-%d}", f"{from_ms(point.last_ms):%Y-%m-%d}"
        what.append(first if first == last else f"{first}–{last}")
    if point.samples:
        what.append(f"{number(point.samples, 0, lang)} {'sampel' if lang == 'id' else 'samples'}")
    else:
        what.append(f"{point.hours} {'jam' if lang == 'id' else 'hour(s)'}")
    return f"{point.id} ({', '.join(what)})"


def _points_line(key: str, points: tuple[str, ...], index: int, minimum: object = None) -> str:
    ids = ", ".join(points[:SHOWN_IDS])
    if len(points) > SHOWN_IDS:
        ids += ", …"
    return _TEXT[key][index].format(points=len(points), ids=ids, minimum=minimum)


def _same(values: Iterable[object]) -> str:
    """The contract minimum the points share, as written; several: joined with '/'."""
    found = sorted({_plain(v) for v in values})
    return "/".join(found)


def _plain(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def first_line(report: MonthReport, lang: str) -> str | None:
    """The notices as the one line a report starts with, or None when it is final."""
    found = notices(report, lang)
    return " | ".join(found) if found else None
