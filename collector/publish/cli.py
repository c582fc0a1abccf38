"""`pantau publish`: the public page for residents, a static site written to a directory.

    pantau publish --config /etc/pantau/collector.yaml --month current --out /var/www/pantau

The figures are the monthly report's (`pantau.collector.report.cli.compute`), shaped for the
public by `data.py` and drawn by `render.py`. Each file is written beside its final name and
renamed over it, so a web server never serves half a page while a timer updates it.

Exit codes: 0 the site was written; 2 nothing written (bad arguments, InfluxDB unreachable, a
month not begun or without data: one line on standard error, the previous site left as it was).
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

from pantau.collector.publish.data import public_page
from pantau.collector.publish.render import PAGES, render_site
from pantau.collector.report.cli import compute, report_time_ms
from pantau.collector.report.compute import Filters
from pantau.collector.sla.periods import from_ms
from pantau.shared.errors import ConfigError

MONTH = re.compile(r"^\d{4}-\d{2}$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--month",
        required=True,
        help="YYYY-MM in WIB (Asia/Jakarta), or 'current' for the month under way (for a timer)",
    )
    parser.add_argument(
        "--out", required=True, help="directory for index.html, en.html and data.json"
    )
    from pantau.collector.store import add_store_arguments

    add_store_arguments(parser)


def month_label(value: str, now_ms: int) -> str:
    """The month asked for: YYYY-MM as given, 'current' the WIB month of now_ms."""
    if value == "current":
        return f"{from_ms(now_ms):%Y-%m}"
    if not MONTH.match(value):
        raise ConfigError(f"--month {value!r}: expected YYYY-MM (e.g. 2026-10) or 'current'")
    return value


def run(args: argparse.Namespace) -> int:
    now_ms = report_time_ms()
    label = month_label(args.month, now_ms)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a directory")
    from pantau.collector.report.reader import InfluxSource
    from pantau.collector.store import open_store

    registry, influx = open_store(args)
    try:
        report = compute(registry, InfluxSource(influx), label, Filters(), now_ms)
    finally:
        influx.close()
    page = public_page(report, registry)
    write_site(out, render_site(page))
    state = "provisional" if page.provisional else "final"
    print(
        f"{out / PAGES['id']}: public page for {label} ({state}),"
        f" {len(page.kelurahan)} kelurahan, {page.city_total.points} points"
    )
    return 0


def write_site(out: Path, files: dict[str, bytes]) -> None:
    """Every file written to a temporary name in `out`, then renamed over the old one (pages
    last, so a page never links to data not yet there)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name in sorted(files, key=lambda n: n.endswith(".html")):
            final = out / name
            partial = out / f".{name}.partial"
            partial.write_bytes(files[name])
            partial.chmod(0o644)  # read by the web server's user
            os.replace(partial, final)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot write: {exc.strerror}") from exc
