"""matplotlib charts for the HTML report, returned as inline SVG text (text kept as text, so
the page stays searchable and small)."""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Sequence
from typing import ParamSpec

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from pantau.collector.report.compute import OutageRow
from pantau.collector.sla.periods import DAY_MS, Period

WIDTH_IN = 7.0
RED = "#c0392b"
GREEN = "#2e7d32"
AMBER = "#e0a100"
BLUE = "#1f5f99"
GREY = "#9e9e9e"
_XML_HEAD = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.DOTALL)

STYLE = {
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


P = ParamSpec("P")


def _styled(chart: Callable[P, str]) -> Callable[P, str]:
    """Draw inside our style, leaving matplotlib's global settings alone."""

    @functools.wraps(chart)
    def draw(*args: P.args, **kwargs: P.kwargs) -> str:
        with matplotlib.rc_context(STYLE):
            return chart(*args, **kwargs)

    return draw


def _figure(width_in: float, height_in: float) -> tuple[Figure, Axes]:
    """A figure without pyplot: no global figure registry, no GUI backend, a quicker import."""
    figure = Figure(figsize=(width_in, height_in))
    return figure, figure.subplots()


def _margins(figure: Figure, labels: Sequence[str] = (), left_in: float = 0.55) -> None:
    """Fixed margins (in inches) instead of bbox_inches="tight", which draws everything twice:
    room on the left for the longest y label, and for the x label below."""
    width, height = figure.get_size_inches()
    longest = max((len(label) for label in labels), default=0)
    left = max(left_in, 0.065 * longest + 0.2)
    figure.subplots_adjust(
        left=left / width, right=1 - 0.15 / width, top=1 - 0.1 / height, bottom=0.5 / height
    )


def to_svg(figure: Figure, name: str) -> str:
    """Inline SVG with ids salted by chart name, so several charts can share one page."""
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": name}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    svg = _METADATA.sub("", _XML_HEAD.sub("", buffer.getvalue(), count=1), count=1)
    return svg.replace("<svg ", f'<svg class="chart" data-chart="{name}" role="img" ', 1)


@_styled
def availability_bars(
    names: Sequence[str], values: Sequence[float | None], target: float, label: str
) -> str:
    """Horizontal bars, one per group; red below the target, a dashed target line."""
    height = max(1.6, 0.16 * len(names) + 0.6)
    figure, ax = _figure(WIDTH_IN, height)
    shown = [v if v is not None else 0.0 for v in values]
    colors = [GREY if v is None else (RED if v < target else GREEN) for v in values]
    ax.barh(range(len(names)), shown, color=colors, height=0.7)
    ax.set_yticks(range(len(names)), labels=list(names))
    ax.invert_yaxis()
    low = min([v for v in values if v is not None] + [target])
    ax.set_xlim(max(0.0, min(low - 5, 80.0)), 100.0)
    ax.axvline(target, color="black", linestyle="--", linewidth=0.8)
    ax.set_xlabel(label + " (%)")
    ax.tick_params(axis="y", labelsize=7)
    _margins(figure, names)
    return to_svg(figure, "availability")


@_styled
def speed_histogram(pcts: Sequence[float], xlabel: str, ylabel: str) -> str:
    """Distribution of each point's median download as % of committed, bands at 80 and 95."""
    figure, ax = _figure(WIDTH_IN, 2.6)
    edges = [float(e) for e in range(0, 130, 5)]
    clipped = [min(p, 124.9) for p in pcts]
    _counts, bins, patches = ax.hist(clipped, bins=edges, edgecolor="white")
    for patch, left in zip(patches, bins[:-1], strict=False):
        patch.set_facecolor(RED if left < 80 else (AMBER if left < 95 else GREEN))
    for x in (80, 95):
        ax.axvline(x, color="black", linestyle="--", linewidth=0.8)
    ax.set_xlim(0, 125)
    ax.set_xticks(range(0, 130, 10))
    ax.set_xlabel(xlabel + " (≥125 % → 125)")
    ax.set_ylabel(ylabel)
    _margins(figure)
    return to_svg(figure, "speed")


@_styled
def outage_timeline(
    outages: Sequence[OutageRow], period: Period, rows: Sequence[str], xlabel: str
) -> str:
    """One line per point (those given in `rows`), a bar per outage, x in days of the month."""
    height = max(1.4, 0.18 * len(rows) + 0.7)
    figure, ax = _figure(WIDTH_IN, height)
    index = {name: i for i, name in enumerate(rows)}
    spans: dict[str, list[tuple[float, float]]] = {name: [] for name in rows}
    for outage in outages:
        if outage.point in index:
            start = (outage.run.start_ms - period.start_ms) / DAY_MS
            spans[outage.point].append((start, (outage.run.end_ms - outage.run.start_ms) / DAY_MS))
    for name, bars in spans.items():
        # a minimum visible width, so a five-minute outage still shows on a month axis
        ax.broken_barh(
            [(s, max(w, 0.08)) for s, w in bars], (index[name] - 0.35, 0.7), facecolors=RED
        )
    ax.set_yticks(range(len(rows)), labels=list(rows))
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlim(0, period.days)
    ax.set_xticks(
        [d + 0.5 for d in range(period.days)], labels=[str(d + 1) for d in range(period.days)]
    )
    ax.set_xticks(range(period.days + 1), minor=True)
    ax.tick_params(axis="x", which="major", length=0, labelsize=6)
    ax.grid(axis="x", which="minor", color="#e0e0e0", linewidth=0.5)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel(xlabel)
    _margins(figure, rows)
    return to_svg(figure, "outages")


@_styled
def clients_by_hour(values: Sequence[float | None], xlabel: str, ylabel: str) -> str:
    figure, ax = _figure(WIDTH_IN, 2.2)
    ax.bar(range(24), [v or 0.0 for v in values], color=BLUE, width=0.8)
    ax.set_xticks(range(24), labels=[f"{h:02d}" for h in range(24)])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _margins(figure)
    return to_svg(figure, "clients")
