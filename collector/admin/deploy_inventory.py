"""`pantau deploy inventory`: an Ansible inventory for deploy/ansible, made from the registry.

Groups per kecamatan (`kec_<name>`) hold groups per kelurahan (`kel_<name>`), which hold one
host per point with its registry facts as host variables. Every point is in `agents` and
`routers`; the central host (optional) in `central` and `speedtest_servers`. Secrets are only
referred to by name; `--secrets-out` writes them to an Ansible Vault file.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import unicodedata
from pathlib import Path
from typing import Any

import yaml

from pantau.collector.admin import deploy_secrets
from pantau.shared.errors import ConfigError
from pantau.shared.registry import WIB, Point, Registry, load_registry

PATTERN_FIELDS = ("point", "kelurahan", "kecamatan", "n", "k", "kode")
SECRET_REFS = {
    "pantau_mqtt_password": "{{ vault_pantau_points[inventory_hostname].mqtt_password }}",
    "pantau_router_password": "{{ vault_pantau_points[inventory_hostname].router_password }}",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    inv = sub.add_parser("inventory", help="write an Ansible inventory from the registry")
    inv.add_argument("--registry", required=True, type=Path, help="site registry YAML")
    inv.add_argument("--out", required=True, type=Path, help="inventory file to write")
    inv.add_argument(
        "--agent-host",
        help="ansible_host of each point's agent, a pattern with {point} {kelurahan} {kecamatan}"
        " {n} (point number in its kelurahan) {k} (kelurahan number) {kode}; default: the"
        " point id as host name",
    )
    inv.add_argument(
        "--router-host",
        help="address of each point's router (same pattern fields), e.g. 10.20.{k}.1",
    )
    inv.add_argument("--central", help="host name of the NOC host (broker, database, collector)")
    inv.add_argument(
        "--secrets-out",
        type=Path,
        help="Ansible Vault file with each point's MQTT and router passwords (kept on re-runs),"
        " e.g. group_vars/all/vault.yml beside the inventory",
    )
    inv.add_argument("--vault-password-file", type=Path, help="the vault's password file")
    inv.add_argument(
        "--pki-dir",  # the name `pantau pki` and `pantau broker` use
        "--pki",  # the older spelling
        dest="pki",
        type=Path,
        help="take MQTT passwords issued by `pantau pki` from this PKI directory",
    )
    inv.add_argument(
        "--date",
        type=dt.date.fromisoformat,
        help="leave out points removed by then (default today)",
    )


def slug(name: str, sep: str = "-") -> str:
    """'Tegal Bunder' → 'tegal-bunder' (ASCII, lowercase)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", sep, ascii_name.lower()).strip(sep)


def group_name(prefix: str, name: str) -> str:
    """Ansible group names are identifiers: 'Tegal Bunder' → 'kel_tegal_bunder'."""
    return f"{prefix}_{slug(name, '_')}"


def check_pattern(option: str, pattern: str | None) -> None:
    if pattern is None:
        return
    fields = re.findall(r"{([^{}]*)}", pattern)
    unknown = [f for f in fields if f not in PATTERN_FIELDS]
    if unknown:
        raise ConfigError(
            f"{option}: unknown field {{{unknown[0]}}}; use {', '.join(PATTERN_FIELDS)}"
        )


def active_points(registry: Registry, day: dt.date) -> list[Point]:
    return [p for p in registry.points if p.removed is None or p.removed > day]


def build_inventory(
    registry: Registry,
    points: list[Point],
    agent_host: str | None = None,
    router_host: str | None = None,
    central: str | None = None,
) -> dict[str, Any]:
    """The inventory as a mapping (YAML inventory format). Pure: no I/O."""
    kel_numbers = {k.name: i + 1 for i, k in enumerate(registry.kelurahan)}
    for point in registry.points:
        kel_numbers.setdefault(point.kelurahan, len(kel_numbers) + 1)
    kecamatan: dict[str, dict[str, Any]] = {}
    counters: dict[str, int] = {}
    for point in points:
        counters[point.kelurahan] = counters.get(point.kelurahan, 0) + 1
        fields = {
            "point": point.id,
            "kelurahan": slug(point.kelurahan),
            "kecamatan": slug(point.kecamatan),
            "n": counters[point.kelurahan],
            "k": kel_numbers[point.kelurahan],
            "kode": point.kode_wilayah or "",
        }
        kec = kecamatan.setdefault(
            group_name("kec", point.kecamatan),
            {"vars": {"pantau_kecamatan": point.kecamatan}, "children": {}},
        )
        kel = kec["children"].setdefault(
            group_name("kel", point.kelurahan),
            {"vars": {"pantau_kelurahan": point.kelurahan}, "hosts": {}},
        )
        kel["hosts"][point.id] = host_vars(point, fields, agent_host, router_host)
    groups: dict[str, Any] = {
        "points": {"children": kecamatan, "vars": dict(SECRET_REFS)},
        "agents": {"children": {"points": {}}},
        "routers": {"children": {"points": {}}},
    }
    if central:
        groups["central"] = {"hosts": {central: {}}}
        groups["speedtest_servers"] = {"hosts": {central: {}}}
    return {"all": {"children": groups}}


def host_vars(
    point: Point, fields: dict[str, Any], agent_host: str | None, router_host: str | None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if agent_host:
        out["ansible_host"] = agent_host.format(**fields)
    out["pantau_point_id"] = point.id
    out["pantau_provider"] = point.provider
    if point.kode_wilayah:
        out["pantau_kode_wilayah"] = point.kode_wilayah
    if point.lat is not None and point.lon is not None:
        out["pantau_lat"], out["pantau_lon"] = point.lat, point.lon
    if router_host:
        out["pantau_router_host"] = router_host.format(**fields)
    return out


def render(inventory: dict[str, Any], registry_path: Path) -> str:
    head = (
        f"# Generated by `pantau deploy inventory` from {registry_path.name}; re-run it rather"
        " than editing.\n# Secrets are only named here: their values are in the Ansible Vault"
        " file (vault_pantau_points).\n"
    )
    return head + yaml.safe_dump(inventory, sort_keys=False, allow_unicode=True, width=100)


def run(args: argparse.Namespace) -> int:
    check_pattern("--agent-host", args.agent_host)
    check_pattern("--router-host", args.router_host)
    if args.secrets_out and not args.vault_password_file:
        raise ConfigError("--secrets-out needs --vault-password-file")
    registry = load_registry(args.registry)
    day = args.date or dt.datetime.now(WIB).date()
    points = active_points(registry, day)
    if not points:
        raise ConfigError(f"{args.registry}: no point is in service on {day}")
    inventory = build_inventory(registry, points, args.agent_host, args.router_host, args.central)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(inventory, args.registry), encoding="utf-8")
    groups = inventory["all"]["children"]["points"]["children"]
    kelurahan = sum(len(g["children"]) for g in groups.values())
    print(f"{args.out}: {len(points)} point(s) in {kelurahan} kelurahan of {len(groups)} kecamatan")
    if args.secrets_out:
        ids = [p.id for p in points]
        existing = deploy_secrets.read_vault(args.secrets_out, args.vault_password_file)
        given = deploy_secrets.pki_passwords(args.pki, ids) if args.pki else None
        merged, added = deploy_secrets.complete(existing, ids, given)
        if added or not args.secrets_out.exists():
            deploy_secrets.write_vault(args.secrets_out, args.vault_password_file, merged)
        print(f"{args.secrets_out}: vault with {len(merged)} point(s), {added} new secret(s)")
    return 0
