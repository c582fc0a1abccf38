"""`pantau registry generate|check` on the real Cilegon list and on broken CSVs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pantau.shared.cli import main
from pantau.shared.registry import load_registry

ROOT = Path(__file__).resolve().parents[2]
CSV = ROOT / "shared" / "data" / "cilegon_kelurahan.csv"


def test_generate_cilegon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "registry.yaml"
    args = ["registry", "generate", "--csv", str(CSV), "--points-per-kelurahan", "10"]
    assert main([*args, "--provider", "Awinet", "--out", str(out)]) == 0
    registry = load_registry(out)
    ids = [p.id for p in registry.points]
    assert len(ids) == 430 and len(set(ids)) == 430
    assert len(registry.kelurahan) == 43
    assert len({k.kecamatan for k in registry.kelurahan}) == 8
    assert {"citangkil-03", "jombang-wetan-10", "cibeber-01"} <= set(ids)
    point = registry.by_id()["jombang-wetan-10"]
    assert (point.kecamatan, point.provider, point.kode_wilayah) == (
        "Jombang",
        "Awinet",
        "36.72.05.1002",
    )
    assert abs(point.lat - -6.0162) <= 0.004 and abs(point.lon - 106.0570) <= 0.004
    assert main(["registry", "check", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"{out}: ok, 430 point(s) in 43 kelurahan, 1 contract(s)"
    )


def test_shipped_example_matches_the_generator(tmp_path: Path) -> None:
    out = tmp_path / "registry.yaml"
    args = ["registry", "generate", "--csv", str(CSV), "--provider", "Awinet"]
    assert main([*args, "--contract-from", "2024-01-01", "--out", str(out)]) == 0
    assert out.read_text() == (ROOT / "examples" / "registry-cilegon.yaml").read_text()


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("kecamatan,name\nA,B\n", "missing column(s) kelurahan"),
        ("kecamatan,kelurahan,lat,lon\nA,B,x,1\n", "line 2: lat 'x' is not a number"),
        ("kecamatan,kelurahan\nA,Kota Baru\nB,Kota-Baru\n", "'Kota-Baru' would share point ids"),
        ("kecamatan,kelurahan\n", "no kelurahan rows"),
    ],
)
def test_bad_csv_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], csv_text: str, message: str
) -> None:
    source = tmp_path / "k.csv"
    source.write_text(csv_text)
    args = ["registry", "generate", "--csv", str(source), "--provider", "Awinet"]
    assert main([*args, "--out", str(tmp_path / "r.yaml")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err


def test_check_refuses_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "r.yaml"
    bad.write_text(
        "contracts: [{provider: Awinet}]\npoints:\n"
        "  - {id: a-01, kelurahan: A, kecamatan: K, provider: Awinet}\n"
        "  - {id: a-01, kelurahan: A, kecamatan: K, provider: Awinet}\n"
    )
    assert main(["registry", "check", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"pantau registry: {bad}: points[1] (a-01): duplicate point id 'a-01'"
    )


@pytest.mark.parametrize(
    "twice",
    [
        "    fee_idr: 500000\n    fee_idr: 5000000\n",  # ten times the fee, silently
        "    removed: '2026-10-05'\n    removed: '2099-01-01'\n",
    ],
)
def test_a_key_given_twice_is_refused_not_the_last_taken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], twice: str
) -> None:
    """YAML keeps the last of two equal keys without a word: a registry giving a contract's fee
    twice was checked ok and paid on the second."""
    key = twice.split(":", 1)[0].strip()
    bad = tmp_path / "r.yaml"
    where = "contracts" if key == "fee_idr" else "points"
    contract = "  - provider: Awinet\n" + (twice if where == "contracts" else "")
    point = "  - {id: a-01, kelurahan: A, kecamatan: K, provider: Awinet}\n"
    if where == "points":
        point = "  - id: a-01\n    kelurahan: A\n    kecamatan: K\n    provider: Awinet\n" + twice
    bad.write_text(f"contracts:\n{contract}points:\n{point}")
    assert main(["registry", "check", str(bad)]) == 2
    line = bad.read_text().splitlines().index(twice.splitlines()[1]) + 1
    assert capsys.readouterr().err.strip() == (
        f"pantau registry: {bad}: line {line}: {key!r} is given twice (first on line {line - 1})"
    )
