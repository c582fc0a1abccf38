"""The public page's data: the report's kelurahan figures, chosen and joined with coordinates,
never recomputed, and nothing that names a point, a person or an address."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pantau.collector.admin.registry_cli import generate, read_kelurahan_csv
from pantau.collector.publish.cli import month_label
from pantau.collector.publish.data import FAIR, GOOD, POOR, UNKNOWN, PublicPage, public_page
from pantau.collector.publish.render import PAGES, anchor, project, render_site
from pantau.collector.report.cli import compute
from pantau.collector.report.compute import Filters, MonthReport
from pantau.collector.sla.periods import month
from pantau.shared.errors import ConfigError
from pantau.shared.registry import Registry, parse_registry
from tests.report_fixtures import synthetic_month
from tests.unit.sla.helpers import wib

CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "cilegon_kelurahan.csv"
OCT = "2026-10"
NOW = wib(2026, 11, 3, 9, 0)  # October is over: the page is final
IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b|\b[0-9a-f]{1,4}(?::[0-9a-f]{0,4}){3,}\b", re.I)


def cilegon(per_kelurahan: int = 2) -> Registry:
    return parse_registry(generate(read_kelurahan_csv(CSV), per_kelurahan, "Awinet"), "test")


@pytest.fixture(scope="module")
def made() -> tuple[Registry, MonthReport, PublicPage]:
    registry = cilegon()
    report = compute(registry, synthetic_month(registry, month(OCT)), OCT, Filters(), NOW)
    return registry, report, public_page(report, registry)


def test_every_kelurahan_of_the_registry_once(made: tuple[Registry, MonthReport, PublicPage]):
    registry, _, page = made
    assert len(page.kelurahan) == 43
    assert {k.name for k in page.kelurahan} == {k.name for k in registry.kelurahan}
    order = [((k.kecamatan or "").casefold(), k.name.casefold()) for k in page.kelurahan]
    assert order == sorted(order)


def test_figures_are_the_reports_own(made: tuple[Registry, MonthReport, PublicPage]) -> None:
    _, report, page = made
    by_name = {f.id: f for f in report.kelurahan}
    for k in page.kelurahan:
        f = by_name[k.name]
        assert (k.availability_pct, k.availability_target_pct) == (
            f.availability_pct,
            f.availability_target_pct,
        )
        assert (k.delivered_median_mbps, k.delivered_peak_mbps, k.delivered_pct) == (
            f.down_median_mbps,
            f.peak_down_median_mbps,
            f.down_median_pct,
        )
        assert (k.points, k.points_meeting_target, k.outages, k.outage_total_s) == (
            f.points,
            f.points_meeting_target_n,
            f.outages_n,
            f.outage_total_s,
        )
        assert (k.promised_mbps, k.speed_tests) == (50.0, f.tests_n)
    total = report.total
    assert (page.city_total.availability_pct, page.city_total.delivered_median_mbps) == (
        total.availability_pct,
        total.down_median_mbps,
    )
    assert page.city_total.points == 86
    assert (page.month, page.provisional, page.fingerprint) == (OCT, False, report.fingerprint)


def test_coordinates_from_the_registry(made: tuple[Registry, MonthReport, PublicPage]) -> None:
    registry, _, page = made
    places = {k.name: (k.lat, k.lon) for k in registry.kelurahan}
    assert {k.name: (k.lat, k.lon) for k in page.kelurahan} == places
    assert places["Ciwaduk"] == (-6.026, 106.0468)  # shared/data/cilegon_kelurahan.csv


def test_a_kelurahan_without_coordinates_sits_at_its_points_mean() -> None:
    data = generate(read_kelurahan_csv(CSV)[:2], 2, "Awinet")
    for entry in data["kelurahan"]:
        entry.pop("lat"), entry.pop("lon")
    data["points"][0] |= {"lat": -6.0, "lon": 106.0}
    data["points"][1] |= {"lat": -6.1, "lon": 106.2}
    registry = parse_registry(data, "test")
    report = compute(registry, synthetic_month(registry, month(OCT)), OCT, Filters(), NOW)
    first = public_page(report, registry).kelurahan
    name = data["points"][0]["kelurahan"]
    (row,) = [k for k in first if k.name == name]
    assert (row.lat, row.lon) == (-6.05, 106.1)


def test_a_kelurahan_without_points_in_service_has_no_data() -> None:
    data = generate(read_kelurahan_csv(CSV)[:3], 1, "Awinet")
    empty = data["points"].pop()["kelurahan"]
    registry = parse_registry(data, "test")
    report = compute(registry, synthetic_month(registry, month(OCT)), OCT, Filters(), NOW)
    (row,) = [k for k in public_page(report, registry).kelurahan if k.name == empty]
    assert (row.points, row.availability_pct, row.rating) == (0, None, UNKNOWN)


@pytest.mark.parametrize(
    ("availability", "target", "rating"),
    [
        (99.9, 95.0, GOOD),
        (95.0, 95.0, GOOD),  # the target itself is met
        (94.99, 95.0, FAIR),
        (90.0, 95.0, FAIR),  # 5 points under: still fair
        (89.99, 95.0, POOR),
        (0.0, 95.0, POOR),
        (None, 95.0, UNKNOWN),
        (99.0, None, UNKNOWN),
    ],
)
def test_rating_by_availability_against_the_target(
    made: tuple[Registry, MonthReport, PublicPage],
    availability: float | None,
    target: float | None,
    rating: str,
) -> None:
    row = replace(
        made[2].kelurahan[0], availability_pct=availability, availability_target_pct=target
    )
    assert row.rating == rating


def test_a_filtered_report_is_not_a_public_page(made: tuple[Registry, MonthReport, PublicPage]):
    registry, _, _ = made
    source = synthetic_month(registry, month(OCT))
    one = compute(registry, source, OCT, Filters(kelurahan="Ciwaduk"), NOW)
    with pytest.raises(ValueError, match="whole city"):
        public_page(one, registry)


def test_nothing_names_a_point_or_an_address(made: tuple[Registry, MonthReport, PublicPage]):
    registry, _, page = made
    site = render_site(page)
    assert set(site) == {"index.html", "en.html", "data.json"}
    for name, content in site.items():
        text = content.decode("utf-8")
        assert not IP.search(text), (name, IP.search(text))
        for point in registry.points:
            assert point.id not in text, (name, point.id)
    data = json.loads(site["data.json"])
    assert set(data["kelurahan"][0]) == {
        "name", "kecamatan", "lat", "lon", "points", "points_meeting_target",
        "availability_pct", "availability_target_pct", "outages", "outage_total_s",
        "promised_mbps", "delivered_median_mbps", "delivered_peak_mbps", "delivered_pct",
        "speed_tests", "rating",
    }  # fmt: skip


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "xlink:href", "action")]


def test_pages_are_self_contained(made: tuple[Registry, MonthReport, PublicPage]) -> None:
    _, _, page = made
    site = render_site(page)
    for lang, name in PAGES.items():
        html = site[name].decode("utf-8")
        links = Links()
        links.feed(html)
        assert "script" not in links.tags and "img" not in links.tags and "iframe" not in links.tags
        assert not [u for u in links.urls if re.match(r"^([a-z][a-z0-9+.-]*:|//)", u, re.I)]
        assert "url(" not in html and "@import" not in html and "@font-face" not in html
        assert f'<html lang="{lang}">' in html
        for k in page.kelurahan:  # named, and the map's dot links to its card
            assert f'id="{anchor(k.name)}"' in html and f'href="#{anchor(k.name)}"' in html
    assert (
        "Ketersediaan" in site["index.html"].decode()
        and 'href="en.html"' in site["index.html"].decode()
    )
    assert (
        "Available" in site["en.html"].decode() and 'href="index.html"' in site["en.html"].decode()
    )


def test_map_keeps_north_up_and_east_right() -> None:
    # (lat, lon): a northern point, a southern one, an eastern one
    (north, south, east), height = project([(-5.9, 106.0), (-6.1, 106.0), (-6.0, 106.1)])
    assert north[1] < south[1] and east[0] > north[0]
    assert north[0] == south[0] == 14  # the western edge, at the padding
    assert min(p[1] for p in (north, south, east)) >= 14 and height > max(north[1], south[1])


def test_month_for_a_timer() -> None:
    assert month_label("2026-10", NOW) == "2026-10"
    assert month_label("current", wib(2026, 11, 30, 23, 59)) == "2026-11"
    assert month_label("current", wib(2026, 12, 1, 0, 0)) == "2026-12"  # WIB, not UTC
    with pytest.raises(ConfigError, match="expected YYYY-MM"):
        month_label("10-2026", NOW)


def test_availability_just_under_a_bound_is_shown_cut(
    made: tuple[Registry, MonthReport, PublicPage],
) -> None:
    """As in the report: 89.996 % is judged under 90 %, so the page never shows 90.0 or 90.00."""
    _, _, page = made
    first = replace(page.kelurahan[0], availability_pct=89.996)
    site = render_site(replace(page, kelurahan=[first, *page.kelurahan[1:]]))
    english, indonesian = site["en.html"].decode(), site["index.html"].decode()
    assert "89.99 %" in english and "89.9 %" in english
    assert "89,99 %" in indonesian and "89,9 %" in indonesian
    assert not {"90.00 %", "90.0 %", "90,00 %", "90,0 %"} & {
        *re.findall(r"\S+ %", english + indonesian)
    }
