"""`pantau publish` end to end: a month of the Cilegon registry's rollups and speed tests in a
real influxd, the command run as a timer would run it, and the page it writes opened in headless
Chromium at a phone's width (390 px) and printed on A4.

The month: 43 kelurahan × 2 points (tests/report_fixtures.py), with Ciwaduk's points down for
five days (well under the 95 % target: red) and Kebonsari's for two and a half (just under it:
amber)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import replace
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader

from pantau.collector.admin.registry_cli import dump, generate, read_kelurahan_csv
from pantau.collector.lab.services import Service
from pantau.collector.publish.data import FAIR, GOOD, POOR, public_page
from pantau.collector.publish.render import COLOURS
from pantau.collector.report.cli import compute
from pantau.collector.report.compute import Filters
from pantau.collector.sla.periods import DAY_MS, month
from pantau.shared.registry import load_registry
from tests.integration.test_report_daily import store_hourly
from tests.pipeline import PANTAU, influx
from tests.report_fixtures import MemorySource, synthetic_month
from tests.unit.sla.helpers import wib

CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "cilegon_kelurahan.csv"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs the Debian package chromium (make setup installs it)"
)
OCT = month("2026-10")
NOW_S = wib(2026, 11, 2, 6, 0) // 1000  # the page made on 2 November: October is final
DATABASE = "publish_page"
PHONE_W, PHONE_H = 390, 1600
DOWN = {"Ciwaduk": (3, 5.0), "Kebonsari": (10, 2.5)}  # kelurahan: (first day, days down)
IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b|\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){3,}\b", re.I)


def degrade(memory: MemorySource, ids: dict[str, str]) -> None:
    """Every minute of DOWN's days 'D' at the points of those kelurahan."""
    for point, rows in memory._rollups.items():
        if ids[point] not in DOWN:
            continue
        first, days = DOWN[ids[point]]
        start = OCT.start_ms + (first - 1) * DAY_MS
        end = start + int(days * DAY_MS)
        for hour, row in rows.items():
            if start <= hour < end:
                rows[hour] = replace(row, states="D" * 60)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, influxd: Service) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("publish")
    data = generate(read_kelurahan_csv(CSV), 2, "Awinet")
    registry_file = tmp / "registry.yaml"
    registry_file.write_text(dump(data, source=CSV.name), encoding="utf-8")
    registry = load_registry(registry_file)
    memory = synthetic_month(registry, OCT)
    degrade(memory, {p.id: p.kelurahan for p in registry.points})
    db = influx(influxd.url, DATABASE)
    db.query_raw(f'DROP DATABASE "{DATABASE}"')
    db.ensure_database()
    store_hourly(db, memory, registry)
    out = tmp / "www"
    done = subprocess.run(
        [
            *PANTAU,
            "publish",
            "--month", "2026-10",
            "--out", str(out),
            "--registry", str(registry_file),
            "--influx-url", influxd.url,
            "--database", DATABASE,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "SOURCE_DATE_EPOCH": str(NOW_S)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = public_page(
        compute(registry, memory, "2026-10", Filters(), NOW_S * 1000), registry
    ).as_dict()
    return {"out": out, "stdout": done.stdout, "expected": expected, "tmp": tmp}


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
    ]
    return subprocess.run(
        [CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=90, check=True
    )


def test_the_page_holds_the_reports_figures_read_from_influxd(site: dict[str, Any]) -> None:
    out: Path = site["out"]
    assert sorted(p.name for p in out.iterdir()) == ["data.json", "en.html", "index.html"]
    assert site["stdout"].strip() == (
        f"{out / 'index.html'}: public page for 2026-10 (final), 43 kelurahan, 86 points"
    )
    data = json.loads((out / "data.json").read_text())
    assert data == site["expected"]  # from influxd exactly what the report computes in memory
    ratings = {k["name"]: k["rating"] for k in data["kelurahan"]}
    assert (ratings["Ciwaduk"], ratings["Kebonsari"]) == (POOR, FAIR)
    assert {r for n, r in ratings.items() if n not in DOWN} == {GOOD}
    ciwaduk = next(k for k in data["kelurahan"] if k["name"] == "Ciwaduk")
    assert 83 < ciwaduk["availability_pct"] < 84.5  # 5 of 31 days down, less the usual outages
    assert data["provisional"] is False


def test_no_external_url_and_no_address(site: dict[str, Any]) -> None:
    names = [k["name"] for k in site["expected"]["kelurahan"]]
    assert len(names) == 43
    for page in ("index.html", "en.html"):
        html = (site["out"] / page).read_text(encoding="utf-8")
        urls = Urls()
        urls.feed(html)
        assert urls.urls and not [u for u in urls.urls if re.match(r"^([a-z][\w+.-]*:|//)", u)]
        assert "<script" not in html and "url(" not in html and "@import" not in html
        assert not IP.search(html), IP.search(html)
        for name in names:
            assert f">{name}</h4>" in html, (page, name)


class Urls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [(v or "").lower() for k, v in attrs if k in ("src", "href", "xlink:href")]


def test_fits_a_phone_and_shows_its_colours(site: dict[str, Any], tmp_path: Path) -> None:
    png = tmp_path / "phone.png"
    page = (site["out"] / "index.html").as_uri()
    chromium(
        tmp_path / "profile", f"--screenshot={png}", f"--window-size={PHONE_W},{PHONE_H}", page
    )
    image = Image.open(png).convert("RGB")
    assert image.size == (PHONE_W, PHONE_H)
    colors = image.getcolors(maxcolors=1_000_000)
    assert colors is not None and len(colors) > 50  # text, map and cards: not a blank page
    found = {rating: _count(image, COLOURS[rating]) for rating in (GOOD, FAIR, POOR)}
    assert min(found.values()) > 20, found  # the map's dots in all three colours
    # the layout's width as the browser computed it: the page in a frame of the phone's width
    # (headless windows are at least 500 px wide), measured by the probe page around it
    html = (site["out"] / "index.html").read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(
        f'<!DOCTYPE html><html><body style="margin:0"><iframe srcdoc="{escape(html)}"'
        f' style="width:{PHONE_W}px;height:{PHONE_H}px;border:0" onload="'
        "var d = this.contentDocument; document.body.dataset.width ="
        " d.scrollingElement.scrollWidth + ',' + d.documentElement.clientWidth;"
        '"></iframe></body></html>',
        encoding="utf-8",
    )
    dom = chromium(tmp_path / "profile", "--dump-dom", probe.as_uri()).stdout
    found = re.search(r'data-width="(\d+),(\d+)"', dom)
    assert found is not None, dom[-500:]
    scroll_width, viewport = int(found.group(1)), int(found.group(2))
    assert viewport == PHONE_W
    assert scroll_width <= PHONE_W


def _count(image: Image.Image, colour: str) -> int:
    target = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
    pixels = image.load()
    assert pixels is not None
    return sum(
        1
        for x in range(image.width)
        for y in range(0, image.height, 2)
        if all(abs(a - b) <= 10 for a, b in zip(pixels[x, y], target, strict=True))
    )


def test_prints_on_a4(site: dict[str, Any], tmp_path: Path) -> None:
    pdf = tmp_path / "page.pdf"
    chromium(
        tmp_path / "profile",
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf}",
        (site["out"] / "index.html").as_uri(),
    )
    reader = PdfReader(pdf)
    assert len(reader.pages) >= 2
    for page in reader.pages:  # A4 is 595 × 842 pt
        box = page.mediabox
        assert abs(float(box.width) - 595) < 2 and abs(float(box.height) - 842) < 2
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in reader.pages))
    for kelurahan in site["expected"]["kelurahan"]:
        assert re.sub(r"\s+", "", kelurahan["name"]) in text, kelurahan["name"]
    assert "WiFiPublikKotaCilegon" in text.replace("-", "")
