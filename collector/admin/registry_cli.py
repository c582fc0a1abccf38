"""`pantau registry`: generate a site registry from a kelurahan CSV, or check one.

    pantau registry generate --csv kelurahan.csv --points-per-kelurahan 10 --provider Awinet \\
        --out registry.yaml
    pantau registry check registry.yaml

The CSV has the columns kecamatan, kelurahan, kelurahan_code, lat, lon (kecamatan_code is
optional), one row per kelurahan, as shared/data/cilegon_kelurahan.csv does for Kota Cilegon.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import re
import unicodedata
from pathlib import Path
from typing import Any

import yaml

from pantau.shared.errors import ConfigError
from pantau.shared.registry import load_registry, parse_registry

REQUIRED_COLUMNS = ("kecamatan", "kelurahan")
SPREAD_DEG = 0.004  # points are placed within ~450 m of the kelurahan's centre until surveyed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    gen = sub.add_parser("generate", help="write a registry from a kelurahan CSV")
    gen.add_argument("--csv", required=True, help="kelurahan list (see module doc for columns)")
    gen.add_argument("--points-per-kelurahan", type=int, default=10)
    gen.add_argument("--provider", required=True, help="provider of every point, e.g. Awinet")
    gen.add_argument("--city", default="Kota Cilegon")
    gen.add_argument(
        "--contract-from",
        type=dt.date.fromisoformat,
        default=None,
        help="first day of the provider's contract (YYYY-MM-DD); open if unset",
    )
    gen.add_argument(
        "--installed",
        type=dt.date.fromisoformat,
        default=None,
        help="installation date of every point (YYYY-MM-DD)",
    )
    gen.add_argument("--out", required=True, help="registry YAML to write")
    check = sub.add_parser("check", help="validate a registry; one line per verdict")
    check.add_argument("file")


def run(args: argparse.Namespace) -> int:
    if args.action == "check":
        registry = load_registry(args.file)
        kelurahan = {p.kelurahan for p in registry.points}
        print(
            f"{args.file}: ok, {len(registry.points)} point(s) in {len(kelurahan)} kelurahan,"
            f" {len(registry.contracts)} contract(s)"
        )
        return 0
    rows = read_kelurahan_csv(Path(args.csv))
    data = generate(
        rows,
        per_kelurahan=args.points_per_kelurahan,
        provider=args.provider,
        city=args.city,
        contract_from=args.contract_from,
        installed=args.installed,
    )
    registry = parse_registry(data, args.out)  # what we write must load
    out = Path(args.out)
    out.write_text(dump(data, source=Path(args.csv).name), encoding="utf-8")
    print(f"{out}: {len(registry.points)} point(s) in {len(rows)} kelurahan")
    return 0


def slug(name: str) -> str:
    """'Jombang Wetan' → 'jombang-wetan' (ASCII, lowercase, hyphens)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def read_kelurahan_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise ConfigError(f"{path}: missing column(s) {', '.join(missing)}")
            rows = []
            for number, row in enumerate(reader, start=2):
                clean = {k: (v or "").strip() for k, v in row.items() if k}
                if not clean["kelurahan"] or not clean["kecamatan"]:
                    raise ConfigError(f"{path}: line {number}: kelurahan or kecamatan is empty")
                for column in ("lat", "lon"):
                    if clean.get(column):
                        try:
                            float(clean[column])
                        except ValueError:
                            raise ConfigError(
                                f"{path}: line {number}: {column} {clean[column]!r} is not a number"
                            ) from None
                rows.append(clean)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    if not rows:
        raise ConfigError(f"{path}: no kelurahan rows")
    seen: dict[str, str] = {}
    for row in rows:
        key = slug(row["kelurahan"])
        if key in seen:
            raise ConfigError(
                f"{path}: kelurahan {row['kelurahan']!r} would share point ids with"
                f" {seen[key]!r} ({key}-01...)"
            )
        seen[key] = row["kelurahan"]
    return rows


def _offset(key: str) -> tuple[float, float]:
    """A stable pseudo-random offset in [-SPREAD, SPREAD] for each point id."""
    digest = hashlib.sha256(key.encode()).digest()
    return (
        (digest[0] / 255 * 2 - 1) * SPREAD_DEG,
        (digest[1] / 255 * 2 - 1) * SPREAD_DEG,
    )


