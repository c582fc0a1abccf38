"""The public page as files: `index.html` (Bahasa Indonesia), `en.html` (English) and
`data.json` (the same figures, open data).

Each HTML file stands alone: styles inline, no script, no font, no image or map tile from
anywhere; the map is an inline SVG of the kelurahan drawn at their coordinates, each a link to
its card. Laid out for a phone first (one column at 390 px), two columns on a wide screen, and
A4 when printed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Sequence
from html import escape

from pantau.collector.publish.data import FAIR, GOOD, POOR, UNKNOWN, PublicFigures, PublicPage
from pantau.collector.report.i18n import duration, judged_number, number
from pantau.collector.sla.periods import from_ms

PAGES = {"id": "index.html", "en": "en.html"}
DATA_FILE = "data.json"
COLOURS = {GOOD: "#2e7d32", FAIR: "#f9a825", POOR: "#c62828", UNKNOWN: "#9e9e9e"}
MAP_WIDTH = 400  # SVG user units; the map scales to the screen
MAP_PAD = 14
DOT_R = 10  # the closest two Cilegon kelurahan are 20 units apart at this width

MONTHS = {
    "id": (
        "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
        "September", "Oktober", "November", "Desember",
    ),
    "en": (
        "January", "February", "March", "April", "May", "June", "July", "August",
        "September", "October", "November", "December",
    ),
}  # fmt: skip

_TEXT: dict[str, tuple[str, str]] = {
    "title": ("Wi-Fi Publik {city}", "Public Wi-Fi in {city}"),
    "subtitle": ("Kinerja bulan {month}", "How it did in {month}"),
    "intro": (
        "Seberapa sering Wi-Fi publik gratis di setiap kelurahan dapat dipakai, dan seberapa"
        " cepat, dibandingkan dengan janji penyedia dalam kontrak dengan Pemerintah Kota.",
        "How often the free public Wi-Fi in each kelurahan could be used, and how fast it was,"
        " against what the provider promised in its contract with the city.",
    ),
    "provisional": (
        "Angka sementara: bulan {month} belum selesai. Data sampai {now} WIB; halaman ini"
        " diperbarui berkala.",
        "Provisional figures: {month} is not over. Data up to {now} WIB; this page is updated"
        " regularly.",
    ),
    "other_lang": ("English", "Bahasa Indonesia"),
    "city_avail": ("Ketersediaan di seluruh kota", "Available, whole city"),
    "city_speed": ("Kecepatan unduh (median)", "Download speed (median)"),
    "city_kel": ("Kelurahan memenuhi target", "Kelurahan meeting the target"),
    "promised": ("dijanjikan {mbps} Mbps", "promised {mbps} Mbps"),
    "target": ("target {pct} %", "target {pct} %"),
    "of": ("dari {n}", "of {n}"),
    "map_title": ("Peta kelurahan", "Map of the kelurahan"),
    "map_hint": (
        "Warna menurut ketersediaan. Ketuk nomor untuk rinciannya.",
        "Coloured by availability. Tap a number for its details.",
    ),
    "map_label": (
        "Peta {n} kelurahan {city}, diwarnai menurut ketersediaan",
        "Map of the {n} kelurahan of {city}, coloured by availability",
    ),
    GOOD: ("Memenuhi target", "Meets the target"),
    FAIR: ("Sedikit di bawah target", "Just under the target"),
    POOR: ("Jauh di bawah target", "Well under the target"),
    UNKNOWN: ("Belum ada data", "No data yet"),
    "list_title": ("Per kelurahan", "By kelurahan"),
    "kecamatan": ("Kecamatan {name}", "Kecamatan {name}"),
    "availability": ("Ketersediaan", "Available"),
    "speed": ("Kecepatan unduh", "Download speed"),
    "speed_peak": ("Pada jam sibuk malam", "In the evening peak"),
    "outages": ("Gangguan", "Outages"),
    "outages_value": ("{n} kali, total {time}", "{n}, {time} in all"),
    "points": ("Titik Wi-Fi", "Wi-Fi points"),
    "points_value": ("{n} titik, {ok} memenuhi target", "{n} points, {ok} meeting the target"),
    "tests": ("{n} uji kecepatan", "{n} speed tests"),
    "no_points": (
        "Belum ada titik Wi-Fi yang beroperasi bulan ini.",
        "No Wi-Fi point in service this month.",
    ),
    "how_title": ("Cara membaca angka ini", "How to read these figures"),
    "how_avail": (
        "Ketersediaan: bagian waktu layanan ketika internet di titik Wi-Fi berfungsi, diperiksa"
        " setiap menit oleh alat pemantau independen di setiap titik. Pemeliharaan terjadwal"
        " tidak dihitung, begitu pula gangguan yang lebih singkat dari batas dalam kontrak.",
        "Available: the share of service time in which the internet at the Wi-Fi points worked,"
        " checked every minute by an independent monitor at each point. Announced maintenance"
        " is left out, and so are interruptions shorter than the contract's threshold.",
    ),
    "how_speed": (
        "Kecepatan: median uji kecepatan unduh yang dijalankan alat pemantau beberapa kali"
        " sehari di setiap titik; separuh uji lebih cepat, separuh lebih lambat. Janji kontrak:"
        " {mbps} Mbps per titik.",
        "Speed: the median of the download tests the monitor runs several times a day at each"
        " point; half were faster, half slower. The contract promises {mbps} Mbps per point.",
    ),
    "how_same": (
        "Angka ini sama dengan laporan SLA bulanan yang dipakai untuk membayar penyedia (sidik"
        " jari sha256 {fp}). Tidak ada data pengguna di halaman ini.",
        "These are the figures of the monthly SLA report the provider is paid by (sha256"
        " fingerprint {fp}). Nothing on this page is about users.",
    ),
    "data": ("Unduh data (JSON)", "Download the data (JSON)"),
    "made": ("Dibuat {now} WIB · Pantau", "Made {now} WIB · Pantau"),
}

CSS = """
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans",
       Arial, sans-serif; font-size: 16px; line-height: 1.45; color: #1b1b1b; background: #fff;
       overflow-wrap: anywhere; }
