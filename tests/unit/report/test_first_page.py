"""What a procurement officer reads first and what identifies the document: the verdict line
per provider, the contract in force, the fingerprint of the inputs, page footers, the sign-off
block and the provisional watermark.

October 2026, Awinet's default terms (no coverage minimum: these rollups carry minute states
only). ciwaduk-01 and -02 deliver 20 Mbit/s at peak: 41.84 % of 47.8 → 50 % = Rp250.000 each;
masigit-01 is down 4 days (87.10 % → 25 % = Rp125.000) and fast. Awinet pays 1 500 000 −
625 000 = Rp875.000.
"""

from __future__ import annotations

import json
import re

from pantau.collector.report.cli import compute, render
from pantau.collector.report.compute import Filters, MonthReport
from pantau.collector.report.verdict import Verdict
from pantau.collector.sla.capacity import CapacityTest
from pantau.collector.sla.periods import month
from pantau.shared import __version__
from pantau.shared.registry import Registry, parse_registry
from tests.report_fixtures import MemorySource
from tests.unit.sla.helpers import rollups, wib

OCT = month("2026-10")
NOW = wib(2026, 11, 3, 9, 0)
VERDICT_EN = (
    "Awinet: pay Rp875,000 of Rp1,500,000. Costs most: speed in Ciwaduk Rp500,000,"
    " availability in Masigit Rp125,000."
)
VERDICT_ID = (
    "Awinet: bayar Rp875.000 dari Rp1.500.000. Terbesar: kecepatan di Ciwaduk Rp500.000,"
    " ketersediaan di Masigit Rp125.000."
)


def registry() -> Registry:
    points = [
        ("ciwaduk-01", "Ciwaduk", "Cilegon"),
        ("ciwaduk-02", "Ciwaduk", "Cilegon"),
        ("masigit-01", "Masigit", "Jombang"),
    ]
    return parse_registry(
        {
            "contracts": [
                {
                    "id": "awinet-2024",
                    "provider": "Awinet",
                    "valid_from": "2024-01-01",
                    "terms": {"min_coverage_pct": 0},
                    "kelurahan": {"Masigit": {"fee_idr": 500_000}},
                }
            ],
            "points": [
                {"id": i, "kelurahan": k, "kecamatan": c, "provider": "Awinet"}
                for i, k, c in points
            ],
        },
        "test",
    )


def source(ciwaduk_mbps: float = 20.0) -> MemorySource:
    def tests(mbps: float) -> list[CapacityTest]:
        return [CapacityTest(wib(2026, 10, d, 20, 0), "down", mbps) for d in range(1, 32)]

    down = [(wib(2026, 10, 3, 0, 0), 4 * 1440, "D")]
    return MemorySource(
        {
            "ciwaduk-01": rollups(OCT, []),
            "ciwaduk-02": rollups(OCT, []),
            "masigit-01": rollups(OCT, down),
        },
        {
            "ciwaduk-01": tests(ciwaduk_mbps),
            "ciwaduk-02": tests(20.0),
            "masigit-01": tests(50.0),
        },
    )


def report(ciwaduk_mbps: float = 20.0, now: int = NOW) -> MonthReport:
    return compute(registry(), source(ciwaduk_mbps), "2026-10", Filters(), now)


def test_one_verdict_line_per_provider_names_what_cost_most() -> None:
    r = report()
    assert render(r, "table", "en").splitlines()[1] == VERDICT_EN
    data = json.loads(render(r, "json", "en"))
    assert data["verdicts"] == [
        {
            "provider": "Awinet",
            "fee_idr": 1_500_000,
            "net_payable_idr": 875_000,
            "to_be_decided_idr": 0,
            "unregistered_points_n": 0,
            "causes": [
                {"cause": "speed", "kelurahan": "Ciwaduk", "amount_idr": 500_000},
                {"cause": "availability", "kelurahan": "Masigit", "amount_idr": 125_000},
            ],
            "line": VERDICT_EN,
        }
    ]
    html = render(r, "html", "id")
    body = html.split("<body>\n", 1)[1]
    verdict = body.index(f"<p>{VERDICT_ID}</p>")
    assert body.index("Kontrak yang berlaku") > verdict
    assert body.index('<div class="cards">') > body.index("Kontrak yang berlaku")


