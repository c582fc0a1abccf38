"""One self-contained HTML file that prints well on A4. The first page: what keeps the report
from being final (notices.py), one verdict line per provider (pay Rp X of Rp Y and the causes
that cost most, verdict.py), how many speed tests were discarded and why (when any were,
discards.py), the contract in force with its schedules, then the summary cards.
Then availability per kelurahan, delivered speed against committed, outage timeline, clients
by hour of day, deductions, data quality, and last a sign-off block (prepared, checked,
approved). Every printed page carries its number, the period, the software version and the
fingerprint of the inputs; a provisional month is watermarked. No scripts, no external files:
charts are inline SVG."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from html import escape

from pantau.collector.report import charts, discards
from pantau.collector.report.compute import MonthReport
from pantau.collector.report.i18n import duration, judged_number, number, rupiah, translator
from pantau.collector.report.notices import archive_line, notices
from pantau.collector.report.verdict import verdicts
from pantau.collector.sla.figures import Figures
from pantau.collector.sla.periods import from_ms
from pantau.collector.sla.speed import judged_mbps
from pantau.shared import __version__
from pantau.shared.registry import PenaltyBracket, Terms

TERMS_TABLE = '<table class="terms">'
SIGN_LINE = '<p class="sign">'
TIMELINE_ROWS = 40
OUTAGE_LIST_ROWS = 60

CSS = """
@page { size: A4; margin: 14mm 12mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 9pt; color: #212121;
       max-width: 186mm; margin: 0 auto; }
