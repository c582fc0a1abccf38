"""The HTML report in a real browser (headless Chromium): it renders, its charts are drawn,
and it prints on A4 pages."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from pantau.collector.admin.registry_cli import generate
from pantau.collector.report.cli import compute, render
from pantau.collector.report.compute import Filters
from pantau.collector.sla.periods import month
from pantau.shared.registry import parse_registry
from tests.report_fixtures import synthetic_month

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="needs the Debian package chromium (make setup installs it)"
)
WIDTH, HEIGHT = 1000, 3000
KELURAHAN = [
    {"kecamatan": "Jombang", "kelurahan": name}
    for name in ("Masigit", "Jombang Wetan", "Sukmajaya", "Panggung Rawi", "Gedong Dalem")
]


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
        f"--user-data-dir={profile}",
    ]
    return subprocess.run(
        [CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=90, check=True
    )


@pytest.fixture(scope="module")
def report_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    registry = parse_registry(generate(KELURAHAN, 6, "Awinet"), "test")
    source = synthetic_month(registry, month("2026-10"))
    report = compute(registry, source, "2026-10", Filters())
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render(report, "html", "id"), encoding="utf-8")
    return path


def test_screenshot_shows_the_charts(report_file: Path, tmp_path: Path) -> None:
    png = tmp_path / "shot.png"
    chromium(
        tmp_path / "profile",
        f"--screenshot={png}",
        f"--window-size={WIDTH},{HEIGHT}",
        report_file.as_uri(),
    )
    image = Image.open(png).convert("RGB")
    assert image.size == (WIDTH, HEIGHT)
    colors = image.getcolors(maxcolors=1_000_000)
    assert colors is not None and len(colors) > 50  # text, tables and charts, not a blank page
    pixels = image.load()
    assert pixels is not None
    # the availability chart's bars are green (#2e7d32) above the target: count them
    green = sum(
        1
        for x in range(0, WIDTH, 2)
        for y in range(0, HEIGHT, 2)
        if _near(pixels[x, y], (0x2E, 0x7D, 0x32))
    )
    assert green > 500


def _near(pixel: tuple[int, int, int], color: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 12 for a, b in zip(pixel, color, strict=True))


def test_dom_has_every_chart_drawn(report_file: Path, tmp_path: Path) -> None:
    dom = chromium(tmp_path / "profile", "--dump-dom", report_file.as_uri()).stdout
    charts = re.findall(r'<svg class="chart" data-chart="(\w+)"', dom)
    assert charts == ["availability", "speed", "outages", "clients"]
    for name in charts:
        body = dom.split(f'data-chart="{name}"', 1)[1].split("</svg>", 1)[0]
        assert body.count("<path") >= 10, name  # bars, ticks and axes were parsed as SVG
    assert "Ketersediaan per kelurahan" in dom and "Tabel potongan" in dom


def test_prints_on_a4(report_file: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    chromium(
        tmp_path / "profile",
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf}",
        report_file.as_uri(),
    )
    data = pdf.read_bytes()
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)
    assert len(boxes) >= 3  # summary, speed, outages, deductions start new pages
    for width, height in boxes:  # A4 is 595 × 842 pt
        assert abs(float(width) - 595) < 2 and abs(float(height) - 842) < 2
