"""`pantau deploy inventory`: groups per kecamatan and kelurahan, host variables per point, and
secrets only in an Ansible Vault file that re-runs keep."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from pantau.collector.admin import deploy_secrets
from pantau.collector.admin.deploy_inventory import active_points, build_inventory, group_name
from pantau.shared.cli import main
from pantau.shared.registry import load_registry

ROOT = Path(__file__).resolve().parents[2]
CILEGON = ROOT / "examples" / "registry-cilegon.yaml"


def test_groups_and_host_vars() -> None:
    registry = load_registry(CILEGON)
    points = active_points(registry, dt.date(2026, 1, 1))
    inv = build_inventory(registry, points, "sbc-{point}.site", "10.20.{k}.{n}", "noc.example")
    groups = inv["all"]["children"]
    kecamatan = groups["points"]["children"]
    assert len(kecamatan) == 8
    kelurahan = {n: g for k in kecamatan.values() for n, g in k["children"].items()}
    assert len(kelurahan) == 43
    assert sum(len(g["hosts"]) for g in kelurahan.values()) == 430
    citangkil = kecamatan["kec_citangkil"]["children"]["kel_citangkil"]
    assert citangkil["vars"] == {"pantau_kelurahan": "Citangkil"}
    assert kecamatan["kec_citangkil"]["vars"] == {"pantau_kecamatan": "Citangkil"}
    host = citangkil["hosts"]["citangkil-03"]
    k = [kel.name for kel in registry.kelurahan].index("Citangkil") + 1
    assert host == {
        "ansible_host": "sbc-citangkil-03.site",
        "pantau_point_id": "citangkil-03",
        "pantau_provider": "Awinet",
        "pantau_kode_wilayah": "36.72.08.1007",
        "pantau_lat": -6.01297,
        "pantau_lon": 106.03508,
        "pantau_router_host": f"10.20.{k}.3",
    }
    assert groups["agents"] == {"children": {"points": {}}}
    assert groups["central"] == {"hosts": {"noc.example": {}}}
    assert groups["points"]["vars"]["pantau_router_password"].startswith("{{ vault_pantau_points")


def test_removed_points_are_left_out() -> None:
    registry = load_registry(CILEGON)
    data = registry.model_dump()
    data["points"][0]["removed"] = dt.date(2025, 6, 1)
    gone = registry.model_validate(data)
    assert len(active_points(gone, dt.date(2025, 5, 31))) == 430
    assert len(active_points(gone, dt.date(2025, 6, 1))) == 429


def test_group_names_are_identifiers() -> None:
    assert group_name("kel", "Tegal Bunder") == "kel_tegal_bunder"
    assert group_name("kec", "Jombang") == "kec_jombang"


def test_vault_is_encrypted_and_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("ansible")
    password = tmp_path / "vault-pw"
    password.write_text("correct horse\n")
    vault = tmp_path / "group_vars" / "all" / "vault.yml"
    argv = ["deploy", "inventory", "--registry", str(CILEGON), "--out", str(tmp_path / "inv.yml")]
    argv += ["--secrets-out", str(vault), "--vault-password-file", str(password)]
    assert main(argv) == 0
    text = vault.read_text()
    assert text.startswith("$ANSIBLE_VAULT;1.1;AES256") and vault.stat().st_mode & 0o777 == 0o600
    first = deploy_secrets.read_vault(vault, password)
    assert len(first) == 430 and all(len(v["mqtt_password"]) >= 32 for v in first.values())
    assert first["citangkil-03"]["mqtt_password"] not in text
    inventory = (tmp_path / "inv.yml").read_text()
    assert first["citangkil-03"]["router_password"] not in inventory
    assert main(argv) == 0  # a re-run keeps every secret
    assert deploy_secrets.read_vault(vault, password) == first
    out = capsys.readouterr().out
    assert "430 point(s), 860 new secret(s)" in out and "430 point(s), 0 new secret(s)" in out
    password.write_text("wrong\n")
    assert main(argv) == 2
    assert "cannot decrypt" in capsys.readouterr().err


def test_pki_passwords_are_taken(tmp_path: Path) -> None:
    bundle = tmp_path / "pki" / "issued" / "citangkil-03"
    bundle.mkdir(parents=True)
    (bundle / "password").write_text("from-the-pki\n")
    given = deploy_secrets.pki_passwords(tmp_path / "pki", ["citangkil-03", "citangkil-04"])
    secrets, added = deploy_secrets.complete({}, ["citangkil-03", "citangkil-04"], given)
    assert secrets["citangkil-03"]["mqtt_password"] == "from-the-pki"
    assert secrets["citangkil-04"]["mqtt_password"] != "from-the-pki" and added == 4


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--router-host", "10.{bogus}.1"],
            "--router-host: unknown field {bogus}; use point, kelurahan, kecamatan, n, k, kode",
        ),
        (["--secrets-out", "v.yml"], "--secrets-out needs --vault-password-file"),
    ],
)
def test_bad_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    argv = ["deploy", "inventory", "--registry", str(CILEGON), "--out", str(tmp_path / "i.yml")]
    assert main(argv + extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"pantau deploy: {message}"]


def test_written_inventory_is_yaml(tmp_path: Path) -> None:
    out = tmp_path / "inv.yml"
    assert main(["deploy", "inventory", "--registry", str(CILEGON), "--out", str(out)]) == 0
    data = yaml.safe_load(out.read_text())
    assert set(data["all"]["children"]) == {"points", "agents", "routers"}