def generate(
    rows: list[dict[str, str]],
    per_kelurahan: int,
    provider: str,
    city: str = "Kota Cilegon",
    contract_from: dt.date | None = None,
    installed: dt.date | None = None,
) -> dict[str, Any]:
    """A registry mapping: the kelurahan list, one default contract, N points per kelurahan."""
    if not 1 <= per_kelurahan <= 99:
        raise ConfigError(f"--points-per-kelurahan {per_kelurahan}: expected 1 to 99")
    kelurahan: list[dict[str, Any]] = []
    points: list[dict[str, Any]] = []
    for row in rows:
        lat = float(row["lat"]) if row.get("lat") else None
        lon = float(row["lon"]) if row.get("lon") else None
        entry: dict[str, Any] = {"name": row["kelurahan"], "kecamatan": row["kecamatan"]}
        if row.get("kelurahan_code"):
            entry["kode"] = row["kelurahan_code"]
        if lat is not None and lon is not None:
            entry |= {"lat": lat, "lon": lon}
        kelurahan.append(entry)
        for index in range(1, per_kelurahan + 1):
            point_id = f"{slug(row['kelurahan'])}-{index:02d}"
            point: dict[str, Any] = {
                "id": point_id,
                "kelurahan": row["kelurahan"],
                "kecamatan": row["kecamatan"],
                "provider": provider,
            }
            if row.get("kelurahan_code"):
                point["kode_wilayah"] = row["kelurahan_code"]
            if lat is not None and lon is not None:
                d_lat, d_lon = _offset(point_id)
                point |= {"lat": round(lat + d_lat, 5), "lon": round(lon + d_lon, 5)}
            if installed:
                point["installed"] = installed.isoformat()
            points.append(point)
    contract: dict[str, Any] = {"id": f"{slug(provider)}-default", "provider": provider}
    if contract_from:
        contract["valid_from"] = contract_from.isoformat()
    contract["terms"] = {
        "down_mbps": 50,
        "up_mbps": 50,
        "fee_idr": 500_000,
        "availability_target_pct": 95,
        "outage_threshold_s": 300,
        "peak_start": "19:00",
        "peak_end": "23:00",
        "rtt_threshold_ms": 150,
        "loss_threshold_pct": 2,
        "no_data_counts_as_down": False,
        "penalties": [
            {"below_pct": 95, "deduction_pct": 10},
            {"below_pct": 90, "deduction_pct": 25},
            {"below_pct": 80, "deduction_pct": 50},
            {"below_pct": 50, "deduction_pct": 100},
        ],
        "speed": {  # judged on the peak-window tests against 50 × (1 − 4.4 %) = 47.8 Mbps
            "kind": "brackets",
            "min_tests": 5,
            "goodput_allowance_pct": 4.4,
            "brackets": [
                {"below_pct": 90, "deduction_pct": 10},
                {"below_pct": 80, "deduction_pct": 25},
                {"below_pct": 60, "deduction_pct": 50},
                {"below_pct": 40, "deduction_pct": 75},
            ],
        },
        "combine": "sum",
        "min_coverage_pct": 90,
    }
    return {"city": city, "kelurahan": kelurahan, "contracts": [contract], "points": points}


def dump(data: dict[str, Any], source: str) -> str:
    """YAML with one line per kelurahan and per point, so a diff shows what changed."""

    def block(key: str, value: Any) -> str:
        return yaml.safe_dump({key: value}, sort_keys=False, allow_unicode=True, width=200)

    def rows(key: str) -> str:
        lines = [f"{key}:"]
        for item in data[key]:
            flow = yaml.safe_dump(
                item, sort_keys=False, default_flow_style=True, allow_unicode=True, width=400
            )
            lines.append(f"  - {flow.strip()}")
        return "\n".join(lines) + "\n"

    header = (
        f"# Site registry generated by `pantau registry generate` from {source}.\n"
        "# Edit freely (installation dates, coordinates, maintenance windows), then run\n"
        "# `pantau registry check` on it. Contract terms are per provider and can be overridden\n"
        "# per kelurahan under contracts[].kelurahan.<name>.\n"
    )
    return (
        header
        + block("city", data["city"])
        + "\n"
        + block("contracts", data["contracts"])
        + "\n"
        + rows("kelurahan")
        + "\n"
        + rows("points")
    )
