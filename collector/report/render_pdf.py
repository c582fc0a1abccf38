"""`--format pdf`: the HTML report printed to A4 by headless Chromium (the Debian package
`chromium`), with its own page margins, numbers and footer (render_html.py's @page rules) and
without the browser's header and footer. Nothing is fetched: the HTML is self-contained, and
Chromium runs with networking features off in a throwaway profile."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from pantau.collector.report.compute import MonthReport
from pantau.collector.report.render_html import render_html
from pantau.shared.errors import ConfigError

TIMEOUT_S = 180
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-pdf-header-footer",
)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        raise ConfigError("--format pdf needs Chromium: apt-get install chromium")
    return found


def render_pdf(report: MonthReport, lang: str) -> bytes:
    return html_to_pdf(render_html(report, lang))


def html_to_pdf(html: str) -> bytes:
    browser = chromium()
    with tempfile.TemporaryDirectory(prefix="pantau-pdf-") as tmp:
        page = Path(tmp) / "report.html"
        pdf = Path(tmp) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        args = [browser, *FLAGS, f"--user-data-dir={tmp}/profile", f"--print-to-pdf={pdf}"]
        try:
            done = subprocess.run(
                [*args, page.as_uri()], capture_output=True, text=True, timeout=TIMEOUT_S
            )
        except subprocess.TimeoutExpired as exc:
            raise ConfigError(f"chromium did not print the report within {TIMEOUT_S} s") from exc
        if done.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise ConfigError(
                f"chromium could not print the report (exit {done.returncode}): {last}"
            )
        return pdf.read_bytes()
