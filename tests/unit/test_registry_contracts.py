"""The registry refuses what would make a report wrong, with one line naming row and problem."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from pantau.shared.errors import ConfigError
from pantau.shared.registry import load_registry, parse_registry

GOOD: dict[str, Any] = {
    "kelurahan": [
        {"name": "Citangkil", "kecamatan": "Citangkil", "kode": "36.72.08.1007"},
        {"name": "Jombang Wetan", "kecamatan": "Jombang"},
    ],
    "contracts": [
        {
            "id": "awinet-2026",
            "provider": "Awinet",
            "valid_from": "2026-01-01",
            "valid_until": "2026-12-31",
            "kelurahan": {"Jombang Wetan": {"down_mbps": 20, "fee_idr": 300000}},
        }
    ],
    "points": [
        {
            "id": "citangkil-01",
            "kelurahan": "Citangkil",
            "kecamatan": "Citangkil",
            "provider": "Awinet",
        },
        {
            "id": "jombang-wetan-10",
            "kelurahan": "Jombang Wetan",
            "kecamatan": "Jombang",
            "provider": "Awinet",
        },
    ],
}


def changed(path: str, value: Any) -> dict[str, Any]:
    """GOOD with one value replaced; path like 'points.1.id'."""
    data = copy.deepcopy(GOOD)
    *parents, last = path.split(".")
    node: Any = data
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


def test_good_registry_and_overrides() -> None:
    reg = parse_registry(GOOD, "r.yaml")
    point = reg.by_id()["jombang-wetan-10"]
    contract = reg.contract_on("Awinet", dt.date(2026, 10, 1))
    assert contract is not None
    terms = contract.terms_for(point.kelurahan)
    assert (terms.down_mbps, terms.up_mbps, terms.fee_idr) == (20, 50, 300_000)
    assert contract.terms_for("Citangkil").down_mbps == 50
    assert reg.contract_on("Awinet", dt.date(2027, 1, 1)) is None
    assert point.tags() == {
        "point": "jombang-wetan-10",
        "kelurahan": "Jombang Wetan",
        "kecamatan": "Jombang",
        "provider": "Awinet",
    }


REFUSALS = [
    (
        "duplicate id",
        changed("points.1.id", "citangkil-01"),
        "r.yaml: points[1] (citangkil-01): duplicate point id 'citangkil-01'",
    ),
    (
        "unknown kelurahan",
        changed("points.1.kelurahan", "Jombang Kulon"),
        "r.yaml: points[1] (jombang-wetan-10): unknown kelurahan 'Jombang Kulon'",
    ),
    (
        "kelurahan in another kecamatan",
        changed("points.0.kecamatan", "Cibeber"),
        "r.yaml: points[0] (citangkil-01): kelurahan 'Citangkil' is in kecamatan 'Citangkil',"
        " not 'Cibeber'",
    ),
    (
        "overlapping contract periods",
        changed(
            "contracts",
            [
                {
                    "id": "a",
                    "provider": "Awinet",
                    "valid_from": "2025-01-01",
                    "valid_until": "2026-03-31",
                },
                {"id": "b", "provider": "Awinet", "valid_from": "2026-03-31"},
            ],
        ),
        "r.yaml: contracts[1] (b): period overlaps contracts[0] (a) of provider 'Awinet'",
    ),
    (
        "point without contract",
        changed("points.1.provider", "Biznet"),
        "r.yaml: points[1] (jombang-wetan-10): no contract of provider 'Biznet' covers the point",
    ),
    (
        "point installed after its provider's contract ended",
        changed("points.0", GOOD["points"][0] | {"installed": "2027-02-01"}),
        "r.yaml: points[0] (citangkil-01): no contract of provider 'Awinet' covers the point",
    ),
    (
        "override for an unknown kelurahan",
        changed("contracts.0.kelurahan", {"Jombang Kulon": {"down_mbps": 20}}),
        "r.yaml: contracts[0] (awinet-2026): override for unknown kelurahan 'Jombang Kulon'",
    ),
    (
        "bad field in a row",
        changed("points.0", GOOD["points"][0] | {"lat": 123}),
        "r.yaml: points[0] (citangkil-01): field 'lat' input should be less than or equal to 90,"
        " got 123",
    ),
    (
        "typo in a contract setting",
        changed("contracts.0.terms", {"down_mpbs": 20}),
        "r.yaml: contracts[0] (awinet-2026): field 'terms.down_mpbs' is not a known setting (typo?)",
    ),
    (
        "penalty schedule that deducts less for worse availability",
        changed(
            "contracts.0.terms",
            {
                "penalties": [
                    {"below_pct": 95, "deduction_pct": 20},
                    {"below_pct": 90, "deduction_pct": 10},
                ]
            },
        ),
        "r.yaml: contracts[0] (awinet-2026): field 'terms' value error, penalty below 90.0 %"
        " deducts less than below 95.0 %",
    ),
    (
        "speed schedule that deducts less for a slower link",
        changed(
            "contracts.0.terms",
            {
                "speed": {
                    "brackets": [
                        {"below_pct": 80, "deduction_pct": 25},
                        {"below_pct": 60, "deduction_pct": 10},
                    ]
                }
            },
        ),
        "r.yaml: contracts[0] (awinet-2026): field 'terms.speed' value error, speed below 60.0 %"
        " deducts less than below 80.0 %",
    ),
    (
        "unknown speed schedule kind",
        changed("contracts.0.terms", {"speed": {"kind": "per_gb"}}),
        "r.yaml: contracts[0] (awinet-2026): field 'terms.speed.kind' input should be 'brackets',"
        " 'per_mbps' or 'compliance', got 'per_gb'",
    ),
    (
        "a goodput allowance that is not an allowance",
        changed("contracts.0.terms", {"speed": {"goodput_allowance_pct": 60}}),
        "r.yaml: contracts[0] (awinet-2026): field 'terms.speed.goodput_allowance_pct' input"
        " should be less than 50, got 60",
    ),
    (
        "no minimum of tests",
        changed("contracts.0.terms", {"speed": {"min_tests": 0}}),
        "r.yaml: contracts[0] (awinet-2026): field 'terms.speed.min_tests' input should be"
        " greater than or equal to 1, got 0",
    ),
    (
        "unknown combination rule",
        changed("contracts.0.terms", {"combine": "product"}),
        "r.yaml: contracts[0] (awinet-2026): field 'terms.combine' input should be 'sum' or"
        " 'max', got 'product'",
    ),
    (
        "compliance share over 100 %",
        changed("contracts.0.terms", {"speed": {"compliance": {"tests_share_pct": 120}}}),
        "r.yaml: contracts[0] (awinet-2026): field 'terms.speed.compliance.tests_share_pct' input"
        " should be less than or equal to 100, got 120",
    ),
    (
        "no points",
        changed("points", []),
        "r.yaml: the registry lists no points",
    ),
]


@pytest.mark.parametrize(("name", "data", "message"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refusals(name: str, data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_registry(data, "r.yaml")
    assert str(info.value) == message


def test_load_registry_from_file(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text(yaml.safe_dump(changed("points.1.id", "citangkil-01")))
    with pytest.raises(ConfigError, match=r"points\[1\] \(citangkil-01\): duplicate point id"):
        load_registry(path)
    path.write_text(yaml.safe_dump(GOOD))
    assert [p.id for p in load_registry(path).points] == ["citangkil-01", "jombang-wetan-10"]