h1 { font-size: 15pt; margin: 0 0 2mm; }
h2 { font-size: 11.5pt; margin: 6mm 0 2mm; border-bottom: 1px solid #bbb; }
.meta { color: #555; margin-bottom: 3mm; }
table { border-collapse: collapse; width: 100%; margin: 2mm 0; font-size: 7.5pt; }
th, td { padding: 0.6mm 1.2mm; border-bottom: 0.5px solid #ddd; text-align: right; }
td.l, th.l { text-align: left; }
thead { display: table-header-group; }
thead th { background: #eef2f6; }
tr { page-break-inside: avoid; }
tr.sum td { font-weight: bold; border-top: 1px solid #888; }
.bad { color: #b71c1c; font-weight: bold; }
.cards { display: grid; grid-template-columns: repeat(4, 1fr); gap: 2mm; }
.card { border: 1px solid #ccd; border-radius: 1.5mm; padding: 1.5mm 2mm; }
.card b { display: block; font-size: 12pt; }
.card span { color: #555; font-size: 7.5pt; }
figure { margin: 2mm 0; page-break-inside: avoid; }
svg.chart { width: 100%; height: auto; }
section { page-break-inside: auto; }
section.newpage { page-break-before: always; }
ul.rules { margin: 1mm 0; padding-left: 5mm; color: #444; }
.note { color: #666; font-style: italic; }
.notice { border: 0.6mm solid #b71c1c; color: #b71c1c; font-weight: bold; padding: 1.5mm 2mm;
          margin: 0 0 3mm; }
.notice p { margin: 0.5mm 0; }
.archive { font-size: 6.5pt; color: #333; word-break: break-all; margin: 0 0 2mm; }
.verdict { border: 0.4mm solid #1a3d6d; padding: 1.5mm 2.5mm; margin: 0 0 3mm; }
.verdict p { margin: 0.8mm 0; font-size: 10.5pt; font-weight: bold; }
.discarded { font-weight: bold; margin: -1.5mm 0 3mm; }
table.terms td, table.terms th { text-align: left; }
.watermark { position: fixed; top: 38%; left: 0; right: 0; text-align: center; z-index: -1;
             font-size: 80pt; font-weight: bold; color: rgba(183, 28, 28, 0.13);
             transform: rotate(-30deg); }
.signoff { display: grid; grid-template-columns: repeat(3, 1fr); gap: 6mm; margin-top: 4mm;
           page-break-inside: avoid; }
.signoff div { border: 0.3mm solid #888; padding: 2mm; min-height: 48mm; }
.signoff p { margin: 2.5mm 0; border-bottom: 0.3mm dotted #999; padding-bottom: 1mm; }
.signoff p.sign { min-height: 16mm; }
"""


def render_html(report: MonthReport, lang: str, generated: dt.datetime | None = None) -> str:
    t = translator(lang)
    generated = generated or dt.datetime.now(tz=dt.UTC)
    drill = bool(report.filters.kelurahan or report.filters.point)
    groups: Sequence[Figures] = [d.figures for d in report.points] if drill else report.kelurahan
    group_word = t("point") if drill else t("kelurahan")
    parts = [
        _watermark(report, lang),
        _notice(report, lang),
        _head(report, lang, generated),
        _archive(report, lang),
        _verdicts(report, lang),
        _discarded(report, lang),
        _contracts(report, lang),
        _summary(report, lang),
        _availability(report, groups, group_word, lang),
        _speed(report, groups, group_word, lang),
        _outages(report, lang),
        _clients(report, lang),
        _deductions(report, groups, group_word, lang),
        _quality(report, groups, group_word, lang),
        _signoff(lang),
    ]
    title = f"{t('title')} · {report.city} · {report.period.label}"
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}{_page_css(report, lang)}</style>\n"
        "</head>\n<body>\n" + "\n".join(p for p in parts if p) + "\n</body>\n</html>\n"
    )


def _css_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _page_css(report: MonthReport, lang: str) -> str:
    """Printed pages: number of pages, period, version and fingerprint in the bottom margin."""
    t = translator(lang)
    start = from_ms(report.period.start_ms)
    end = from_ms(report.period.end_ms) - dt.timedelta(days=1)
    left = (
        f"{report.city} · {t('period')} {start:%Y-%m-%d} – {end:%Y-%m-%d} WIB · Pantau"
        f" {__version__} · {t('fingerprint')} sha256 {report.fingerprint}"
    )
    if report.archive is not None and report.archive.last is not None:
        last = report.archive.last
        left += f" · checkpoint {last.day} root {last.root} ({last.tree_size})"
    page = f"{t('page')} "
    of = f" {t('of')} "
    return (
        "\n@page { @bottom-left { content: " + _css_string(left) + "; font-size: 5.5pt;"
        " color: #555; width: 150mm; }\n  @bottom-right { content: "
        + _css_string(page)
        + " counter(page) "
        + _css_string(of)
        + " counter(pages); font-size: 7pt; } }\n"
    )


def _watermark(report: MonthReport, lang: str) -> str:
    if not report.provisional:
        return ""
    return f'<div class="watermark">{escape(translator(lang)("provisional_mark"))}</div>'


def _verdicts(report: MonthReport, lang: str) -> str:
    t = translator(lang)
    lines = "".join(f"<p>{escape(v.line(lang))}</p>" for v in verdicts(report))
    return f'<section class="verdict"><h2>{escape(t("sec_verdict"))}</h2>{lines}</section>'


def _discarded(report: MonthReport, lang: str) -> str:
    """Speed tests not counted, under the verdicts they weigh on; '' when every test counted
    (the speed section says so)."""
    line = discards.notice(report, lang)
    return f'<p class="discarded">{escape(line)}</p>' if line else ""


def _pct_text(value: float, lang: str = "en") -> str:
    text = f"{value:g}"
    return text.replace(".", ",") if lang == "id" else text


def _brackets(brackets: Sequence[PenaltyBracket]) -> str:
    ordered = sorted(brackets, key=lambda b: -b.below_pct)
    return "; ".join(
        f"< {_pct_text(b.below_pct)} % → {_pct_text(b.deduction_pct)} %" for b in ordered
    )


def _terms_rows(terms: Terms, lang: str) -> list[list[str]]:
    t = translator(lang)
    rows = [
        [t("fee_point"), rupiah(terms.fee_idr, lang)],
        [
            t("committed_speed"),
            f"{_pct_text(terms.down_mbps)} / {_pct_text(terms.up_mbps)} Mbps",
        ],
        [t("availability_target"), f"{_pct_text(terms.availability_target_pct)} %"],
        [t("outage_threshold"), f"{terms.outage_threshold_s} s"],
        [t("peak_window"), f"{terms.peak_start:%H:%M}–{terms.peak_end:%H:%M}"],
        [t("schedule_availability"), _brackets(terms.penalties) or t("none")],
        [t("no_data_down"), t("yes") if terms.no_data_counts_as_down else t("no")],
    ]
    speed = terms.speed
    if speed is None:
        rows.append([t("schedule_speed"), t("speed_none")])
    else:
        if speed.kind == "brackets":
            rule = f"{t('speed_brackets')}: {_brackets(speed.brackets)}"
        elif speed.kind == "per_mbps":
            rule = t("speed_per_mbps")
        else:
            c = speed.compliance
            rule = t("speed_compliance").format(
                tests=_pct_text(c.tests_share_pct),
                speed=_pct_text(c.speed_pct),
                lat=_pct_text(c.latency_share_pct),
                ms=_pct_text(c.latency_ms),
                ded=_pct_text(c.deduction_pct),
            )
        judged = judged_mbps(terms.down_mbps, speed)
        rows += [
            [t("schedule_speed"), f"{speed.kind}: {rule}"],
            [
                t("judged_speed"),
                t("judged_speed_value").format(
                    committed=_pct_text(terms.down_mbps),
                    allowance=_pct_text(speed.goodput_allowance_pct, lang),
                    judged=_pct_text(float(judged), lang),
                ),
            ],
            [t("min_tests"), str(speed.min_tests)],
        ]
    rows += [
        [t("combine"), f"{terms.combine}: {t('combine_' + terms.combine)}"],
        [t("min_coverage"), f"{_pct_text(terms.min_coverage_pct)} %"],
    ]
    return [[escape(a), escape(b)] for a, b in rows]


def _contracts(report: MonthReport, lang: str) -> str:
    t = translator(lang)
    parts = []
    for c in report.contracts:
        until = c.valid_until or t("open_ended")
        title = (
            f"{t('contract')} {c.id or '–'} · {t('provider')} {c.provider} · {t('valid')}"
            f" {c.valid_from or '–'} – {until} · {c.points} {t('points').lower()}"
        )
        table = _table(["", ""], _terms_rows(c.terms, lang), text_columns=2)
        overrides = "".join(
            f"<p><b>{escape(t('overrides'))}: {escape(kel)}</b></p>"
            + _table(["", ""], _terms_rows(terms, lang), text_columns=2)
            for kel, terms in c.overrides.items()
        )
        parts.append(
            f"<p><b>{escape(title)}</b></p>{table.replace('<table>', TERMS_TABLE, 1)}{overrides}"
        )
    return f"<section><h2>{escape(t('sec_contract'))}</h2>{''.join(parts)}</section>"


def _signoff(lang: str) -> str:
    t = translator(lang)
    boxes = "".join(
        f"<div><b>{escape(t(role))}</b>"
        + "".join(
            (SIGN_LINE if k == "signature" else "<p>") + f"{escape(t(k))}:</p>"
            for k in ("name", "position", "date", "signature")
        )
        + "</div>"
        for role in ("prepared", "checked", "approved")
    )
    return (
        f'<section class="newpage"><h2>{escape(t("sec_signoff"))}</h2>'
        f'<div class="signoff">{boxes}</div></section>'
    )


def _head(report: MonthReport, lang: str, generated: dt.datetime) -> str:
    t = translator(lang)
    start = from_ms(report.period.start_ms)
    end = from_ms(report.period.end_ms)
    filters = ", ".join(f"{k}: {v}" for k, v in report.filters.as_dict().items())
    meta = (
        f"{t('period')}: {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} WIB"
        f" · {t('generated')}: {generated.astimezone(start.tzinfo):%Y-%m-%d %H:%M} WIB"
        + (f" · {t('filters')}: {escape(filters)}" if filters else "")
    )
    return (
        f"<header><h1>{escape(t('title'))} — {escape(report.city)} —"
        f' {escape(report.period.label)}</h1>\n<div class="meta">{meta}</div></header>'
    )


def _archive(report: MonthReport, lang: str) -> str:
    """The month's checkpoint and the command that checks the report, on the first page."""
    return f'<p class="archive">{escape(archive_line(report, lang))}</p>'


def _notice(report: MonthReport, lang: str) -> str:
    """What keeps the report from being final, first thing in the body; '' when final."""
    found = notices(report, lang)
    if not found:
        return ""
    return '<div class="notice">' + "".join(f"<p>{escape(n)}</p>" for n in found) + "</div>"


def _money(f: Figures, value: float | None, lang: str) -> str:
    """Rupiah; '?' for a point whose payment is to be decided."""
    if f.level == "point" and f.to_be_decided_reason:
        return "?"
    return rupiah(value, lang)


def _card(value: str, label: str, bad: bool = False) -> str:
    cls = ' class="bad"' if bad else ""
    return f'<div class="card"><b{cls}>{escape(value)}</b><span>{escape(label)}</span></div>'


def _summary(report: MonthReport, lang: str) -> str:
    t = translator(lang)
    f = report.total
    target = f.availability_target_pct
    below = f.availability_pct is not None and target is not None and f.availability_pct < target
    split = f"{f.points_ge95_n or 0} / {f.points_80to95_n or 0} / {f.points_lt80_n or 0}"
    cards = [
        _card(str(f.points or 0), t("points")),
        _card(judged_number(f.availability_pct, 2, lang) + " %", t("availability"), below),
        _card(f"{f.points_meeting_target_n or 0} / {f.points or 0}", t("meets_target")),
        _card(number(f.no_data_pct, 1, lang) + " %", t("no_data")),
        _card(str(f.outages_n or 0), t("outages")),
        _card(duration(f.outage_total_s, lang), t("outage_time")),
        _card(duration(f.mttr_s, lang), t("mttr")),
        _card(str(f.short_interruptions_n or 0), t("short")),
        _card(number(f.down_median_mbps, 1, lang) + " Mbps", t("median_speed")),
        _card(number(f.down_median_pct, 0, lang) + " %", t("pct_committed")),
        _card(number(f.speed_80_80_mbps, 1, lang) + " Mbps", t("speed_80_80")),
        _card(split, t("split")),
        _card(number(f.rtt_median_ms, 0, lang) + " ms", t("rtt")),
        _card(number(f.loss_median_pct, 2, lang) + " %", t("loss")),
        _card(rupiah(f.fee_idr, lang), t("fee")),
        _card(rupiah(f.deduction_idr, lang), t("deduction"), bool(f.deduction_idr)),
        _card(rupiah(f.net_payable_idr, lang), t("net")),
        _card(rupiah(f.to_be_decided_idr, lang), t("to_be_decided"), bool(f.to_be_decided_idr)),
        _card(rupiah(f.idr_per_mbps, lang), t("idr_per_mbps")),
        _card(judged_number(f.coverage_pct, 1, lang) + " %", t("coverage")),
        _card(number(f.clients_peak, 0, lang), t("clients_peak")),
    ]
    providers = _table(
        [
            t("provider"),
            t("points"),
            t("availability") + " %",
            t("median_speed"),
            "80/80",
            t("fee"),
            t("deduction"),
            t("net"),
            t("to_be_decided"),
        ],
        [
            [
                escape(p.id),
                str(p.points or 0),
                _avail(p, lang),
                number(p.down_median_mbps, 1, lang),
                number(p.speed_80_80_mbps, 1, lang),
                rupiah(p.fee_idr, lang),
                rupiah(p.deduction_idr, lang),
                rupiah(p.net_payable_idr, lang),
                rupiah(p.to_be_decided_idr, lang),
            ]
            for p in report.providers
        ],
    )
    rules = "".join(
        f"<li>{escape(t(k))}</li>"
        for k in ("rule_minutes", "rule_outage", "rule_availability", "rule_capacity", "rule_money")
    )
    return (
        f'<section><h2>{escape(t("summary"))}</h2>\n<div class="cards">{"".join(cards)}</div>'
        f'\n{providers}\n<ul class="rules">{rules}</ul></section>'
    )


def _avail(f: Figures, lang: str) -> str:
    text = judged_number(f.availability_pct, 2, lang)
    target = f.availability_target_pct
    if f.availability_pct is not None and target is not None and f.availability_pct < target:
        return f'<span class="bad">{text}</span>'
    return text


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    total: Sequence[str] = (),
    text_columns: int = 1,
) -> str:
    """Cells are HTML already escaped by the caller (numbers, or escaped text). The first
    `text_columns` columns are names, aligned left; the rest are figures, aligned right."""

    def cells(row: Sequence[str], tag: str) -> str:
        return "".join(
            f'<{tag} class="l">{c}</{tag}>' if i < text_columns else f"<{tag}>{c}</{tag}>"
            for i, c in enumerate(row)
        )

    head = cells([escape(h) for h in headers], "th")
    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    foot = f'<tr class="sum">{cells(total, "td")}</tr>' if total else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}{foot}</tbody></table>"


def _figure(render: Callable[[], str]) -> str:
    return f"<figure>{render()}</figure>"


def _availability(report: MonthReport, groups: Sequence[Figures], word: str, lang: str) -> str:
    t = translator(lang)
    target = report.total.availability_target_pct or 95.0
    chart = _figure(
        lambda: charts.availability_bars(
            [g.id for g in groups], [g.availability_pct for g in groups], target, t("availability")
        )
    )

    def row(f: Figures) -> list[str]:
        return [
            escape(f.id),
            escape(f.kecamatan or ""),
            str(f.points or 0),
            _avail(f, lang),
            number(f.no_data_pct, 1, lang),
            str(f.outages_n or 0),
            duration(f.outage_total_s, lang),
            duration(f.outage_longest_s, lang),
            duration(f.mttr_s, lang),
            str(f.short_interruptions_n or 0),
        ]

    table = _table(
        [
            word,
            t("kecamatan"),
            t("points"),
            t("availability") + " %",
            t("no_data") + " %",
            t("outages"),
            t("outage_time"),
            t("longest"),
            t("mttr"),
            t("short"),
        ],
        [row(g) for g in groups],
        row(report.total) if len(groups) > 1 else (),
        text_columns=2,
    )
    return f"<section><h2>{escape(t('sec_availability'))}</h2>\n{chart}\n{table}</section>"


def _speed(report: MonthReport, groups: Sequence[Figures], word: str, lang: str) -> str:
    t = translator(lang)
    pcts = [p for d in report.points if (p := d.figures.down_median_pct) is not None]
    if pcts:
        chart = _figure(lambda: charts.speed_histogram(pcts, t("pct_axis"), t("points_axis")))
    else:
        chart = f'<p class="note">{escape(t("no_tests"))}</p>'

    def row(f: Figures) -> list[str]:
        speed = f.speed_80_mbps if f.level == "point" else f.speed_80_80_mbps
        split = (
            escape(f.speed_class or "–")
            if f.level == "point"
            else f"{f.points_ge95_n or 0} / {f.points_80to95_n or 0} / {f.points_lt80_n or 0}"
        )
        return [
            escape(f.id),
            number(f.committed_down_mbps, 0, lang),
            str(f.tests_n or 0),
            number(f.down_median_mbps, 1, lang),
            number(f.down_median_pct, 0, lang),
            number(f.peak_down_median_mbps, 1, lang),
            number(f.tests_ge_100_pct, 0, lang),
            number(f.tests_ge_80_pct, 0, lang),
            number(speed, 1, lang),
            split,
            number(f.speed_peak_pct, 2, lang),
            escape(_verdict_word(f, lang)),
            number(f.rtt_median_ms, 0, lang),
            number(f.loss_median_pct, 2, lang),
        ]

    table = _table(
        [
            word,
            t("committed"),
            t("tests"),
            t("median_speed"),
            t("pct_committed"),
            t("peak_median"),
            t("tests_ge_100"),
            t("tests_ge_80"),
            "80/80",
            "≥95/80–95/<80",
            t("speed_peak_pct"),
            t("speed_verdict"),
            "RTT ms",
            t("loss") + " %",
        ],
        [row(g) for g in groups],
        row(report.total) if len(groups) > 1 else (),
    )
    heading = f'<section class="newpage"><h2>{escape(t("sec_speed"))}</h2>'
    return f"{heading}\n{chart}\n{table}\n{discards.html(report, lang)}</section>"


def _outages(report: MonthReport, lang: str) -> str:
    t = translator(lang)
    if not report.outages:
        return (
            f"<section><h2>{escape(t('sec_outages'))}</h2>"
            f'<p class="note">{escape(t("no_outages"))}</p></section>'
        )
    totals: dict[str, int] = {}
    for o in report.outages:
        totals[o.point] = totals.get(o.point, 0) + o.run.duration_s
    worst = sorted(totals, key=lambda p: (-totals[p], p))
    rows = sorted(worst[:TIMELINE_ROWS])
    chart = _figure(
        lambda: charts.outage_timeline(report.outages, report.period, rows, t("day_axis"))
    )
    note = ""
    if len(worst) > TIMELINE_ROWS:
        note = f'<p class="note">+{len(worst) - TIMELINE_ROWS} {escape(t("more_points"))}</p>'
    longest = sorted(report.outages, key=lambda o: (-o.run.duration_s, o.run.start_ms))
    listed = sorted(longest[:OUTAGE_LIST_ROWS], key=lambda o: (o.run.start_ms, o.point))

    def when(ms: int, flag: bool) -> str:
        text = f"{from_ms(ms):%d-%m %H:%M}"
        return f"{text} ({escape(t('continues'))})" if flag else text

    table = _table(
        [t("point"), t("kelurahan"), t("start"), t("end"), t("duration")],
        [
            [
                escape(o.point),
                escape(o.kelurahan),
                when(o.run.start_ms, o.run.continues_before),
                when(o.run.end_ms, o.run.continues_after),
                duration(o.run.duration_s, lang),
            ]
            for o in listed
        ],
        text_columns=2,
    )
    return (
        f'<section class="newpage"><h2>{escape(t("sec_outages"))}</h2>\n{chart}\n{note}\n'
        f"<p><b>{len(listed)} {escape(t('longest_outages'))}</b></p>\n{table}</section>"
    )


def _clients(report: MonthReport, lang: str) -> str:
    t = translator(lang)
    chart = _figure(
        lambda: charts.clients_by_hour(
            report.clients_by_hour, t("hour_wib"), t("mean_clients_axis")
        )
    )
    f = report.total
    facts = (
        f"{t('clients_peak')}: {number(f.clients_peak, 0, lang)} · {t('clients_mean')}:"
        f" {number(f.clients_mean, 1, lang)} · {t('utilisation')}:"
        f" {number(f.rx_p95_mbps, 1, lang)} Mbps ({number(f.utilisation_p95_pct, 0, lang)} %)"
    )
    return f"<section><h2>{escape(t('sec_clients'))}</h2>\n{chart}\n<p>{facts}</p></section>"


def _deductions(report: MonthReport, groups: Sequence[Figures], word: str, lang: str) -> str:
    t = translator(lang)

    def row(f: Figures) -> list[str]:
        return [
            escape(f.id),
            str(f.points or 0),
            number(f.active_days, 1, lang),
            _avail(f, lang),
            number(f.no_data_pct, 1, lang),
            number(f.deduction_pct, 1, lang),
            rupiah(f.fee_idr, lang),
            _money(f, f.deduction_availability_idr, lang),
            _money(f, f.deduction_speed_idr, lang),
            _money(f, f.deduction_idr, lang),
            _money(f, f.net_payable_idr, lang),
            rupiah(f.to_be_decided_idr, lang),
            rupiah(f.idr_per_mbps, lang),
        ]

    headers = [
        word,
        t("points"),
        t("days"),
        t("availability") + " %",
        t("no_data") + " %",
        t("deduction") + " %",
        t("fee"),
        t("deduction_availability"),
        t("deduction_speed"),
        t("deduction"),
        t("net"),
        t("to_be_decided"),
        t("idr_per_mbps"),
    ]
    table = _table(headers, [row(g) for g in groups], row(report.total))
    deducted = [d.figures for d in report.points if d.figures.deduction_idr]
    points_table = (
        _table(headers, [row(f) for f in deducted])
        if deducted
        else f'<p class="note">{escape(t("none"))}</p>'
    )
    return (
        f'<section class="newpage"><h2>{escape(t("sec_deduction"))}</h2>\n{table}\n'
        f"<h2>{escape(t('sec_points_deducted'))}</h2>\n{points_table}\n"
        f"{_undecided(report, lang)}</section>"
    )


def _verdict_word(f: Figures, lang: str) -> str:
    if f.level != "point" or not f.speed_verdict:
        return "–"
    key = "speed_short" if f.speed_verdict == "short" else f.speed_verdict
    return translator(lang)(key)


def _undecided(report: MonthReport, lang: str) -> str:
    """The points whose fee is held back, why, and the amount at stake."""
    t = translator(lang)
    points = [d.figures for d in report.points if d.figures.to_be_decided_reason]
    if not points:
        return ""
    table = _table(
        [
            t("point"),
            t("kelurahan"),
            t("reason"),
            t("missing_hours"),
            t("stale_hours"),
            t("availability") + " %",
            t("to_be_decided"),
        ],
        [
            [
                escape(f.id),
                escape(f.kelurahan or ""),
                escape(t(f.to_be_decided_reason or "")),
                str(f.evidence_missing_hours or 0),
                str(f.evidence_stale_hours or 0),
                _avail(f, lang),
                rupiah(f.to_be_decided_idr, lang),
            ]
            for f in points
        ],
        text_columns=3,
    )
    return f"<h2>{escape(t('sec_undecided'))}</h2>\n{table}"


def _quality(report: MonthReport, groups: Sequence[Figures], word: str, lang: str) -> str:
    t = translator(lang)

    def row(f: Figures) -> list[str]:
        return [
            escape(f.id),
            number(f.samples_received, 0, lang),
            number(f.samples_expected, 0, lang),
            judged_number(f.coverage_pct, 1, lang),
            number(f.seq_gaps, 0, lang),
            number(f.unsynced_samples, 0, lang),
            number(f.minutes_device_unreachable, 0, lang),
        ]

    table = _table(
        [
            word,
            t("samples"),
            t("expected"),
            t("coverage") + " %",
            t("seq_gaps"),
            t("unsynced"),
            t("unreachable_min"),
        ],
        [row(g) for g in groups],
        row(report.total) if len(groups) > 1 else (),
    )
    return f"<section><h2>{escape(t('sec_quality'))}</h2>\n{table}</section>"