def test_the_contract_in_force_and_its_schedules_are_shown() -> None:
    r = report()
    data = json.loads(render(r, "json", "en"))
    (contract,) = data["contracts"]
    assert (contract["id"], contract["provider"], contract["valid_from"], contract["points"]) == (
        "awinet-2024",
        "Awinet",
        "2024-01-01",
        3,
    )
    assert contract["terms"]["speed"]["kind"] == "brackets"
    assert contract["terms"]["speed"]["goodput_allowance_pct"] == 4.4
    assert list(contract["kelurahan"]) == ["Masigit"]
    html = render(r, "html", "en")
    cells = re.findall(r'<td class="l">([^<]*)</td><td class="l">([^<]*)</td>', html)
    terms = dict(cells[: len(cells) // 2])
    assert terms["Speed deductions"] == (
        "brackets: median of the peak-window tests, % of the judged speed: &lt; 90 % → 10 %;"
        " &lt; 80 % → 25 %; &lt; 60 % → 50 %; &lt; 40 % → 75 %"
    )
    assert terms["Judged speed"] == ("50 Mbps less the TCP goodput allowance of 4.4 % = 47.8 Mbps")
    assert terms["Availability deductions"] == (
        "&lt; 95 % → 10 %; &lt; 90 % → 25 %; &lt; 80 % → 50 %; &lt; 50 % → 100 %"
    )
    assert terms["Deductions combined"] == "sum: added, at most 100 % of the fee"
    assert terms["Minimum data coverage"] == "0 %"


def test_the_fingerprint_follows_the_inputs_not_the_time() -> None:
    first, again = report(), report(now=NOW + 86_400_000)
    assert re.fullmatch(r"[0-9a-f]{64}", first.fingerprint)
    assert again.fingerprint == first.fingerprint
    assert report(ciwaduk_mbps=20.1).fingerprint != first.fingerprint
    data = json.loads(render(first, "json", "en"))
    assert data["fingerprint"] == {"sha256": first.fingerprint}
    assert data["software_version"] == __version__


def test_every_printed_page_has_its_number_period_version_and_fingerprint() -> None:
    r = report()
    html = render(r, "html", "en")
    style = html.split("<style>", 1)[1].split("</style>", 1)[0]
    assert (
        '@bottom-left { content: "Kota Cilegon · Period 2026-10-01 – 2026-10-31 WIB · Pantau'
        f' {__version__} · data fingerprint sha256 {r.fingerprint}";'
    ) in style
    assert '@bottom-right { content: "Page " counter(page) " of " counter(pages);' in style


def test_the_last_section_is_the_sign_off_and_a_provisional_month_is_watermarked() -> None:
    html = render(report(), "html", "en")
    last = html.rsplit("<section", 1)[1]
    assert "<h2>Sign-off</h2>" in last
    assert [m for m in ("Prepared by", "Checked by", "Approved by") if m in last] == [
        "Prepared by",
        "Checked by",
        "Approved by",
    ]
    assert 'class="watermark"' not in html
    provisional = report(now=wib(2026, 10, 20, 0, 0))
    assert provisional.provisional
    assert '<div class="watermark">PROVISIONAL</div>' in render(provisional, "html", "en")
    assert '<div class="watermark">SEMENTARA</div>' in render(provisional, "html", "id")


def test_a_verdict_says_in_one_parenthesis_what_its_amounts_leave_out() -> None:
    """Fees held back and points with stored data the registry does not list (report/
    unregistered.py)."""
    both = Verdict("Awinet", 1_000_000, 250_000, 500_000, (), unregistered_n=2)
    assert both.line("en") == (
        "Awinet: pay Rp250,000 of Rp1,000,000 (Rp500,000 to be decided; 2 point(s) with stored"
        " data not in the registry, left out)."
    )
    assert both.line("id") == (
        "Awinet: bayar Rp250.000 dari Rp1.000.000 (Rp500.000 belum diputuskan; 2 titik dengan"
        " data tersimpan tidak ada di registri, tidak dihitung)."
    )
    assert Verdict("Awinet", 500_000, 500_000, 0, ()).line("en") == (
        "Awinet: pay Rp500,000 of Rp500,000."
    )