main { max-width: 60rem; margin: 0 auto; padding: 0.75rem; }
header { display: flex; justify-content: space-between; align-items: baseline; gap: 0.5rem;
         flex-wrap: wrap; }
h1 { font-size: 1.45rem; margin: 0.2rem 0; }
h2 { font-size: 1.15rem; margin: 1.4rem 0 0.5rem; }
h3 { font-size: 1rem; margin: 1rem 0 0.4rem; color: #444; }
.sub { margin: 0; color: #444; font-size: 1.05rem; }
.lang { font-size: 0.95rem; }
a { color: #0b57a4; }
.notice { border-left: 4px solid #f9a825; background: #fff8e1; padding: 0.5rem 0.75rem;
          margin: 0.75rem 0; }
.summary { display: grid; grid-template-columns: repeat(auto-fit, minmax(10.5rem, 1fr));
           gap: 0.5rem; margin: 0.75rem 0; }
.stat { border: 1px solid #d6dbe1; border-radius: 0.5rem; padding: 0.5rem 0.7rem; }
.stat b { display: block; font-size: 1.6rem; line-height: 1.2; }
.stat span { color: #555; font-size: 0.9rem; }
figure { margin: 0; }
svg.map { display: block; width: 100%; max-width: 30rem; height: auto; margin: 0 auto; }
svg.map text { font: bold 10px sans-serif; fill: #fff; text-anchor: middle;
               dominant-baseline: central; pointer-events: none; }
svg.map .fair text, svg.map text.dark { fill: #1b1b1b; }
.legend { display: flex; flex-wrap: wrap; gap: 0.3rem 1rem; padding: 0; margin: 0.5rem 0;
          list-style: none; font-size: 0.9rem; }
.dot { display: inline-block; width: 0.85rem; height: 0.85rem; border-radius: 50%;
       vertical-align: -0.1rem; margin-right: 0.3rem; }
.hint { color: #555; font-size: 0.9rem; margin: 0.3rem 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(17rem, 1fr));
         gap: 0.6rem; }
.card { border: 1px solid #d6dbe1; border-left: 6px solid #9e9e9e; border-radius: 0.4rem;
        padding: 0.5rem 0.7rem; break-inside: avoid; page-break-inside: avoid; }
.card h4 { margin: 0 0 0.3rem; font-size: 1.05rem; }
.card h4 .n { display: inline-block; min-width: 1.6rem; padding: 0 0.25rem; margin-right: 0.35rem;
              border-radius: 0.8rem; text-align: center; color: #fff; font-size: 0.85rem; }
.card dl { margin: 0; display: grid; grid-template-columns: auto 1fr; gap: 0.15rem 0.6rem; }
.card dt { color: #555; }
.card dd { margin: 0; text-align: right; font-weight: bold; }
.card .note { grid-column: 1 / -1; color: #555; font-size: 0.85rem; margin-top: -0.3rem; }
.bar { position: relative; height: 0.45rem; background: #eceff1; border-radius: 0.25rem;
       margin: 0.1rem 0 0.35rem; grid-column: 1 / -1; }
.bar i { position: absolute; left: 0; top: 0; bottom: 0; border-radius: 0.25rem; }
.bar s { position: absolute; top: -0.15rem; bottom: -0.15rem; width: 2px; background: #1b1b1b; }
.how { color: #333; font-size: 0.95rem; }
footer { color: #555; font-size: 0.85rem; margin: 1.5rem 0 0.5rem; }
@media print {
  @page { size: A4; margin: 12mm; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body { font-size: 10pt; }
  main { max-width: none; padding: 0; }
  svg.map { max-height: 125mm; width: auto; max-width: 100%; }
  .cards { grid-template-columns: 1fr 1fr; }
  .lang { display: none; }
}
"""


def render_site(page: PublicPage) -> dict[str, bytes]:
    """File name → content, for every file of the site."""
    files = {name: render_page(page, lang).encode("utf-8") for lang, name in PAGES.items()}
    data = json.dumps(page.as_dict(), ensure_ascii=False, indent=1, allow_nan=False)
    files[DATA_FILE] = (data + "\n").encode("utf-8")
    return files


def translator(lang: str) -> Callable[..., str]:
    index = ("id", "en").index(lang)

    def t(key: str, **values: object) -> str:
        text = _TEXT[key][index]
        return text.format(**values) if values else text

    return t


def month_name(label: str, lang: str) -> str:
    year, mon = label.split("-")
    return f"{MONTHS[lang][int(mon) - 1]} {year}"


def render_page(page: PublicPage, lang: str) -> str:
    t = translator(lang)
    when = month_name(page.month, lang)
    title = t("title", city=page.city)
    other = "en" if lang == "id" else "id"
    parts = [
        "<header><div>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="sub">{escape(t("subtitle", month=when))}</p></div>',
        f'<a class="lang" href="{PAGES[other]}" hreflang="{other}" lang="{other}">'
        f"{escape(t('other_lang'))}</a></header>",
        f"<p>{escape(t('intro'))}</p>",
        _provisional(page, lang),
        _summary(page, lang),
        _map(page, lang),
        _cards(page, lang),
        _how(page, lang),
        _footer(page, lang),
    ]
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)} · {escape(when)}</title>\n"
        f'<link rel="alternate" hreflang="{other}" href="{PAGES[other]}">\n'
        f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(p for p in parts if p)
        + "\n</main>\n</body>\n</html>\n"
    )


def _now(ms: int) -> str:
    return f"{from_ms(ms):%d-%m-%Y %H:%M}"


def _provisional(page: PublicPage, lang: str) -> str:
    if not page.provisional:
        return ""
    t = translator(lang)
    text = t("provisional", month=month_name(page.month, lang), now=_now(page.generated_ms))
    return f'<p class="notice">{escape(text)}</p>'


def _pct(value: float | None, lang: str, decimals: int = 1) -> str:
    """Availability, judged unrounded: cut as the report shows it (89.96 is 89.9, not 90.0)."""
    return "–" if value is None else f"{judged_number(value, decimals, lang)} %"


def _mbps(value: float | None, lang: str) -> str:
    return "–" if value is None else f"{number(value, 1, lang)} Mbps"


def _promised(page: PublicPage) -> float | None:
    return page.city_total.promised_mbps


def _summary(page: PublicPage, lang: str) -> str:
    t = translator(lang)
    total = page.city_total
    judged = [k for k in page.kelurahan if k.rating != UNKNOWN]
    meeting = sum(1 for k in judged if k.rating == GOOD)
    promised = _promised(page)
    target = total.availability_target_pct
    stats = [
        (
            _pct(total.availability_pct, lang),
            t("city_avail")
            + (f" ({t('target', pct=number(target, 0, lang))})" if target is not None else ""),
        ),
        (
            _mbps(total.delivered_median_mbps, lang),
            t("city_speed")
            + (f" ({t('promised', mbps=number(promised, 0, lang))})" if promised else ""),
        ),
        (f"{meeting} {t('of', n=len(page.kelurahan))}", t("city_kel")),
    ]
    cells = "".join(
        f'<div class="stat"><b>{escape(v)}</b><span>{escape(label)}</span></div>'
        for v, label in stats
    )
    return f'<section class="summary">{cells}</section>'


def _legend(lang: str) -> str:
    t = translator(lang)
    items = "".join(
        f'<li><span class="dot" style="background:{COLOURS[r]}"></span>{escape(t(r))}</li>'
        for r in (GOOD, FAIR, POOR, UNKNOWN)
    )
    return f'<ul class="legend">{items}</ul>'


def project(
    places: Sequence[tuple[float, float]], width: float = MAP_WIDTH, pad: float = MAP_PAD
) -> tuple[list[tuple[float, float]], float]:
    """(lat, lon) → SVG (x, y) with north up, one degree of longitude shortened by cos(lat)
    so distances look right; and the height the width gives."""
    lats = [p[0] for p in places]
    lons = [p[1] for p in places]
    squeeze = math.cos(math.radians(sum(lats) / len(lats)))
    span_x = max((max(lons) - min(lons)) * squeeze, 1e-6)
    span_y = max(max(lats) - min(lats), 1e-6)
    scale = (width - 2 * pad) / span_x
    height = span_y * scale + 2 * pad
    points = [
        (pad + (lon - min(lons)) * squeeze * scale, pad + (max(lats) - lat) * scale)
        for lat, lon in places
    ]
    return points, height


def _map(page: PublicPage, lang: str) -> str:
    t = translator(lang)
    placed = [
        (n, k) for n, k in enumerate(page.kelurahan, 1) if k.lat is not None and k.lon is not None
    ]
    if not placed:
        return ""
    xy, height = project([(k.lat or 0.0, k.lon or 0.0) for _, k in placed])
    dots = []
    for (n, k), (x, y) in zip(placed, xy, strict=True):
        tip = f"{n}. {k.name}: {_pct(k.availability_pct, lang)} · {t(k.rating)}"
        dots.append(
            f'<a href="#{anchor(k.name)}" class="{k.rating}"><title>{escape(tip)}</title>'
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{DOT_R}" fill="{COLOURS[k.rating]}"'
            f' stroke="#fff" stroke-width="1.5"/>'
            f'<text x="{x:.1f}" y="{y:.1f}">{n}</text></a>'
        )
    label = t("map_label", n=len(page.kelurahan), city=page.city)
    svg = (
        f'<svg class="map" viewBox="0 0 {MAP_WIDTH} {height:.0f}" role="img"'
        f' aria-label="{escape(label)}">'
        f'<rect width="{MAP_WIDTH}" height="{height:.0f}" fill="#f4f7f9" rx="8"/>'
        + "".join(dots)
        + "</svg>"
    )
    return (
        f"<section><h2>{escape(t('map_title'))}</h2>"
        f'<p class="hint">{escape(t("map_hint"))}</p>'
        f"<figure>{svg}</figure>{_legend(lang)}</section>"
    )


def anchor(name: str) -> str:
    return "k-" + re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")


def _bar(value: float | None, full: float, colour: str, mark: float | None = None) -> str:
    width = 0.0 if value is None or full <= 0 else max(0.0, min(100.0, value / full * 100))
    marker = ""
    if mark is not None and full > 0:
        marker = f'<s style="left:{min(100.0, mark / full * 100):.1f}%"></s>'
    return f'<div class="bar"><i style="width:{width:.1f}%;background:{colour}"></i>{marker}</div>'


def _note(text: str) -> str:
    return f'<div class="note">{escape(text)}</div>' if text else ""


def _card(n: int, k: PublicFigures, lang: str) -> str:
    t = translator(lang)
    colour = COLOURS[k.rating]
    head = (
        f'<h4><span class="n" style="background:{colour};'
        f'{"color:#1b1b1b" if k.rating == FAIR else ""}">{n}</span>{escape(k.name)}</h4>'
    )
    if not k.points:
        return (
            f'<article class="card" id="{anchor(k.name)}" style="border-left-color:{colour}">'
            f"{head}<p>{escape(t('no_points'))}</p></article>"
        )
    target = k.availability_target_pct
    promised = k.promised_mbps
    speed_full = max(promised or 0.0, k.delivered_median_mbps or 0.0, 1.0) * 1.1
    rows = [
        f"<dt>{escape(t('availability'))}</dt><dd>{escape(_pct(k.availability_pct, lang, 2))}</dd>",
        _bar(k.availability_pct, 100.0, colour, target),
        _note(t("target", pct=number(target, 0, lang)) if target is not None else ""),
        f"<dt>{escape(t('speed'))}</dt><dd>{escape(_mbps(k.delivered_median_mbps, lang))}</dd>",
        _bar(k.delivered_median_mbps, speed_full, "#0b57a4", promised),
        _note(t("promised", mbps=number(promised, 0, lang)) if promised else ""),
        f"<dt>{escape(t('speed_peak'))}</dt><dd>{escape(_mbps(k.delivered_peak_mbps, lang))}</dd>",
        f"<dt>{escape(t('outages'))}</dt><dd>"
        + escape(
            t("outages_value", n=k.outages or 0, time=duration(k.outage_total_s or 0, lang))
            if k.outages
            else "0"
        )
        + "</dd>",
        f"<dt>{escape(t('points'))}</dt><dd>"
        + escape(t("points_value", n=k.points, ok=k.points_meeting_target or 0))
        + "</dd>",
    ]
    return (
        f'<article class="card" id="{anchor(k.name)}" style="border-left-color:{colour}">'
        f"{head}<dl>{''.join(rows)}</dl></article>"
    )


def _cards(page: PublicPage, lang: str) -> str:
    t = translator(lang)
    out = [f"<section><h2>{escape(t('list_title'))}</h2>"]
    current: str | None = None
    group: list[str] = []
    for n, k in enumerate(page.kelurahan, 1):
        if k.kecamatan != current:
            if group:
                out.append(f'<div class="cards">{"".join(group)}</div>')
                group = []
            current = k.kecamatan
            out.append(f"<h3>{escape(t('kecamatan', name=current or '–'))}</h3>")
        group.append(_card(n, k, lang))
    if group:
        out.append(f'<div class="cards">{"".join(group)}</div>')
    out.append("</section>")
    return "".join(out)


def _how(page: PublicPage, lang: str) -> str:
    t = translator(lang)
    promised = number(_promised(page), 0, lang)
    paragraphs = (
        t("how_avail"),
        t("how_speed", mbps=promised),
        t("how_same", fp=page.fingerprint[:16] + "…"),
    )
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        f'<section class="how"><h2>{escape(t("how_title"))}</h2>{body}'
        f'<p><a href="{DATA_FILE}" type="application/json">{escape(t("data"))}</a></p></section>'
    )


def _footer(page: PublicPage, lang: str) -> str:
    t = translator(lang)
    return f"<footer>{escape(t('made', now=_now(page.generated_ms)))}</footer>"
