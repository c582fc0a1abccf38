"""The terminal rendering: a table per kelurahan with the provider summary, or the points when
the report is narrowed to a kelurahan or a point (drill down). A report that is not final
starts with one line saying why (notices.py); speed tests discarded are one line under the
verdicts (discards.py)."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pantau.collector.report import discards
from pantau.collector.report.compute import MonthReport
from pantau.collector.report.i18n import judged_number, number, rupiah, translator
from pantau.collector.report.notices import first_line
from pantau.collector.report.verdict import verdicts
from pantau.collector.sla.figures import Figures


def render_table(report: MonthReport, lang: str, console: Console) -> None:
    t = translator(lang)
    notice = first_line(report, lang)
    if notice:
        console.print(Text(notice, style="bold red"), soft_wrap=True)
    filters = report.filters.as_dict()
    where = (" · " + ", ".join(f"{k}={v}" for k, v in filters.items())) if filters else ""
    console.print(
        Text(f"{t('title')} · {report.city} · {report.period.label}{where}", style="bold")
    )
    for verdict in verdicts(report):
        console.print(Text(verdict.line(lang), style="bold"))
    discarded = discards.notice(report, lang)
    if discarded:
        console.print(discarded, soft_wrap=True)
    drill = bool(report.filters.kelurahan or report.filters.point)
    if drill:
        rows: Sequence[Figures] = [d.figures for d in report.points]
        console.print(_table(rows, t("point"), lang, with_kelurahan=True))
    else:
        console.print(_table(report.kelurahan, t("kelurahan"), lang, with_kelurahan=False))
    console.print(_table([*report.providers, report.total], t("provider"), lang, False))
    total = report.total
    if total.points_to_be_decided_n:
        console.print(
            f"? / * {t('to_be_decided')}: {rupiah(total.to_be_decided_idr, lang)}"
            f" ({total.points_to_be_decided_n} {t('points').lower()}), {t('not_in_net')}",
            soft_wrap=True,
        )


def _pct(value: float | None, lang: str, target: float | None = None) -> Text:
    """Availability, cut (not rounded) to two decimals: i18n.judged_number."""
    text = Text(judged_number(value, 2, lang))
    if value is not None and target is not None and value < target:
        text.stylize("bold red")
    return text


def _millions(value: float | None, lang: str) -> str:
    return number(None if value is None else value / 1e6, 2, lang)


def _money(f: Figures, value: float | None, lang: str, net: bool = False) -> str:
    """Millions of rupiah; '?' for a point whose payment is to be decided, and a '*' after a
    group's net payable that leaves out fees to be decided."""
    if f.level == "point" and f.to_be_decided_reason:
        return "?"
    text = _millions(value, lang)
    return f"{text} *" if net and f.to_be_decided_idr else text


def _hours(seconds: float | None, lang: str) -> str:
    return number(None if seconds is None else seconds / 3600, 1, lang)


def _table(rows: Sequence[Figures], first: str, lang: str, with_kelurahan: bool) -> Table:
    t = translator(lang)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, header_style="bold")
    table.add_column(first, no_wrap=True, max_width=22)
    if with_kelurahan:
        table.add_column(t("kelurahan"), no_wrap=True, max_width=16)
    else:
        table.add_column(t("points"), justify="right")

    def label(key: str) -> str:
        return t(key).replace(" ", "\n")

    for header in (
        label("availability") + "\n%",
        label("no_data") + "\n%",
        label("outages"),
        label("outage_time") + f"\n({t('hours_unit')})",
        label("median_speed") + "\nMbps",
        label("pct_committed"),
        "80/80\nMbps",
        "≥95/\n80–95/\n<80 %",
        label("deduction") + "\n(jt Rp)",
        label("net") + "\n(jt Rp)",
    ):
        # one phrase per header line, values never wrapped: narrow columns, whole numbers
        table.add_column(header, justify="right", no_wrap=True)
    for f in rows:
        second = (f.kelurahan or "") if with_kelurahan else str(f.points or 0)
        split = (
            (f.speed_class or "–")
            if f.level == "point"
            else f"{f.points_ge95_n or 0}/{f.points_80to95_n or 0}/{f.points_lt80_n or 0}"
        )
        speed_80 = f.speed_80_mbps if f.level == "point" else f.speed_80_80_mbps
        table.add_row(
            f.id,
            second,
            _pct(f.availability_pct, lang, f.availability_target_pct),
            number(f.no_data_pct, 1, lang),
            str(f.outages_n or 0),
            _hours(f.outage_total_s, lang),
            number(f.down_median_mbps, 1, lang),
            number(f.down_median_pct, 0, lang),
            number(speed_80, 1, lang),
            split,
            _money(f, f.deduction_idr, lang),
            _money(f, f.net_payable_idr, lang, net=True),
            style="bold" if f.level in ("provider", "total") else None,
        )
    return table
